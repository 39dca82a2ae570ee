"""The `omo` command line.

Every subcommand is a Django management command, so `omo demo`, `omo serve`, `omo worker` and
`omo brand` (in omo/core/management/commands/) run with settings loaded, and Django's own commands
(`omo migrate`, `omo createsuperuser`, `omo shell`, ...) pass straight through.

`python -m config.cli ...` behaves exactly like `omo ...` (the demo starts its children that way).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

USAGE = """\
usage: omo <command> [options]

Start here:
  omo demo                      migrate, load demo data, run the web server and a worker
  omo serve [--host --port]     run the web server (HTTP and WebSocket)
  omo worker                    run a background worker (start as many as you need)
  omo migrate                   create or update the database tables
  omo seed --demo [--size small|medium|large] [--seed N]
                                load demo data
  omo brand create NAME         create a brand; prints its id and an admin API key as JSON
  omo inbox connect-line --brand SLUG --channel-id ID --channel-secret S --access-token T
                                connect a LINE official account; prints JSON with the webhook URL
  omo clv fit --brand SLUG [--calibration-end YYYY-MM-DD] [--json]
                                fit the predicted customer value models; prints their parameters

Every Django management command works too (omo createsuperuser, omo shell, ...).
`omo help <command>` shows a command's options; `omo help --commands` lists them all.
"""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("omo")
    except PackageNotFoundError:
        return "0+unknown"


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `omo` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        sys.stdout.write(USAGE)
        return
    if args[0] == "--version":
        sys.stdout.write(f"omo {_version()}\n")
        return

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["omo", *args])


if __name__ == "__main__":
    main()
