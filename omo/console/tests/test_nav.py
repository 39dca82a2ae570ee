"""The sidebar links only pages that exist and that the user may open."""

from __future__ import annotations

from django.urls import reverse

from omo.console import nav

PLANNED = {"console:inbox", "console:segments", "console:campaigns", "console:imports"}


def links(response) -> set[str]:
    return {link["url"] for group in response.context["nav"] for link in group["links"]}


def test_only_planned_items_are_missing():
    assert set(nav.planned_items()) <= PLANNED


def test_hq_admin_sees_every_existing_page(console):
    response = console.get(reverse("console:dashboard"))
    expected = {
        reverse(item.url_name)
        for group in nav.NAVIGATION
        for item in group.items
        if item.url_name not in nav.planned_items()
    }
    assert links(response) == expected
    assert reverse("console:api_keys") in links(response)


def test_store_manager_sees_only_their_team_in_settings(client_for, manager):
    response = client_for(manager).get(reverse("console:orders"))
    shown = links(response)
    assert reverse("console:orders") in shown
    assert reverse("console:staff") in shown  # their own store's clerks
    for name in ["console:stores", "console:api_keys", "console:tracking_sources", "console:audit"]:
        assert reverse(name) not in shown


def test_current_page_is_marked(console, brand_objects):
    response = console.get(reverse("console:order_detail", args=[brand_objects.order.pk]))
    active = [link["url"] for group in response.context["nav"] for link in group["links"] if link["active"]]
    assert active == [reverse("console:orders")]
