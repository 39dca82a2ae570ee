from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "omo.connectors"
    verbose_name = "Connectors (Shopify)"

    def ready(self) -> None:
        from omo.connectors import subscribers

        subscribers.register()
