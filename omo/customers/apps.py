import datetime as dt

from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "omo.customers"
    label = "customers"

    def ready(self) -> None:
        # Search text follows merges, splits and erasure (omo/customers/search.py).
        from omo.customers import search

        search.subscribe()

        from omo.core import imports, schedule
        from omo.customers import retention
        from omo.customers.importers import CustomersImporter

        schedule.register("customers.purge_expired", retention.purge_expired, dt.timedelta(hours=24))
        imports.register_importer("customers", CustomersImporter)
