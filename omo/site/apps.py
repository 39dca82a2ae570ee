from django.apps import AppConfig


class SiteConfig(AppConfig):
    """The installation's front door: `/`, and the 404 and 500 pages every surface shares."""

    name = "omo.site"
    label = "site"
