from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "omo.integrations"
    verbose_name = "Integrations (outgoing webhooks)"

    def ready(self) -> None:
        from omo.integrations import subscribers

        subscribers.register()
