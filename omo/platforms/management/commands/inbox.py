"""`omo inbox connect-line --brand SLUG --channel-id … --channel-secret … --access-token … [--name …]`
and `omo inbox list --brand SLUG`.

connect-line checks the token with LINE, saves the inbox, and over HTTPS sets and tests the
webhook URL on LINE; it prints JSON `{inbox_id, webhook_url, bot, webhook_set, webhook_test, …}`.
Bad input or a refused token prints the error and exits with status 1, with nothing saved.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from omo.core.audit import Actor
from omo.core.errors import DomainError
from omo.core.models import Brand
from omo.inbox import selectors as inbox_selectors
from omo.platforms.line import connect


class Command(BaseCommand):
    help = "Connect and list a brand's platform accounts (inboxes)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        assert isinstance(parser, CommandParser)
        actions = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)
        line = actions.add_parser(
            "connect-line",
            help="connect a LINE official account (checked with LINE); prints JSON with the inbox id and webhook URL",
        )
        line.add_argument("--brand", required=True, help="the brand's slug")
        line.add_argument("--channel-id", required=True, help="Messaging API channel ID")
        line.add_argument(
            "--channel-secret", required=True, help="channel secret (32 hexadecimal characters)"
        )
        line.add_argument("--access-token", required=True, help="long-lived channel access token")
        line.add_argument("--name", default="", help="name in omo (default: the bot's display name)")
        line.add_argument("--login-channel-id", default="", help="LINE Login channel ID (for binding)")
        line.add_argument("--liff-id", default="", help="LIFF ID (for binding)")
        line.add_argument(
            "--plan-included",
            default=str(connect.DEFAULT_PLAN["included"]),
            help="messages a month in the plan",
        )
        line.add_argument("--plan-extra-price", default="0", help="NT$ per message beyond the plan, e.g. 0.2")
        listing = actions.add_parser("list", help="print the brand's inboxes, one JSON object per line")
        listing.add_argument("--brand", required=True, help="the brand's slug")

    def handle(self, *args: Any, **options: Any) -> None:
        brand = Brand.objects.filter(slug=options["brand"]).first()
        if brand is None:
            raise CommandError(f"brand: no brand with slug {options['brand']!r} (omo brand list shows them)")
        actor = Actor.system(brand)
        if options["action"] == "list":
            for inbox in inbox_selectors.visible_inboxes(actor):
                self.stdout.write(
                    json.dumps(
                        {
                            "inbox_id": inbox.pk,
                            "platform": inbox.platform,
                            "name": inbox.name,
                            "channel_id": inbox.external_id,
                            "basic_id": inbox.handle,
                            "is_active": inbox.is_active,
                            "webhook_url": connect.webhook_url(inbox),
                        },
                        ensure_ascii=False,
                    )
                )
            return
        try:
            result = connect.connect_line(
                brand,
                actor=actor,
                channel_id=options["channel_id"],
                channel_secret=options["channel_secret"],
                access_token=options["access_token"],
                name=options["name"],
                login_channel_id=options["login_channel_id"],
                liff_id=options["liff_id"],
                plan_included=options["plan_included"],
                plan_extra_price=options["plan_extra_price"],
            )
        except DomainError as exc:
            raise CommandError(f"{exc.field}: {exc.message}" if exc.field else exc.message) from exc
        self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False))
