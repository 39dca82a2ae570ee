"""The demo brand's fixed facts: stores and their hours, names and addresses to draw customers from,
the catalogue's series, colours, sizes and categories, loyalty tiers, and small deterministic value
helpers (prices, EAN-13, weighted sampling). omo/devtools/seed.py builds the brand from them.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from omo.commerce import services as commerce_services

DEMO_SLUG = "demo"
DEMO_NAME = "森日 Morning Forest"
DEMO_PASSWORD = "omo-demo"
DEMO_USERNAMES = ("admin", "manager", "clerk")


class SeedError(Exception):
    """A refusal the command shows as it is (for example: the demo brand exists already)."""


# --- how big a demo -----------------------------------------------------------------------------------


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

WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


Hours = tuple[tuple[str, str], ...]


def _hours(weekday: Hours, weekend: Hours, *, weekend_days: tuple[str, ...] = ("fri", "sat")) -> dict:
    return {d: [list(r) for r in (weekend if d in weekend_days else weekday)] for d in WEEK}


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


def shelf_price(rng: random.Random, low: int, high: int) -> int:
    """A price that looks like a Taiwanese shelf price (NT$1,280, NT$990) in minor units."""
    hundreds = rng.randint(low // 100, high // 100)
    ending = rng.choice((80, 90)) if hundreds else 90
    whole = max(low, min(high, hundreds * 100 + ending))
    return whole * 100


def cumulative(weights: Iterable[float]) -> list[float]:
    acc, out = 0.0, []
    for w in weights:
        acc += w
        out.append(acc)
    return out


def sample_table(weights: list[float], size: int = 4096) -> list[int]:
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
