"""Demo data: 「森日 Morning Forest」, a Taiwanese lifestyle apparel and goods brand.

Stores, staff, a catalogue with stock, customers with identities, 12 months of orders from every
sales channel, refunds, coupons and a loyalty ledger that agrees with the orders.

Deterministic for (seed, today), whatever the number of worker processes: `random.Random(seed)`
makes the brand, stores, staff and catalogue; customers come in fixed chunks, each with its own
`random.Random` from (seed, chunk index) and its own share of ids, order numbers and coupon caps
(omo/devtools/seed_stream.py), and every date is an offset from `today`.

Memory stays bounded at any size: customers are generated and written a chunk at a time, and
nothing of a chunk is kept once it is written. The big tables skip the ORM: PostgreSQL gets COPY
text, SQLite executemany, with ids from ranges reserved in the id sequences beforehand, so foreign
keys are written without reading a single row back. On PostgreSQL, worker processes generate and
write chunks side by side (omo/devtools/seed_load.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import DatabaseError, connection, models, transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.text import slugify

from omo.analytics import rollups
from omo.catalog.models import (
    Category,
    Location,
    Product,
    ProductImage,
    Reservation,
    StockLevel,
    StockMovement,
    Variant,
)
from omo.commerce import services as commerce_services
from omo.commerce.models import Order, OrderLine, Refund
from omo.core.models import Brand
from omo.customers.models import Customer, CustomerIdentity
from omo.devtools.seed_load import (
    BulkLoadSchema,
    Layout,
    LoadError,
    LoadResult,
    Table,
    analyze,
    default_workers,
    load_in_process,
    load_in_workers,
)
from omo.devtools.seed_stream import DAY, TAIPEI, StoreInfo, StreamPlan
from omo.loyalty.models import (
    Coupon,
    CouponCode,
    CouponRedemption,
    LoyaltyAccount,
    LoyaltyProgram,
    PointsEntry,
    Tier,
)
from omo.staff.models import Store, User

DEMO_SLUG = "demo"
DEMO_NAME = "森日 Morning Forest"
DEMO_PASSWORD = "omo-demo"
DEMO_USERNAMES = ("admin", "manager", "clerk")


class SeedError(Exception):
    """A refusal the command shows as it is (for example: the demo brand exists already)."""


@dataclass(frozen=True)
class Size:
    name: str
    stores: int
    clerks_per_store: int
    products: int
    customers: int
    orders: int  # the target; the real count comes out within a few percent of it
    chunk: int  # customers generated and written per transaction


SIZES: dict[str, Size] = {
    "tiny": Size("tiny", 3, 3, 40, 200, 1_200, 100),
    "small": Size("small", 5, 6, 300, 5_000, 30_000, 2_000),
    "medium": Size("medium", 5, 6, 300, 50_000, 300_000, 2_500),
    "large": Size("large", 5, 6, 300, 1_000_000, 10_000_000, 4_000),
}


# --- the brand's fixed facts ------------------------------------------------------------------

_WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _hours(weekday: str, weekend: str, *, weekend_days: tuple[str, ...] = ("fri", "sat")) -> dict:
    return {d: [list(r) for r in (weekend if d in weekend_days else weekday)] for d in _WEEK}


# (code, name, name_en, city, address, phone, opening hours, share of home customers)
STORES: tuple[tuple[str, str, str, str, str, str, dict, float], ...] = (
    (
        "TPE01",
        "台北信義旗艦店",
        "Taipei Xinyi Flagship",
        "台北市",
        "台北市信義區松壽路 12 號 1 樓",
        "02-2722-6180",
        _hours((("11:00", "21:30"),), (("11:00", "22:00"),)),
        0.28,
    ),
    (
        "TPE02",
        "台北赤峰街店",
        "Taipei Chifeng Street",
        "台北市",
        "台北市大同區赤峰街 41 巷 7 號",
        "02-2555-3170",
        _hours((("12:00", "20:30"),), (("12:00", "21:00"),), weekend_days=("sat", "sun")),
        0.20,
    ),
    (
        "NTP01",
        "新北板橋店",
        "New Taipei Banqiao",
        "新北市",
        "新北市板橋區新站路 28 號 B1",
        "02-2959-0625",
        _hours((("11:00", "21:30"),), (("11:00", "22:00"),)),
        0.19,
    ),
    (
        "TXG01",
        "台中審計新村店",
        "Taichung Shenji Village",
        "台中市",
        "台中市西區民生路 368 巷 4 弄 8 號",
        "04-2301-7752",
        _hours((("11:00", "20:00"),), (("10:30", "21:00"),), weekend_days=("sat", "sun")),
        0.18,
    ),
    (
        "KHH01",
        "高雄駁二店",
        "Kaohsiung Pier-2",
        "高雄市",
        "高雄市鹽埕區大勇路 1 號 C5 倉庫",
        "07-521-8836",
        _hours((("11:00", "20:00"),), (("10:00", "21:00"),), weekend_days=("fri", "sat", "sun")),
        0.15,
    ),
)
WAREHOUSE = ("WH-TYN", "桃園線上倉 Online Warehouse", "桃園市蘆竹區南崁路一段 168 號")

SURNAMES: tuple[tuple[str, str, float], ...] = (
    ("陳", "chen", 11.1),
    ("林", "lin", 8.3),
    ("黃", "huang", 6.0),
    ("張", "chang", 5.3),
    ("李", "lee", 5.1),
    ("王", "wang", 4.1),
    ("吳", "wu", 4.0),
    ("劉", "liu", 3.2),
    ("蔡", "tsai", 2.9),
    ("楊", "yang", 2.6),
    ("許", "hsu", 2.3),
    ("鄭", "cheng", 1.9),
    ("謝", "hsieh", 1.8),
    ("郭", "kuo", 1.7),
    ("洪", "hung", 1.5),
    ("邱", "chiu", 1.4),
    ("曾", "tseng", 1.4),
    ("廖", "liao", 1.3),
    ("賴", "lai", 1.3),
    ("徐", "hsu", 1.2),
    ("周", "chou", 1.1),
    ("葉", "yeh", 1.1),
    ("蘇", "su", 1.1),
    ("莊", "chuang", 0.9),
    ("呂", "lu", 0.8),
    ("江", "chiang", 0.8),
    ("何", "ho", 0.8),
    ("蕭", "hsiao", 0.7),
    ("羅", "lo", 0.7),
    ("高", "kao", 0.7),
    ("潘", "pan", 0.6),
    ("簡", "chien", 0.6),
    ("朱", "chu", 0.6),
    ("鍾", "chung", 0.6),
    ("彭", "peng", 0.5),
    ("游", "yu", 0.5),
    ("詹", "chan", 0.5),
    ("胡", "hu", 0.5),
    ("施", "shih", 0.5),
    ("沈", "shen", 0.5),
)
GIVEN_F: tuple[tuple[str, str], ...] = (
    ("雅婷", "yating"),
    ("怡君", "yichun"),
    ("欣怡", "hsinyi"),
    ("佳穎", "chiaying"),
    ("詩涵", "shihhan"),
    ("郁婷", "yuting"),
    ("宜蓁", "yichen"),
    ("品妤", "pinyu"),
    ("子晴", "tzuching"),
    ("思妤", "szuyu"),
    ("家瑜", "chiayu"),
    ("佩珊", "peishan"),
    ("筱涵", "hsiaohan"),
    ("婉婷", "wanting"),
    ("淑芬", "shufen"),
    ("美玲", "meiling"),
    ("惠雯", "huiwen"),
    ("靜宜", "chingyi"),
    ("宛儒", "wanju"),
    ("雅雯", "yawen"),
    ("心怡", "hsinyi"),
    ("若瑜", "joyu"),
    ("依婷", "yiting"),
    ("珮瑜", "peiyu"),
    ("語彤", "yutung"),
    ("品蓁", "pinchen"),
    ("書涵", "shuhan"),
    ("孟潔", "mengchieh"),
    ("立婷", "liting"),
    ("曉萍", "hsiaoping"),
    ("秀英", "hsiuying"),
    ("麗華", "lihua"),
    ("慧君", "huichun"),
    ("玉珍", "yuchen"),
    ("芳瑜", "fangyu"),
)
GIVEN_M: tuple[tuple[str, str], ...] = (
    ("家豪", "chiahao"),
    ("志明", "chihming"),
    ("宗翰", "tsunghan"),
    ("承翰", "chenghan"),
    ("冠宇", "kuanyu"),
    ("俊傑", "chunchieh"),
    ("柏翰", "pohan"),
    ("彥廷", "yenting"),
    ("建宏", "chienhung"),
    ("宇軒", "yuhsuan"),
    ("立偉", "liwei"),
    ("明哲", "mingche"),
    ("冠廷", "kuanting"),
    ("承恩", "chengen"),
    ("俊宏", "chunhung"),
    ("志豪", "chihhao"),
    ("信宏", "hsinhung"),
    ("育誠", "yucheng"),
    ("哲瑋", "chewei"),
    ("子軒", "tzuhsuan"),
    ("柏宇", "poyu"),
    ("家銘", "chiaming"),
    ("偉成", "weicheng"),
    ("宏達", "hungta"),
    ("文彬", "wenpin"),
)
# Reserved example domains: the demo must never be able to mail a real person.
EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com")
DISTRICTS: tuple[tuple[str, str, str], ...] = (
    ("台北市", "大安區", "106"),
    ("台北市", "信義區", "110"),
    ("台北市", "中山區", "104"),
    ("台北市", "內湖區", "114"),
    ("台北市", "士林區", "111"),
    ("台北市", "松山區", "105"),
    ("新北市", "板橋區", "220"),
    ("新北市", "中和區", "235"),
    ("新北市", "新店區", "231"),
    ("新北市", "三重區", "241"),
    ("新北市", "永和區", "234"),
    ("新北市", "新莊區", "242"),
    ("桃園市", "桃園區", "330"),
    ("桃園市", "中壢區", "320"),
    ("新竹市", "東區", "300"),
    ("台中市", "西屯區", "407"),
    ("台中市", "北屯區", "406"),
    ("台中市", "南屯區", "408"),
    ("台中市", "西區", "403"),
    ("台南市", "東區", "701"),
    ("台南市", "中西區", "700"),
    ("高雄市", "苓雅區", "802"),
    ("高雄市", "左營區", "813"),
    ("高雄市", "鼓山區", "804"),
    ("高雄市", "三民區", "807"),
)
ROADS = (
    "中正路",
    "中山路",
    "民生路",
    "民權路",
    "復興路",
    "忠孝路",
    "和平路",
    "建國路",
    "光復路",
    "自由路",
    "成功路",
    "文化路",
    "公益路",
    "博愛路",
    "仁愛路",
    "信義路",
    "永康街",
    "師大路",
    "美術館路",
    "五權路",
)
CUSTOMER_TAGS = (
    "LINE 好友",
    "環保愛好者",
    "親子",
    "上班族",
    "學生",
    "喜歡亞麻",
    "送禮需求",
    "團購主",
    "週年慶常客",
)

# (series zh, series en): combined with a base item to make a product title.
SERIES = (
    ("森日", "Morning"),
    ("晨光", "Daybreak"),
    ("山嵐", "Mountain Mist"),
    ("海風", "Sea Breeze"),
    ("日和", "Hiyori"),
    ("木質", "Woodland"),
    ("初夏", "Early Summer"),
    ("秋葉", "Autumn Leaf"),
    ("暖陽", "Warm Sun"),
    ("雨林", "Rainforest"),
    ("月光", "Moonlight"),
    ("微風", "Breeze"),
)
COLOURS = (
    ("米白", "IV"),
    ("墨黑", "BK"),
    ("森林綠", "FG"),
    ("燕麥", "OT"),
    ("霧藍", "MB"),
    ("磚紅", "BR"),
    ("淺灰", "GY"),
    ("焦糖", "CM"),
)
SCENTS = (("檜木", "HK"), ("白茶", "WT"), ("柚子", "YZ"), ("薰衣草", "LV"), ("雪松", "CD"))
APPAREL_SIZES = ("S", "M", "L", "XL")
SHOE_SIZES = ("23", "24", "25", "26", "27", "28")
BED_SIZES = (("單人", "SG"), ("雙人", "DB"), ("加大", "QN"))

# (name, name_en, slug, icon, price range NT$, variant scheme, [(base zh, base en, icon or 0)])
CATEGORIES: tuple[tuple[str, str, str, int, tuple[int, int], str, tuple[tuple[str, str, int], ...]], ...] = (
    (
        "上衣",
        "Tops",
        "tops",
        1,
        (490, 1880),
        "apparel",
        (
            ("有機棉圓領T恤", "Organic Cotton Crew Tee", 0),
            ("亞麻襯衫", "Linen Shirt", 0),
            ("條紋長袖T", "Striped Long-sleeve Tee", 0),
            ("寬版針織衫", "Relaxed Knit Sweater", 0),
            ("法蘭絨格紋襯衫", "Flannel Check Shirt", 0),
            ("棉麻背心", "Cotton-linen Tank", 0),
            ("連帽衛衣", "Hoodie", 0),
        ),
    ),
    (
        "褲裝",
        "Bottoms",
        "bottoms",
        2,
        (790, 2480),
        "apparel",
        (
            ("亞麻寬褲", "Linen Wide-leg Trousers", 0),
            ("直筒牛仔褲", "Straight Jeans", 0),
            ("棉麻九分褲", "Cropped Cotton-linen Pants", 0),
            ("抽繩休閒褲", "Drawstring Lounge Pants", 0),
            ("工作短褲", "Work Shorts", 0),
            ("燈芯絨長褲", "Corduroy Trousers", 0),
        ),
    ),
    (
        "洋裝與裙裝",
        "Dresses & Skirts",
        "dresses",
        3,
        (990, 2980),
        "apparel",
        (
            ("亞麻洋裝", "Linen Dress", 0),
            ("百褶長裙", "Pleated Maxi Skirt", 0),
            ("吊帶裙", "Pinafore Dress", 0),
            ("碎花連身裙", "Floral Midi Dress", 0),
            ("針織長裙", "Knit Skirt", 0),
        ),
    ),
    (
        "外套",
        "Outerwear",
        "outerwear",
        4,
        (1680, 4980),
        "apparel",
        (
            ("輕量防潑水外套", "Light Water-repellent Jacket", 0),
            ("羊毛大衣", "Wool Coat", 0),
            ("鋪棉背心", "Padded Vest", 0),
            ("丹寧外套", "Denim Jacket", 0),
            ("針織開襟外套", "Knit Cardigan", 0),
        ),
    ),
    (
        "包袋配件",
        "Bags & Accessories",
        "bags",
        5,
        (290, 2680),
        "colour",
        (
            ("帆布托特包", "Canvas Tote", 0),
            ("皮革零錢包", "Leather Coin Purse", 0),
            ("羊毛圍巾", "Wool Scarf", 0),
            ("尼龍後背包", "Nylon Backpack", 0),
            ("束口袋三入組", "Drawstring Pouch Set", 0),
            ("漁夫帽", "Bucket Hat", 11),
        ),
    ),
    (
        "鞋襪",
        "Shoes & Socks",
        "shoes",
        6,
        (290, 3280),
        "shoes",
        (
            ("帆布鞋", "Canvas Sneakers", 0),
            ("室內拖鞋", "House Slippers", 0),
            ("皮革樂福鞋", "Leather Loafers", 0),
            ("有機棉襪三入", "Organic Cotton Socks 3-pack", 0),
        ),
    ),
    (
        "居家織品",
        "Home Textiles",
        "home-textiles",
        7,
        (490, 4280),
        "bedding",
        (
            ("亞麻床包組", "Linen Bed Sheet Set", 0),
            ("純棉浴巾", "Cotton Bath Towel", 0),
            ("抱枕套", "Cushion Cover", 0),
            ("針織毯", "Knit Throw", 0),
            ("紗布被", "Gauze Quilt", 0),
        ),
    ),
    (
        "餐廚器皿",
        "Kitchen & Tableware",
        "kitchen",
        8,
        (290, 1980),
        "colour",
        (
            ("手作陶瓷馬克杯", "Handmade Ceramic Mug", 0),
            ("木製餐盤", "Wooden Plate", 0),
            ("不鏽鋼保溫瓶", "Stainless Steel Bottle", 0),
            ("玻璃儲物罐", "Glass Storage Jar", 0),
            ("竹製餐具組", "Bamboo Cutlery Set", 0),
        ),
    ),
    (
        "香氛與身體保養",
        "Fragrance & Body",
        "fragrance",
        9,
        (290, 1680),
        "scent",
        (
            ("精油擴香", "Reed Diffuser", 0),
            ("香氛蠟燭", "Scented Candle", 0),
            ("手工皂", "Handmade Soap", 0),
            ("護手霜", "Hand Cream", 0),
            ("沐浴露", "Body Wash", 0),
        ),
    ),
    (
        "文具雜貨",
        "Stationery & Goods",
        "stationery",
        10,
        (290, 1280),
        "colour",
        (
            ("棉麻筆記本", "Cloth-bound Notebook", 0),
            ("黃銅書籤", "Brass Bookmark", 0),
            ("帆布筆袋", "Canvas Pencil Case", 0),
            ("手帳貼紙組", "Planner Sticker Set", 0),
            ("木質桌曆", "Wooden Desk Calendar", 0),
        ),
    ),
)
MATERIAL_NOTES = (
    "選用台灣在地織廠布料",
    "柔軟親膚、越洗越有味道",
    "簡約剪裁，日常百搭",
    "天然材質，溫潤耐用",
    "職人手工製作，每件紋理略有不同",
    "可機洗，好整理",
)

# Tier name, English, threshold NT$, earn multiplier %: a tier is the highest one reached by net
# spend over the programme's tier window.
TIERS = (
    ("一般會員", "Member", 0, 100),
    ("銀卡", "Silver", 10_000, 100),
    ("金卡", "Gold", 30_000, 120),
    ("VIP", "VIP", 80_000, 150),
)

# The built-in shop's own rule, so seeded web orders look like the ones checkout makes.
SHIPPING_FEE: int = getattr(commerce_services, "SHIPPING_FEE", 10_000)
FREE_SHIPPING_FROM: int = getattr(commerce_services, "FREE_SHIPPING_OVER", 150_000)


# --- fast, deterministic value helpers ------------------------------------------------------------


def ean13(body12: str) -> str:
    """Append the EAN-13 check digit to 12 digits."""
    total = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


def _price(rng: random.Random, low: int, high: int) -> int:
    """A price that looks like a Taiwanese shelf price (NT$1,280, NT$990) in minor units."""
    hundreds = rng.randint(low // 100, high // 100)
    ending = rng.choice((80, 90)) if hundreds else 90
    whole = max(low, min(high, hundreds * 100 + ending))
    return whole * 100


def _cumulative(weights: Iterable[float]) -> list[float]:
    acc, out = 0.0, []
    for w in weights:
        acc += w
        out.append(acc)
    return out


def _sample_table(weights: list[float], size: int = 4096) -> list[int]:
    """An index table for O(1) weighted sampling: table[int(random() * size)]."""
    total = sum(weights)
    table: list[int] = []
    acc = 0.0
    for index, w in enumerate(weights):
        acc += w
        while len(table) < round(acc / total * size):
            table.append(index)
    while len(table) < size:
        table.append(len(weights) - 1)
    return table


# --- the streamed tables ------------------------------------------------------------------------


# Row layouts of the streamed tables: seed_stream writes the fields of a row in exactly this order.
CUSTOMER_COLS = (
    "id",
    "brand_id",
    "name",
    "phone",
    "email",
    "birthday",
    "member_number",
    "home_store_id",
    "tags",
    "notes",
    "created_at",
    "updated_at",
    "search_text",
)
IDENTITY_COLS = ("id", "brand_id", "customer_id", "kind", "value", "verified", "source", "created_at")
ACCOUNT_COLS = (
    "id",
    "brand_id",
    "customer_id",
    "balance",
    "lifetime_earned",
    "tier_id",
    "rolling_spend",
    "tier_updated_at",
)
ORDER_COLS = (
    "id",
    "brand_id",
    "source",
    "external_id",
    "name",
    "sales_channel",
    "store_id",
    "staff_id",
    "staff_code",
    "customer_id",
    "contact_name",
    "contact_phone",
    "contact_email",
    "fulfilment",
    "shipping_address",
    "pickup_store_id",
    "payment_method",
    "currency",
    "subtotal",
    "discount_total",
    "shipping_total",
    "tax_total",
    "total",
    "refunded_total",
    "discounts",
    "coupon_code",
    "points_redeemed",
    "status",
    "ref",
    "note",
    "placed_at",
    "paid_at",
    "fulfilled_at",
    "cancelled_at",
    "created_at",
)
LINE_COLS = (
    "id",
    "brand_id",
    "order_id",
    "variant_id",
    "product_id",
    "sku",
    "title",
    "quantity",
    "unit_price",
    "discount",
    "total",
    "refunded_quantity",
    "placed_at",
)
REFUND_COLS = (
    "id",
    "brand_id",
    "order_id",
    "external_id",
    "amount",
    "reason",
    "lines",
    "restock",
    "created_by_id",
    "created_at",
)
POINTS_COLS = (
    "id",
    "brand_id",
    "customer_id",
    "delta",
    "kind",
    "order_id",
    "reason",
    "idempotency_key",
    "expires_at",
    "actor_id",
    "created_at",
)
CODE_COLS = ("id", "brand_id", "coupon_id", "code", "customer_id", "max_uses", "times_used", "created_at")
REDEMPTION_COLS = ("id", "brand_id", "code_id", "order_id", "customer_id", "amount", "created_at")

STREAMED: tuple[tuple[str, type[models.Model], tuple[str, ...]], ...] = (
    ("customers", Customer, CUSTOMER_COLS),
    ("identities", CustomerIdentity, IDENTITY_COLS),
    ("accounts", LoyaltyAccount, ACCOUNT_COLS),
    ("codes", CouponCode, CODE_COLS),
    ("orders", Order, ORDER_COLS),
    ("lines", OrderLine, LINE_COLS),
    ("refunds", Refund, REFUND_COLS),
    ("redemptions", CouponRedemption, REDEMPTION_COLS),
    ("points", PointsEntry, POINTS_COLS),
)


# --- removing a demo brand quickly ----------------------------------------------------------------

# Children before parents. These are deleted with one DELETE per table; everything else that
# belongs to the brand goes through Django's collector afterwards, when these are already empty.
_RAW_DELETE_ORDER: tuple[type[models.Model], ...] = (
    PointsEntry,
    CouponRedemption,
    CouponCode,
    Coupon,
    LoyaltyAccount,
    Refund,
    Reservation,
    OrderLine,
    Order,
    CustomerIdentity,
    Customer,
    StockMovement,
    StockLevel,
    ProductImage,
    Variant,
    Product,
    Category,
    Tier,
)


def purge_brand(brand: Brand) -> None:
    """Delete a brand and all its rows, fast even with millions of orders.

    Rows of other apps that point at the big tables are handled first through the ORM (their
    on_delete rules apply), so this stays correct when new apps add relations.
    """
    raw = set(_RAW_DELETE_ORDER)
    with transaction.atomic():
        # Children go first, so the per-row foreign-key checks PostgreSQL would run (millions of
        # index probes) prove nothing; skip them where we are allowed to.
        replica = _try_replica_role()
        for model in _RAW_DELETE_ORDER:
            for rel in model._meta.related_objects:
                other = rel.related_model
                if other in raw or not isinstance(rel, models.ManyToOneRel):
                    continue
                related = other._base_manager.filter(**{f"{rel.field.name}__brand_id": brand.pk})
                if rel.on_delete is models.SET_NULL:
                    related.update(**{rel.field.name: None})
                elif rel.on_delete is not models.DO_NOTHING:
                    related.delete()
            with connection.cursor() as cursor:
                cursor.execute(f'DELETE FROM "{model._meta.db_table}" WHERE brand_id = %s', [brand.pk])
        if replica:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = origin")
        brand.delete()


def _try_replica_role(local: bool = True) -> bool:
    """Turn off foreign-key triggers for this transaction (or session); False when not allowed."""
    if connection.vendor != "postgresql":
        return False
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET {'LOCAL ' if local else ''}session_replication_role = replica")
    except DatabaseError:
        return False
    return True


# --- the generator -----------------------------------------------------------------------------------


@dataclass
class SeedReport:
    size: str
    seed: int
    today: str
    seconds: float = 0.0
    workers: int = 1
    counts: dict[str, int] = field(default_factory=dict)


class DemoSeeder:
    """Builds the demo brand. Use `seed_demo()`; this class holds the state of one run."""

    def __init__(
        self,
        size: Size,
        seed: int,
        today: dt.date,
        *,
        progress: bool = True,
        log: Callable[[str], None] | None = None,
        fast: bool | None = None,
        workers: int | None = None,
    ):
        """fast: PostgreSQL bulk-load mode (no FK triggers, indexes rebuilt after); default for medium and up.
        workers: processes that generate and write customers on PostgreSQL (default: one per core)."""
        self.size = size
        self.seed = seed
        self.today = today
        self.progress = progress
        self.log = log or (lambda message: None)
        self.rng = random.Random(seed)
        self.workers = workers or default_workers()
        self.pg = connection.vendor == "postgresql"
        self.fast = self.pg and (size.name in ("medium", "large") if fast is None else fast)
        # Orders are placed before today 00:00 Taipei time, over the 365 days before it.
        self.now_t = int(dt.datetime.combine(today, dt.time(0), TAIPEI).timestamp())
        self.window_start_t = self.now_t - 365 * DAY
        self.program_start_t = self.now_t - 380 * DAY  # points moved over from the old system then
        self._build_time_tables()

    # -- time -----------------------------------------------------------------------------------------

    def _build_time_tables(self) -> None:
        """Timestamps are ints (UTC seconds) until written; text comes from two lookup tables."""
        suffix = "+00" if self.pg else ""
        self.day0 = self.now_t // DAY - 5 * 366
        n_days = 7 * 366
        epoch = dt.date(1970, 1, 1)
        self.day_text = [(epoch + dt.timedelta(days=self.day0 + i)).isoformat() for i in range(n_days)]
        self.tod_text = [f" {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}{suffix}" for s in range(DAY)]
        # Points live 12 calendar months (relativedelta semantics on the UTC date), as the loyalty services do.
        self.plus_year = []
        for i in range(n_days):
            d = epoch + dt.timedelta(days=self.day0 + i)
            try:
                later = d.replace(year=d.year + 1)
            except ValueError:  # 29 February
                later = d.replace(year=d.year + 1, day=28)
            self.plus_year.append((later - d).days * DAY)
        # Day weights over the 365 local days of the window, separately for stores and online.
        store_w, online_w = [], []
        for i in range(365):
            day = self.today - dt.timedelta(days=365 - i)
            month_factor = {1: 1.2, 2: 0.85, 5: 1.1, 6: 1.05, 10: 1.15, 11: 1.3, 12: 1.25}.get(day.month, 1.0)
            weekday = day.weekday()
            store_w.append(month_factor * (1.55 if weekday >= 5 else 1.15 if weekday == 4 else 1.0))
            spike = {(11, 11): 4.0, (6, 18): 2.0, (12, 12): 2.0}.get((day.month, day.day), 1.0)
            online_w.append(month_factor * spike * (1.1 if weekday >= 5 else 1.0))
        self.weekdays = [(self.today - dt.timedelta(days=365 - i)).weekday() for i in range(365)]
        self.store_cum = _cumulative(store_w)
        self.online_cum = _cumulative(online_w)
        # Online orders by local hour: lunch break and the evening on the sofa.
        self.online_hours = _sample_table(
            [
                0.6,
                0.3,
                0.15,
                0.1,
                0.1,
                0.1,
                0.2,
                0.5,
                0.9,
                1.1,
                1.2,
                1.4,
                1.9,
                1.6,
                1.2,
                1.2,
                1.2,
                1.3,
                1.4,
                1.6,
                2.0,
                2.4,
                2.5,
                1.5,
            ],
            1024,
        )
        # The anniversary sale (週年慶): the latest 15 Oct - 5 Nov that ended before today.
        year = today_year = self.today.year
        while dt.date(year, 11, 5) >= self.today:
            year -= 1
        del today_year
        self.anniversary = (
            int(dt.datetime(year, 10, 15, tzinfo=TAIPEI).timestamp()),
            int(dt.datetime(year, 11, 6, tzinfo=TAIPEI).timestamp()),
        )

    def aware(self, t: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(t, dt.UTC)

    # -- the whole run -----------------------------------------------------------------------------------

    def run(self) -> SeedReport:
        started = time.perf_counter()
        report = SeedReport(self.size.name, self.seed, self.today.isoformat())
        fast = self.fast
        with transaction.atomic():
            self._create_brand()
            self._create_stores_and_staff()
            self._create_catalogue()
            self._create_loyalty()
        loaded = self._stream_customers(fast=fast)
        self._finish(loaded)
        report.seconds = round(time.perf_counter() - started, 2)
        report.workers = loaded.workers
        report.counts = self._counts(loaded)
        return report

    # -- fixed parts (small; through the ORM) --------------------------------------------------------------

    def _create_brand(self) -> None:
        self.brand = Brand.objects.create(
            name=DEMO_NAME, slug=DEMO_SLUG, currency="TWD", country="TW", time_zone="Asia/Taipei"
        )
        self.brand_id = self.brand.pk
        self._create_line_inbox()

    def _create_line_inbox(self) -> None:
        """The brand's LINE official account, with credentials the local LINE stand-in accepts
        (`omo line_standin` loads them from the database), so `omo demo` runs the whole loop."""
        from omo.inbox.models import Inbox

        rng = random.Random(f"{self.seed}:line")
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
            config={"plan": {"name": "中用量", "included": 3000, "extra_price": 20}},
        )

    def _person(self, rng: random.Random) -> tuple[str, str, str, bool]:
        sur, sur_roman, _ = SURNAMES[self.surname_table[int(rng.random() * 4096)]]
        female = rng.random() < 0.66
        given, given_roman = rng.choice(GIVEN_F if female else GIVEN_M)
        return sur + given, sur_roman, given_roman, female

    def _create_stores_and_staff(self) -> None:
        rng = self.rng
        self.surname_table = _sample_table([w for _, _, w in SURNAMES])
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
        admin.is_staff = True  # may open /admin/ for a look at the raw tables
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
            for day in _WEEK:
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
        self.home_store_table = _sample_table(shares, 1024)

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
                        alt=f"{product.title}（品牌）",
                        sort_order=1,
                    )
                )
            price = _price(rng, low, high)
            compare = None
            if rng.random() < 0.2:
                compare = _price(rng, int(price / 100 * 1.2), int(price / 100 * 1.5) + 100)
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
        self.variant_table = _sample_table(weights, 8192)
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
            sizes = SHOE_SIZES[start : start + rng.randint(2, 4)]
            colour, code = rng.choice(COLOURS[:4])
            return [(f"{colour} / {s}", f"{code}-{s}", {"顏色": colour, "尺寸": s}) for s in sizes][:6]
        if scheme == "bedding":
            colours = rng.sample(COLOURS[:5], rng.randint(1, 2))
            sizes = BED_SIZES[: rng.randint(1, 3)]
            return [
                (f"{c} / {s}", f"{code}-{scode}", {"顏色": c, "尺寸": s})
                for c, code in colours
                for s, scode in sizes
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

    def _plan(self, tables: dict[str, Table]) -> StreamPlan:
        return StreamPlan(
            seed=self.seed,
            today=self.today,
            customers=self.size.customers,
            chunk=self.size.chunk,
            orders_per_customer=self.size.orders / self.size.customers,
            brand_id=self.brand_id,
            now_t=self.now_t,
            window_start_t=self.window_start_t,
            program_start_t=self.program_start_t,
            anniversary=self.anniversary,
            day0=self.day0,
            day_text=self.day_text,
            tod_text=self.tod_text,
            plus_year=self.plus_year,
            weekdays=self.weekdays,
            store_cum=self.store_cum,
            online_cum=self.online_cum,
            online_hours=self.online_hours,
            surnames=SURNAMES,
            surname_table=self.surname_table,
            given_f=GIVEN_F,
            given_m=GIVEN_M,
            email_domains=EMAIL_DOMAINS,
            districts=DISTRICTS,
            roads=ROADS,
            tags=CUSTOMER_TAGS,
            home_store_table=self.home_store_table,
            stores=self.stores,
            variants=self.variants,
            variant_table=self.variant_table,
            tiers=self.tiers,
            coupons=self.coupons,
            shared_codes=self.shared_codes,
            welcome_cap=self.welcome_cap,
            freeship_cap=self.freeship_cap,
            earn_points=self.program.earn_points,
            earn_per_amount=self.program.earn_per_amount,
            point_value=self.program.point_value,
            max_redeem_percent=self.program.max_redeem_percent,
            agent_ids=self.agent_ids,
            shipping_fee=SHIPPING_FEE,
            free_shipping_from=FREE_SHIPPING_FROM,
            postgres=self.pg,
            tails={key: table.tail for key, table in tables.items()},
        )

    def _stream_customers(self, *, fast: bool) -> LoadResult:
        tables = {key: Table(key, model, cols) for key, model, cols in STREAMED}
        self.layout = layout = Layout(self._plan(tables), tables)
        layout.reserve()
        outside = not connection.in_atomic_block
        schema = None
        if fast and outside and not self._other_brands_present():
            schema = BulkLoadSchema([table.db_table for table in tables.values()])
            schema.drop()
            self.log(
                f"dropped {len(schema.indexes)} secondary indexes and unique constraints for the load; "
                "they are built again at the end"
            )
        bar = _Progress(self.size.customers, enabled=self.progress)
        started = time.perf_counter()
        try:
            try:
                if self.pg and outside:
                    loaded = load_in_workers(
                        layout, workers=self.workers, fast=fast, on_chunk=bar.update, log=self.log
                    )
                else:
                    loaded = load_in_process(layout, fast=fast, on_chunk=bar.update, log=self.log)
            except LoadError as exc:
                raise SeedError(f"seeding the customers failed: {exc}") from exc
            bar.close()
            self.log(
                f"wrote {loaded.customers:,} customers and {sum(loaded.rows.values()):,} rows in "
                f"{time.perf_counter() - started:.0f} s ({loaded.workers} worker{'s' if loaded.workers > 1 else ''})"
            )
            return loaded
        finally:
            bar.close()
            if schema is not None:
                schema.restore(sessions=self.workers, log=self.log)

    def _other_brands_present(self) -> bool:
        return any(
            model._base_manager.exclude(brand_id=self.brand_id).exists()
            for model in (Customer, Order, OrderLine, PointsEntry)
        )

    def _finish(self, loaded: LoadResult) -> None:
        for code, count in loaded.coupon_uses.items():
            CouponCode.objects.filter(pk=self.shared_codes[code]).update(times_used=count)
        started = time.perf_counter()
        analyze([model._meta.db_table for _, model, _ in STREAMED], sessions=self.workers)
        if self.pg:
            self.log(f"analyzed the tables in {time.perf_counter() - started:.0f} s")
        # The dashboard's daily rollup, from the orders just written (they bypassed the services).
        built = rollups.rebuild(
            self.brand, days_per_chunk=90, customers_per_chunk=250_000
        )  # no other writers
        if self.pg:
            self.log(f"built the sales rollup in {built.seconds:.0f} s")

    def _counts(self, loaded: LoadResult) -> dict[str, int]:
        """demo_counts() without counting the big tables again: the load knows what it wrote."""
        brand = self.brand
        rows = loaded.rows
        return {
            "stores": Store.objects.filter(brand=brand).count(),
            "staff": User.objects.filter(brand=brand).count(),
            "products": Product.objects.filter(brand=brand).count(),
            "variants": Variant.objects.filter(brand=brand).count(),
            "customers": rows["customers"],
            "identities": rows["identities"],
            "orders": rows["orders"],
            "order_lines": rows["lines"],
            "refunds": rows["refunds"],
            "points_entries": rows["points"],
            "coupon_codes": rows["codes"] + len(self.shared_codes),
            "coupon_redemptions": rows["redemptions"],
            "orders_total": loaded.totals.get("orders_total", 0),
            "refunded_total": loaded.totals.get("refunded_total", 0),
            "points_balance": loaded.totals.get("points_balance", 0),
        }


class _Progress:
    """A tqdm bar made at the first update: after the worker processes are forked, so that they
    inherit none of its threads or locks."""

    def __init__(self, total: int, *, enabled: bool):
        self.total = total
        self.enabled = enabled
        self.bar: Any = None

    def update(self, n: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.total,
                unit=" customers",
                unit_scale=True,
                file=sys.stderr,
                desc="seeding",
                smoothing=0.1,
            )
        self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


# --- public entry points --------------------------------------------------------------------------------


def demo_brand() -> Brand | None:
    return Brand.objects.filter(slug=DEMO_SLUG).first()


def demo_counts(brand: Brand) -> dict[str, int]:
    """Key figures of a seeded brand: row counts and money sums (the determinism check compares these)."""
    orders = Order.objects.filter(brand=brand)
    sums = orders.aggregate(total=Sum("total"), refunded=Sum("refunded_total"), n=Count("id"))
    return {
        "stores": Store.objects.filter(brand=brand).count(),
        "staff": User.objects.filter(brand=brand).count(),
        "products": Product.objects.filter(brand=brand).count(),
        "variants": Variant.objects.filter(brand=brand).count(),
        "customers": Customer.objects.filter(brand=brand).count(),
        "identities": CustomerIdentity.objects.filter(brand=brand).count(),
        "orders": sums["n"] or 0,
        "order_lines": OrderLine.objects.filter(brand=brand).count(),
        "refunds": Refund.objects.filter(brand=brand).count(),
        "points_entries": PointsEntry.objects.filter(brand=brand).count(),
        "coupon_codes": CouponCode.objects.filter(brand=brand).count(),
        "coupon_redemptions": CouponRedemption.objects.filter(brand=brand).count(),
        "orders_total": int(sums["total"] or 0),
        "refunded_total": int(sums["refunded"] or 0),
        "points_balance": int(
            LoyaltyAccount.objects.filter(brand=brand).aggregate(s=Sum("balance"))["s"] or 0
        ),
    }


def seed_demo(
    *,
    size: str = "small",
    seed: int = 42,
    today: dt.date | None = None,
    reset: bool = False,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    workers: int | None = None,
    customers: int | None = None,
) -> SeedReport:
    """Create the demo brand. Refuses when it exists, unless `reset` (which deletes it first).

    workers: processes that generate and write customers on PostgreSQL (default: one per core;
    the data is the same for any number). customers: scale the size to this many customers (orders
    in proportion), for measuring sizes between the named ones.
    """
    if size not in SIZES:
        raise SeedError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
    if workers is not None and workers < 1:
        raise SeedError("workers must be at least 1")
    chosen = SIZES[size]
    if customers is not None:
        if customers < 1:
            raise SeedError("customers must be at least 1")
        chosen = dataclasses.replace(
            chosen, customers=customers, orders=round(chosen.orders * customers / chosen.customers)
        )
    existing = demo_brand()
    if existing is not None:
        if not reset:
            raise SeedError(
                f"a brand with slug {DEMO_SLUG!r} ({existing.name}) exists already; "
                "run with --reset to delete it and seed again"
            )
        (log or (lambda m: None))(f"deleting the existing demo brand {existing.name} …")
        purge_brand(existing)
    seeder = DemoSeeder(
        chosen, seed, today or timezone.localdate(), progress=progress, log=log, workers=workers
    )
    return seeder.run()


__all__ = [
    "DEMO_PASSWORD",
    "DEMO_SLUG",
    "SIZES",
    "DemoSeeder",
    "SeedError",
    "SeedReport",
    "demo_brand",
    "demo_counts",
    "ean13",
    "purge_brand",
    "seed_demo",
]
