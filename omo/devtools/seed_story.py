"""The part of the demo that tells omo's story: clerks and the customers bound to them.

Runs after the customers and their orders are written (omo/devtools/seed.py):

- about a third of the customers bound to a clerk of their home store, spread unevenly (some
  clerks have many customers, some few);
- product cards the clerks sent (tracked links) and the customers' clicks on them, a few hours or
  days before the online orders they led to, and some that led nowhere;
- the brand's attribution rules (the bound clerk is credited too), its commission rules (through
  the attribution services) and the attribution of the orders, so each order says which clerk it
  is credited to and why, and last month's and this month's commission add up;
- a roster: shifts covering every store's opening hours from a week ago to four weeks ahead;
- open conversations with customers waiting for an answer, routed as live ones are;
- a few merge suggestions for HQ;
- the customer to play in the phone simulator: bound to the demo clerk, with orders, points, a
  tier, and a chat with a product card in it.

Deterministic for (seed, today) like the rest: one `random.Random` of its own, rows read in id
order. The bulk rows (bindings, links, clicks, shifts) are written with bulk_create; what has rules
of its own (attribution and commission rules, attribution, routing, suggestions) goes through the
apps' services.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import zoneinfo
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django.db import transaction
from django.utils import timezone

from omo.attribution import services as attribution
from omo.attribution.links import link_token
from omo.attribution.models import Attribution, Click, CommissionEntry, LinkIssue
from omo.attribution.services import commission_rules
from omo.attribution.services import rules as attribution_rules
from omo.binding.models import Binding
from omo.binding.services import clerk_code_for, liff_ready, shop_liff_url
from omo.catalog.models import Category, Product
from omo.commerce.models import Order, OrderLine, SalesChannel
from omo.core.audit import Actor
from omo.core.models import Brand
from omo.customers import identity
from omo.customers import services as customer_services
from omo.customers.models import Customer, CustomerIdentity, MergeSuggestion
from omo.devtools.demo_facts import WEEK
from omo.inbox import ingest, routing
from omo.inbox.models import Conversation, Inbox, Message
from omo.staff.actors import actor_for_user
from omo.staff.models import Shift, Store, User

if TYPE_CHECKING:
    from omo.staff.requests import BrandStaff

# The customer the phone simulator plays: a LINE user id (U + 32 hex digits) fixed for the demo.
STORY_LINE_USER = "U" + "0de30" * 6 + "de"
STORY_CLERK = "clerk"
BOUND_SHARE = 1 / 3
ROSTER_DAYS_BACK = 7
ROSTER_DAYS_AHEAD = 28
MERGE_SUGGESTIONS = 5  # each with a LINE-only customer of its own, on top of the seeded members


@dataclass
class StoryReport:
    bindings: int = 0
    links: int = 0
    clicks: int = 0
    shifts: int = 0
    attributed: int = 0
    commission_rules: int = 0
    conversations: int = 0
    merge_suggestions: int = 0
    story_customer: str = ""

    customers_added: int = 0  # the merge suggestions' LINE-only customers
    identities_added: int = 0  # LINE user ids of the chatting customers and of those


def story_counts(brand: Brand) -> dict[str, int]:
    """What the story added, counted in the database (demo_counts and the seed's report use it)."""
    return {
        "bindings": Binding.objects.filter(brand=brand, ended_at__isnull=True).count(),
        "links": LinkIssue.objects.filter(brand=brand).count(),
        "clicks": Click.objects.filter(brand=brand).count(),
        "shifts": Shift.objects.filter(brand=brand).count(),
        "attributed_orders": Attribution.objects.filter(brand=brand, clerk__isnull=False).count(),
        "commission_entries": CommissionEntry.objects.filter(brand=brand).count(),
        "conversations": Conversation.objects.filter(brand=brand).count(),
        "merge_suggestions": MergeSuggestion.objects.filter(brand=brand, status="open").count(),
    }


def _aware(t: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, dt.UTC)


# --- roster ---------------------------------------------------------------------------------------


def _off_days(index: int) -> set[int]:
    """Two days off a week, staggered so that any three clerks of a store cover every day."""
    return {(2 * index) % 7, (2 * index + 1) % 7}


def roster_rows(brand: Brand, first: dt.date, last: dt.date) -> list[Shift]:
    """Shifts for every clerk from `first` to `last` (inclusive) on the days that have none yet:
    each shift is the store's opening hours of that day; the demo clerk works every day (the demo's
    chats find them on duty), the others take two days off a week."""
    zone = zoneinfo.ZoneInfo(brand.time_zone or "Asia/Taipei")
    stores = {s.pk: s for s in Store.objects.filter(brand=brand, is_active=True)}
    clerks = list(
        User.objects.filter(brand=brand, role="clerk", is_active=True, store_id__in=stores).order_by("id")
    )
    taken = {
        (staff_id, starts.astimezone(zone).date())
        for staff_id, starts in Shift.objects.filter(
            brand=brand,
            starts_at__gte=dt.datetime.combine(first, dt.time(0), zone),
            starts_at__lt=dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), zone),
        ).values_list("staff_id", "starts_at")
    }
    position: dict[int, int] = defaultdict(int)
    rows = []
    for clerk in clerks:
        store_id = clerk.store_id
        if store_id is None:
            continue
        index = position[store_id]
        position[store_id] += 1
        off = set() if clerk.username == STORY_CLERK else _off_days(index)
        hours = stores[store_id].opening_hours or {}
        day = first
        while day <= last:
            if day.weekday() not in off and (clerk.pk, day) not in taken:
                for start, end in hours.get(WEEK[day.weekday()], []):
                    starts = dt.datetime.combine(day, dt.time.fromisoformat(start), zone)
                    ends = dt.datetime.combine(day, dt.time.fromisoformat(end), zone)
                    if ends > starts:
                        rows.append(
                            Shift(
                                brand=brand,
                                staff=clerk,
                                store_id=store_id,
                                starts_at=starts,
                                ends_at=ends,
                            )
                        )
            day += dt.timedelta(days=1)
    return rows


