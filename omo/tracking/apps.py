from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "omo.tracking"
    label = "tracking"
