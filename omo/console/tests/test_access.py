"""Every console page as anonymous, as another brand, and as each weaker role."""

from __future__ import annotations

import pytest
from django.urls import reverse

from omo.console.tests.conftest import SECRETS
from omo.testing import factories as f

LIST_PAGES = [
    "console:dashboard",
    "console:orders",
    "console:customers",
    "console:products",
    "console:stock",
    "console:tiers",
    "console:coupons",
    "console:stores",
    "console:staff",
    "console:api_keys",
    "console:api_key_create",
    "console:audit",
    "console:leaderboard",
    "console:inbox",
    "console:inbox_roster",
    "console:inbox_canned",
]
SETTINGS_PAGES = [
    "console:stores",
    "console:staff",
    "console:api_keys",
    "console:api_key_create",
    "console:audit",
]
OBJECT_PAGES = {
    "console:order_detail": "order",
    "console:customer_detail": "customer",
    "console:product_detail": "product",
    "console:coupon_detail": "coupon",
}


def object_url(name: str, objects) -> str:
    return reverse(name, args=[getattr(objects, OBJECT_PAGES[name]).pk])


def all_urls(objects) -> list[str]:
    return [reverse(name) for name in LIST_PAGES] + [object_url(name, objects) for name in OBJECT_PAGES]


def test_every_page_redirects_anonymous_to_sign_in(client, brand_objects):
    for url in all_urls(brand_objects):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == f"{reverse('console:login')}?next={url}", url


def test_anonymous_revoke_is_redirected_and_changes_nothing(client, api_key, brand):
    from omo.core.models import ApiKey

    key = ApiKey.objects.get(brand=brand)
    response = client.post(reverse("console:api_key_revoke", args=[key.pk]))
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is None


def test_clerk_is_refused_everywhere(client_for, clerk, brand_objects, api_key):
    client = client_for(clerk)
    for url in all_urls(brand_objects):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "店員 App" in response.content.decode(), url
    from omo.core.models import ApiKey

    key = ApiKey.objects.get(brand=clerk.brand)
    assert client.post(reverse("console:api_key_revoke", args=[key.pk])).status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None


def test_user_without_brand_is_refused(client_for, brand_objects):
    superuser = f.make_user(None, "root", role="hq_admin", is_superuser=True, is_staff=True)
    client = client_for(superuser)
    for url in all_urls(brand_objects):
        assert client.get(url).status_code == 403, url


def test_store_manager_without_store_is_refused(client_for, brand):
    manager = f.make_user(brand, "lost-manager", role="store_manager")
    assert client_for(manager).get(reverse("console:orders")).status_code == 403


def test_store_manager_is_refused_settings_but_sees_the_rest(client_for, manager, brand_objects):
    client = client_for(manager)
    # the staff page is the exception: a store manager manages their own store's clerks there
    for name in set(SETTINGS_PAGES) - {"console:staff"}:
        assert client.get(reverse(name)).status_code == 403, name
    assert client.get(reverse("console:staff")).status_code == 200
    for name in set(LIST_PAGES) - set(SETTINGS_PAGES):
        assert client.get(reverse(name)).status_code == 200, name
    # brand_objects' order and customer belong to the manager's store
    for name in OBJECT_PAGES:
        assert client.get(object_url(name, brand_objects)).status_code == 200, name


def test_hq_agent_sees_stores_but_not_staff_keys_or_audit(client_for, hq_agent, brand_objects):
    client = client_for(hq_agent)
    assert client.get(reverse("console:stores")).status_code == 200
    for name in ["console:staff", "console:api_keys", "console:api_key_create", "console:audit"]:
        assert client.get(reverse(name)).status_code == 403, name
    assert client.get(reverse("console:dashboard")).status_code == 200


def test_hq_admin_opens_every_page(console, brand_objects):
    for url in all_urls(brand_objects):
        assert console.get(url).status_code == 200, url


@pytest.mark.parametrize("name", list(OBJECT_PAGES))
def test_another_brands_admin_gets_404_for_our_objects(client_for, other_admin, brand_objects, name):
    assert client_for(other_admin).get(object_url(name, brand_objects)).status_code == 404


def test_another_brands_admin_sees_only_their_own_empty_lists(
    client_for, other_admin, brand_objects, seeded_sales
):
    client = client_for(other_admin)
    for name in LIST_PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        body = response.content.decode()
        for secret in SECRETS:
            assert secret not in body, (name, secret)
    # Searching for our data by its exact identifiers finds nothing either.
    for name, query in [
        ("console:orders", "HERB-SECRET-1"),
        ("console:customers", "0911111111"),
        ("console:products", "SECRET-SKU-1"),
    ]:
        response = client.get(reverse(name), {"q": query})
        assert response.context["page"].paginator.count == 0, name
        assert "機密" not in response.content.decode(), name


def test_another_brands_admin_cannot_revoke_our_key(client_for, other_admin, brand, api_key):
    from omo.core.models import ApiKey, AuditLog

    key = ApiKey.objects.get(brand=brand)
    response = client_for(other_admin).post(reverse("console:api_key_revoke", args=[key.pk]))
    assert response.status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None
    assert not AuditLog.objects.filter(action="api_key.revoked").exists()


def test_another_brands_filter_values_are_rejected_not_applied(client_for, other_admin, store, brand_objects):
    # Our store's id in their filter is not a valid choice: reported, and nothing of ours is listed.
    response = client_for(other_admin).get(reverse("console:orders"), {"store": store.pk})
    assert response.status_code == 200
    assert "HERB-SECRET-1" not in response.content.decode()
    assert "store" in response.context["form"].errors
