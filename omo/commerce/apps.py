from django.apps import AppConfig


class CommerceConfig(AppConfig):
    name = "omo.commerce"
    label = "commerce"

    def ready(self) -> None:
        # Which customers a store or a clerk sees through their orders (omo/customers/selectors.py).
        from omo.commerce.selectors import customer_connection
        from omo.customers.selectors import register_connection

        register_connection("commerce.orders", customer_connection)
