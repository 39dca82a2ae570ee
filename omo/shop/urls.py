"""URLs of the built-in shop, mounted at /shop/. Everything but the brand list sits under the brand's
slug, so one installation serves several brands' shops."""

from __future__ import annotations

from django.urls import path

from omo.shop.views import cart, catalogue, checkout, member

app_name = "shop"

urlpatterns = [
    path("", catalogue.brand_index, name="index"),
    path("<slug:brand_slug>/", catalogue.home, name="home"),
    path("<slug:brand_slug>/search/", catalogue.search, name="search"),
    # Category slugs and product handles may be Unicode (allow_unicode slugs), hence <str:>.
    path("<slug:brand_slug>/c/<str:category_slug>/", catalogue.category, name="category"),
    path("<slug:brand_slug>/p/<str:handle>/", catalogue.product, name="product"),
    path("<slug:brand_slug>/p/<str:handle>/stock.json", catalogue.stock_json, name="stock"),
    path("<slug:brand_slug>/cart/", cart.cart, name="cart"),
    path("<slug:brand_slug>/cart/add/", cart.cart_add, name="cart_add"),
    path("<slug:brand_slug>/cart/update/", cart.cart_update, name="cart_update"),
    path("<slug:brand_slug>/cart/<str:token>/", cart.cart_link, name="cart_link"),
    path("<slug:brand_slug>/checkout/", checkout.checkout, name="checkout"),
    path("<slug:brand_slug>/orders/<str:token>/", checkout.order, name="order"),
    path("<slug:brand_slug>/member/<str:token>/", member.member, name="member"),
]
