"""The HQ console under /console/."""

from __future__ import annotations

from django.urls import path

from omo.console.views import auth, brand_settings, catalog, customers, dashboard, imports, loyalty, orders

app_name = "console"

urlpatterns = [
    path("login/", auth.ConsoleLoginView.as_view(), name="login"),
    path("logout/", auth.ConsoleLogoutView.as_view(), name="logout"),
    path("", dashboard.dashboard, name="dashboard"),
    path("orders/", orders.order_list, name="orders"),
    path("orders/<int:pk>/", orders.order_detail, name="order_detail"),
    path("customers/", customers.customer_list, name="customers"),
    path("customers/<int:pk>/", customers.customer_detail, name="customer_detail"),
    path("products/", catalog.product_list, name="products"),
    path("products/<int:pk>/", catalog.product_detail, name="product_detail"),
    path("stock/", catalog.stock_list, name="stock"),
    path("loyalty/tiers/", loyalty.tier_list, name="tiers"),
    path("loyalty/coupons/", loyalty.coupon_list, name="coupons"),
    path("loyalty/coupons/<int:pk>/", loyalty.coupon_detail, name="coupon_detail"),
    path("imports/", imports.import_list, name="imports"),
    path("imports/<int:pk>/", imports.import_detail, name="import_detail"),
    path("imports/<int:pk>/progress.json", imports.import_progress, name="import_progress"),
    path("settings/stores/", brand_settings.store_list, name="stores"),
    path("settings/staff/", brand_settings.staff_list, name="staff"),
    path("settings/api-keys/", brand_settings.api_key_list, name="api_keys"),
    path("settings/api-keys/new/", brand_settings.api_key_create, name="api_key_create"),
    path("settings/api-keys/<int:pk>/revoke/", brand_settings.api_key_revoke, name="api_key_revoke"),
    path("settings/audit/", brand_settings.audit_list, name="audit"),
]
