"""The `omo` command line: brand creation, pass-through of Django commands, serve and demo."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from config import cli
from omo.core import apikeys
from omo.core.models import AuditLog, Brand
from omo.core.tests.processes import (
    REPO_ROOT,
    child_env,
    database_url_of_test_db,
    free_port,
    start_omo,
    stop,
    wait_for_status,
)
from omo.loyalty.models import LoyaltyProgram
from omo.testing import factories as f


def omo_brand_create(*args: str) -> dict:
    out = StringIO()
    call_command("brand", "create", *args, stdout=out)
    return json.loads(out.getvalue())


# --- the entry point ----------------------------------------------------------------------------


def test_console_script_is_config_cli_main():
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"omo": "config.cli:main"}
    assert callable(cli.main)


def test_python_m_config_cli_prints_the_main_commands():
    result = subprocess.run(
        [sys.executable, "-m", "config.cli"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    for command in (
        "omo demo",
        "omo serve",
        "omo worker",
        "omo migrate",
        "omo seed --demo",
        "omo brand create",
    ):
        assert command in result.stdout


def test_version(capsys):
    cli.main(["--version"])
    assert capsys.readouterr().out.startswith("omo ")


def test_django_commands_pass_through(capsys):
    cli.main(["check"])
    assert "System check identified no issues" in capsys.readouterr().out


def test_omo_subcommands_are_management_commands():
    from django.core.management import get_commands

    commands = get_commands()
    for name in ("serve", "worker", "brand"):
        assert commands[name] == "omo.core"
    assert commands["demo"] == "omo.devtools"  # the demo seeds and runs the stand-ins


# --- omo brand create ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_brand_create_prints_id_slug_and_a_working_admin_key():
    printed = omo_brand_create("Herb Life")

    brand = Brand.objects.get(pk=printed["brand_id"])
    assert printed["slug"] == brand.slug == "herb-life"
    assert brand.name == "Herb Life"
    key = apikeys.authenticate(printed["api_key"])
    assert key is not None and key.brand_id == brand.pk and key.role == "hq_admin"
    assert printed["api_key"].startswith("omo_")
    assert LoyaltyProgram.objects.filter(brand=brand).count() == 1
    assert list(AuditLog.objects.filter(brand=brand).values_list("action", flat=True).order_by("id")) == [
        "brand.created",
        "api_key.created",
    ]


@pytest.mark.django_db
def test_brand_slugs_stay_unique():
    assert omo_brand_create("Herb Life")["slug"] == "herb-life"
    assert omo_brand_create("Herb Life")["slug"] == "herb-life-2"
    assert omo_brand_create("草本生活")["slug"] == "brand"
    assert omo_brand_create("森林")["slug"] == "brand-2"
    assert omo_brand_create("Outdoor", "--slug", "trail")["slug"] == "trail"
    assert Brand.objects.count() == 5


@pytest.mark.django_db
def test_brand_create_refuses_a_taken_slug_and_a_blank_name():
    f.make_brand("Herb", slug="herb")

    with pytest.raises(CommandError, match="slug 'herb' is taken"):
        omo_brand_create("Another", "--slug", "herb")
    with pytest.raises(CommandError, match="needs a name"):
        omo_brand_create("   ")
    assert Brand.objects.count() == 1


@pytest.mark.django_db
def test_brand_list_prints_one_json_line_per_brand():
    f.make_brand("Herb", slug="herb")
    f.make_brand("草本", slug="grass")
    out = StringIO()

    call_command("brand", "list", stdout=out)

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["slug"], line["name"]) for line in lines] == [("herb", "Herb"), ("grass", "草本")]


@pytest.mark.django_db(transaction=True)
def test_omo_brand_create_in_a_real_process():
    result = subprocess.run(
        [sys.executable, "-m", "config.cli", "brand", "create", "草本生活"],
        cwd=REPO_ROOT,
        env=child_env(DATABASE_URL=database_url_of_test_db()),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert set(printed) == {"brand_id", "slug", "api_key"}
    assert Brand.objects.get(pk=printed["brand_id"]).name == "草本生活"
    assert apikeys.authenticate(printed["api_key"]).brand_id == printed["brand_id"]


# --- real servers -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_omo_serve_answers_http_and_authenticated_websockets(clerk, tmp_path):
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        server = start_omo(
            "serve",
            "--port",
            str(port),
            env=child_env(DATABASE_URL=database_url_of_test_db(), OMO_VAR_DIR=str(tmp_path)),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        # no worker is beating, so the server is up but not healthy
        body = json.loads(wait_for_status(f"http://127.0.0.1:{port}/healthz", 503, server))
        assert "worker" in body["failing"]

        client = Client()
        client.force_login(clerk)
        cookie = f"sessionid={client.cookies['sessionid'].value}"
        origin = f"http://127.0.0.1:{port}"
        with connect(
            f"ws://127.0.0.1:{port}/ws/ping/",
            origin=origin,
            additional_headers={"Cookie": cookie},
            proxy=None,
        ) as socket:
            socket.send(json.dumps({"hello": "world"}))
            assert json.loads(socket.recv(timeout=10)) == {
                "type": "pong",
                "user": clerk.username,
                "echo": {"hello": "world"},
            }

        with pytest.raises(InvalidStatus) as refused:
            connect(f"ws://127.0.0.1:{port}/ws/ping/", origin=origin, proxy=None)
        assert refused.value.response.status_code == 403
    finally:
        try:
            assert stop(server) == 0, log.read_text()
        finally:
            print("SERVELOG", log.read_text())
