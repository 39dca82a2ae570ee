"""Order fields: `orders.count` and `orders.spend`, over a window, sales channels, stores,
categories and products.

Counted orders are those of the analytics rollups: every status but cancelled; spend is net of
refunds (total − refunded). With a category or product filter, `orders.count` counts the orders
that hold such a line and `orders.spend` sums those lines only, after their refunded units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db.models import (
    BigIntegerField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.expressions import BaseExpression
from django.db.models.functions import Coalesce
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext, pgettext_lazy

from omo.catalog.models import Category, Product
from omo.commerce.models import Order, OrderLine, SalesChannel
from omo.segments.rules import values
from omo.segments.rules.errors import RuleError
from omo.segments.rules.spec import NUMERIC_OPS, Choice, Condition, Ctx, FieldSpec, Param, register
from omo.segments.rules.sql import aggregate_test, judge_number
from omo.segments.rules.values import quote
from omo.segments.rules.window import WINDOW_PARAMS, check_window, window_q, window_text
from omo.staff.models import Store

if TYPE_CHECKING:
    from omo.core.models import Brand

ONLINE = (SalesChannel.WEB_SHOP, SalesChannel.EXTERNAL_WEB, SalesChannel.MARKETPLACE)
IN_STORE = (SalesChannel.POS,)
CHANNEL_GROUPS: dict[str, tuple[str, ...]] = {"online": ONLINE, "store": IN_STORE}

NET = ExpressionWrapper(F("total") - F("refunded_total"), output_field=BigIntegerField())
LINE_NET = ExpressionWrapper(
    F("total") - F("total") * F("refunded_quantity") / F("quantity"), output_field=BigIntegerField()
)


def channel_choices(brand: Brand | None = None) -> list[Choice]:
    return [
        Choice("online", _("線上（官網、外部網店、電商平台）")),
        Choice("store", pgettext("segment rule", "門市")),
        *(Choice(value, str(label)) for value, label in SalesChannel.choices),
    ]


def store_choices(brand: Brand) -> list[Choice]:
    return [Choice(pk, name) for pk, name in Store.objects.filter(brand=brand).values_list("pk", "name")]


def category_choices(brand: Brand) -> list[Choice]:
    return [Choice(pk, name) for pk, name in Category.objects.filter(brand=brand).values_list("pk", "name")]


def _one_or_many(path: str, raw: Any) -> list[tuple[str, Any]]:
    if isinstance(raw, list):
        if not raw:
            raise RuleError(path, _("清單不能是空的。"))
        return [(f"{path}[{index}]", item) for index, item in enumerate(raw)]
    return [(path, raw)]


def check_channels(path: str, raw: Any, brand: Brand) -> tuple[str, ...]:
    check = values.one_of(channel_choices)
    chosen = [check(item_path, item, brand) for item_path, item in _one_or_many(path, raw)]
    return tuple(dict.fromkeys(channel for item in chosen for channel in CHANNEL_GROUPS.get(item, (item,))))


def _owned_ids(model: type[Any], what: Any) -> Any:
    check_many = values.owned(model, what)

    def check(path: str, raw: Any, brand: Brand) -> tuple[int, ...]:
        return tuple(check_many(_one_or_many(path, raw), brand))

    return check


_check_categories = _owned_ids(Category, lambda: pgettext("segment rule", "商品分類"))


def check_categories(path: str, raw: Any, brand: Brand) -> tuple[int, ...]:
    """The categories and every category under them."""
    found = set(_check_categories(path, raw, brand))
    frontier = set(found)
    while frontier:
        frontier = (
            set(Category.objects.filter(brand=brand, parent_id__in=frontier).values_list("pk", flat=True))
            - found
        )
        found |= frontier
    return tuple(sorted(found))


ORDER_FILTERS = (
    Param(
        "channel",
        pgettext_lazy("segment rule", "銷售通路"),
        "channel",
        check_channels,
        choices=channel_choices,
    ),
    Param(
        "store",
        pgettext_lazy("segment rule", "門市"),
        "store",
        _owned_ids(Store, lambda: pgettext("segment rule", "門市")),
        choices=store_choices,
    ),
    Param(
        "category",
        pgettext_lazy("segment rule", "商品分類"),
        "category",
        check_categories,
        choices=category_choices,
    ),
    Param(
        "product",
        pgettext_lazy("segment rule", "商品"),
        "product",
        _owned_ids(Product, lambda: pgettext("segment rule", "商品")),
    ),
)


def _line_filter(cond: Condition, prefix: str = "") -> Q | None:
    q = Q()
    if cond.param("category"):
        q &= Q(**{f"{prefix}product__category_id__in": cond.param("category")})
    if cond.param("product"):
        q &= Q(**{f"{prefix}product_id__in": cond.param("product")})
    return q if q else None


def _order_filter(ctx: Ctx, cond: Condition, prefix: str = "", *, brand: bool = True) -> Q:
    """Counted orders of the condition; `brand=False` when a customer narrows them already (so the
    customer's own index serves the query rather than the brand's)."""
    q = ~Q(**{f"{prefix}status": Order.Status.CANCELLED})
    if brand:
        q &= Q(**{f"{prefix}brand_id": ctx.brand.pk})
    q &= window_q(ctx, cond, f"{prefix}placed_at")
    if cond.param("channel"):
        q &= Q(**{f"{prefix}sales_channel__in": cond.param("channel")})
    if cond.param("store"):
        q &= Q(**{f"{prefix}store_id__in": cond.param("store")})
    return q


def _orders(ctx: Ctx, cond: Condition, *, brand: bool = True) -> QuerySet[Order]:
    """The brand's counted orders the condition is about (any customer)."""
    orders = Order.objects.filter(_order_filter(ctx, cond, brand=brand))
    lines = _line_filter(cond)
    if lines is not None:
        orders = orders.filter(Exists(OrderLine.objects.filter(lines, order=OuterRef("pk"))))
    return orders


