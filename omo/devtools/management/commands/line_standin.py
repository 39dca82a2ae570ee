"""`omo line_standin`: run the local LINE Platform stand-in (omo/devtools/line_standin.py).

It knows the credentials of every LINE inbox in the database (so omo's pushes and replies
authenticate), and serves the control API the phone simulator uses. Point omo at it with
OMO_LINE_API_BASE=http://127.0.0.1:<port>.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from omo.devtools.line_standin import LineStandIn, serve


class Command(BaseCommand):
    help = "Run the local LINE Platform stand-in for the demo and manual testing (never in production)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8091)
        parser.add_argument(
            "--no-inboxes", action="store_true", help="do not load LINE inboxes from the database"
        )
        parser.add_argument("--quota", type=int, default=None, help="monthly message quota for every channel")

    def handle(self, *args: Any, **options: Any) -> None:
        def setup(standin: LineStandIn) -> None:
            if options["no_inboxes"]:
                return
            from omo.inbox.models import Inbox

            for inbox in Inbox.objects.filter(platform="line"):
                secrets = inbox.secrets or {}
                if not secrets.get("access_token"):
                    continue
                standin.add_channel(
                    channel_id=inbox.external_id or str(inbox.pk),
                    channel_secret=secrets.get("channel_secret", ""),
                    access_token=secrets["access_token"],
                    bot_user_id=inbox.bot_user_id or None,
                    login_channel_id=str((inbox.config or {}).get("login_channel_id", "")),
                    quota_limit=options["quota"],
                )
                self.stdout.write(f"channel {inbox.external_id} ← inbox {inbox.pk} {inbox.name}")

        self.stdout.write(f"LINE stand-in on http://{options['host']}:{options['port']} (Ctrl+C to stop)")
        serve(options["host"], options["port"], setup=setup)
