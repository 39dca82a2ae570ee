from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "omo.connectors"
    verbose_name = "Connectors (Shopify)"

    def ready(self) -> None:
        # What the app holds about a person: export, erasure, merge, split, retention
        # (omo/customers/personal_data.py).
        from omo.connectors import personal_data

        personal_data.register()
