from django.apps import AppConfig


class BindingConfig(AppConfig):
    name = "omo.binding"
    label = "binding"
