import datetime as dt

from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "omo.integrations"
    verbose_name = "Integrations (outgoing webhooks)"

    def ready(self) -> None:
        # What the app holds about a person: export, erasure, merge, split, retention
        # (omo/customers/personal_data.py).
        from omo.integrations import personal_data

        personal_data.register()
        # Each topic follows the domain event of the same name (after its transaction commits).
        # Durable, but only for brands with an endpoint that takes the topic: no row is owed for
        # an event nobody subscribed to (most events of most brands).
        from omo.core import events
        from omo.integrations import services, sweep
        from omo.integrations.topics import TOPICS

        for topic in TOPICS:
            events.subscribe(
                topic,
                services.handler_for(topic),
                durable=f"integrations.{topic}",
                when=services.wanted_for(topic),
            )
        sweep.register()

        from omo.core import schedule
        from omo.integrations import tasks

        schedule.register(
            "integrations.sweep_webhooks", tasks.sweep_webhook_deliveries, dt.timedelta(minutes=1)
        )