def _lines(ctx: Ctx, cond: Condition, lines: Q, *, brand: bool = True) -> QuerySet[OrderLine]:
    return OrderLine.objects.filter(lines, _order_filter(ctx, cond, "order__", brand=brand))


def order_count_test(ctx: Ctx, cond: Condition) -> Q:
    return aggregate_test(_orders(ctx, cond), "customer", Count("pk"), cond.op, cond.value)


def order_spend_test(ctx: Ctx, cond: Condition) -> Q:
    lines = _line_filter(cond)
    if lines is None:
        return aggregate_test(_orders(ctx, cond), "customer", Sum(NET), cond.op, cond.value)
    return aggregate_test(_lines(ctx, cond, lines), "order__customer", Sum(LINE_NET), cond.op, cond.value)


# The customer's own value, for the explanation (one customer: the customer's order index serves it).


def order_count(ctx: Ctx, cond: Condition) -> BaseExpression:
    orders = _orders(ctx, cond, brand=False).filter(customer=OuterRef("pk")).order_by()
    return Coalesce(Subquery(orders.values("customer").annotate(n=Count("pk")).values("n")), 0)


def order_spend(ctx: Ctx, cond: Condition) -> BaseExpression:
    lines = _line_filter(cond)
    rows: QuerySet[Any, Any]
    if lines is None:
        orders = _orders(ctx, cond, brand=False).filter(customer=OuterRef("pk")).order_by()
        rows = orders.values("customer").annotate(s=Sum(NET)).values("s")
    else:
        own_lines = _lines(ctx, cond, lines, brand=False).filter(order__customer=OuterRef("pk")).order_by()
        rows = own_lines.values("order__customer").annotate(s=Sum(LINE_NET)).values("s")
    return Coalesce(Subquery(rows), 0, output_field=BigIntegerField())


def _names(model: type[Any], ids: Sequence[int], field: str) -> str:
    rows = dict(model._default_manager.filter(pk__in=ids).values_list("pk", field))
    return _("、").join(quote(str(rows.get(pk, pk))) for pk in ids)


def _channel_phrase(item: str) -> str:
    if item == "online":
        return _("在線上")
    if item == "store":
        return _("在門市")
    return _("在{channel}").format(channel=SalesChannel(item).label)


def words_joiner() -> str:
    """Chinese writes the parts of a phrase together, English with spaces."""
    return "" if (translation.get_language() or "").startswith("zh") else " "


def _scope(cond: Condition) -> str:
    """When, where and what: "過去 90 天在門市「台北信義店」買「上衣」類商品"."""
    parts = [window_text(cond)]
    raw_channel = cond.raw.get("channel")
    if raw_channel is not None:
        items = raw_channel if isinstance(raw_channel, list) else [raw_channel]
        parts.append(_("或").join(_channel_phrase(item) for item in items))
    if cond.param("store"):
        parts.append(_("在門市{stores}").format(stores=_names(Store, cond.param("store"), "name")))
    raw_category = cond.raw.get("category")
    if raw_category is not None:
        ids = raw_category if isinstance(raw_category, list) else [raw_category]
        parts.append(_("買{categories}類商品").format(categories=_names(Category, ids, "name")))
    if cond.param("product"):
        parts.append(_("買{products}").format(products=_names(Product, cond.param("product"), "title")))
    return words_joiner().join(parts)


def _count_fact(cond: Condition, actual: Any) -> str:
    return _("{scope}下單 {n} 次").format(scope=_scope(cond), n=actual or 0)


def _spend_fact(cond: Condition, actual: Any) -> str:
    return _("{scope}消費 {amount}").format(scope=_scope(cond), amount=values.show_money(actual or 0))


register(
    FieldSpec(
        name="orders.count",
        group="orders",
        label=lambda: _("訂單數"),
        description=lambda: _("已取消的訂單不算。"),
        value=values.COUNT,
        ops=NUMERIC_OPS,
        params=(*WINDOW_PARAMS, *ORDER_FILTERS),
        test=order_count_test,
        judge=judge_number,
        measure=order_count,
        fact=_count_fact,
        validate=check_window,
    ),
    FieldSpec(
        name="orders.spend",
        group="orders",
        label=lambda: _("消費金額"),
        description=lambda: _("扣除退款；已取消的訂單不算。以元為單位。"),
        value=values.MONEY,
        ops=NUMERIC_OPS,
        params=(*WINDOW_PARAMS, *ORDER_FILTERS),
        test=order_spend_test,
        judge=judge_number,
        measure=order_spend,
        fact=_spend_fact,
        validate=check_window,
    ),
)
