"""URLs of the built-in shop, mounted at /shop/. Everything but the brand list sits under the brand's
slug, so one installation serves several brands' shops."""

from __future__ import annotations

from django.urls import path

from omo.shop import views

app_name = "shop"

urlpatterns = [
    path("", views.brand_index, name="index"),
    path("<slug:brand_slug>/", views.home, name="home"),
    path("<slug:brand_slug>/search/", views.search, name="search"),
    # Category slugs and product handles may be Unicode (allow_unicode slugs), hence <str:>.
    path("<slug:brand_slug>/c/<str:category_slug>/", views.category, name="category"),
    path("<slug:brand_slug>/p/<str:handle>/", views.product, name="product"),
    path("<slug:brand_slug>/p/<str:handle>/stock.json", views.stock_json, name="stock"),
    path("<slug:brand_slug>/cart/", views.cart, name="cart"),
    path("<slug:brand_slug>/cart/add/", views.cart_add, name="cart_add"),
    path("<slug:brand_slug>/cart/update/", views.cart_update, name="cart_update"),
    path("<slug:brand_slug>/cart/<str:token>/", views.cart_link, name="cart_link"),
    path("<slug:brand_slug>/checkout/", views.checkout, name="checkout"),
    path("<slug:brand_slug>/orders/<str:token>/", views.order, name="order"),
    path("<slug:brand_slug>/member/<str:token>/", views.member, name="member"),
]
