"""Settings: stores, staff, API keys (secret shown once, hash stored, revoke audited), audit log."""

from __future__ import annotations

import hashlib
import re

from django.urls import reverse

from omo.core import apikeys, audit
from omo.core.audit import Actor
from omo.core.models import ApiKey, AuditLog
from omo.testing import factories as f


def test_stores_list(console, store, other_store, manager):
    response = console.get(reverse("console:stores"))
    stores = {s.code: s for s in response.context["stores"]}
    assert set(stores) == {"TPE01", "KHH01"}
    assert stores["TPE01"].staff_count == 1  # the manager


def test_staff_list_is_the_brands_only(console, hq_admin, clerk, other_admin):
    response = console.get(reverse("console:staff"))
    usernames = {user.username for user in response.context["page"].object_list}
    assert usernames == {hq_admin.username, clerk.username}


def test_create_api_key_shows_the_secret_once_and_stores_only_its_hash(console, brand, hq_admin):
    response = console.post(reverse("console:api_key_create"), {"name": "POS 串接", "role": "hq_admin"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = response.content.decode()
    secret = re.search(r'<code id="api-key-secret">([^<]+)</code>', body).group(1)
    key = ApiKey.objects.get(brand=brand, name="POS 串接")
    assert secret.startswith(f"omo_{key.prefix}_")
    assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert key.created_by == hq_admin
    # The secret is nowhere in the database, nor on any later page.
    assert secret not in str(list(ApiKey.objects.values()))
    assert secret not in str(list(AuditLog.objects.values()))
    assert secret not in console.get(reverse("console:api_keys")).content.decode()
    assert apikeys.authenticate(secret) == key
    entry = AuditLog.objects.get(action="api_key.created")
    assert (entry.actor_user, entry.target_id) == (hq_admin, str(key.pk))


def test_create_api_key_validates_the_form(console, brand):
    response = console.post(reverse("console:api_key_create"), {"name": "  ", "role": "emperor"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"name", "role"}
    assert not ApiKey.objects.filter(brand=brand).exists()


def test_revoke_api_key_is_post_only_and_audited(console, brand, hq_admin):
    key, secret = apikeys.create_api_key(brand, name="ERP", actor=None)
    url = reverse("console:api_key_revoke", args=[key.pk])
    assert console.get(url).status_code == 405
    response = console.post(url, follow=True)
    assert response.redirect_chain[-1][0] == reverse("console:api_keys")
    assert "已撤銷" in response.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert apikeys.authenticate(secret) is None
    entry = AuditLog.objects.get(action="api_key.revoked")
    assert (entry.brand_id, entry.actor_user, entry.target_id) == (brand.pk, hq_admin, str(key.pk))
    # Revoking again changes nothing and writes no second entry.
    console.post(url)
    assert AuditLog.objects.filter(action="api_key.revoked").count() == 1


def test_audit_log_filters_and_tenancy(console, brand, other_brand, hq_admin, clerk):
    admin_actor = Actor(brand=brand, user=hq_admin)
    audit.record(admin_actor, "customer.viewed", None)
    audit.record(admin_actor, "customer.merged", None)
    audit.record(Actor(brand=brand, user=clerk), "binding.created", None)
    audit.record(Actor.system(other_brand), "customer.viewed", None)

    def actions(**params) -> list[str]:
        response = console.get(reverse("console:audit"), params)
        return sorted(entry.action for entry in response.context["page"].object_list)

    assert actions() == ["binding.created", "customer.merged", "customer.viewed"]
    assert actions(action="customer.") == ["customer.merged", "customer.viewed"]
    assert actions(actor="clerk") == ["binding.created"]


def test_audit_log_pages_with_constant_queries(console, brand, hq_admin, django_assert_max_num_queries):
    other = f.make_user(brand, "someone", role="hq_agent")
    for n in range(60):
        audit.record(Actor(brand=brand, user=hq_admin if n % 2 else other), f"thing.{n}", None)
    with django_assert_max_num_queries(8):
        response = console.get(reverse("console:audit"))
    assert len(response.context["page"].object_list) == 50


def test_store_manager_and_clerk_keys_are_scoped_in_the_form(console, brand, store, clerk):
    url = reverse("console:api_key_create")
    response = console.post(url, {"name": "門市 POS", "role": "store_manager"})
    assert set(response.context["form"].errors) == {"store"}
    response = console.post(url, {"name": "店員工具", "role": "clerk", "store": store.pk})
    assert set(response.context["form"].errors) == {"staff", "store"}
    response = console.post(url, {"name": "ERP", "role": "hq_admin", "store": store.pk})
    assert set(response.context["form"].errors) == {"store"}
    other = f.make_brand("other-form")
    other_store = f.make_store(other, code="O1")
    response = console.post(url, {"name": "門市 POS", "role": "store_manager", "store": other_store.pk})
    assert set(response.context["form"].errors) == {"store"}  # another brand's store is not a choice
    assert not ApiKey.objects.filter(brand=brand).exists()

    assert (
        console.post(url, {"name": "門市 POS", "role": "store_manager", "store": store.pk}).status_code == 200
    )
    assert console.post(url, {"name": "店員工具", "role": "clerk", "staff": clerk.pk}).status_code == 200
    keys = {k.name: k for k in ApiKey.objects.filter(brand=brand)}
    assert (keys["門市 POS"].store_id, keys["門市 POS"].staff_id) == (store.pk, None)
    assert (keys["店員工具"].store_id, keys["店員工具"].staff_id) == (clerk.store_id, clerk.pk)
    listing = console.get(reverse("console:api_keys")).content.decode()
    assert store.name in listing and str(clerk) in listing
