from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """Demo data, local stand-ins for external platforms and the phone simulator (never in production paths)."""

    name = "omo.devtools"
    label = "devtools"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from omo.devtools import demo_info

        demo_info.register()
