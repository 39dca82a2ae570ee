from django.apps import AppConfig


class CommerceConfig(AppConfig):
    name = "omo.commerce"
    label = "commerce"

    def ready(self) -> None:
        from omo.commerce.importers import OrdersImporter
        from omo.core import imports

        imports.register_importer("orders", OrdersImporter)

        # What the app holds about a person: export, erasure, merge, split, retention
        # (omo/customers/personal_data.py).
        from omo.commerce import personal_data

        personal_data.register()

        # Loyalty tiers read the spend of the rolling window from the orders (omo/loyalty/spend.py).
        from omo.commerce import subscribers

        subscribers.register()

        # Which customers a store or a clerk sees through their orders (omo/customers/selectors.py).
        from omo.commerce.selectors import customer_connection
        from omo.customers.selectors import register_connection

        register_connection("commerce.orders", customer_connection)
