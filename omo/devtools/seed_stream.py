"""The demo's customers and everything they did, generated one chunk at a time as COPY text.

A chunk (a fixed range of customer numbers) depends on nothing but the plan and its own index:
its `random.Random` comes from (seed, chunk index), its ids start at the chunk's own block of each
table's id range, its order and refund numbers at the chunk's own block of each counter, and it
may use its share of the shared coupons' caps. So chunk 7 is the same text whether one process
makes chunks 0-9 in a row or three processes take them as they come, and the data is the same
for a given (seed, today) whatever the number of workers.

Rows come out as PostgreSQL COPY text (tab-separated, `\\N` for NULL), one string per table and
chunk: no tuples for a driver to format, timestamps and fixed fragments looked up, not formatted.
SQLite gets the same text split back into fields (`rows_for_sqlite`).

The plan a chunk reads and the room it gets are in omo/devtools/seed_plan.py, the COPY text format
in omo/devtools/seed_copy.py. What is left stays one module: `ChunkGenerator` is one pass over a
chunk's customers whose steps (visits, orders, coupons, points, refunds) all draw from the chunk's
one random stream and id counters, in an order that keeps the data the same for a given seed.
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
import random
from collections.abc import Callable

from omo.customers.search import build_search_text
from omo.devtools.seed_plan import COUNTERS, DAY, TABLES, TAIPEI, ChunkRows, StoreInfo, StreamPlan


class _Order:
    """An order while its customer is generated; written as text once the customer is done."""

    __slots__ = (
        "id",
        "t",
        "t_text",
        "head",
        "store_part",
        "contact",
        "fulfilment",
        "address",
        "pickup",
        "payment",
        "subtotal",
        "shipping",
        "status",
        "paid_t",
        "fulfilled_t",
        "cancelled_t",
        "points",
        "coupon_discount",
        "coupon_code",
        "coupon_kind",
        "coupon_id",
        "lines",
        "total",
        "earned",
        "refunded",
        "refunded_lines",
        "refund_at",
        "refund_full",
        "name",
    )
    id: int
    t: int  # placed at, UTC seconds
    t_text: str
    head: str  # source, external id, name, sales channel
    store_part: str
    contact: str
    fulfilment: str
    address: str
    pickup: str
    payment: str
    subtotal: int
    shipping: int
    status: str
    paid_t: int
    fulfilled_t: int
    cancelled_t: int
    points: int
    coupon_discount: int
    coupon_code: str
    coupon_kind: str
    coupon_id: int
    lines: list[tuple[int, int, int]]  # (line id, variant index, quantity)
    total: int
    earned: int
    refunded: int
    refunded_lines: frozenset[int]  # ids of the lines a refund took back
    refund_at: int
    refund_full: bool
    name: str

    def __init__(self, order_id: int, t: int, t_text: str):
        self.id, self.t, self.t_text = order_id, t, t_text
        self.store_part = "\\N\t\\N\t"
        self.contact = "\t\t"
        self.address = "{}"
        self.pickup = "\\N"
        self.shipping = self.points = self.coupon_discount = self.coupon_id = 0
        self.total = self.earned = self.refunded = 0
        self.coupon_code = self.coupon_kind = ""
        self.paid_t = self.fulfilled_t = self.cancelled_t = self.refund_at = 0
        self.refund_full = False
        self.refunded_lines = frozenset()


class _Loyalty:
    __slots__ = ("balance", "earned", "debits", "migrated", "gross_spend", "net_spend", "tier_reached")

    def __init__(self) -> None:
        self.balance = self.earned = self.debits = self.migrated = self.gross_spend = self.net_spend = 0
        self.tier_reached: dict[int, int] = {}


class _Personal:
    __slots__ = ("id", "coupon_id", "code", "created_text", "issued", "ends", "value", "min_spend", "used")

    def __init__(
        self, code_id: int, coupon_id: int, code: str, issued: int, created_text: str, birthday: bool
    ):
        self.id, self.coupon_id, self.code = code_id, coupon_id, code
        self.issued, self.ends, self.created_text = issued, issued + 45 * DAY, created_text
        self.value, self.min_spend = (20_000, 150_000) if birthday else (15_000, 120_000)
        self.used = False


_REFUND_REASONS = ("尺寸不合", "顏色與預期不同", "商品瑕疵", "改變心意", "重複下單")
_ADJUSTMENTS = (("客服補償", 100), ("門市活動加碼", 200), ("生日加碼點數", 300))
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def base36(number: int, width: int) -> str:
    out = []
    for _ in range(width):
        number, rem = divmod(number, 36)
        out.append(_BASE36[rem])
    return "".join(reversed(out))


class ChunkGenerator:
    """Makes the COPY text of one chunk of customers. Holds only lookup tables between chunks."""

    def __init__(self, plan: StreamPlan):
        self.plan = plan
        p = plan
        self.b = str(p.brand_id)
        self.true, self.false = ("t", "f") if p.postgres else ("1", "0")
        self.tail = {key: p.tails.get(key, "") for key in TABLES}
        self.tail_orders, self.tail_lines, self.tail_points = (
            self.tail[k] for k in ("orders", "lines", "points")
        )
        self.ts = _timestamps(p)
        self.thresholds = [t[0] for t in p.tiers]
        # "<variant id>\t<product id>\t<sku>\t<title>\t<qty>\t<unit price>\t0\t<total>\t" per quantity.
        self.line_part = [
            [""] + [f"{vid}\t{pid}\t{sku}\t{title}\t{q}\t{price}\t0\t{price * q}\t" for q in (1, 2, 3)]
            for vid, pid, sku, price, title in p.variants
        ]
        self.prices = [v[3] for v in p.variants]
        self.compact_day = [text.replace("-", "") for text in p.day_text]
        # Clerk columns of a store order: store id, staff id, staff code.
        self.clerk_part = {
            (store.id, uid): f"{store.id}\t{uid}\t{code}"
            for store in p.stores
            for uid, code in [*store.clerks, store.manager]
        }
        # Birthdays: one table over every day a customer can be born on (ages 18-65).
        jan1 = p.today.replace(month=1, day=1)
        self.born_first = jan1.toordinal() - 365 * 66
        days = [dt.date.fromordinal(o) for o in range(self.born_first, jan1.toordinal() + 366)]
        self.born_text = [d.isoformat() for d in days]
        self.born_md = [(d.month, d.day) for d in days]
        self.birthday_issue: dict[tuple[int, int], int] = {}
        self.addresses = [
            (f'"zip": "{zip_code}", "city": "{city}", "district": "{district}", "address1": "', city)
            for city, district, zip_code in p.districts
        ]

    # -- one chunk --------------------------------------------------------------------------------------

    def generate(self, index: int, ids: dict[str, int], counters: dict[str, int]) -> ChunkRows:
        """Chunk `index`, taking ids from `ids[table]` and numbers from `counters[name] + 1` on."""
        p = self.plan
        start, stop = p.chunk_range(index)
        self.rng = random.Random(f"omo-demo:{p.seed}:{index}")
        self.r = self.rng.random
        self.next = dict(ids)
        self.first = dict(ids)
        # The three busiest sequences as plain attributes (a dict look-up per row adds up).
        self.next_order, self.next_line, self.next_point = ids["orders"], ids["lines"], ids["points"]
        self.count = dict(counters)
        self.count_first = dict(counters)
        share = lambda cap: cap * stop // p.customers - cap * start // p.customers  # noqa: E731
        self.welcome_left = share(p.welcome_cap)
        self.freeship_left = share(p.freeship_cap)
        self.coupon_uses = {"WELCOME100": 0, "ANNIV10": 0, "FREESHIP": 0}
        self.totals = {"orders_total": 0, "refunded_total": 0, "points_balance": 0}
        self.out: dict[str, list[str]] = {key: [] for key in TABLES}
        self.pos_orders = 0
        for number in range(start, stop):
            self._customer(number)
        # Walk-in shoppers who give no phone: POS orders without a customer, ~10% of store sales.
        for _ in range(self.pos_orders // 10):
            self._walk_in()
        self.next.update(orders=self.next_order, lines=self.next_line, points=self.next_point)
        used = {key: self.next[key] - self.first[key] for key in TABLES}
        used.update({key: self.count[key] - self.count_first[key] for key in COUNTERS})
        text = {key: "".join(rows) for key, rows in self.out.items()}
        self.out = {}
        return ChunkRows(index, stop - start, text, used, self.coupon_uses, self.totals)

    def _take(self, table: str) -> int:
        value = self.next[table]
        self.next[table] = value + 1
        return value

    def _number(self, counter: str) -> int:
        value = self.count[counter] + 1
        self.count[counter] = value
        return value

    # -- a customer -----------------------------------------------------------------------------------

    def _pick_day(self, cum: list[float], lo_day: int) -> int:
        base = cum[lo_day - 1] if lo_day > 0 else 0.0
        return min(bisect.bisect_left(cum, base + self.r() * (cum[-1] - base)), 364)

    def _store_time(self, store: StoreInfo, lo_day: int) -> int:
        p, r = self.plan, self.r
        day = self._pick_day(p.store_cum, lo_day)
        ranges = store.hours[p.weekdays[day]]
        start, end = ranges[int(r() * len(ranges))]
        # Busiest mid-afternoon to evening.
        return p.window_start_t + day * DAY + start + int((end - start - 60) * (r() + r()) / 2)

    def _online_time(self, lo_day: int) -> int:
        p, r = self.plan, self.r
        day = self._pick_day(p.online_cum, lo_day)
        return p.window_start_t + day * DAY + p.online_hours[int(r() * 1024)] * 3600 + int(r() * 3600)

    def _customer(self, number: int) -> None:
        p, r, rng = self.plan, self.r, self.rng
        out, b, ts = self.out, self.b, self.ts
        cid = self._take("customers")
        surname, sur_roman, _ = p.surnames[p.surname_table[int(r() * 4096)]]
        given_names = p.given_f if r() < 0.66 else p.given_m
        given, given_roman = given_names[int(r() * len(given_names))]
        name = surname + given
        # A permutation of 0..10^8-1, so phones are unique without remembering them.
        phone = f"+8869{(number * 48271 + 12345679) % 100_000_000:08d}"
        email = ""
        if r() < 0.55:
            email = f"{given_roman}.{sur_roman}{number}@{p.email_domains[int(r() * len(p.email_domains))]}"
        born = -1
        if r() < 0.85:
            age = 18 + int(47 * (r() * 0.6 + r() * 0.4))
            born = 365 * 66 - 365 * age + int(r() * 365)  # index into the birthday tables
        member_number = f"MF{number + 1:08d}"
        home = p.stores[p.home_store_table[int(r() * 1024)]]
        tags = "[]"
        if r() < 0.45:
            picked = sorted({p.tags[int(r() * len(p.tags))] for _ in range(1 + int(r() * 2))})
            tags = "[" + ", ".join(f'"{tag}"' for tag in picked) + "]"
        # Joined: a third before the 12-month window, the rest during it, more of them early on.
        if r() < 0.35:
            created = p.window_start_t - int(r() * 3 * 365 * DAY)
        else:
            created = p.window_start_t + int(365 * DAY * r() ** 2)
        created_day = max(0, (created - p.window_start_t) // DAY)

        # Orders: 15% never buy; the rest buy with a lognormal intensity (a Pareto-like spend).
        n_orders = 0
        if r() >= 0.15:
            # 0.85 buyers, and a buyer joining mid-window has on average 2/3 of it left: scale the mean up.
            mean = p.orders_per_customer / 0.85 / (0.35 + 0.65 * 2 / 3)
            remaining = (365 - created_day) / 365
            n_orders = min(180, max(1, round(mean * remaining * rng.lognormvariate(-0.405, 0.9))))
        segment = r()
        p_online = 0.0 if segment < 0.45 else 1.0 if segment < 0.75 else 0.3 + 0.4 * r()
        basket = rng.lognormvariate(-0.06, 0.35)
        favourite = home.clerks[int(r() * len(home.clerks))]
        stores = p.stores
        visits: list[tuple[int, StoreInfo | None]] = []
        for _ in range(n_orders):
            if r() < p_online:
                visits.append((self._online_time(created_day), None))
            else:
                store = home if r() < 0.78 else stores[int(r() * len(stores))]
                visits.append((self._store_time(store, created_day), store))
        visits.sort(key=lambda visit: visit[0])
        if visits:
            created = min(created, visits[0][0] - int(r() * 30 * DAY) - 600)

        created_text = ts(created)
        birthday = self.born_text[born] if born >= 0 else "\\N"
        search_text = build_search_text(name=name, phone=phone, email=email, member_number=member_number)
        updated_text = ts(visits[-1][0]) if visits else created_text
        out["customers"].append(
            f"{cid}\t{b}\t{name}\t{phone}\t{email}\t{birthday}\t{member_number}\t{home.id}\t{tags}\t\t"
            f"{created_text}\t{updated_text}\t{search_text}{self.tail['customers']}\n"
        )
        source = "pos" if p_online < 1 else "shop"
        identities = out["identities"]
        t = self.true
        identities.append(
            f"{self._take('identities')}\t{b}\t{cid}\tphone\t{phone}\t{t}\t{source}\t{created_text}\n"
        )
        identities.append(
            f"{self._take('identities')}\t{b}\t{cid}\tmember_number\t{member_number}\t{t}\tloyalty\t{created_text}\n"
        )
        if email:
            verified = t if r() < 0.6 else self.false
            identities.append(
                f"{self._take('identities')}\t{b}\t{cid}\temail\t{email}\t{verified}\t{source}\t{created_text}\n"
            )

        state = _Loyalty()
        events: list[tuple] = []  # (time, seq, kind, payload) for refunds, adjustments and expiry
        seq = 0
        if created < p.program_start_t and r() < 0.4:
            # Points carried over from the old membership system; they expire a year later.
            migrated = 50 * (1 + int(r() * 16))
            self._points(
                state,
                cid,
                migrated,
                "adjust",
                "\\N",
                "舊會員系統點數轉入",
                f"adjust:migrate:{cid}",
                p.program_start_t,
                expires=True,
            )
            state.migrated = migrated
            expiry = p.program_start_t + p.plus_year[p.program_start_t // DAY - p.day0]
            heapq.heappush(events, (expiry, seq, "expire", None))
            seq += 1
        if r() < 0.03:
            when = max(p.window_start_t + int(r() * 364 * DAY), created + 60)
            if when < p.now_t:
                heapq.heappush(events, (when, seq, "adjust", None))
                seq += 1
        personal = None
        if born >= 0 and r() < 0.25:
            issued = self._birthday_issue(self.born_md[born])
            if issued > created:
                personal = self._issue_code("birthday", "BD", number, issued)
        elif n_orders and r() < 0.06:
            issued = p.window_start_t + int(r() * 300 * DAY)
            if issued > created:
                personal = self._issue_code("winback", "WB", number, issued)

        contact = address = ""  # made at the customer's first online order
        first_paid = True
        orders: list[_Order] = []
        for when, where in visits:
            while events and events[0][0] <= when:
                self._event(state, cid, heapq.heappop(events))
            if where is None:
                if not address:
                    contact = f"{name}\t{phone}\t{email}"
                    address = self._address(name, phone)
                order = self._online_order(cid, when, contact, address, basket, state, personal, first_paid)
            else:
                order = self._store_order(
                    cid, when, where, favourite if where is home else None, basket, state, personal
                )
            orders.append(order)
            if order.status == "cancelled":
                continue
            first_paid = False
            if order.refund_at:
                heapq.heappush(events, (order.refund_at, seq, "refund", order))
                seq += 1
        while events:
            self._event(state, cid, heapq.heappop(events))
        cid_text = str(cid)
        for order in orders:
            self._write_order(order, cid_text)
        if personal is not None:
            out["codes"].append(
                f"{personal.id}\t{b}\t{personal.coupon_id}\t{personal.code}\t{cid}\t1\t{int(personal.used)}\t"
                f"{personal.created_text}\n"
            )

        tier = bisect.bisect_right(self.thresholds, state.net_spend) - 1
        tier_since = state.tier_reached.get(tier, created)
        out["accounts"].append(
            f"{self._take('accounts')}\t{b}\t{cid}\t{state.balance}\t{state.earned}\t{p.tiers[tier][1]}\t"
            f"{state.net_spend}\t{ts(tier_since)}\n"
        )
        self.totals["points_balance"] += state.balance

    def _birthday_issue(self, month_day: tuple[int, int]) -> int:
        """When this year's birthday coupon went out: 09:00 on the 1st of the month of the last birthday."""
        issued = self.birthday_issue.get(month_day)
        if issued is None:
            today = self.plan.today
            month, day = month_day
            if (month, day) == (2, 29):
                day = 28
            year = today.year if dt.date(today.year, month, day) < today else today.year - 1
            issued = int(dt.datetime(year, month, 1, 9, tzinfo=TAIPEI).timestamp())
            self.birthday_issue[month_day] = issued
        return issued

    def _issue_code(self, coupon_key: str, prefix: str, number: int, issued: int) -> _Personal:
        # An odd multiplier not divisible by 3 permutes 0..36^7-1: unique codes, nothing remembered.
        code = prefix + base36((number * 2654435761 + 97) % 36**7, 7)
        return _Personal(
            self._take("codes"),
            self.plan.coupons[coupon_key],
            code,
            issued,
            self.ts(issued),
            coupon_key == "birthday",
        )

    def _address(self, name: str, phone: str) -> str:
        p, r = self.plan, self.r
        head, _ = self.addresses[int(r() * len(self.addresses))]
        road = p.roads[int(r() * len(p.roads))]
        section = f"{1 + int(r() * 4)}段" if r() < 0.4 else ""
        floor = f"{2 + int(r() * 12)}樓" if r() < 0.7 else ""
        return (
            f'{{"name": "{name}", "phone": "{phone}", {head}{road}{section}{1 + int(r() * 320)}號{floor}", '
            f'"country": "TW"}}'
        )

    # -- orders -------------------------------------------------------------------------------------

    def _lines(self, order: _Order, basket: float) -> None:
        r = self.r
        table, prices = self.plan.variant_table, self.prices
        n = 1
        while n < 5 and r() < 0.38 * basket:
            n += 1
        lines: list[tuple[int, int, int]] = []
        seen: list[int] = []
        subtotal = 0
        line_id = self.next_line
        for _ in range(n):
            vi = table[int(r() * 8192)]
            if vi in seen:
                continue
            seen.append(vi)
            roll = r()
            qty = 1 if roll < 0.86 else 2 if roll < 0.97 else 3
            subtotal += prices[vi] * qty
            lines.append((line_id, vi, qty))
            line_id += 1
        self.next_line = line_id
        order.lines, order.subtotal = lines, subtotal

    def _coupon(self, o: _Order, online: bool, first: bool, personal: _Personal | None) -> None:
        p, r = self.plan, self.r
        t, subtotal = o.t, o.subtotal
        if (
            personal is not None
            and not personal.used
            and personal.issued <= t < personal.ends
            and subtotal >= personal.min_spend
            and r() < 0.55
        ):
            personal.used = True
            o.coupon_discount, o.coupon_code, o.coupon_kind, o.coupon_id = (
                personal.value,
                personal.code,
                "amount_off",
                personal.id,
            )
        elif first and online and subtotal >= 100_000 and self.welcome_left > 0 and r() < 0.3:
            self.welcome_left -= 1
            self.coupon_uses["WELCOME100"] += 1
            o.coupon_discount, o.coupon_code, o.coupon_kind = 10_000, "WELCOME100", "amount_off"
            o.coupon_id = p.shared_codes["WELCOME100"]
        elif p.anniversary[0] <= t < p.anniversary[1] and subtotal >= 200_000 and r() < 0.35:
            self.coupon_uses["ANNIV10"] += 1
            o.coupon_discount, o.coupon_code, o.coupon_kind = subtotal // 1000 * 100, "ANNIV10", "percent_off"
            o.coupon_id = p.shared_codes["ANNIV10"]
        elif online and o.shipping and self.freeship_left > 0 and r() < 0.05:
            # Worth the shipping fee, which checkout then drops: amount 0.
            self.freeship_left -= 1
            self.coupon_uses["FREESHIP"] += 1
            o.coupon_discount, o.coupon_code, o.coupon_kind = 0, "FREESHIP", "free_shipping"
            o.coupon_id = p.shared_codes["FREESHIP"]

    def _redeem(self, state: _Loyalty, o: _Order) -> None:
        """Points to spend on this order: sometimes, never more than half the goods."""
        if state.balance < 100 or self.r() >= 0.18:
            return
        p = self.plan
        cap = (o.subtotal - o.coupon_discount) * p.max_redeem_percent // 100 // p.point_value
        points = min(state.balance, cap) // 50 * 50
        if points >= 50:
            o.points = points

    def _settle(self, o: _Order, cid: int | None, state: _Loyalty | None) -> None:
        """Totals, points and coupon rows for an order whose lines are built."""
        p = self.plan
        total = o.subtotal - o.coupon_discount - o.points * p.point_value + o.shipping
        o.total = total
        if state is not None and o.status in ("paid", "fulfilled"):
            if o.points:
                self._points(
                    state,
                    cid,
                    -o.points,
                    "redeem",
                    o.id,
                    f"訂單 {o.name} 折抵",
                    f"redeem:order:{o.id}",
                    o.t,
                    t_text=o.t_text,
                )
            mult = p.tiers[bisect.bisect_right(self.thresholds, state.gross_spend) - 1][2]
            earned = (total - o.shipping) // p.earn_per_amount * p.earn_points * mult // 100
            if earned > 0:
                paid_text = o.t_text if o.paid_t == o.t else self.ts(o.paid_t)
                self._points(
                    state,
                    cid,
                    earned,
                    "earn",
                    o.id,
                    f"訂單 {o.name}",
                    f"earn:order:{o.id}",
                    o.paid_t,
                    expires=True,
                    t_text=paid_text,
                )
                o.earned = earned
            state.gross_spend += total
            state.net_spend += total
            tier = bisect.bisect_right(self.thresholds, state.gross_spend) - 1
            if tier not in state.tier_reached:
                state.tier_reached[tier] = o.paid_t
        if o.coupon_id:
            self.out["redemptions"].append(
                f"{self._take('redemptions')}\t{self.b}\t{o.coupon_id}\t{o.id}\t{cid}\t{o.coupon_discount}\t"
                f"{o.t_text}{self.tail['redemptions']}\n"
            )

    def _maybe_refund(self, o: _Order, rate: float) -> None:
        r = self.r
        if o.status not in ("paid", "fulfilled") or r() >= rate:
            return
        when = o.t + DAY + int(r() * 20 * DAY)
        if when >= self.plan.now_t:
            return
        o.refund_at = when
        o.refund_full = len(o.lines) == 1 or r() < 0.55

    def _store_order(
        self,
        cid: int | None,
        t: int,
        store: StoreInfo,
        favourite: tuple[int, str] | None,
        basket: float,
        state: _Loyalty | None,
        personal: _Personal | None,
    ) -> _Order:
        p, r = self.plan, self.r
        self.pos_orders += 1
        day = self.compact_day[(t + 8 * 3600) // DAY - p.day0]
        if favourite is not None and r() < 0.6:
            clerk = favourite
        else:
            clerk = store.manager if r() < 0.05 else store.clerks[int(r() * len(store.clerks))]
        o = _Order(self.next_order, t, self.ts(t))
        self.next_order += 1
        o.name = f"{store.code}-{day}-{self._number('pos'):07d}"
        o.head = f"pos-erp\t{o.name}\t{o.name}\tpos"
        o.store_part = self.clerk_part[(store.id, clerk[0])]
        o.fulfilment, o.payment = "in_store", "pay_in_store"
        self._lines(o, basket)
        o.status, o.paid_t = "paid", t
        if state is not None:
            self._coupon(o, False, False, personal)
            self._redeem(state, o)
        self._maybe_refund(o, 0.02)
        self._settle(o, cid, state)
        return o

    def _online_order(
        self,
        cid: int,
        t: int,
        contact: str,
        address: str,
        basket: float,
        state: _Loyalty,
        personal: _Personal | None,
        first: bool,
    ) -> _Order:
        p, r = self.plan, self.r
        o = _Order(self.next_order, t, self.ts(t))
        self.next_order += 1
        roll = r()
        web = roll < 0.7
        if web:
            # As checkout writes them: the cart token as external id, "W" + the order id as name.
            o.name = f"W{o.id:07d}"
            o.head = f"shop\tdemo{self._number('web') * 2654435761 % 2**48:012x}\t{o.name}\tweb_shop"
        elif roll < 0.82:
            o.name = f"TG{self._number('external'):09d}"
            o.head = f"91app\t{o.name}\t{o.name}\texternal_web"
        else:
            shopee = r() < 0.6
            o.name = f"{'SP' if shopee else 'MO'}{self._number('marketplace'):010d}"
            o.head = f"{'shopee' if shopee else 'momo'}\t{o.name}\t{o.name}\tmarketplace"
        o.contact = contact
        self._lines(o, basket)
        if web and r() < 0.15:
            store = p.stores[int(r() * len(p.stores))]
            o.fulfilment, o.pickup = "pickup", str(store.id)
            o.payment = "pay_in_store" if r() < 0.4 else "external"
        else:
            o.fulfilment, o.address = "ship", address
            o.payment = "cod" if web and r() < 0.25 else "external"
            o.shipping = p.shipping_fee if o.subtotal < p.free_shipping_from else 0
        # Status: a few cancelled, cash-on-delivery from the last days still unpaid, the rest paid
        # (and older web-shop parcels delivered).
        roll = r()
        if roll < 0.04:
            o.status, o.cancelled_t = "cancelled", t + 600 + int(r() * 2 * DAY)
            if o.cancelled_t >= p.now_t:
                o.cancelled_t = t + 600
        elif o.payment in ("cod", "pay_in_store") and t > p.now_t - 3 * DAY:
            o.status = "placed"
        else:
            o.paid_t = t + 30 + int(r() * 300)
            o.status = "paid"
            if t < p.now_t - 5 * DAY and r() < 0.6:
                o.status, o.fulfilled_t = "fulfilled", o.paid_t + DAY + int(r() * 2 * DAY)
        if o.status != "cancelled":
            self._coupon(o, True, first, personal)
            if o.coupon_kind == "free_shipping":
                o.shipping = 0
            if o.status != "placed":
                self._redeem(state, o)
        self._maybe_refund(o, 0.05)
        self._settle(o, cid, state)
        return o

    def _walk_in(self) -> None:
        p = self.plan
        store = p.stores[p.home_store_table[int(self.r() * 1024)]]
        order = self._store_order(None, self._store_time(store, 0), store, None, 0.8, None, None)
        if order.refund_at:
            self._refund(None, None, order, order.refund_at)
        self._write_order(order, "\\N")

    def _write_order(self, o: _Order, cid_text: str) -> None:
        """The order's row and its lines' rows, now that refunds have happened."""
        b, ts = self.b, self.ts
        discounts = []
        if o.coupon_id:
            discounts.append(
                f'{{"code": "{o.coupon_code}", "kind": "{o.coupon_kind}", "amount": {o.coupon_discount}}}'
            )
        if o.points:
            discounts.append(
                f'{{"code": "", "kind": "points", "amount": {o.points * self.plan.point_value}}}'
            )
        discount_total = o.coupon_discount + o.points * self.plan.point_value
        status = o.status
        if o.refunded:
            status = "refunded" if o.refunded == o.total else "partially_refunded"
        t_text = o.t_text
        paid = (t_text if o.paid_t == o.t else ts(o.paid_t)) if o.paid_t else "\\N"
        fulfilled = ts(o.fulfilled_t) if o.fulfilled_t else "\\N"
        cancelled = ts(o.cancelled_t) if o.cancelled_t else "\\N"
        self.out["orders"].append(
            f"{o.id}\t{b}\t{o.head}\t{o.store_part}\t{cid_text}\t{o.contact}\t{o.fulfilment}\t{o.address}\t"
            f"{o.pickup}\t{o.payment}\tTWD\t{o.subtotal}\t{discount_total}\t{o.shipping}\t0\t{o.total}\t"
            f"{o.refunded}\t[{', '.join(discounts)}]\t{o.coupon_code}\t{o.points}\t{status}\t\t\t{t_text}\t"
            f"{paid}\t{fulfilled}\t{cancelled}\t{t_text}{self.tail_orders}\n"
        )
        self.totals["orders_total"] += o.total
        self.totals["refunded_total"] += o.refunded
        head = f"\t{b}\t{o.id}\t"
        tail = f"\t{t_text}{self.tail_lines}\n"
        parts = self.line_part
        refunded = o.refunded_lines
        if refunded:
            self.out["lines"].extend(
                f"{line_id}{head}{parts[vi][qty]}{qty if line_id in refunded else 0}{tail}"
                for line_id, vi, qty in o.lines
            )
        else:
            self.out["lines"].extend(
                f"{line_id}{head}{parts[vi][qty]}0{tail}" for line_id, vi, qty in o.lines
            )

    # -- loyalty events ---------------------------------------------------------------------------------

    def _points(
        self,
        state: _Loyalty,
        cid: int | None,
        delta: int,
        kind: str,
        order_id: int | str,
        reason: str,
        key: str,
        t: int,
        *,
        expires: bool = False,
        actor: int | str = "\\N",
        t_text: str | None = None,
    ) -> None:
        if expires:
            p = self.plan
            expires_at = self.ts(t + p.plus_year[t // DAY - p.day0])
        else:
            expires_at = "\\N"
        point_id = self.next_point
        self.next_point = point_id + 1
        self.out["points"].append(
            f"{point_id}\t{self.b}\t{cid}\t{delta}\t{kind}\t{order_id}\t{reason}\t{key}\t"
            f"{expires_at}\t{actor}\t{t_text or self.ts(t)}{self.tail_points}\n"
        )
        state.balance += delta
        if kind == "earn":
            state.earned += delta
        if delta < 0:
            state.debits -= delta

    def _event(self, state: _Loyalty, cid: int, event: tuple) -> None:
        t, _, kind, payload = event
        if kind == "expire":
            # Same rule as loyalty.expire_points: what is left of expired lots = expired credit - debits.
            amount = min(state.balance, state.migrated - state.debits)
            if amount > 0:
                self._points(state, cid, -amount, "expire", "\\N", "點數到期", f"expire:seed:{cid}", t)
        elif kind == "adjust":
            reason, delta = _ADJUSTMENTS[int(self.r() * 3)]
            agents = self.plan.agent_ids
            actor = agents[int(self.r() * len(agents))]
            self._points(
                state,
                cid,
                delta,
                "adjust",
                "\\N",
                reason,
                f"adjust:seed:{cid}:{self._number('adjust')}",
                t,
                expires=True,
                actor=actor,
            )
        else:
            self._refund(state, cid, payload, t)

    def _refund(self, state: _Loyalty | None, cid: int | None, o: _Order, t: int) -> None:
        total = o.total
        if total <= 0:
            return
        if o.refund_full:
            amount, lines = total, o.lines
        else:
            line = o.lines[int(self.r() * len(o.lines))]
            amount, lines = min(self.prices[line[1]] * line[2], total - 100), [line]
            if amount <= 0:
                return
        refund_id = self._take("refunds")
        reason = _REFUND_REASONS[int(self.r() * 5)]
        line_json = ", ".join(f'{{"line_id": {line_id}, "quantity": {qty}}}' for line_id, _, qty in lines)
        self.out["refunds"].append(
            f"{refund_id}\t{self.b}\t{o.id}\tRF{self._number('refunds'):08d}\t{amount}\t{reason}\t[{line_json}]\t"
            f"{self.true}\t\\N\t{self.ts(t)}{self.tail['refunds']}\n"
        )
        o.refunded_lines = frozenset(line_id for line_id, _, _ in lines)
        o.refunded = amount
        if state is None:
            return
        state.net_spend -= amount
        if o.earned:
            target = min(o.earned, round(o.earned * amount / total))
            take = min(target, state.balance)
            if take > 0:
                self._points(
                    state,
                    cid,
                    -take,
                    "reverse",
                    o.id,
                    f"訂單 {o.name} 退款",
                    f"reverse:refund:{refund_id}",
                    t,
                )


def _timestamps(plan: StreamPlan) -> Callable[[int], str]:
    """UTC seconds -> the timestamp's text, from two look-up tables (a day's date, a second's time)."""
    day_text, tod_text, day0, day = plan.day_text, plan.tod_text, plan.day0, DAY

    def ts(t: int) -> str:
        return day_text[t // day - day0] + tod_text[t % day]

    return ts
