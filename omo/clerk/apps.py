from django.apps import AppConfig


class ClerkConfig(AppConfig):
    name = "omo.clerk"
    label = "clerk"
