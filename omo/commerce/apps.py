from django.apps import AppConfig


class CommerceConfig(AppConfig):
    name = "omo.commerce"
    label = "commerce"
