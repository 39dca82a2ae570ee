"""Catalogue (categories, products, variants, images) and inventory (locations, stock, ledger)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from omo.core.models import BrandScoped


class Category(BrandScoped):
    name = models.CharField(_("分類名稱"), max_length=120)
    name_en = models.CharField(max_length=120, blank=True)
    slug = models.SlugField(max_length=80, allow_unicode=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    sort_order = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "slug"], name="category_slug_per_brand")]
        ordering = ["sort_order", "id"]
        verbose_name = _("分類")
        verbose_name_plural = _("分類")

    def __str__(self) -> str:
        return self.name


class ProductStatus(models.TextChoices):
    """`Product.Status`; named on its own so the API's documents tell it from an order's `Status`."""

    ACTIVE = "active", _("上架")
    DRAFT = "draft", _("草稿")
    ARCHIVED = "archived", _("下架")


class Product(BrandScoped):
    Status = ProductStatus

    title = models.CharField(_("商品名稱"), max_length=200)
    title_en = models.CharField(max_length=200, blank=True)
    handle = models.SlugField(max_length=120, allow_unicode=True)
    description = models.TextField(_("商品描述"), blank=True)
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="products"
    )
    vendor = models.CharField(max_length=120, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "handle"], name="product_handle_per_brand")]
        indexes = [models.Index(fields=["brand", "status", "category"], name="product_listing")]
        ordering = ["id"]
        verbose_name = _("商品")
        verbose_name_plural = _("商品")

    def __str__(self) -> str:
        return self.title


class ProductImage(BrandScoped):
    """An image either uploaded (file) or hosted elsewhere (url)."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    file = models.FileField(upload_to="products/", blank=True)
    url = models.URLField(max_length=1000, blank=True)
    alt = models.CharField(max_length=200, blank=True)
    sort_order = models.IntegerField(default=0)
    # A JPEG or PNG copy within LINE's limits (omo/catalog/line_images.py), for an original LINE
    # cannot show (SVG, WebP, GIF, too large): a path on this site or an https URL; empty when the
    # original itself will do.
    line_url = models.CharField(max_length=1000, blank=True, default="")
    # When omo last looked at the original for its LINE copy (omo/catalog/line_copies.py), and, when
    # it could not make one, why: a code (line_copies.PROBLEMS) with a technical detail.
    line_checked_at = models.DateTimeField(null=True, blank=True)
    line_problem = models.CharField(max_length=40, blank=True, default="")
    line_problem_detail = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["sort_order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~(models.Q(file="") & models.Q(url="")), name="image_has_file_or_url"
            )
        ]

    def __str__(self) -> str:
        return self.src

    @property
    def src(self) -> str:
        return self.file.url if self.file else self.url


class Variant(BrandScoped):
    """A sellable unit. Prices are integer minor units of the brand currency (TWD: 1 元 = 100)."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    sku = models.CharField("SKU", max_length=64)
    barcode = models.CharField(_("條碼"), max_length=64, blank=True)
    title = models.CharField(_("規格"), max_length=120, blank=True, help_text="e.g. 黑 / M")
    options = models.JSONField(default=dict, blank=True)
    price = models.BigIntegerField(_("售價"))
    compare_at_price = models.BigIntegerField(_("原價"), null=True, blank=True)
    currency = models.CharField(max_length=3, default="TWD")
    is_active = models.BooleanField(default=True)
    sort_order = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["brand", "sku"], name="variant_sku_per_brand"),
            models.CheckConstraint(condition=models.Q(price__gte=0), name="variant_price_not_negative"),
        ]
        indexes = [models.Index(fields=["brand", "barcode"], name="variant_barcode")]
        ordering = ["sort_order", "id"]
        verbose_name = _("規格")
        verbose_name_plural = _("規格")

    def __str__(self) -> str:
        return f"{self.product.title} {self.title}".strip() if self.product_id else self.sku


class Location(BrandScoped):
    """Where stock sits: a store or a warehouse."""

    class Kind(models.TextChoices):
        STORE = "store", _("門市")
        WAREHOUSE = "warehouse", _("倉庫")

    code = models.CharField(max_length=30)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    store = models.OneToOneField(
        "staff.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="location"
    )
    ships_online_orders = models.BooleanField(
        default=False, help_text="stock here can be shipped to web-shop customers"
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "code"], name="location_code_per_brand")]
        ordering = ["kind", "code"]
        verbose_name = _("據點")
        verbose_name_plural = _("據點")

    def __str__(self) -> str:
        return self.name


class StockLevel(BrandScoped):
    """On-hand and reserved quantity of one variant at one location.

    available = on_hand - reserved. The database itself refuses a row where reserved exceeds
    on_hand or either is negative, so no code path can oversell.
    """

    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="stock_levels")
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="stock_levels")
    on_hand = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["variant", "location"], name="one_stock_row_per_variant_location"
            ),
            models.CheckConstraint(condition=models.Q(on_hand__gte=0), name="stock_on_hand_not_negative"),
            models.CheckConstraint(condition=models.Q(reserved__gte=0), name="stock_reserved_not_negative"),
            models.CheckConstraint(
                condition=models.Q(reserved__lte=models.F("on_hand")), name="stock_reserved_within_on_hand"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.variant_id}@{self.location_id}: {self.on_hand}/{self.reserved}"

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class StockMovement(BrandScoped):
    """Append-only ledger of every change to on_hand or reserved."""

    class Reason(models.TextChoices):
        RECEIPT = "receipt", _("進貨")
        ADJUSTMENT = "adjustment", _("盤點調整")
        RESERVE = "reserve", _("保留")
        RELEASE = "release", _("釋放保留")
        SALE = "sale", _("銷售出貨")
        RETURN = "return", _("退貨入庫")
        IMPORT = "import", _("匯入")
        TRANSFER = "transfer", _("調撥")

    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="+")
    on_hand_delta = models.IntegerField(default=0)
    reserved_delta = models.IntegerField(default=0)
    reason = models.CharField(max_length=12, choices=Reason.choices)
    reference = models.CharField(max_length=80, blank=True, help_text="e.g. order:123")
    note = models.CharField(max_length=250, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["variant", "location", "-id"], name="movement_by_stock")]

    def __str__(self) -> str:
        return f"{self.reason} {self.on_hand_delta:+}/{self.reserved_delta:+}"


class Reservation(BrandScoped):
    """Stock held for an order line until it is fulfilled (committed) or cancelled (released)."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("保留中")
        COMMITTED = "committed", _("已出貨")
        RELEASED = "released", _("已釋放")

    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="+")
    order_line = models.ForeignKey(
        "commerce.OrderLine", on_delete=models.CASCADE, related_name="reservations"
    )
    quantity = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.quantity}×{self.variant_id}@{self.location_id} {self.status}"
