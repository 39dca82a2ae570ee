from django.apps import AppConfig


class BindingConfig(AppConfig):
    name = "omo.binding"
    label = "binding"

    def ready(self) -> None:
        # The prefilled "#<code>" message flow and the recovery confirm/decline postbacks.
        from omo.binding.services import register_handlers

        register_handlers()

        # A clerk sees the customers bound to them (omo/customers/selectors.py).
        from omo.binding.selectors import customer_connection
        from omo.customers.selectors import register_connection

        register_connection("binding.bound", customer_connection)
