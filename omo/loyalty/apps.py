from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "omo.loyalty"
    label = "loyalty"
