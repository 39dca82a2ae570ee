from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "omo.core"
    label = "core"
