from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "omo.inbox"
    label = "inbox"
