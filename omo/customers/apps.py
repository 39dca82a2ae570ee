from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "omo.customers"
    label = "customers"
