from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "omo.shop"
    label = "shop"