def extend_roster(brand: Brand, today: dt.date | None = None) -> int:
    """Fill the demo roster up to four weeks ahead of `today` (what `omo demo` does at each start,
    so a demo database started again weeks later still has clerks on duty). Returns shifts added."""
    today = today or timezone.localdate()
    rows = roster_rows(brand, today, today + dt.timedelta(days=ROSTER_DAYS_AHEAD))
    Shift.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


# --- the story ----------------------------------------------------------------------------------------


class DemoStory:
    def __init__(
        self,
        brand: Brand,
        *,
        seed: int,
        today: dt.date,
        now_t: int,
        size_name: str,
        log: Callable[[str], None] | None = None,
    ):
        self.brand = brand
        self.log = log or (lambda message: None)
        self.seed = seed
        self.today = today
        self.now_t = now_t  # today 00:00 Taipei, UTC seconds
        self.size_name = size_name
        self.rng = random.Random(f"omo-demo:{seed}:story")
        self.zone = zoneinfo.ZoneInfo(brand.time_zone or "Asia/Taipei")
        self.system = Actor(brand=brand)
        self.report = StoryReport()

    def run(self) -> StoryReport:
        self.admin = User.objects.get(brand=self.brand, username="admin")
        self.admin_actor = actor_for_user(cast("BrandStaff", self.admin))
        started = time.perf_counter()
        with transaction.atomic():
            self._bind()
            self._links_and_clicks()
            self._roster()
        self._rules()
        self.log(f"bound customers, sent cards, made the roster in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        self._attribute()
        self.log(f"attributed {self.report.attributed:,} orders in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        with transaction.atomic():
            self._conversations()
            self._merge_suggestions()
        self.log(f"opened the conversations and suggestions in {time.perf_counter() - started:.1f} s")
        return self.report

    # -- bindings ------------------------------------------------------------------------------------

    def _bind(self) -> None:
        rng = self.rng
        clerks = list(User.objects.filter(brand=self.brand, role="clerk").order_by("id"))
        by_store: dict[int, list[User]] = defaultdict(list)
        for clerk in clerks:
            if clerk.store_id is not None:
                by_store[clerk.store_id].append(clerk)
            clerk_code_for(clerk)  # every clerk has a QR code ready
        # Uneven popularity: per store a Zipf-like weight over the clerks in a shuffled order; the
        # demo clerk leads the first store's list so the clerk app has plenty to show.
        weights: dict[int, list[float]] = {}
        for store_id, members in by_store.items():
            ranks = list(range(len(members)))
            rng.shuffle(ranks)
            for i, clerk in enumerate(members):
                if clerk.username == STORY_CLERK:
                    ranks[ranks.index(0)], ranks[i] = ranks[i], 0
            weights[store_id] = [1.0 / (rank + 1) ** 1.3 for rank in ranks]
        store_ids = sorted(by_store)
        self.clerks = {c.pk: c for c in clerks}
        self.binding_of: dict[int, tuple[int, int, int]] = {}  # customer -> (clerk, store, started t)
        rows = []
        first_t = self.now_t - 330 * 86400
        for cid, home, created in (
            Customer.objects.filter(brand=self.brand)
            .order_by("id")
            .values_list("id", "home_store_id", "created_at")
        ):
            if rng.random() >= BOUND_SHARE:
                continue
            store_id = home if home in by_store else store_ids[int(rng.random() * len(store_ids))]
            clerk = rng.choices(by_store[store_id], weights[store_id])[0]
            start = max(first_t, int(created.timestamp()))
            started = start + int(rng.random() * max(1, self.now_t - 86400 - start))
            roll = rng.random()
            source = (
                Binding.Source.LIFF
                if roll < 0.62
                else Binding.Source.MESSAGE_CODE
                if roll < 0.95
                else Binding.Source.MANUAL
            )
            self.binding_of[cid] = (clerk.pk, store_id, started)
            rows.append(
                Binding(
                    brand=self.brand,
                    customer_id=cid,
                    clerk=clerk,
                    store_id=store_id,
                    source=source,
                    started_at=_aware(started),
                )
            )
        Binding.objects.bulk_create(rows, batch_size=5000)
        self.report.bindings = len(rows)

    # -- product cards and clicks --------------------------------------------------------------------

    def _links_and_clicks(self) -> None:
        """A card link clicked before about half of a bound customer's online orders in the last four
        months, from their clerk; plus cards sent that led nowhere yet."""
        rng = self.rng
        since = _aware(self.now_t - 120 * 86400)
        products = dict(
            Product.objects.filter(brand=self.brand, status=Product.Status.ACTIVE).values_list("id", "handle")
        )
        product_ids = sorted(products)
        orders = list(
            Order.objects.filter(
                brand=self.brand,
                placed_at__gte=since,
                sales_channel=SalesChannel.WEB_SHOP,
                customer_id__in=self._bound_ids(),
            )
            .order_by("id")
            .values_list("id", "customer_id", "placed_at")
        )
        first_product: dict[int, int] = {}
        for order_id, product_id in (
            OrderLine.objects.filter(brand=self.brand, order__placed_at__gte=since, product_id__isnull=False)
            .order_by("id")
            .values_list("order_id", "product_id")
        ):
            first_product.setdefault(order_id, product_id)
        links: list[LinkIssue] = []
        clicked: list[tuple[LinkIssue, int]] = []
        for order_id, cid, placed in orders:
            clerk_id, _, started = self.binding_of[cid]
            placed_t = int(placed.timestamp())
            if placed_t - 3 * 86400 < started or rng.random() >= 0.5:
                continue
            product_id = first_product.get(order_id, 0)
            if product_id not in products:
                product_id = product_ids[int(rng.random() * len(product_ids))]
            click_t = placed_t - 600 - int(rng.random() * 2 * 86400)
            issued_t = click_t - 300 - int(rng.random() * 86400)
            link = self._link(clerk_id, cid, product_id, products[product_id], issued_t)
            links.append(link)
            clicked.append((link, click_t))
        bound = sorted(self.binding_of)
        for cid in bound:
            if rng.random() >= 0.08:
                continue
            clerk_id, _, started = self.binding_of[cid]
            issued_t = max(started, self.now_t - 60 * 86400) + int(rng.random() * 40 * 86400)
            if issued_t >= self.now_t:
                continue
            product_id = product_ids[int(rng.random() * len(product_ids))]
            link = self._link(clerk_id, cid, product_id, products[product_id], issued_t)
            links.append(link)
            if rng.random() < 0.4:
                clicked.append((link, issued_t + 60 + int(rng.random() * 7200)))
        LinkIssue.objects.bulk_create(links, batch_size=5000)
        Click.objects.bulk_create(
            [
                Click(
                    brand=self.brand,
                    link=link,
                    clerk_id=link.clerk_id,
                    customer_id=link.customer_id,
                    clicked_at=_aware(t),
                    user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Line/14.9.0",
                )
                for link, t in clicked
            ],
            batch_size=5000,
        )
        self.report.links, self.report.clicks = len(links), len(clicked)

    def _bound_ids(self) -> list[int]:
        return sorted(self.binding_of)

    def _link(self, clerk_id: int, cid: int, product_id: int, handle: str, issued_t: int) -> LinkIssue:
        return LinkIssue(
            brand=self.brand,
            clerk_id=clerk_id,
            customer_id=cid,
            product_id=product_id,
            target=f"/shop/{self.brand.slug}/p/{handle}/",
            issued_at=_aware(issued_t),
        )

    # -- roster ----------------------------------------------------------------------------------------

    def _roster(self) -> None:
        rows = roster_rows(
            self.brand,
            self.today - dt.timedelta(days=ROSTER_DAYS_BACK),
            self.today + dt.timedelta(days=ROSTER_DAYS_AHEAD),
        )
        Shift.objects.bulk_create(rows, batch_size=2000)
        self.report.shifts = len(rows)

    # -- rules and attribution ------------------------------------------------------------------------

    def _rules(self) -> None:
        attribution_rules.update_rules(
            self.brand, credit_bound_clerk=True, window_days=30, actor=self.admin_actor
        )
        month = self.today.replace(day=1)
        start = (month - dt.timedelta(days=1)).replace(day=1)
        start = (start - dt.timedelta(days=1)).replace(day=1)  # two months back: last month is whole
        outerwear = (
            Category.objects.filter(brand=self.brand, slug="outerwear").values_list("id", flat=True).first()
        )
        flagship = Store.objects.filter(brand=self.brand).order_by("id").values_list("id", flat=True).first()
        wanted: list[dict[str, Any]] = [
            {"kind": "percent", "rate_bp": 300, "starts_on": start},
            {"kind": "percent", "rate_bp": 500, "starts_on": start, "category_id": outerwear},
            {"kind": "percent", "rate_bp": 400, "starts_on": start, "store_id": flagship},
        ]
        for values in wanted:
            commission_rules.create_rule(self.brand, actor=self.admin_actor, **values)
        self.report.commission_rules = len(wanted)

    def _attribute(self) -> None:
        """The orders since the first day of last month: what the commission statements, the
        dashboard's recent figures and "My sales" show. `omo followups sweep` attributes the older
        ones when wanted."""
        last_month = (self.today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
        since = dt.datetime.combine(last_month, dt.time(0), self.zone)
        stats = attribution.attribute_orders(
            self.brand, Order.objects.filter(brand=self.brand, placed_at__gte=since)
        )
        self.report.attributed = stats.attributed

    # -- conversations -----------------------------------------------------------------------------------

    def _conversations(self) -> None:
        inbox = Inbox.objects.filter(brand=self.brand, platform="line").order_by("id").first()
        if inbox is None:
            return
        rng = self.rng
        story_clerk = User.objects.get(brand=self.brand, username=STORY_CLERK)
        # The simulator's customer: bound to the demo clerk, with orders.
        with_orders = set(
            Order.objects.filter(brand=self.brand, customer_id__in=self._bound_ids())
            .values_list("customer_id", flat=True)
            .distinct()
        )
        mine = [
            cid for cid, (clerk_id, _, _) in sorted(self.binding_of.items()) if clerk_id == story_clerk.pk
        ]
        story_id = next((cid for cid in mine if cid in with_orders), mine[0] if mine else None)
        chats: list[tuple[int, str]] = []
        if story_id is not None:
            chats.append((story_id, STORY_LINE_USER))
        # Others waiting: a few bound customers of every store, and a few unbound ones (HQ's).
        per_store: dict[int, list[int]] = defaultdict(list)
        for cid, (clerk_id, store_id, _) in sorted(self.binding_of.items()):
            if cid == story_id:
                continue
            if clerk_id == story_clerk.pk and len(per_store[-1]) < 4:
                per_store[-1].append(cid)  # the demo clerk's own waiting customers
            elif clerk_id != story_clerk.pk and len(per_store[store_id]) < 3:
                per_store[store_id].append(cid)
        unbound = list(
            Customer.objects.filter(brand=self.brand).exclude(pk__in=self._bound_ids()).order_by("id")[:40]
        )
        chosen = [cid for ids in per_store.values() for cid in ids] + [c.pk for c in unbound[::10]]
        for cid in chosen:
            chats.append((cid, "U" + "".join(rng.choice("0123456789abcdef") for _ in range(32))))
        now = timezone.now()
        for index, (cid, line_user) in enumerate(chats):
            customer = Customer.objects.get(pk=cid)
            identity.attach(customer, CustomerIdentity.Kind.LINE, line_user, source="demo", verified=True)
            self.report.identities_added += 1
            contact = ingest.get_or_create_contact(inbox, line_user, display_name=customer.name)
            binding = self.binding_of.get(cid)
            clerk = self.clerks.get(binding[0]) if binding else None
            if index == 0 and clerk is not None:
                self._story_chat(inbox, contact, clerk, now)
                self.report.story_customer = customer.name
            else:
                waited = 3 + int(rng.random() * 180)
                ingest.receive_message(
                    inbox,
                    contact,
                    kind=Message.Kind.TEXT,
                    occurred_at=now - dt.timedelta(minutes=waited),
                    external_id=f"demo-{self.seed}-{cid}",
                    text=rng.choice(_QUESTIONS),
                )
            self.report.conversations += 1

    def _story_chat(self, inbox: Inbox, contact: Any, clerk: User, now: dt.datetime) -> None:
        """The simulator customer's chat: a question, the clerk's answer and a product card."""
        conversation = ingest.get_or_create_conversation(inbox, contact)
        products = list(
            Product.objects.filter(
                brand=self.brand, status=Product.Status.ACTIVE, category__slug="outerwear"
            ).order_by("id")[:2]
        )
        asked = now - dt.timedelta(days=2, hours=3)
        messages = [
            Message(
                brand=self.brand,
                conversation=conversation,
                direction=Message.Direction.INBOUND,
                kind=Message.Kind.TEXT,
                text="你好，最近天氣變冷了，有推薦的外套嗎？",
                status=Message.Status.RECEIVED,
                external_id=f"demo-{self.seed}-story-1",
                created_at=asked,
            ),
            Message(
                brand=self.brand,
                conversation=conversation,
                direction=Message.Direction.OUTBOUND,
                kind=Message.Kind.TEXT,
                text=f"{contact.display_name} 您好！我是{clerk.display_name}，幫您挑了兩件這週到貨的外套，參考看看～",
                status=Message.Status.SENT,
                sender=clerk,
                sent_via=Message.SentVia.PUSH,
                created_at=asked + dt.timedelta(minutes=4),
                sent_at=asked + dt.timedelta(minutes=4),
            ),
        ]
        cards = []
        # As a clerk's card is sent on LINE: through LIFF when the account has it (the demo's does).
        through_liff = liff_ready(inbox)
        for product in products:
            link = attribution.issue_link(
                self.brand,
                clerk=clerk,
                product=product,
                customer=contact.customer,
                conversation_id=conversation.pk,
                at=asked + dt.timedelta(minutes=5),
            )
            variant = product.variants.order_by("sort_order", "id").first()
            image = product.images.order_by("sort_order", "id").first()
            cards.append(
                {
                    "title": product.title,
                    "price": variant.price if variant else 0,
                    "currency": self.brand.currency,
                    "image_url": attribution.absolute(image.url) if image else "",
                    "url": (
                        shop_liff_url(inbox, link_token(link.pk, link.brand_id))
                        if through_liff
                        else attribution.link_url(link)
                    ),
                    "product_id": product.pk,
                    "link_id": link.pk,
                }
            )
        if cards:
            messages.append(
                Message(
                    brand=self.brand,
                    conversation=conversation,
                    direction=Message.Direction.OUTBOUND,
                    kind=Message.Kind.FLEX,
                    payload={"cards": cards, "alt_text": f"{clerk.display_name}推薦的外套"},
                    status=Message.Status.SENT,
                    sender=clerk,
                    sent_via=Message.SentVia.PUSH,
                    created_at=asked + dt.timedelta(minutes=5),
                    sent_at=asked + dt.timedelta(minutes=5),
                )
            )
        Message.objects.bulk_create(messages)
        last = messages[-1]
        Conversation.objects.filter(pk=conversation.pk).update(
            last_message_at=last.created_at, last_message_preview=(last.text or "[商品卡片]")[:200]
        )
        routing.route(conversation)

    # -- merge suggestions ---------------------------------------------------------------------------------

    def _merge_suggestions(self) -> None:
        """A few customers who wrote on LINE under a member's name and phone: both are verified, so
        omo asks HQ instead of merging them itself."""
        members = list(
            Customer.objects.filter(brand=self.brand)
            .exclude(pk__in=self._bound_ids())
            .exclude(phone="")
            .order_by("-id")[:MERGE_SUGGESTIONS]
        )
        pairs: list[tuple[int, int, str, str, str]] = []
        for number, member in enumerate(members):
            twin = customer_services.create_customer(
                self.brand, actor=None, name=member.name, source="line", notes="LINE 上自稱會員"
            )
            identity.attach(
                twin,
                CustomerIdentity.Kind.LINE,
                "U" + f"{self.seed:08x}{number:08x}".rjust(32, "f"),
                source="demo",
                verified=True,
            )
            self.report.customers_added += 1
            self.report.identities_added += 1
            pairs.append((member.pk, twin.pk, CustomerIdentity.Kind.PHONE, member.phone, "verified"))
        self.report.merge_suggestions = identity.suggest(self.brand, pairs)


_QUESTIONS = (
    "請問這件亞麻襯衫還有 M 號嗎？",
    "我上週買的褲子想換大一號，可以到門市換嗎？",
    "週末門市有活動嗎？",
    "請問生日禮什麼時候會發？",
    "你好，我想找送媽媽的圍巾，有推薦嗎？",
    "訂單什麼時候會出貨呢？",
    "請問板橋店有這雙鞋的 25 號嗎？",
    "點數可以折抵運費嗎？",
)


def story_customer(brand: Brand) -> dict[str, str] | None:
    """The simulator's customer of a seeded demo brand: {"customer", "clerk", "line_user_id"}."""
    found = (
        CustomerIdentity.objects.filter(brand=brand, kind=CustomerIdentity.Kind.LINE, value=STORY_LINE_USER)
        .select_related("customer")
        .first()
    )
    if found is None:
        return None
    binding = (
        Binding.objects.filter(brand=brand, customer_id=found.customer_id, ended_at__isnull=True)
        .select_related("clerk")
        .first()
    )
    return {
        "customer": found.customer.name,
        "clerk": binding.clerk.display_name if binding else "",
        "clerk_username": binding.clerk.username if binding else "",
        "line_user_id": STORY_LINE_USER,
    }
