from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "omo.customers"
    label = "customers"

    def ready(self) -> None:
        from omo.customers import subscribers

        subscribers.register()
