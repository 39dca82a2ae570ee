from django.apps import AppConfig


class OutgoingWebhooksConfig(AppConfig):
    """Webhooks omo sends to integrators' endpoints (signed, retried). The label stays "integrations",
    the app's first name: it names the tables, the migrations and the stored subscriber names."""

    name = "omo.outgoing_webhooks"
    label = "integrations"
    verbose_name = "Outgoing webhooks"

    def ready(self) -> None:
        from omo.outgoing_webhooks import subscribers

        subscribers.register()
