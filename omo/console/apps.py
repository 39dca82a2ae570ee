from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "omo.console"
    label = "console"
