"""The clerk app, mounted at /clerk/ (config/urls.py)."""

from __future__ import annotations

from django.urls import path

from omo.clerk import views

app_name = "clerk"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.ClerkLoginView.as_view(), name="login"),
    path("logout/", views.ClerkLogoutView.as_view(), name="logout"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
    path("sw.js", views.service_worker, name="sw"),
    path("language", views.set_language, name="language"),
    path("conversations.json", views.conversations_json, name="conversations"),
    path("c/<int:conversation_id>/", views.chat, name="chat"),
    path("c/<int:conversation_id>/messages.json", views.messages_json, name="messages"),
    path("c/<int:conversation_id>/send", views.send, name="send"),
    path("c/<int:conversation_id>/retry/<int:message_id>", views.retry, name="retry"),
    path("c/<int:conversation_id>/cards", views.send_cards, name="cards"),
    path("c/<int:conversation_id>/cart", views.send_cart, name="cart"),
    path("products.json", views.product_search, name="products"),
    path("qr/", views.my_qr, name="qr"),
    path("recovery/", views.recovery, name="recovery"),
    path("customers/", views.my_customers, name="customers"),
    path("customers/<int:customer_id>/", views.customer_detail, name="customer"),
    path("sales/", views.my_sales, name="sales"),
    path("sales/statement.csv", views.statement_csv, name="statement"),
]
