"""The console pages for the people who run the stores: transfer a clerk's customers (設定 → 員工 →
a clerk), the transfer batches with the 30-day undo, recovery by phone and the team's conversations
against the reply SLA."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from omo.binding import selectors, services
from omo.binding.models import BindingPolicy, Transfer
from omo.core.audit import Actor
from omo.core.models import AuditLog
from omo.inbox.models import Contact, Conversation, Inbox
from omo.testing import factories as f
from omo.testing.browser import sign_in_console
from omo.testing.clock import TAIPEI

pytestmark = pytest.mark.django_db


def _as(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def amei(brand, store):
    return f.make_user(brand, "amei", role="clerk", store=store, display_name="阿美")


@pytest.fixture
def customers(brand, clerk):
    made = []
    for n, name in enumerate(["陳小姐", "林先生", "黃小姐"]):
        customer = f.make_customer(brand, name=name, phone=f"+88693320000{n}")
        services.bind_customer(customer, clerk, source="manual")
        made.append(customer)
    return made


def test_a_manager_moves_chosen_customers_of_a_clerk_to_another(manager, clerk, amei, customers):
    client = _as(manager)
    page = client.get(f"/console/settings/staff/{clerk.pk}/transfer/").content.decode()
    assert "目前綁定 3 位顧客" in page and "陳小姐" in page and "阿美" in page

    response = client.post(
        f"/console/settings/staff/{clerk.pk}/transfer/",
        {
            "mode": "clerk",
            "to_clerk": amei.pk,
            "which": "selected",
            "customers": [customers[0].pk, customers[2].pk],
            "reason": "調店",
        },
    )

    assert response.status_code == 302 and response["Location"] == "/console/bindings/transfers/"
    assert [selectors.current_binding(c).clerk for c in customers] == [amei, clerk, amei]
    transfer = Transfer.objects.get()
    assert (transfer.actor, transfer.reason, transfer.customer_count) == (manager, "調店", 2)
    listing = client.get("/console/bindings/transfers/").content.decode()
    assert "調店" in listing and "阿美" in listing and "復原" in listing


def test_spread_and_store_team_from_the_console(brand, store, console, clerk, amei, customers):
    bee = f.make_user(brand, "bee", role="clerk", store=store, display_name="小蜂")
    page = console.get(f"/console/settings/staff/{clerk.pk}/transfer/").content.decode()
    assert "目前綁定人數最少" in page and "阿美：0" in page and "小蜂：0" in page

    assert (
        console.post(
            f"/console/settings/staff/{clerk.pk}/transfer/",
            {"mode": "spread", "which": "all", "notify": "on"},
        ).status_code
        == 302
    )
    assert [selectors.current_binding(c).clerk for c in customers] == [amei, bee, amei]

    response = console.post(f"/console/settings/staff/{amei.pk}/transfer/", {"mode": "store", "which": "all"})
    assert response.status_code == 302
    assert selectors.current_binding(customers[0]) is None
    assert Transfer.objects.filter(mode="store", to_store=store).count() == 1


def test_transfer_form_errors_are_sentences_and_nothing_moves(console, clerk, customers, amei):
    url = f"/console/settings/staff/{clerk.pk}/transfer/"
    no_target = console.post(url, {"mode": "clerk", "which": "all"}).content.decode()
    assert "請選擇接手的店員。" in no_target
    none_chosen = console.post(
        url, {"mode": "clerk", "to_clerk": amei.pk, "which": "selected"}
    ).content.decode()
    assert "請至少勾選一位顧客。" in none_chosen
    services.transfer_bindings(
        clerk,
        to_clerk=amei,
        actor=Actor(brand=clerk.brand, role="hq_admin"),
        customer_ids=[customers[0].pk],
        notify=False,
    )
    gone = console.post(
        url, {"mode": "clerk", "to_clerk": amei.pk, "which": "selected", "customers": [customers[0].pk]}
    )
    assert gone.status_code == 200 and 'class="errorlist' in gone.content.decode()
    amei.is_active = False
    amei.save()
    alone = console.post(url, {"mode": "spread", "which": "all"}).content.decode()
    assert "這間門市沒有其他在職店員可以分配。" in alone
    assert Transfer.objects.count() == 1 and selectors.bound_bindings(clerk).count() == 2


def test_weaker_roles_other_stores_and_other_brands_are_refused(
    brand, other_brand, other_store, clerk, amei, customers, hq_agent, manager
):
    url = f"/console/settings/staff/{clerk.pk}/transfer/"
    body = {"mode": "clerk", "to_clerk": amei.pk, "which": "all"}
    assert _as(clerk).get(url).status_code == 403  # clerks use the clerk app
    assert _as(hq_agent).get(url).status_code == 403
    assert _as(hq_agent).get("/console/bindings/transfers/").status_code == 403
    far = f.make_user(brand, "far", role="store_manager", store=other_store)
    assert _as(far).post(url, body).status_code == 404  # not their store's clerk
    assert _as(f.make_user(other_brand, "x", role="hq_admin")).post(url, body).status_code == 404
    colleague = f.make_user(brand, "co-manager", role="store_manager", store=clerk.store)
    assert _as(manager).post(f"/console/settings/staff/{colleague.pk}/transfer/", body).status_code == 403
    assert not Transfer.objects.exists()

    transfer = services.transfer_bindings(
        clerk, to_clerk=amei, actor=Actor(brand=brand, user=manager, role="store_manager"), notify=False
    )
    assert "阿美" not in _as(far).get("/console/bindings/transfers/").content.decode()
    assert _as(far).post(f"/console/bindings/transfers/{transfer.pk}/undo/").status_code == 404
    assert (
        _as(f.make_user(other_brand, "y", role="hq_admin"))
        .post(f"/console/bindings/transfers/{transfer.pk}/undo/")
        .status_code
        == 404
    )
    assert Transfer.objects.get().undone_at is None


def test_undo_from_the_list_within_30_days(brand, manager, clerk, amei, customers, time_machine):
    start = dt.datetime(2027, 3, 1, 10, 0, tzinfo=TAIPEI)
    time_machine.move_to(start, tick=False)
    actor = Actor(brand=brand, user=manager, role="store_manager")
    kept = services.transfer_bindings(
        clerk, to_clerk=amei, actor=actor, customer_ids=[customers[0].pk], notify=False
    )
    late = services.transfer_bindings(
        clerk, to_clerk=amei, actor=actor, customer_ids=[customers[1].pk], notify=False
    )
    client = _as(manager)

    time_machine.move_to(start + dt.timedelta(days=29), tick=False)
    client.force_login(manager)  # a session lasts two weeks
    done = client.post(f"/console/bindings/transfers/{kept.pk}/undo/", follow=True).content.decode()
    assert "已復原：1 位顧客回到 clerk。" in done
    assert selectors.current_binding(customers[0]).clerk == clerk

    time_machine.move_to(start + dt.timedelta(days=31), tick=False)
    client.force_login(manager)
    page = client.get("/console/bindings/transfers/").content.decode()
    assert "已超過 30 天" in page
    refused = client.post(f"/console/bindings/transfers/{late.pk}/undo/", follow=True).content.decode()
    assert "轉移已超過 30 天，無法復原。" in refused
    assert selectors.current_binding(customers[1]).clerk == amei
    assert AuditLog.objects.filter(action="binding.transfer_undone").count() == 1


def test_deactivating_a_clerk_with_customers_leads_to_the_transfer(manager, clerk, customers):
    client = _as(manager)
    page = client.get(f"/console/settings/staff/{clerk.pk}/").content.decode()
    assert f"/console/settings/staff/{clerk.pk}/transfer/" in page

    response = client.post(f"/console/settings/staff/{clerk.pk}/", {"display_name": "離職店員"}, follow=True)

    assert response.redirect_chain[-1][0] == f"/console/settings/staff/{clerk.pk}/transfer/"
    assert "仍綁定 3 位顧客，請轉移給其他店員" in response.content.decode()


def test_recovery_page_names_each_refusal(brand, manager, clerk, amei, customers):
    client = _as(manager)
    assert "以手機號碼綁定" in client.get("/console/bindings/recovery/").content.decode()
    no_match = client.post("/console/bindings/recovery/", {"phone": "0911-000-000", "clerk": amei.pk})
    assert "找不到使用這個手機號碼的顧客。" in no_match.content.decode()
    bad = client.post("/console/bindings/recovery/", {"phone": "hello", "clerk": amei.pk})
    assert "請輸入正確的手機號碼" in bad.content.decode()
    kept = client.post("/console/bindings/recovery/", {"phone": "0933-200-000", "clerk": amei.pk})
    assert "這位顧客已綁定 clerk，依品牌的綁定規則不能改綁" in kept.content.decode()
    BindingPolicy.objects.create(brand=brand, rule="latest_wins")
    offline = client.post("/console/bindings/recovery/", {"phone": "0933-200-000", "clerk": amei.pk})
    assert "沒有加入 LINE 官方帳號好友" in offline.content.decode()
    far = f.make_user(brand, "far", role="clerk", store=f.make_store(brand, code="TCH9", name="台中店"))
    other_store_clerk = client.post("/console/bindings/recovery/", {"phone": "0933-200-000", "clerk": far.pk})
    assert other_store_clerk.status_code == 200 and 'class="errorlist' in other_store_clerk.content.decode()
    assert not AuditLog.objects.filter(action="binding.recovery_requested").exists()


def test_team_view_puts_overdue_conversations_first(
    brand, store, other_store, manager, clerk, amei, hq_admin, time_machine
):
    time_machine.move_to(dt.datetime(2027, 3, 15, 15, 0, tzinfo=TAIPEI), tick=False)
    now = timezone.now()
    inbox = Inbox.objects.create(brand=brand, platform="webchat", name="web")

    phones = iter(range(10))

    def conversation(name, *, store, assignee=None, queue="store", waiting=None, due=None):
        customer = f.make_customer(brand, name=name, phone=f"+88693340000{next(phones)}")
        contact = Contact.objects.create(brand=brand, inbox=inbox, external_user_id=name, customer=customer)
        return Conversation.objects.create(
            brand=brand,
            inbox=inbox,
            contact=contact,
            customer=customer,
            store=store,
            assignee=assignee,
            queue=queue,
            waiting_since=now - dt.timedelta(minutes=waiting) if waiting is not None else None,
            sla_due_at=now + dt.timedelta(minutes=due) if due is not None else None,
            last_message_at=now,
        )

    calm = conversation("已回覆客", store=store, assignee=clerk, queue="clerk")
    soon = conversation("快到期客", store=store, assignee=amei, queue="clerk", waiting=4, due=6)
    late = conversation("逾時客", store=store, waiting=25, due=-15)
    conversation("高雄客", store=other_store, waiting=60, due=-50)

    page = _as(manager).get("/console/inbox/team/").content.decode()
    order = [m for m in re.findall(r'data-conversation="(\d+)"', page)]
    assert order == [str(late.pk), str(soon.pk), str(calm.pk)]
    rows = page[page.index("data-team>") :]
    assert "逾時 15 分鐘" in rows and "剩 6 分鐘" in rows and "高雄客" not in rows, rows
    assert 'data-overdue-count="1"' in page
    everyone = _as(hq_admin).get("/console/inbox/team/").content.decode()
    assert "高雄客" in everyone and 'data-overdue-count="2"' in everyone
    only_kh = _as(hq_admin).get(f"/console/inbox/team/?store={other_store.pk}").content.decode()
    assert "高雄客" in only_kh and "逾時客" not in only_kh


def test_team_view_refuses_clerks_agents_and_shows_nothing_of_another_brand(
    other_brand, clerk, hq_agent, store
):
    assert _as(clerk).get("/console/inbox/team/").status_code == 403
    assert _as(hq_agent).get("/console/inbox/team/").status_code == 403
    outsider = _as(f.make_user(other_brand, "x", role="hq_admin")).get(
        f"/console/inbox/team/?store={store.pk}"
    )
    assert outsider.status_code == 200 and "目前沒有處理中的對話。" in outsider.content.decode()


def test_the_navigation_links_the_new_pages(manager, hq_agent):
    page = _as(manager).get("/console/").content.decode()
    for url in ("/console/inbox/team/", "/console/bindings/transfers/", "/console/bindings/recovery/"):
        assert url in page
    agent_page = _as(hq_agent).get("/console/").content.decode()
    assert "/console/bindings/recovery/" in agent_page and "/console/bindings/transfers/" not in agent_page


@pytest.mark.browser
def test_a_manager_transfers_a_departing_clerks_customers_in_the_browser(
    desktop_page, live_url, brand, store, manager, clerk
):
    from playwright.sync_api import expect

    amei = f.make_user(brand, "amei", role="clerk", store=store, display_name="阿美")
    for n, name in enumerate(["陳小姐", "林先生"]):
        services.bind_customer(
            f.make_customer(brand, name=name, phone=f"+88693350000{n}"), clerk, source="manual"
        )
    page = desktop_page
    sign_in_console(page, manager)
    page.goto(f"/console/settings/staff/{clerk.pk}/")
    page.locator("[data-transfer-link]").click()
    expect(page.locator("[data-bound-count]")).to_have_attribute("data-bound-count", "2")

    page.get_by_label("全部轉給一位店員").check()
    page.get_by_label("接手店員").select_option(label=str(amei))
    page.get_by_label("原因").fill("離職")
    page.locator("[data-submit-transfer]").click()

    expect(page).to_have_url(re.compile(r"/console/bindings/transfers/$"))
    expect(page.get_by_text("已轉移 2 位顧客")).to_be_visible()
    row = page.locator("[data-transfers] tbody tr").first
    expect(row).to_contain_text("離職")
    expect(row).to_contain_text("阿美")
    assert selectors.bound_bindings(amei).count() == 2

    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("[data-undo]").click()
    expect(page.get_by_text("已復原：2 位顧客回到")).to_be_visible()
    assert selectors.bound_bindings(clerk).count() == 2 and selectors.bound_bindings(amei).count() == 0
