from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "omo.integrations"
    verbose_name = "Integrations (outgoing webhooks)"
