from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "omo.customers"
    label = "customers"

    def ready(self) -> None:
        # Search text follows merges, splits and erasure (omo/customers/search.py).
        from omo.customers import search

        search.subscribe()
