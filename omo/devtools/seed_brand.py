"""The fixed part of the demo brand: the brand, its LINE inbox, stores and staff, the catalogue with
stock, and the loyalty programme (tiers, coupons). DemoSeeder (omo/devtools/seed.py) runs these
steps first, then streams the customers and everything they did.
"""

from __future__ import annotations

import datetime as dt
import random
import string

from django.contrib.auth.hashers import make_password
from django.utils.text import slugify

from omo.catalog.models import (
    Category,
    Location,
    Product,
    ProductImage,
    StockLevel,
    StockMovement,
    Variant,
)
from omo.core.models import Brand
from omo.devtools.demo_facts import (
    APPAREL_SIZES,
    BED_SIZES,
    CATEGORIES,
    COLOURS,
    DEMO_NAME,
    DEMO_PASSWORD,
    DEMO_SLUG,
    DEMO_USERNAMES,
    GIVEN_F,
    GIVEN_M,
    MATERIAL_NOTES,
    SCENTS,
    SERIES,
    SHOE_SIZES,
    STORES,
    SURNAMES,
    TIERS,
    WAREHOUSE,
    WEEK,
    SeedError,
    Size,
    ean13,
    sample_table,
    shelf_price,
)
from omo.devtools.seed_plan import DAY, StoreInfo
from omo.loyalty.models import (
    Coupon,
    CouponCode,
    LoyaltyProgram,
    Tier,
)
from omo.staff.models import Store, User


