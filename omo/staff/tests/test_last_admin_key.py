"""A brand keeps a way to manage its keys: the last active hq_admin API key cannot revoke itself, and
nobody revokes it while no HQ admin could sign in to make a new one."""

from __future__ import annotations

import pytest
from django.test import Client

from omo.core import apikeys
from omo.core.audit import Actor
from omo.core.models import ApiKey, AuditLog
from omo.testing import factories as f


def _key_of(secret: str) -> ApiKey:
    key = apikeys.authenticate(secret)
    assert key is not None
    return key


def test_the_last_admin_key_cannot_revoke_itself(api_key, api, brand, hq_admin):
    key = _key_of(api_key)

    for response in (api.delete(f"/api/v1/api-keys/{key.pk}"), api.post(f"/api/v1/api-keys/{key.pk}/revoke")):
        assert response.status_code == 409
        body = response.json()
        assert body["code"] == "last_admin_key" and body["field"] == "key_id"
        assert (
            "cannot revoke itself" in body["detail"] and "Create another hq_admin key first" in body["detail"]
        )
    key.refresh_from_db()
    assert key.revoked_at is None
    assert not AuditLog.objects.filter(brand=brand, action="api_key.revoked").exists()


def test_with_a_second_admin_key_either_may_go(api_key, api, brand):
    key = _key_of(api_key)
    second = _key_of(f.make_api_key(brand, role="hq_admin"))

    assert api.delete(f"/api/v1/api-keys/{second.pk}").status_code == 200
    second.refresh_from_db()
    assert second.revoked_at is not None
    # now the first is the last again
    assert api.delete(f"/api/v1/api-keys/{key.pk}").status_code == 409


def test_a_key_may_revoke_itself_while_another_admin_key_remains(api_key, api, brand):
    key = _key_of(api_key)
    f.make_api_key(brand, role="hq_admin")

    assert api.delete(f"/api/v1/api-keys/{key.pk}").status_code == 200
    assert api.get("/api/v1/api-keys").status_code == 401


def test_other_roles_keys_do_not_count_as_admin_keys(api_key, api, brand, store):
    f.make_api_key(brand, role="hq_agent")
    f.make_api_key(brand, role="store_manager", store=store)

    assert api.delete(f"/api/v1/api-keys/{_key_of(api_key).pk}").status_code == 409


def test_the_console_revokes_the_last_key_for_a_signed_in_admin(api_key, brand, hq_admin):
    key = _key_of(api_key)
    client = Client()
    client.force_login(hq_admin)

    response = client.post(f"/console/settings/api-keys/{key.pk}/revoke/", follow=True)

    assert response.status_code == 200
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_without_a_signed_in_admin_nobody_revokes_the_last_admin_key(api_key, brand, hq_admin):
    key = _key_of(api_key)
    hq_admin.is_active = False
    hq_admin.save(update_fields=["is_active"])

    with pytest.raises(apikeys.ApiKeyError) as refused:
        apikeys.revoke_api_key(key, actor=Actor.system(brand))
    assert (
        refused.value.code == "last_admin_key" and "no active HQ admin can sign in" in refused.value.message
    )
    key.refresh_from_db()
    assert key.revoked_at is None


def test_an_admin_who_cannot_sign_in_yet_does_not_count(api_key, brand, hq_admin):
    hq_admin.set_unusable_password()
    hq_admin.save(update_fields=["password"])

    with pytest.raises(apikeys.ApiKeyError):
        apikeys.revoke_api_key(_key_of(api_key), actor=Actor.system(brand))


def test_another_brand_cannot_delete_our_key(api_key, other_api):
    key = _key_of(api_key)
    assert other_api.delete(f"/api/v1/api-keys/{key.pk}").status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


@pytest.mark.django_db(transaction=True)
def test_two_admin_keys_revoking_each_other_at_once_leave_one(brand):
    """Row locks (PostgreSQL) or the write lock (SQLite) serialise the two: one key stays."""
    import threading

    from django.db import connections

    from omo.staff.actors import actor_for_api_key

    keys = [_key_of(f.make_api_key(brand, role="hq_admin")) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list[object] = [None, None]

    def revoke(i: int) -> None:
        try:
            barrier.wait()
            results[i] = apikeys.revoke_api_key(keys[1 - i], actor=actor_for_api_key(keys[i]))
        except Exception as exc:  # asserted below
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=revoke, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    refusals = [r for r in results if isinstance(r, apikeys.ApiKeyError)]
    assert len(refusals) == 1, results
    assert refusals[0].code in ("actor_revoked", "last_admin_key")
    assert ApiKey.objects.filter(brand=brand, role="hq_admin", revoked_at__isnull=True).count() == 1
