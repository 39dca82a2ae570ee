"""Demo data: 「森日 Morning Forest」, a Taiwanese lifestyle apparel and goods brand.

Stores, staff, a catalogue with stock, customers with identities, 12 months of orders from every
sales channel, refunds, coupons and a loyalty ledger that agrees with the orders.

Deterministic for (seed, today): one `random.Random(seed)` drives everything, customers are
generated in a fixed order and every date is an offset from `today`.

Memory stays bounded at any size: customers are generated and written in chunks, and nothing of a
chunk is kept once it is written. The big tables skip the ORM: PostgreSQL gets COPY FROM STDIN,
SQLite gets executemany, both with explicit ids taken from blocks reserved in the id sequences
(`setval(nextval() + n - 1)` on PostgreSQL, `sqlite_sequence` on SQLite), so foreign keys are
written without reading a single row back. A writer thread does the database work of one chunk
while the next one is generated.
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
import json
import queue
import random
import sys
import threading
import time
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import DatabaseError, connection, models, transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.text import slugify

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
TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")
DAY = 86400


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


def _base36(number: int, width: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = []
    for _ in range(width):
        number, rem = divmod(number, 36)
        out.append(digits[rem])
    return "".join(reversed(out))


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


# --- writing rows without the ORM ------------------------------------------------------------------


class IdBlocks:
    """Hands out primary keys from blocks reserved in the table's id sequence.

    Reserving moves the sequence past the block in one statement, so rows inserted by anyone else
    meanwhile take ids after it; gaps between blocks are harmless.
    """

    def __init__(self, model: type[models.Model], block: int):
        self.table = model._meta.db_table
        self.block = block
        self.next = 0
        self.end = 0  # exclusive

    def reserve(self) -> None:
        n = self.block
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'), nextval(pg_get_serial_sequence(%s, 'id')) + %s - 1)",
                    [self.table, self.table, n],
                )
                last = cursor.fetchone()[0]
            else:
                # AUTOINCREMENT never hands out a rowid at or below sqlite_sequence.seq, so moving
                # seq reserves the block (SQLite's setval).
                with transaction.atomic():
                    cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [self.table])
                    row = cursor.fetchone()
                    if row is None:
                        cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{self.table}"')
                        start = cursor.fetchone()[0]
                        cursor.execute(
                            "INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [self.table, start + n]
                        )
                    else:
                        start = row[0]
                        cursor.execute(
                            "UPDATE sqlite_sequence SET seq = %s WHERE name = %s", [start + n, self.table]
                        )
                    last = start + n
        self.next, self.end = last - n + 1, last + 1

    def take(self) -> int:
        if self.next == self.end:
            self.reserve()
        value = self.next
        self.next += 1
        return value


@dataclass
class TableSpec:
    """The columns we write explicitly, plus constants for any column we do not know about.

    Fields other engineers add later get their model default, so raw inserts keep working.
    """

    model: type[models.Model]
    attnames: tuple[str, ...]
    columns: list[str] = field(init=False)
    tail: tuple = field(init=False)

    def __post_init__(self) -> None:
        by_attname = {f.attname: f for f in self.model._meta.concrete_fields}
        missing = [a for a in self.attnames if a not in by_attname]
        if missing:
            raise SeedError(f"{self.model.__name__} has no field(s) {missing}")
        self.columns = [by_attname[a].column for a in self.attnames]
        tail = []
        for f in self.model._meta.concrete_fields:
            if f.attname in self.attnames:
                continue
            value = f.get_default()
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                value = timezone.now()
            self.columns.append(f.column)
            tail.append(f.get_db_prep_save(value, connection))
        self.tail = tuple(tail)


def _write(spec: TableSpec, rows: list[tuple]) -> None:
    if not rows:
        return
    tail = spec.tail
    table = spec.model._meta.db_table
    cols = ", ".join(f'"{c}"' for c in spec.columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
                write = copy.write_row
                if tail:
                    for row in rows:
                        write(row + tail)
                else:
                    for row in rows:
                        write(row)
        else:
            marks = ", ".join(["%s"] * len(spec.columns))
            data = [row + tail for row in rows] if tail else rows
            cursor.executemany(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', data)


# Row layouts of the streamed tables. The generator builds tuples in exactly this order.
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


class SecondaryIndexes:
    """Drop the non-unique indexes of the big tables for a bulk load and build them again after.

    Building an index once from sorted data is far cheaper than keeping ten indexes up to date
    through millions of random inserts (pg_restore loads the same way). Only used when the tables
    hold no other brand's rows, and always rebuilt, even when the load fails.
    """

    def __init__(self, tables: list[str]):
        self.tables = tables
        self.saved: list[tuple[str, str]] = []

    def drop(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
                FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
                WHERE c.relname = ANY(%s) AND c.relnamespace = 'public'::regnamespace
                  AND NOT i.indisprimary AND NOT i.indisunique
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
                """,
                [self.tables],
            )
            self.saved = cursor.fetchall()
            for name, _ in self.saved:
                cursor.execute(f"DROP INDEX IF EXISTS {name}")

    def rebuild(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '256MB'")
            for _, definition in self.saved:
                cursor.execute(definition.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1))
            cursor.execute("RESET maintenance_work_mem")
        self.saved = []


