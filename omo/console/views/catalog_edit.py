"""商品 in the console: add and edit products, their variants (prices, barcodes, on/off), images
(uploaded or by URL) and stock per location. The rules live in omo.catalog (services, inventory);
these pages parse the form, call one service and show a refusal next to the field it names, in the
page's language. Product edits need catalog.write (HQ admin); stock needs stock.write, and a store
manager counts or adjusts only their own store's location."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils.text import slugify
from django.utils.translation import pgettext, pgettext_lazy

from omo.catalog import inventory, selectors, services
from omo.catalog.models import Location, Product, StockMovement, Variant
from omo.console.access import ConsoleRequest, actor_for, console_view, forbidden
from omo.console.pages import render_page
from omo.core.audit import Actor
from omo.core.errors import DomainError

# What a service's refusal about a field means, said to a person (the service speaks to programs).
CONFLICTS = {
    "handle": pgettext_lazy("console", "這個網址代稱已被其他商品使用。"),
    "sku": pgettext_lazy("console", "這個 SKU 已被其他規格使用。"),
}
MAX_PRICE = Decimal("99999999")


def _minor(amount: Decimal | None) -> int | None:
    """NT$ as typed (up to two decimals) → integer minor units."""
    return None if amount is None else int((amount * 100).to_integral_value())


def _major(minor: int | None) -> Decimal | None:
    return None if minor is None else (Decimal(minor) / 100).normalize()


def _price_field(label: Any, *, required: bool = True) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        min_value=Decimal(0),
        max_value=MAX_PRICE,
        decimal_places=2,
        max_digits=10,
        widget=forms.NumberInput(attrs={"step": "1", "inputmode": "decimal"}),
    )


def _show_refusal(form: forms.Form, exc: DomainError) -> None:
    field = exc.field or ""
    field = field.rsplit(".", 1)[-1]
    if field == "category_id":
        field = "category"
    message = str(CONFLICTS[field]) if exc.status == 409 and field in CONFLICTS else exc.message
    form.add_error(field if field in form.fields else None, message)


class ProductForm(forms.Form):
    title = forms.CharField(label=pgettext_lazy("console", "商品名稱"), max_length=200)
    title_en = forms.CharField(label=pgettext_lazy("console", "英文名稱"), max_length=200, required=False)
    handle = forms.CharField(
        label=pgettext_lazy("console", "網址代稱"),
        max_length=120,
        required=False,
        help_text=pgettext_lazy("console", "商品頁網址的一部分，例如 linen-shirt；新增時留白則由名稱產生。"),
    )
    category = forms.ModelChoiceField(
        label=pgettext_lazy("console", "分類"), queryset=Product.objects.none(), required=False
    )
    vendor = forms.CharField(label=pgettext_lazy("console", "品牌／供應商"), max_length=120, required=False)
    status = forms.ChoiceField(label=pgettext_lazy("console", "狀態"), choices=Product.Status.choices)
    description = forms.CharField(
        label=pgettext_lazy("console", "商品描述"), required=False, widget=forms.Textarea(attrs={"rows": 5})
    )

    def __init__(self, *args: Any, actor: Actor, creating: bool, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = selectors.visible_categories(actor)  # type: ignore[attr-defined]
        if not creating:
            self.fields["handle"].required = True
            self.fields["handle"].help_text = pgettext_lazy(
                "console", "商品頁網址的一部分；變更後，舊的商品卡連結將無法開啟。"
            )
        else:  # the first variant comes with the product: a product without one cannot be sold
            self.fields["sku"] = forms.CharField(label="SKU", max_length=64)
            self.fields["variant_title"] = forms.CharField(
                label=pgettext_lazy("console", "規格"),
                max_length=120,
                required=False,
                help_text=pgettext_lazy("console", "例如 黑 / M；只有一種規格可留白。"),
            )
            self.fields["price"] = _price_field(pgettext_lazy("console", "售價（元）"))

    def clean_handle(self) -> str:
        handle = (self.cleaned_data.get("handle") or "").strip()
        if not handle:
            handle = slugify(self.data.get("title_en") or self.data.get("title") or "", allow_unicode=True)
        if handle:
            try:
                handle = services.check_handle(handle)
            except DomainError:
                raise forms.ValidationError(
                    pgettext("console", "只能使用文字、數字、連字號（-）與底線（_），不能有空白。")
                ) from None
        return handle

    def product_values(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "title": data["title"].strip(),
            "title_en": data["title_en"].strip(),
            "handle": data["handle"],
            "category_id": data["category"].pk if data["category"] else None,
            "vendor": data["vendor"].strip(),
            "status": data["status"],
            "description": data["description"],
        }


class VariantForm(forms.Form):
    sku = forms.CharField(label="SKU", max_length=64)
    title = forms.CharField(
        label=pgettext_lazy("console", "規格"),
        max_length=120,
        required=False,
        help_text=pgettext_lazy("console", "例如 黑 / M"),
    )
    barcode = forms.CharField(label=pgettext_lazy("console", "條碼"), max_length=64, required=False)
    price = _price_field(pgettext_lazy("console", "售價（元）"))
    compare_at_price = _price_field(pgettext_lazy("console", "原價（元）"), required=False)
    is_active = forms.BooleanField(label=pgettext_lazy("console", "販售中"), required=False, initial=True)

    def __init__(self, *args: Any, variant: Variant | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if variant is not None:
            del self.fields["sku"]  # the SKU is how POS, ERP and imports name it: fixed once made
            self.fields["compare_at_price"].help_text = pgettext_lazy(
                "console", "有填且高於售價時，商品頁顯示劃線原價。"
            )

    @staticmethod
    def initial_for(variant: Variant) -> dict[str, Any]:
        return {
            "title": variant.title,
            "barcode": variant.barcode,
            "price": _major(variant.price),
            "compare_at_price": _major(variant.compare_at_price),
            "is_active": variant.is_active,
        }

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        values = {
            "title": data["title"].strip(),
            "barcode": data["barcode"].strip(),
            "price": _minor(data["price"]),
            "compare_at_price": _minor(data["compare_at_price"]),
            "is_active": data["is_active"],
        }
        if "sku" in data:
            values["sku"] = data["sku"].strip()
        return values


class ImageForm(forms.Form):
    file = forms.FileField(
        label=pgettext_lazy("console", "上傳圖片"),
        required=False,
        help_text=pgettext_lazy("console", "JPEG、PNG、WebP 或 GIF，5 MB 以內。"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/gif"}),
    )
    url = forms.URLField(
        label=pgettext_lazy("console", "或圖片網址"), required=False, max_length=1000, assume_scheme="https"
    )
    alt = forms.CharField(
        label=pgettext_lazy("console", "替代文字"),
        max_length=200,
        required=False,
        help_text=pgettext_lazy("console", "描述圖片內容，給看不到圖片的人。"),
    )

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if bool(data.get("file")) == bool(data.get("url")) and not self.errors:
            raise forms.ValidationError(pgettext("console", "請上傳一個檔案，或填寫一個圖片網址（擇一）。"))
        upload = data.get("file")
        if upload is not None:
            if (upload.content_type or "") not in services.IMAGE_TYPES:
                self.add_error("file", pgettext("console", "這不是 JPEG、PNG、WebP 或 GIF 圖片。"))
            elif upload.size and upload.size > services.MAX_IMAGE_BYTES:
                self.add_error("file", pgettext("console", "圖片超過 5 MB。"))
        return data


class StockForm(forms.Form):
    MODES = (
        ("set", pgettext_lazy("console", "盤點：設為此數量")),
        ("add", pgettext_lazy("console", "進貨：增加")),
        ("remove", pgettext_lazy("console", "減少（損壞、遺失）")),
    )
    variant = forms.ModelChoiceField(label=pgettext_lazy("console", "規格"), queryset=Variant.objects.none())
    location = forms.ModelChoiceField(
        label=pgettext_lazy("console", "據點"), queryset=Location.objects.none()
    )
    mode = forms.ChoiceField(label=pgettext_lazy("console", "動作"), choices=MODES, initial="set")
    quantity = forms.IntegerField(label=pgettext_lazy("console", "數量"), min_value=0, max_value=1_000_000)
    note = forms.CharField(label=pgettext_lazy("console", "備註"), max_length=200, required=False)

    def __init__(self, *args: Any, variants: QuerySet[Variant], locations: list[Location], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["variant"].queryset = variants  # type: ignore[attr-defined]
        self.fields["variant"].label_from_instance = lambda v: f"{v.title or v.sku} ({v.sku})"  # type: ignore[attr-defined]
        self.fields["location"].queryset = Location.objects.filter(  # type: ignore[attr-defined]
            pk__in=[location.pk for location in locations]
        ).order_by("kind", "code")

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if data.get("mode") in ("add", "remove") and data.get("quantity") == 0:
            self.add_error("quantity", pgettext("console", "增加或減少的數量不能是 0。"))
        return data


def _form_page(
    request: ConsoleRequest,
    form: forms.Form,
    product: Product | None,
    heading: str,
    submit: str,
    **extra: Any,
) -> HttpResponse:
    """The one form page of these screens (console/catalog/form_page.html)."""
    context = {"form": form, "product": product, "heading": heading, "submit": submit, **extra}
    return render_page(request, "console/catalog/form_page.html", context)


def _product(request: ConsoleRequest, pk: int) -> Product:
    try:
        return selectors.product_detail(actor_for(request), pk)
    except Product.DoesNotExist as exc:
        raise Http404 from exc


def _variant(request: ConsoleRequest, product: Product, variant_pk: int) -> Variant:
    variant = selectors.visible_variants(actor_for(request)).filter(product=product, pk=variant_pk).first()
    if variant is None:
        raise Http404
    return variant


def stock_locations(request: ConsoleRequest) -> list[Location]:
    """The active locations whose stock this user may change (a store manager: their store's)."""
    actor = actor_for(request)
    return [
        location
        for location in selectors.active_locations(actor)
        if selectors.may_change_stock_at(actor, location)
    ]


def stock_form(request: ConsoleRequest, product: Product, data: Any = None) -> StockForm | None:
    """The stock form of a product page, or None for a user who may not change stock."""
    if not request.user.can("stock.write"):
        return None
    locations = stock_locations(request)
    if not locations:
        return None
    variants = (
        selectors.visible_variants(actor_for(request)).filter(product=product).order_by("sort_order", "id")
    )
    return StockForm(data, variants=variants, locations=locations, prefix="stock")


@console_view("catalog.write")
def product_create(request: ConsoleRequest) -> HttpResponse:
    actor = actor_for(request)
    form = ProductForm(request.POST or None, actor=actor, creating=True)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if not data["handle"]:
            form.add_error("handle", pgettext("console", "請填寫網址代稱（名稱無法自動產生）。"))
        else:
            variant = {"sku": data["sku"].strip(), "title": data["variant_title"].strip()}
            variant["price"] = _minor(data["price"])
            try:
                product = services.create_product(
                    request.user.brand, actor=actor, variants=[variant], **form.product_values()
                )
            except DomainError as exc:
                _show_refusal(form, exc)
            else:
                messages.success(
                    request, pgettext("console", "已新增商品「%(name)s」。") % {"name": product.title}
                )
                return redirect("console:product_detail", pk=product.pk)
    return _form_page(
        request,
        form,
        None,
        pgettext("console", "新增商品"),
        pgettext("console", "儲存"),
        note=pgettext("console", "先建立商品與第一個規格；其他規格、圖片與庫存可在商品頁加入。"),
        first_variant=True,
    )


@console_view("catalog.write")
def product_edit(request: ConsoleRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    product = _product(request, pk)
    initial = {
        "title": product.title,
        "title_en": product.title_en,
        "handle": product.handle,
        "category": product.category_id,
        "vendor": product.vendor,
        "status": product.status,
        "description": product.description,
    }
    form = ProductForm(request.POST or None, actor=actor, creating=False, initial=initial)
    if request.method == "POST" and form.is_valid():
        values = form.product_values()
        changes = {name: value for name, value in values.items() if value != getattr(product, name)}
        try:
            if changes:
                services.update_product(product, actor=actor, **changes)
        except DomainError as exc:
            _show_refusal(form, exc)
        else:
            messages.success(
                request, pgettext("console", "已更新商品「%(name)s」。") % {"name": product.title}
            )
            return redirect("console:product_detail", pk=product.pk)
    return _form_page(request, form, product, pgettext("console", "編輯商品"), pgettext("console", "儲存"))


@console_view("catalog.write")
def variant_create(request: ConsoleRequest, pk: int) -> HttpResponse:
    product = _product(request, pk)
    form = VariantForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            variant = services.add_variant(product, actor=actor_for(request), **form.values())
        except DomainError as exc:
            _show_refusal(form, exc)
        else:
            messages.success(request, pgettext("console", "已新增規格 %(sku)s。") % {"sku": variant.sku})
            return redirect("console:product_detail", pk=product.pk)
    return _form_page(request, form, product, pgettext("console", "新增規格"), pgettext("console", "儲存"))


@console_view("catalog.write")
def variant_edit(request: ConsoleRequest, pk: int, variant_pk: int) -> HttpResponse:
    product = _product(request, pk)
    variant = _variant(request, product, variant_pk)
    form = VariantForm(request.POST or None, variant=variant, initial=VariantForm.initial_for(variant))
    if request.method == "POST" and form.is_valid():
        values = form.values()
        changes = {name: value for name, value in values.items() if value != getattr(variant, name)}
        try:
            if changes:
                services.update_variant(variant, actor=actor_for(request), **changes)
        except DomainError as exc:
            _show_refusal(form, exc)
        else:
            messages.success(request, pgettext("console", "已更新規格 %(sku)s。") % {"sku": variant.sku})
            return redirect("console:product_detail", pk=product.pk)
    return _form_page(
        request,
        form,
        product,
        pgettext("console", "編輯規格"),
        pgettext("console", "儲存"),
        code=variant.sku,
        note=pgettext(
            "console",
            "SKU 是門市 POS、ERP 與匯入檔辨認此規格的代碼，建立後不能變更；不再販售請取消「販售中」。",
        ),
    )


@console_view("catalog.write")
def image_add(request: ConsoleRequest, pk: int) -> HttpResponse:
    product = _product(request, pk)
    form = ImageForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.add_image(
                product, actor=actor_for(request), url=data["url"] or "", file=data["file"], alt=data["alt"]
            )
        except DomainError as exc:
            _show_refusal(form, exc)
        else:
            messages.success(request, pgettext("console", "已新增圖片。"))
            return redirect("console:product_detail", pk=product.pk)
    return _form_page(
        request, form, product, pgettext("console", "新增圖片"), pgettext("console", "新增"), upload=True
    )


@console_view("catalog.write")
def image_remove(request: ConsoleRequest, pk: int, image_pk: int) -> HttpResponse:
    product = _product(request, pk)
    image = selectors.visible_product_images(actor_for(request)).filter(product=product, pk=image_pk).first()
    if image is None:
        raise Http404
    if request.method != "POST":
        return redirect("console:product_detail", pk=product.pk)
    services.remove_image(image, actor=actor_for(request))
    messages.success(request, pgettext("console", "已移除圖片。"))
    return redirect("console:product_detail", pk=product.pk)


@console_view("stock.write")
def stock_change(request: ConsoleRequest, pk: int) -> HttpResponse:
    """One stock count or adjustment from the product page; the ledger records who and why."""
    product = _product(request, pk)
    form = stock_form(request, product, request.POST if request.method == "POST" else None)
    if form is None:
        return forbidden(request, pgettext("console", "您沒有可調整庫存的據點。"), show_home=True)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        variant, location, quantity = data["variant"], data["location"], data["quantity"]
        try:
            if data["mode"] == "set":
                inventory.set_stock(variant, location, quantity, note=data["note"], user=request.user)
            else:
                delta = quantity if data["mode"] == "add" else -quantity
                reason = StockMovement.Reason.RECEIPT if delta > 0 else StockMovement.Reason.ADJUSTMENT
                inventory.adjust_stock(
                    variant, location, delta, reason=reason, note=data["note"], user=request.user
                )
        except inventory.StockError:
            level = (
                selectors.visible_stock_levels(actor_for(request))
                .filter(variant=variant, location=location)
                .first()
            )
            form.add_error(
                "quantity",
                pgettext(
                    "console", "現有 %(on_hand)s 件，其中 %(reserved)s 件已保留給訂單；庫存不能少於保留數量。"
                )
                % {"on_hand": level.on_hand if level else 0, "reserved": level.reserved if level else 0},
            )
        else:
            available = inventory.available_at(variant, location)
            messages.success(
                request,
                pgettext("console", "%(sku)s 在 %(location)s 的可售數量現為 %(available)s。")
                % {"sku": variant.sku, "location": location.name, "available": available},
            )
            return redirect("console:product_detail", pk=product.pk)
    return _form_page(
        request,
        form,
        product,
        pgettext("console", "調整庫存"),
        pgettext("console", "更新庫存"),
        note=pgettext("console", "盤點直接設定現有數量；進貨與減少記入庫存異動，並記下是誰調整。"),
    )
