from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "omo.segments"
    label = "segments"
