from django.apps import AppConfig


class BindingConfig(AppConfig):
    name = "omo.binding"
    label = "binding"

    def ready(self) -> None:
        # What the app holds about a person: export, erasure, merge, split, retention
        # (omo/customers/personal_data.py).
        from omo.binding import personal_data

        personal_data.register()

        # A clerk sees the customers bound to them (omo/customers/selectors.py).
        from omo.binding.selectors import customer_connection
        from omo.customers.selectors import register_connection

        register_connection("binding.bound", customer_connection)