# --- the generator -----------------------------------------------------------------------------------


@dataclass
class SeedReport:
    size: str
    seed: int
    today: str
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class _Clerk:
    id: int
    code: str


@dataclass
class _StoreInfo:
    id: int
    code: str
    hours: list[list[tuple[int, int]]]  # per weekday (mon=0), ranges of local seconds of day
    clerks: list[_Clerk]
    manager: _Clerk


@dataclass
class _Counters:
    pos: int = 0
    web: int = 0
    external: int = 0
    marketplace: int = 0
    refunds: int = 0
    adjust: int = 0
    welcome_used: int = 0
    freeship_used: int = 0
    anniversary_used: int = 0


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
    ):
        """fast: PostgreSQL bulk-load mode (no FK triggers, indexes rebuilt after); default for medium and up."""
        self.size = size
        self.seed = seed
        self.today = today
        self.progress = progress
        self.log = log or (lambda message: None)
        self.rng = random.Random(seed)
        self.counters = _Counters()
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

    def ts(self, t: int) -> str:
        return self.day_text[t // DAY - self.day0] + self.tod_text[t % DAY]

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
        self._stream_customers(fast=fast)
        self._finish()
        from omo.customers import search

        search.backfill(self.brand_id)  # searchable by name, phone, email, member number, LINE name
        report.seconds = round(time.perf_counter() - started, 2)
        report.counts = demo_counts(self.brand)
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
            brand=self.brand, platform="line", name=f"{DEMO_NAME} LINE 官方帳號",
            external_id=str(rng.randrange(10**9, 10**10)), handle="@morningforest",
            bot_user_id="U" + "".join(rng.choice("0123456789abcdef") for _ in range(32)),
            secrets={
                "channel_secret": "".join(rng.choice("0123456789abcdef") for _ in range(32)),
                "access_token": "demo-" + "".join(rng.choice("0123456789abcdefghijklmnop") for _ in range(40)),
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
        self.stores: list[_StoreInfo] = []
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
                _StoreInfo(
                    store.pk,
                    store.code,
                    ranges,
                    [_Clerk(c.pk, c.employee_code) for c in clerks],
                    _Clerk(manager.pk, manager.employee_code),
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

    def _stream_customers(self, *, fast: bool) -> None:
        self.specs = {key: TableSpec(model, cols) for key, model, cols in STREAMED}
        block = max(1000, min(50_000, self.size.customers // 4))
        self.ids = {
            key: IdBlocks(model, block * (3 if key in ("orders", "lines", "points") else 1))
            for key, model, _ in STREAMED
        }
        self.customer_mean = self.size.orders / self.size.customers
        total = self.size.customers
        # A writer thread lets PostgreSQL / SQLite work on chunk k while Python generates chunk k+1.
        # Inside a caller's transaction (tests) a second connection could not see our rows, so write inline.
        threaded = not connection.in_atomic_block
        indexes = None
        if fast and threaded and not self._other_brands_present():
            indexes = SecondaryIndexes([model._meta.db_table for _, model, _ in STREAMED])
            indexes.drop()
            self.log(
                f"dropped {len(indexes.saved)} secondary indexes for the load; they are rebuilt at the end"
            )
        try:
            writer = _Writer(self.specs, fast=fast, threaded=threaded)
            bar = _progress(total, enabled=self.progress)
            try:
                for start in range(0, total, self.size.chunk):
                    stop = min(total, start + self.size.chunk)
                    writer.put(self._generate_chunk(start, stop))
                    bar.update(stop - start)
            finally:
                writer.close()
                bar.close()
        finally:
            if indexes is not None:
                started = time.perf_counter()
                indexes.rebuild()
                self.log(f"rebuilt the secondary indexes in {time.perf_counter() - started:.0f} s")

    def _other_brands_present(self) -> bool:
        return any(
            model._base_manager.exclude(brand_id=self.brand_id).exists()
            for model in (Customer, Order, OrderLine, PointsEntry)
        )

    def _generate_chunk(self, start: int, stop: int) -> dict[str, list[tuple]]:
        out: dict[str, list[tuple]] = {key: [] for key, _, _ in STREAMED}
        for index in range(start, stop):
            self._generate_customer(index, out)
        # Walk-in shoppers who give no phone: POS orders without a customer, ~10% of store sales.
        pos_orders = sum(1 for row in out["orders"] if row[5] == "pos")
        for _ in range(pos_orders // 10):
            self._generate_walk_in(out)
        return out

    def _pick_time(self, cum: list[float], lo_day: int, local_seconds: Callable[[int], int]) -> int:
        base = cum[lo_day - 1] if lo_day > 0 else 0.0
        u = base + self.rng.random() * (cum[-1] - base)
        day = min(bisect.bisect_left(cum, u), 364)
        return self.window_start_t + day * DAY + local_seconds(day)

    def _store_seconds(self, store: _StoreInfo, day: int) -> int:
        ranges = store.hours[self.weekdays[day]]
        start, end = ranges[int(self.rng.random() * len(ranges))]
        r = self.rng.random
        return start + int((end - start - 60) * (r() + r()) / 2)  # busiest mid-afternoon to evening

    def _online_seconds(self, day: int) -> int:
        return self.online_hours[int(self.rng.random() * 1024)] * 3600 + int(self.rng.random() * 3600)

    def _generate_customer(self, index: int, out: dict[str, list[tuple]]) -> None:
        rng = self.rng
        r = rng.random
        brand_id = self.brand_id
        ts = self.ts
        cid = self.ids["customers"].take()
        name, sur_roman, given_roman, female = self._person(rng)
        # A permutation of 0..10^8-1, so phones are unique without remembering them.
        phone = f"+8869{(index * 48271 + 12345679) % 100_000_000:08d}"
        email = ""
        if r() < 0.55:
            email = f"{given_roman}.{sur_roman}{index}@{EMAIL_DOMAINS[int(r() * len(EMAIL_DOMAINS))]}"
        birthday = None
        if r() < 0.85:
            age = 18 + int(47 * (r() * 0.6 + r() * 0.4))
            born = (
                self.today.replace(month=1, day=1)
                - dt.timedelta(days=365 * age)
                + dt.timedelta(days=int(r() * 365))
            )
            birthday = born.isoformat()
        member_number = f"MF{index + 1:08d}"
        store_index = self.home_store_table[int(r() * 1024)]
        home = self.stores[store_index]
        tags = []
        if r() < 0.45:
            tags = sorted({CUSTOMER_TAGS[int(r() * len(CUSTOMER_TAGS))] for _ in range(1 + int(r() * 2))})
        # Joined: a third before the 12-month window, the rest during it, more of them early on.
        if r() < 0.35:
            created = self.window_start_t - int(r() * 3 * 365 * DAY)
        else:
            created = self.window_start_t + int(365 * DAY * r() ** 2)
        created_day = max(0, (created - self.window_start_t) // DAY)

        # Orders: 15% never buy; the rest buy with a lognormal intensity (a Pareto-like spend).
        n_orders = 0
        if r() >= 0.15:
            # 0.85 buyers, and a buyer joining mid-window has on average 2/3 of it left: scale the mean up.
            mean = self.customer_mean / 0.85 / (0.35 + 0.65 * 2 / 3)
            remaining = (365 - created_day) / 365
            n_orders = min(180, max(1, round(mean * remaining * rng.lognormvariate(-0.405, 0.9))))
        segment = r()
        p_online = 0.0 if segment < 0.45 else 1.0 if segment < 0.75 else 0.3 + 0.4 * r()
        basket = rng.lognormvariate(-0.06, 0.35)
        favourite = home.clerks[int(r() * len(home.clerks))]
        orders = []
        for _ in range(n_orders):
            if r() < p_online:
                orders.append((self._pick_time(self.online_cum, created_day, self._online_seconds), 1))
            else:
                store = home if r() < 0.78 else self.stores[int(r() * len(self.stores))]
                t = self._pick_time(
                    self.store_cum, created_day, lambda day, s=store: self._store_seconds(s, day)
                )
                orders.append((t, store))
        orders.sort(key=lambda o: o[0])
        if orders:
            created = min(created, orders[0][0] - int(r() * 30 * DAY) - 600)

        created_text = ts(created)
        out["customers"].append(
            (
                cid,
                brand_id,
                name,
                phone,
                email,
                birthday,
                member_number,
                home.id,
                "[" + ", ".join(f'"{tag}"' for tag in tags) + "]",
                "",
                created_text,
                ts(orders[-1][0]) if orders else created_text,
            )
        )
        identities = out["identities"]
        source = "pos" if p_online < 1 else "shop"
        identities.append(
            (self.ids["identities"].take(), brand_id, cid, "phone", phone, True, source, created_text)
        )
        identities.append(
            (
                self.ids["identities"].take(),
                brand_id,
                cid,
                "member_number",
                member_number,
                True,
                "loyalty",
                created_text,
            )
        )
        if email:
            identities.append(
                (
                    self.ids["identities"].take(),
                    brand_id,
                    cid,
                    "email",
                    email,
                    r() < 0.6,
                    source,
                    created_text,
                )
            )

        state = _Loyalty()
        events: list[tuple] = []  # (time, seq, kind, payload) for refunds, adjustments and expiry
        seq = 0
        if created < self.program_start_t and r() < 0.4:
            # Points carried over from the old membership system; they expire a year later.
            migrated = 50 * (1 + int(r() * 16))
            self._points(
                out,
                state,
                cid,
                migrated,
                "adjust",
                None,
                "舊會員系統點數轉入",
                f"adjust:migrate:{cid}",
                self.program_start_t,
                expires=True,
            )
            state.migrated = migrated
            expiry = self.program_start_t + self.plus_year[self.program_start_t // DAY - self.day0]
            heapq.heappush(events, (expiry, seq, "expire", None))
            seq += 1
        if r() < 0.03:
            when = max(self.window_start_t + int(r() * 364 * DAY), created + 60)
            if when < self.now_t:
                heapq.heappush(events, (when, seq, "adjust", None))
                seq += 1
        personal = None
        if birthday and r() < 0.25:
            bd = dt.date.fromisoformat(birthday)
            occurrence = (
                bd.replace(year=self.today.year)
                if (bd.month, bd.day) != (2, 29)
                else dt.date(self.today.year, 2, 28)
            )
            if occurrence >= self.today:
                occurrence = occurrence.replace(year=occurrence.year - 1)
            issued = int(dt.datetime.combine(occurrence.replace(day=1), dt.time(9), TAIPEI).timestamp())
            if issued > created:
                personal = self._issue_code(out, cid, "birthday", "BD", index, issued)
        elif n_orders and r() < 0.06:
            issued = self.window_start_t + int(r() * 300 * DAY)
            if issued > created:
                personal = self._issue_code(out, cid, "winback", "WB", index, issued)

        contact = None
        first_paid = True
        for t, where in orders:
            while events and events[0][0] <= t:
                self._apply_event(out, state, cid, heapq.heappop(events))
            if where == 1:
                if contact is None:
                    contact = self._address(name, phone)
                order = self._online_order(
                    out, cid, t, name, phone, email, contact, basket, state, personal, first_paid
                )
            else:
                order = self._store_order(
                    out, cid, t, where, favourite if where is home else None, basket, state, personal
                )
            if order is None:
                continue
            first_paid = False
            if order.refund_at:
                heapq.heappush(events, (order.refund_at, seq, "refund", order))
                seq += 1
        while events:
            self._apply_event(out, state, cid, heapq.heappop(events))
        if personal is not None:
            out["codes"].append(personal.row())

        tier_threshold_index = bisect.bisect_right(self.tier_thresholds, state.net_spend) - 1
        _, tier_id, _ = self.tiers[tier_threshold_index]
        tier_since = state.tier_reached.get(tier_threshold_index, created)
        out["accounts"].append(
            (
                self.ids["accounts"].take(),
                brand_id,
                cid,
                state.balance,
                state.earned,
                tier_id,
                state.net_spend,
                ts(tier_since),
            )
        )

    def _issue_code(
        self, out: dict, cid: int, coupon_key: str, prefix: str, index: int, issued: int
    ) -> _Personal:
        # An odd multiplier not divisible by 3 permutes 0..36^7-1: unique codes, nothing remembered.
        code = prefix + _base36((index * 2654435761 + 97) % 36**7, 7)
        value, min_spend = (20_000, 150_000) if coupon_key == "birthday" else (15_000, 120_000)
        return _Personal(
            self.ids["codes"].take(),
            self.brand_id,
            self.coupons[coupon_key],
            code,
            cid,
            self.ts(issued),
            issued,
            issued + 45 * DAY,
            value,
            min_spend,
        )

    def _address(self, name: str, phone: str) -> str:
        r = self.rng.random
        city, district, zip_code = DISTRICTS[int(r() * len(DISTRICTS))]
        road = ROADS[int(r() * len(ROADS))]
        section = f"{1 + int(r() * 4)}段" if r() < 0.4 else ""
        floor = f"{2 + int(r() * 12)}樓" if r() < 0.7 else ""
        address = {
            "name": name,
            "phone": phone,
            "zip": zip_code,
            "city": city,
            "district": district,
            "address1": f"{road}{section}{1 + int(r() * 320)}號{floor}",
            "country": "TW",
        }
        return json.dumps(address, ensure_ascii=False)

    # -- orders ---------------------------------------------------------------------------------------------

    def _lines(self, order_id: int, t_text: str, basket: float) -> tuple[list[tuple], int]:
        r = self.rng.random
        table, variants = self.variant_table, self.variants
        n = 1
        while n < 5 and r() < 0.38 * basket:
            n += 1
        lines, subtotal, seen = [], 0, set()
        brand_id = self.brand_id
        take = self.ids["lines"].take
        for _ in range(n):
            vi = table[int(r() * 8192)]
            if vi in seen:
                continue
            seen.add(vi)
            vid, pid, sku, price, title = variants[vi]
            roll = r()
            qty = 1 if roll < 0.86 else 2 if roll < 0.97 else 3
            total = price * qty
            subtotal += total
            lines.append((take(), brand_id, order_id, vid, pid, sku, title, qty, price, 0, total, 0, t_text))
        return lines, subtotal

    def _coupon(
        self, t: int, subtotal: int, shipping: int, online: bool, first: bool, personal: _Personal | None
    ) -> tuple[int, str, str, int]:
        """(discount, code, kind, code id) or (0, '', '', 0)."""
        r = self.rng.random
        c = self.counters
        if (
            personal is not None
            and not personal.used
            and personal.issued <= t < personal.ends
            and subtotal >= personal.min_spend
            and r() < 0.55
        ):
            personal.used = True
            return personal.value, personal.code, "amount_off", personal.id
        if first and online and subtotal >= 100_000 and c.welcome_used < self.welcome_cap and r() < 0.3:
            c.welcome_used += 1
            return 10_000, "WELCOME100", "amount_off", self.shared_codes["WELCOME100"]
        if self.anniversary[0] <= t < self.anniversary[1] and subtotal >= 200_000 and r() < 0.35:
            c.anniversary_used += 1
            return subtotal * 10 // 100 // 100 * 100, "ANNIV10", "percent_off", self.shared_codes["ANNIV10"]
        if online and shipping and c.freeship_used < self.freeship_cap and r() < 0.05:
            c.freeship_used += 1  # worth the shipping fee, which checkout then drops: amount 0
            return 0, "FREESHIP", "free_shipping", self.shared_codes["FREESHIP"]
        return 0, "", "", 0

    def _redeem(self, state: _Loyalty, subtotal: int, discount: int) -> int:
        """Points to spend on this order: sometimes, never more than half the goods."""
        if state.balance < 100 or self.rng.random() >= 0.18:
            return 0
        cap = (subtotal - discount) * self.program.max_redeem_percent // 100 // self.program.point_value
        points = min(state.balance, cap) // 50 * 50
        return points if points >= 50 else 0

    def _finish_order(self, out: dict, o: _Order, state: _Loyalty | None) -> None:
        """Totals, status, points and coupon rows for an order whose lines are built."""
        ts = self.ts
        if o.coupon_id:
            o.discounts.append({"code": o.coupon_code, "kind": o.coupon_kind, "amount": o.coupon_discount})
        if o.points:
            o.discounts.append({"code": "", "kind": "points", "amount": o.points * self.program.point_value})
        discount_total = sum(d["amount"] for d in o.discounts)
        total = o.subtotal - discount_total + o.shipping
        t_text = o.t_text
        paid_at = (t_text if o.paid_t == o.t else ts(o.paid_t)) if o.paid_t else None
        cid = o.customer_id
        brand_id = self.brand_id
        if state is not None and o.status in ("paid", "fulfilled"):
            if o.points:
                self._points(
                    out,
                    state,
                    cid,
                    -o.points,
                    "redeem",
                    o.id,
                    f"訂單 {o.name} 折抵",
                    f"redeem:order:{o.id}",
                    o.t,
                    t_text=t_text,
                )
            mult = self.tiers[bisect.bisect_right(self.tier_thresholds, state.gross_spend) - 1][2]
            earned = (
                (total - o.shipping) // self.program.earn_per_amount * self.program.earn_points * mult // 100
            )
            if earned > 0:
                self._points(
                    out,
                    state,
                    cid,
                    earned,
                    "earn",
                    o.id,
                    f"訂單 {o.name}",
                    f"earn:order:{o.id}",
                    o.paid_t,
                    expires=True,
                    t_text=paid_at,
                )
                o.earned = earned
            state.gross_spend += total
            state.net_spend += total
            self._reach_tiers(state, o.paid_t)
        o.total = total
        if o.coupon_id:
            out["redemptions"].append(
                (self.ids["redemptions"].take(), brand_id, o.coupon_id, o.id, cid, o.coupon_discount, t_text)
            )
        out["orders"].append(
            [
                o.id,
                brand_id,
                o.source,
                o.external_id,
                o.name,
                o.channel,
                o.store_id,
                o.staff_id,
                o.staff_code,
                cid,
                o.contact_name,
                o.contact_phone,
                o.contact_email,
                o.fulfilment,
                o.address,
                o.pickup_store_id,
                o.payment,
                "TWD",
                o.subtotal,
                discount_total,
                o.shipping,
                0,
                total,
                0,
                _discounts_json(o.discounts) if o.discounts else "[]",
                o.coupon_code,
                o.points,
                o.status,
                "",
                "",
                t_text,
                paid_at,
                ts(o.fulfilled_t) if o.fulfilled_t else None,
                ts(o.cancelled_t) if o.cancelled_t else None,
                t_text,
            ]
        )
        o.row = out["orders"][-1]

    def _reach_tiers(self, state: _Loyalty, t: int) -> None:
        index = bisect.bisect_right(self.tier_thresholds, state.gross_spend) - 1
        if index not in state.tier_reached:
            state.tier_reached[index] = t

    def _maybe_refund(self, o: _Order, rate: float) -> None:
        r = self.rng.random
        if o.status not in ("paid", "fulfilled") or r() >= rate:
            return
        when = o.t + DAY + int(r() * 20 * DAY)
        if when >= self.now_t:
            return
        o.refund_at = when
        o.refund_full = len(o.lines) == 1 or r() < 0.55

    def _store_order(
        self,
        out: dict,
        cid: int | None,
        t: int,
        store: _StoreInfo,
        favourite: _Clerk | None,
        basket: float,
        state: _Loyalty | None,
        personal: _Personal | None,
    ) -> _Order:
        r = self.rng.random
        c = self.counters
        c.pos += 1
        day_text = self.day_text[(t + 8 * 3600) // DAY - self.day0].replace("-", "")
        if favourite is not None and r() < 0.6:
            clerk = favourite
        else:
            clerk = store.manager if r() < 0.05 else store.clerks[int(r() * len(store.clerks))]
        o = _Order(self.ids["orders"].take(), cid, t)
        o.source, o.channel = "pos-erp", "pos"
        o.external_id = o.name = f"{store.code}-{day_text}-{c.pos:07d}"
        o.store_id, o.staff_id, o.staff_code = store.id, clerk.id, clerk.code
        o.fulfilment, o.payment = "in_store", "pay_in_store"
        o.t_text = self.ts(t)
        o.lines, o.subtotal = self._lines(o.id, o.t_text, basket)
        out["lines"].extend(o.lines)
        o.status, o.paid_t = "paid", t
        if state is not None:
            o.coupon_discount, o.coupon_code, o.coupon_kind, o.coupon_id = self._coupon(
                t, o.subtotal, 0, False, False, personal
            )
            o.points = self._redeem(state, o.subtotal, o.coupon_discount)
        self._maybe_refund(o, 0.02)
        self._finish_order(out, o, state)
        return o

    def _online_order(
        self,
        out: dict,
        cid: int,
        t: int,
        name: str,
        phone: str,
        email: str,
        address: str,
        basket: float,
        state: _Loyalty,
        personal: _Personal | None,
        first: bool,
    ) -> _Order | None:
        r = self.rng.random
        c = self.counters
        o = _Order(self.ids["orders"].take(), cid, t)
        roll = r()
        if roll < 0.7:
            c.web += 1
            # As checkout writes them: the cart token as external id, "W" + the order id as name.
            o.source, o.channel, o.external_id = "shop", "web_shop", f"demo{c.web * 2654435761 % 2**48:012x}"
            o.name = f"W{o.id:07d}"
        elif roll < 0.82:
            c.external += 1
            o.source, o.channel, o.external_id = "91app", "external_web", f"TG{c.external:09d}"
            o.name = o.external_id
        else:
            c.marketplace += 1
            shopee = r() < 0.6
            o.source = "shopee" if shopee else "momo"
            o.channel = "marketplace"
            o.external_id = f"{'SP' if shopee else 'MO'}{c.marketplace:010d}"
            o.name = o.external_id
        o.contact_name, o.contact_phone, o.contact_email = name, phone, email
        o.t_text = self.ts(t)
        o.lines, o.subtotal = self._lines(o.id, o.t_text, basket)
        out["lines"].extend(o.lines)
        pickup = o.channel == "web_shop" and r() < 0.15
        if pickup:
            store = self.stores[int(r() * len(self.stores))]
            o.fulfilment, o.pickup_store_id, o.address = "pickup", store.id, "{}"
            o.payment = "pay_in_store" if r() < 0.4 else "external"
        else:
            o.fulfilment, o.address = "ship", address
            o.payment = "cod" if o.channel == "web_shop" and r() < 0.25 else "external"
            o.shipping = SHIPPING_FEE if o.subtotal < FREE_SHIPPING_FROM else 0
        # Status: a few cancelled, cash-on-delivery from the last days still unpaid, the rest paid
        # (and older web-shop parcels delivered).
        roll = r()
        if roll < 0.04:
            o.status, o.cancelled_t = "cancelled", t + 600 + int(r() * 2 * DAY)
            if o.cancelled_t >= self.now_t:
                o.cancelled_t = t + 600
        elif (o.payment in ("cod", "pay_in_store")) and t > self.now_t - 3 * DAY:
            o.status = "placed"
        else:
            o.paid_t = t + 30 + int(r() * 300)
            o.status = "paid"
            if t < self.now_t - 5 * DAY and r() < 0.6:
                o.status, o.fulfilled_t = "fulfilled", o.paid_t + DAY + int(r() * 2 * DAY)
        if o.status != "cancelled":
            o.coupon_discount, o.coupon_code, o.coupon_kind, o.coupon_id = self._coupon(
                t, o.subtotal, o.shipping, True, first, personal
            )
            if o.coupon_kind == "free_shipping":
                o.shipping = 0
            if o.status != "placed":
                o.points = self._redeem(state, o.subtotal, o.coupon_discount)
        self._maybe_refund(o, 0.05)
        self._finish_order(out, o, state)
        return o if o.status != "cancelled" else None

    def _generate_walk_in(self, out: dict) -> None:
        store = self.stores[self.home_store_table[int(self.rng.random() * 1024)]]
        t = self._pick_time(self.store_cum, 0, lambda day: self._store_seconds(store, day))
        order = self._store_order(out, None, t, store, None, 0.8, None, None)
        if order.refund_at:
            self._refund(out, None, None, order, order.refund_at)

    # -- loyalty events -------------------------------------------------------------------------------------

    def _points(
        self,
        out: dict,
        state: _Loyalty,
        cid: int,
        delta: int,
        kind: str,
        order_id: int | None,
        reason: str,
        key: str,
        t: int,
        *,
        expires: bool = False,
        actor: int | None = None,
        t_text: str | None = None,
    ) -> None:
        expires_at = self.ts(t + self.plus_year[t // DAY - self.day0]) if expires else None
        out["points"].append(
            (
                self.ids["points"].take(),
                self.brand_id,
                cid,
                delta,
                kind,
                order_id,
                reason,
                key,
                expires_at,
                actor,
                t_text or self.ts(t),
            )
        )
        state.balance += delta
        if kind == "earn":
            state.earned += delta
        if delta < 0:
            state.debits -= delta

    def _apply_event(self, out: dict, state: _Loyalty, cid: int, event: tuple) -> None:
        t, _, kind, payload = event
        if kind == "expire":
            # Same rule as loyalty.expire_points: what is left of expired lots = expired credit - debits.
            amount = min(state.balance, state.migrated - state.debits)
            if amount > 0:
                self._points(out, state, cid, -amount, "expire", None, "點數到期", f"expire:seed:{cid}", t)
        elif kind == "adjust":
            self.counters.adjust += 1
            reason, delta = (("客服補償", 100), ("門市活動加碼", 200), ("生日加碼點數", 300))[
                int(self.rng.random() * 3)
            ]
            self._points(
                out,
                state,
                cid,
                delta,
                "adjust",
                None,
                reason,
                f"adjust:seed:{cid}:{self.counters.adjust}",
                t,
                expires=True,
                actor=self.agent_ids[int(self.rng.random() * len(self.agent_ids))],
            )
        elif kind == "refund":
            self._refund(out, state, cid, payload, t)

    def _refund(self, out: dict, state: _Loyalty | None, cid: int | None, o: _Order, t: int) -> None:
        row = o.row
        total = row[22]
        if total <= 0:
            return
        if o.refund_full:
            amount, lines = total, o.lines
        else:
            line = o.lines[int(self.rng.random() * len(o.lines))]
            amount, lines = min(line[10], total - 100), [line]
            if amount <= 0:
                return
        self.counters.refunds += 1
        refund_id = self.ids["refunds"].take()
        reason = ("尺寸不合", "顏色與預期不同", "商品瑕疵", "改變心意", "重複下單")[
            int(self.rng.random() * 5)
        ]
        line_json = json.dumps([{"line_id": ln[0], "quantity": ln[7]} for ln in lines])
        out["refunds"].append(
            (
                refund_id,
                self.brand_id,
                o.id,
                f"RF{self.counters.refunds:08d}",
                amount,
                reason,
                line_json,
                True,
                None,
                self.ts(t),
            )
        )
        # Refunded lines: rows are tuples, so swap in an updated copy in the chunk's list.
        line_rows = out["lines"]
        for ln in lines:
            position = self._line_position(line_rows, ln)
            line_rows[position] = ln[:11] + (ln[7],) + ln[12:]
        row[23] = amount
        row[27] = "refunded" if amount == total else "partially_refunded"
        if state is None:
            return
        state.net_spend -= amount
        if o.earned:
            target = min(o.earned, round(o.earned * amount / total))
            take = min(target, state.balance)
            if take > 0:
                self._points(
                    out,
                    state,
                    cid,
                    -take,
                    "reverse",
                    o.id,
                    f"訂單 {o.name} 退款",
                    f"reverse:refund:{refund_id}",
                    t,
                )

    @staticmethod
    def _line_position(rows: list[tuple], line: tuple) -> int:
        # Lines of a customer's orders sit near the end of the chunk's list: search backwards.
        line_id = line[0]
        for position in range(len(rows) - 1, -1, -1):
            if rows[position][0] == line_id:
                return position
        raise SeedError(f"order line {line_id} not found")

    # -- after the stream -------------------------------------------------------------------------------

    def _finish(self) -> None:
        c = self.counters
        used = {"WELCOME100": c.welcome_used, "ANNIV10": c.anniversary_used, "FREESHIP": c.freeship_used}
        for code, count in used.items():
            CouponCode.objects.filter(pk=self.shared_codes[code]).update(times_used=count)
        if self.pg:
            with connection.cursor() as cursor:
                for _, model, _ in STREAMED:
                    cursor.execute(f'ANALYZE "{model._meta.db_table}"')


@dataclass
class _Loyalty:
    balance: int = 0
    earned: int = 0
    debits: int = 0
    migrated: int = 0
    gross_spend: int = 0
    net_spend: int = 0
    tier_reached: dict[int, int] = field(default_factory=dict)


@dataclass
class _Personal:
    id: int
    brand_id: int
    coupon_id: int
    code: str
    customer_id: int
    created_text: str
    issued: int
    ends: int
    value: int
    min_spend: int
    used: bool = False

    def row(self) -> tuple:
        return (
            self.id,
            self.brand_id,
            self.coupon_id,
            self.code,
            self.customer_id,
            1,
            int(self.used),
            self.created_text,
        )


class _Order:
    """An order while it is being generated (slots: millions of them go through here)."""

    __slots__ = (
        "id",
        "customer_id",
        "t",
        "source",
        "channel",
        "external_id",
        "name",
        "store_id",
        "staff_id",
        "staff_code",
        "contact_name",
        "contact_phone",
        "contact_email",
        "fulfilment",
        "address",
        "pickup_store_id",
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
        "discounts",
        "lines",
        "total",
        "earned",
        "refund_at",
        "refund_full",
        "row",
        "t_text",
    )

    def __init__(self, order_id: int, customer_id: int | None, t: int):
        self.id, self.customer_id, self.t = order_id, customer_id, t
        self.store_id = self.staff_id = self.pickup_store_id = None
        self.staff_code = self.contact_name = self.contact_phone = self.contact_email = ""
        self.address = "{}"
        self.shipping = self.points = self.coupon_discount = self.coupon_id = self.total = self.earned = 0
        self.coupon_code = self.coupon_kind = ""
        self.paid_t = self.fulfilled_t = self.cancelled_t = self.refund_at = 0
        self.refund_full = False
        self.discounts: list[dict] = []
        self.lines: list[tuple] = []


# --- the writer ------------------------------------------------------------------------------------------


class _Writer:
    """Writes chunks in their own transactions, in a thread when the caller is not inside a transaction."""

    def __init__(self, specs: dict[str, TableSpec], *, fast: bool, threaded: bool):
        self.specs = specs
        self.fast = fast
        self.threaded = threaded
        self.error: BaseException | None = None
        if threaded:
            # Two chunks in flight at most: one being written, one waiting. Memory stays bounded.
            self.queue: queue.Queue = queue.Queue(maxsize=1)
            self.thread = threading.Thread(target=self._loop, name="seed-writer", daemon=True)
            self.thread.start()
        else:
            self._session_settings()

    def _session_settings(self) -> None:
        if connection.vendor != "postgresql" or not self.fast:
            return
        with connection.cursor() as cursor:
            # Losing the last few commits in a crash is fine for generated data, and waiting for
            # each WAL flush is not.
            cursor.execute("SET synchronous_commit = off")
        # Skip the foreign-key triggers, as pg_restore --disable-triggers does: the rows are
        # consistent by construction (tiny and small runs keep the checks and the tests prove it),
        # and checking 40 million references one by one would take longer than the load. Without
        # superuser rights this quietly keeps the checks: slower, same result.
        _try_replica_role(local=False)

    def _write_chunk(self, chunk: dict[str, list[tuple]]) -> None:
        with transaction.atomic():
            for key, _, _ in STREAMED:
                _write(self.specs[key], [tuple(row) for row in chunk[key]] if key == "orders" else chunk[key])

    def _loop(self) -> None:
        try:
            self._session_settings()
            while True:
                chunk = self.queue.get()
                if chunk is None:
                    return
                if self.error is None:
                    try:
                        self._write_chunk(chunk)
                    except BaseException as exc:  # surfaced in the generating thread
                        self.error = exc
        finally:
            connection.close()  # this thread's own connection; its session settings go with it

    def put(self, chunk: dict[str, list[tuple]]) -> None:
        if self.error is not None:
            raise self.error
        if self.threaded:
            self.queue.put(chunk)
        else:
            self._write_chunk(chunk)

    def close(self) -> None:
        if self.threaded:
            self.queue.put(None)
            self.thread.join()
        elif connection.vendor == "postgresql" and self.fast:
            with connection.cursor() as cursor:
                cursor.execute("RESET session_replication_role")
                cursor.execute("RESET synchronous_commit")
        if self.error is not None:
            raise self.error


def _discounts_json(discounts: list[dict]) -> str:
    # json.dumps is a tenth of the generator's time at ten million orders; the values are plain.
    return (
        "["
        + ", ".join(
            f'{{"code": "{d["code"]}", "kind": "{d["kind"]}", "amount": {d["amount"]}}}' for d in discounts
        )
        + "]"
    )


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, *, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(
        total=total, unit=" customers", unit_scale=True, file=sys.stderr, desc="seeding", smoothing=0.1
    )


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
) -> SeedReport:
    """Create the demo brand. Refuses when it exists, unless `reset` (which deletes it first)."""
    if size not in SIZES:
        raise SeedError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
    existing = demo_brand()
    if existing is not None:
        if not reset:
            raise SeedError(
                f"a brand with slug {DEMO_SLUG!r} ({existing.name}) exists already; "
                "run with --reset to delete it and seed again"
            )
        (log or (lambda m: None))(f"deleting the existing demo brand {existing.name} …")
        purge_brand(existing)
    seeder = DemoSeeder(SIZES[size], seed, today or timezone.localdate(), progress=progress, log=log)
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