class DemoBrandSetup:
    """Steps of DemoSeeder that create what does not grow with the number of customers. They use
    the seeder's own state (`brand`, `rng`, `today`, `size`, the created rows), so they live on
    this base class rather than as functions with a dozen parameters each."""

    brand: Brand
    rng: random.Random
    size: Size
    seed: int
    today: dt.date
    now_t: int  # today 00:00 Taipei, in seconds
    program_start_t: int
    anniversary: tuple[int, int]  # the brand's anniversary sale, start and end

    def aware(self, t: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(t, dt.UTC)

    def _create_brand(self) -> None:
        self.brand = Brand.objects.create(
            name=DEMO_NAME, slug=DEMO_SLUG, currency="TWD", country="TW", time_zone="Asia/Taipei"
        )
        self.brand_id = self.brand.pk
        self._create_line_inbox()

    def _create_line_inbox(self) -> None:
        """The brand's LINE official account, with credentials the local LINE stand-in accepts
        (`omo line_standin` loads them from the database), so `omo demo` runs the whole loop. It has
        a LINE Login channel and a LIFF app too: product cards open the shop through LIFF, and the
        phone simulator signs the customer in with an ID token the stand-in mints and verifies."""
        from omo.inbox.models import Inbox

        rng = random.Random(f"{self.seed}:line")
        login = random.Random(f"{self.seed}:line-login")
        login_channel_id = str(login.randrange(10**9, 10**10))
        liff_id = f"{login_channel_id}-" + "".join(login.choice(string.ascii_letters) for _ in range(8))
        Inbox.objects.create(
            brand=self.brand,
            platform="line",
            name=f"{DEMO_NAME} LINE 官方帳號",
            external_id=str(rng.randrange(10**9, 10**10)),
            handle="@morningforest",
            bot_user_id="U" + "".join(rng.choice("0123456789abcdef") for _ in range(32)),
            secrets={
                "channel_secret": "".join(rng.choice("0123456789abcdef") for _ in range(32)),
                "access_token": "demo-"
                + "".join(rng.choice("0123456789abcdefghijklmnop") for _ in range(40)),
            },
            config={
                "plan": {"name": "中用量", "included": 3000, "extra_price": 20},
                "login_channel_id": login_channel_id,
                "liff_id": liff_id,
            },
        )

    def _person(self, rng: random.Random) -> tuple[str, str, str, bool]:
        sur, sur_roman, _ = SURNAMES[self.surname_table[int(rng.random() * 4096)]]
        female = rng.random() < 0.66
        given, given_roman = rng.choice(GIVEN_F if female else GIVEN_M)
        return sur + given, sur_roman, given_roman, female

    def _create_stores_and_staff(self) -> None:
        rng = self.rng
        self.surname_table = sample_table([w for _, _, w in SURNAMES])
        # One hash for everyone, with a salt from the seed: hashing 40 passwords at full PBKDF2
        # cost would take longer than seeding 5,000 customers.
        password = make_password(DEMO_PASSWORD, salt=f"omodemo{self.seed:08d}")
        taken = set(User.objects.filter(username__in=DEMO_USERNAMES).values_list("username", flat=True))
        if taken:
            raise SeedError(
                f"user name(s) {', '.join(sorted(taken))} already belong to another brand; "
                "the demo needs them for its logins"
            )
        self.stores: list[StoreInfo] = []
        self.store_models: list[Store] = []
        users: list[User] = []
        employee = 1000

        def user(username: str, role: str, store: Store | None, name: str) -> User:
            nonlocal employee
            employee += 1
            u = User(
                username=username,
                brand=self.brand,
                role=role,
                store=store,
                display_name=name,
                first_name=name[1:],
                last_name=name[0],
                email=f"{username}@staff.morningforest.example",
                employee_code=f"MF{employee}",
                password=password,
                is_active=True,
            )
            users.append(u)
            return u

        admin = user("admin", "hq_admin", None, "林佳蓉")
        # May open /admin/ for a look at the raw tables (a superuser: the demo's admin sees them all).
        admin.is_staff = admin.is_superuser = True
        for n in (1, 2):
            user(f"demo-agent-{n}", "hq_agent", None, self._person(rng)[0])
        layout: list[tuple[Store, User, list[User]]] = []
        for index, (code, name, name_en, city, address, phone, hours, _) in enumerate(
            STORES[: self.size.stores]
        ):
            store = Store.objects.create(
                brand=self.brand,
                code=code,
                name=name,
                name_en=name_en,
                city=city,
                address=address,
                phone=phone,
                opening_hours=hours,
            )
            Location.objects.create(
                brand=self.brand, code=code, name=name, kind=Location.Kind.STORE, store=store
            )
            manager = user(
                "manager" if index == 0 else f"demo-{code.lower()}-manager",
                "store_manager",
                store,
                self._person(rng)[0],
            )
            clerks = []
            for c in range(self.size.clerks_per_store):
                username = "clerk" if index == 0 and c == 0 else f"demo-{code.lower()}-clerk-{c + 1}"
                clerks.append(user(username, "clerk", store, self._person(rng)[0]))
            layout.append((store, manager, clerks))
            self.store_models.append(store)
        User.objects.bulk_create(users)
        # bulk_create sets pks on PostgreSQL and SQLite alike (RETURNING), so the layout is usable.
        self.admin_id = admin.pk
        self.agent_ids = [u.pk for u in users if u.role == "hq_agent"]
        for store, manager, clerks in layout:
            ranges = []
            for day in WEEK:
                day_ranges = []
                for start, end in store.opening_hours.get(day, []):
                    h1, m1 = map(int, start.split(":"))
                    h2, m2 = map(int, end.split(":"))
                    day_ranges.append((h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60))
                ranges.append(day_ranges or [(11 * 3600, 21 * 3600)])
            self.stores.append(
                StoreInfo(
                    store.pk,
                    store.code,
                    ranges,
                    [(c.pk, c.employee_code) for c in clerks],
                    (manager.pk, manager.employee_code),
                )
            )
        self.warehouse = Location.objects.create(
            brand=self.brand,
            code=WAREHOUSE[0],
            name=WAREHOUSE[1],
            kind=Location.Kind.WAREHOUSE,
            ships_online_orders=True,
        )
        shares = [s[7] for s in STORES[: self.size.stores]]
        self.home_store_table = sample_table(shares, 1024)

    def _create_catalogue(self) -> None:
        rng = self.rng
        brand = self.brand
        categories = []
        for order, (name, name_en, slug, *_rest) in enumerate(CATEGORIES):
            categories.append(Category(brand=brand, name=name, name_en=name_en, slug=slug, sort_order=order))
        Category.objects.bulk_create(categories)
        # Every category gets its share of products; titles combine a series with a base item.
        per_category = [self.size.products // len(CATEGORIES)] * len(CATEGORIES)
        for i in range(self.size.products - sum(per_category)):
            per_category[i] += 1
        products: list[Product] = []
        plans: list[tuple[Product, tuple, int]] = []
        handles: set[str] = set()
        number = 0
        for cat, spec, count in zip(categories, CATEGORIES, per_category, strict=True):
            _, _, _, icon, (low, high), scheme, bases = spec
            combos = [(s, b) for s in SERIES for b in bases]
            rng.shuffle(combos)
            for (series, series_en), (base, base_en, base_icon) in combos[:count]:
                number += 1
                title, title_en = f"{series}{base}", f"{series_en} {base_en}"
                handle = slugify(title_en)
                while handle in handles:
                    handle += "-2"
                handles.add(handle)
                roll = rng.random()
                status = (
                    Product.Status.DRAFT
                    if roll < 0.03
                    else Product.Status.ARCHIVED
                    if roll < 0.05
                    else Product.Status.ACTIVE
                )
                product = Product(
                    brand=brand,
                    title=title,
                    title_en=title_en,
                    handle=handle,
                    category=cat,
                    status=status,
                    vendor="森日 × 台灣職人" if rng.random() < 0.15 else DEMO_NAME,
                    description=f"{title}：{rng.choice(MATERIAL_NOTES)}。{rng.choice(MATERIAL_NOTES)}。",
                )
                products.append(product)
                plans.append((product, spec, base_icon or icon))
        Product.objects.bulk_create(products, batch_size=2000)
        images, variants = [], []
        barcode_item = 0
        for number, (product, spec, icon) in enumerate(plans, start=1):
            _, _, _, _, (low, high), scheme, _ = spec
            images.append(
                ProductImage(
                    brand=brand,
                    product=product,
                    url=f"/static/demo/products/{icon}.svg",
                    # LINE shows no SVG: its PNG twin (scripts/render_demo_placeholders.py)
                    line_url=f"/static/demo/products/{icon}.png",
                    alt=product.title,
                    sort_order=0,
                )
            )
            if rng.random() < 0.3:
                images.append(
                    ProductImage(
                        brand=brand,
                        product=product,
                        url="/static/demo/products/12.svg",
                        line_url="/static/demo/products/12.png",
                        alt=f"{product.title}（品牌）",
                        sort_order=1,
                    )
                )
            price = shelf_price(rng, low, high)
            compare = None
            if rng.random() < 0.2:
                compare = shelf_price(rng, int(price / 100 * 1.2), int(price / 100 * 1.5) + 100)
            for sort, (title, sku_part, options) in enumerate(self._variant_options(rng, scheme)):
                barcode_item += 1
                variants.append(
                    Variant(
                        brand=brand,
                        product=product,
                        sku=f"MF-{number:04d}-{sku_part}" if sku_part else f"MF-{number:04d}",
                        barcode=ean13(f"4716012{barcode_item:05d}"),
                        title=title,
                        options=options,
                        price=price,
                        compare_at_price=compare if compare and compare > price else None,
                        sort_order=sort,
                    )
                )
        ProductImage.objects.bulk_create(images, batch_size=2000)
        Variant.objects.bulk_create(variants, batch_size=2000)
        # Sales follow a long tail: a few products sell a lot (Zipf-like over a shuffled order).
        sellable = [
            (v, p)
            for v, p in zip(variants, [v.product for v in variants], strict=True)
            if p.status != Product.Status.DRAFT
        ]
        rank = list(range(len(sellable)))
        rng.shuffle(rank)
        weights = [1.0 / (r + 8) ** 0.9 for r in rank]
        self.variant_table = sample_table(weights, 8192)
        self.variants = [
            (v.pk, v.product_id, v.sku, v.price, f"{p.title} {v.title}".strip()) for v, p in sellable
        ]
        self._create_stock(variants)

    def _variant_options(self, rng: random.Random, scheme: str) -> list[tuple[str, str, dict]]:
        if scheme == "apparel":
            colours = rng.sample(COLOURS, rng.randint(1, 3))
            sizes = list(APPAREL_SIZES[: rng.choice((1, 2, 3, 3, 4))]) if rng.random() < 0.9 else ["F"]
            out = [
                (f"{c} / {s}", f"{code}-{s}", {"顏色": c, "尺寸": s}) for c, code in colours for s in sizes
            ]
            return out[:6]
        if scheme == "shoes":
            start = rng.randint(0, 2)
            shoe_sizes = SHOE_SIZES[start : start + rng.randint(2, 4)]
            colour, code = rng.choice(COLOURS[:4])
            return [(f"{colour} / {s}", f"{code}-{s}", {"顏色": colour, "尺寸": s}) for s in shoe_sizes][:6]
        if scheme == "bedding":
            colours = rng.sample(COLOURS[:5], rng.randint(1, 2))
            bed_sizes = BED_SIZES[: rng.randint(1, 3)]
            return [
                (f"{c} / {s}", f"{code}-{scode}", {"顏色": c, "尺寸": s})
                for c, code in colours
                for s, scode in bed_sizes
            ][:6]
        if scheme == "scent":
            scents = rng.sample(SCENTS, rng.randint(1, 4))
            return [(s, code, {"香味": s}) for s, code in scents]
        count = rng.choice((1, 1, 2, 3, 4))
        if count == 1:
            return [("", "", {})]
        return [(c, code, {"顏色": c}) for c, code in rng.sample(COLOURS, count)]

    def _create_stock(self, variants: list[Variant]) -> None:
        rng = self.rng
        locations = list(Location.objects.filter(brand=self.brand).order_by("id"))
        levels, movements = [], []
        for variant in variants:
            for location in locations:
                if location.kind == Location.Kind.WAREHOUSE:
                    on_hand = 0 if rng.random() < 0.04 else rng.randint(20, 240)
                else:
                    on_hand = 0 if rng.random() < 0.25 else rng.randint(1, 12)
                levels.append(
                    StockLevel(brand=self.brand, variant=variant, location=location, on_hand=on_hand)
                )
                if on_hand:
                    movements.append(
                        StockMovement(
                            brand=self.brand,
                            variant=variant,
                            location=location,
                            on_hand_delta=on_hand,
                            reason=StockMovement.Reason.RECEIPT,
                            note="初始庫存 / opening stock",
                        )
                    )
        StockLevel.objects.bulk_create(levels, batch_size=2000)
        StockMovement.objects.bulk_create(movements, batch_size=2000)

    def _create_loyalty(self) -> None:
        brand = self.brand
        self.program = LoyaltyProgram.objects.create(
            brand=brand,
            earn_points=1,
            earn_per_amount=10_000,
            point_value=100,
            max_redeem_percent=50,
            expiry_months=12,
            tier_window_days=365,
        )
        tiers = Tier.objects.bulk_create(
            [
                Tier(
                    brand=brand, name=name, name_en=name_en, threshold=nt * 100, earn_multiplier_percent=mult
                )
                for name, name_en, nt, mult in TIERS
            ]
        )
        self.tiers = [(t.threshold, t.pk, t.earn_multiplier_percent) for t in tiers]
        self.tier_thresholds = [t[0] for t in self.tiers]
        a_start, a_end = self.anniversary
        customers = self.size.customers
        coupons = {
            "welcome": Coupon(
                brand=brand,
                name="新會員見面禮 NT$100",
                kind=Coupon.Kind.AMOUNT_OFF,
                value=10_000,
                min_spend=100_000,
                starts_at=self.aware(self.program_start_t),
            ),
            "anniversary": Coupon(
                brand=brand,
                name="週年慶全館 9 折",
                kind=Coupon.Kind.PERCENT_OFF,
                value=10,
                min_spend=200_000,
                starts_at=self.aware(a_start),
                ends_at=self.aware(a_end),
                is_active=False,
            ),
            "freeship": Coupon(brand=brand, name="線上免運券", kind=Coupon.Kind.FREE_SHIPPING, value=0),
            "birthday": Coupon(
                brand=brand,
                name="生日禮 NT$200",
                kind=Coupon.Kind.AMOUNT_OFF,
                value=20_000,
                min_spend=150_000,
            ),
            "winback": Coupon(
                brand=brand,
                name="好久不見回購禮 NT$150",
                kind=Coupon.Kind.AMOUNT_OFF,
                value=15_000,
                min_spend=120_000,
            ),
            "spring": Coupon(
                brand=brand,
                name="春季新品 85 折（即將開始）",
                kind=Coupon.Kind.PERCENT_OFF,
                value=15,
                min_spend=0,
                starts_at=self.aware(self.now_t + 10 * DAY),
                ends_at=self.aware(self.now_t + 40 * DAY),
            ),
        }
        Coupon.objects.bulk_create(list(coupons.values()))
        self.coupons = {key: c.pk for key, c in coupons.items()}
        self.welcome_cap = max(50, customers // 10)
        self.freeship_cap = max(50, customers // 8)
        shared = [
            CouponCode(brand=brand, coupon=coupons["welcome"], code="WELCOME100", max_uses=self.welcome_cap),
            CouponCode(brand=brand, coupon=coupons["anniversary"], code="ANNIV10"),
            CouponCode(brand=brand, coupon=coupons["freeship"], code="FREESHIP", max_uses=self.freeship_cap),
            CouponCode(
                brand=brand, coupon=coupons["spring"], code="SPRING15", max_uses=max(100, customers // 5)
            ),
        ]
        CouponCode.objects.bulk_create(shared)
        self.shared_codes = {c.code: c.pk for c in shared}

    # -- streamed parts ---------------------------------------------------------------------------------
