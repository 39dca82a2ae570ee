from django.db import connection

from omo.core import crypto
from omo.inbox.models import Inbox, Platform


def test_round_trip_and_tamper():
    token = crypto.encrypt("s3cret")
    assert token != "s3cret" and crypto.decrypt(token) == "s3cret"
    try:
        crypto.decrypt(token[:-4] + "AAAA")
    except ValueError as exc:
        assert "decrypt" in str(exc)
    else:
        raise AssertionError("tampered ciphertext decrypted")


def test_inbox_secrets_are_not_stored_in_clear(brand):
    inbox = Inbox.objects.create(
        brand=brand,
        platform=Platform.LINE,
        name="官方帳號",
        secrets={"channel_secret": "abc123secret", "access_token": "tok-xyz"},
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM inbox_inbox WHERE id = %s", [inbox.pk])
        raw = cursor.fetchone()[0]
    assert "abc123secret" not in raw and "tok-xyz" not in raw
    assert Inbox.objects.get(pk=inbox.pk).secrets == {
        "channel_secret": "abc123secret",
        "access_token": "tok-xyz",
    }
