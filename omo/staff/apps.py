from django.apps import AppConfig


class StaffConfig(AppConfig):
    name = "omo.staff"
    label = "staff"
