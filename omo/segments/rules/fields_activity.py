"""Fields from the activity apps: the bound clerk (binding) and points and tier (loyalty)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import BigIntegerField, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from omo.binding.models import Binding
from omo.loyalty.models import LoyaltyAccount, Tier
from omo.segments.rules import values
from omo.segments.rules.fields_customer import STORE, as_boolean, yes_no
from omo.segments.rules.spec import (
    BOOL_OPS,
    NUMERIC_OPS,
    SET_OPS,
    Choice,
    Condition,
    Ctx,
    FieldSpec,
    ValueType,
    register,
)
from omo.segments.rules.sql import compare, days_since
from omo.segments.rules.values import quote
from omo.staff.models import User

if TYPE_CHECKING:
    from omo.core.models import Brand


def _open_bindings() -> QuerySet[Binding]:
    return Binding.objects.filter(customer=OuterRef("pk"), ended_at__isnull=True)


def _clerk_name(pk: Any) -> str:
    if pk is None:
        return _("（無）")
    user = User.objects.filter(pk=pk).first()
    return quote(str(user)) if user is not None else f"#{pk}"


def clerk_choices(brand: Brand) -> list[Choice]:
    return [
        Choice(user.pk, str(user))
        for user in User.objects.filter(
            brand=brand, is_active=True, role__in=("clerk", "store_manager")
        ).order_by("pk")
    ]


CLERK = values.ids_value("clerk", User, lambda: pgettext("segment rule", "店員"), _clerk_name, clerk_choices)


def _in_open_binding(column: str) -> Any:
    def test(ctx: Ctx, cond: Condition) -> Q:
        positive = Q(Exists(_open_bindings().filter(**{f"{column}__in": cond.value})))
        return ~positive if cond.op == "not_in" else positive

    return test


def _binding_days_test(ctx: Ctx, cond: Condition) -> Q:
    if cond.op == "ne":
        return ~Q(Exists(_open_bindings().filter(days_since("started_at", "eq", cond.value, ctx.now))))
    return Q(Exists(_open_bindings().filter(days_since("started_at", cond.op, cond.value, ctx.now))))


def _binding_since_fact(cond: Condition, actual: Any) -> str:
    if actual is None:
        return _("沒有綁定店員")
    return _("綁定開始於 {date}").format(date=actual.date().isoformat())


def _tier_name(pk: Any) -> str:
    if pk is None:
        return _("（無）")
    name = Tier.objects.filter(pk=pk).values_list("name", flat=True).first()
    return quote(name) if name else f"#{pk}"


def tier_choices(brand: Brand) -> list[Choice]:
    return [Choice(pk, name) for pk, name in Tier.objects.filter(brand=brand).values_list("pk", "name")]


TIER = values.ids_value("tier", Tier, lambda: pgettext("segment rule", "會員等級"), _tier_name, tier_choices)


def _accounts() -> QuerySet[LoyaltyAccount]:
    return LoyaltyAccount.objects.filter(customer=OuterRef("pk"))


def _points(ctx: Ctx, cond: Condition) -> Any:
    return Coalesce(Subquery(_accounts().values("balance")[:1]), 0, output_field=BigIntegerField())


def _tier_test(ctx: Ctx, cond: Condition) -> Q:
    positive = Q(Exists(_accounts().filter(tier_id__in=cond.value)))
    return ~positive if cond.op == "not_in" else positive


POINTS = ValueType("points", values.integer(0, 10**12), lambda item: _("{n} 點").format(n=item))

register(
    FieldSpec(
        name="binding.bound",
        group="binding",
        label=lambda: _("有綁定店員"),
        value=values.BOOL,
        ops=BOOL_OPS,
        test=lambda ctx, cond: yes_no(Q(Exists(_open_bindings())), cond.value),
        measure=lambda ctx, cond: as_boolean(Q(Exists(_open_bindings()))),
        fact=lambda cond, actual: _("有綁定店員") if actual else _("沒有綁定店員"),
        shows_condition=False,
    ),
    FieldSpec(
        name="binding.clerk",
        group="binding",
        label=lambda: _("綁定店員"),
        description=lambda: _("目前綁定的店員；not_in 也包含沒有綁定的顧客。"),
        value=CLERK,
        ops=SET_OPS,
        test=_in_open_binding("clerk_id"),
        measure=lambda ctx, cond: Subquery(_open_bindings().values("clerk_id")[:1]),
        fact=lambda cond, actual: _("綁定店員：{clerk}").format(clerk=_clerk_name(actual)),
    ),
    FieldSpec(
        name="binding.store",
        group="binding",
        label=lambda: _("綁定店員的門市"),
        description=lambda: _("綁定時店員所屬的門市。"),
        value=STORE,
        ops=SET_OPS,
        test=_in_open_binding("store_id"),
        measure=lambda ctx, cond: Subquery(_open_bindings().values("store_id")[:1]),
        fact=lambda cond, actual: _("綁定門市：{store}").format(store=STORE.show(actual)),
    ),
    FieldSpec(
        name="binding.days",
        group="binding",
        label=lambda: _("綁定天數"),
        description=lambda: _("目前的綁定從開始到現在的整天數；沒有綁定的顧客不符合。"),
        value=values.DAYS,
        ops=NUMERIC_OPS,
        test=_binding_days_test,
        measure=lambda ctx, cond: Subquery(_open_bindings().values("started_at")[:1]),
        fact=_binding_since_fact,
    ),
    FieldSpec(
        name="loyalty.points",
        group="loyalty",
        label=lambda: _("點數餘額"),
        value=POINTS,
        ops=NUMERIC_OPS,
        test=lambda ctx, cond: compare(_points(ctx, cond), cond.op, cond.value),
        measure=_points,
        fact=lambda cond, actual: _("點數餘額：{points}").format(points=POINTS.show(actual or 0)),
    ),
    FieldSpec(
        name="loyalty.tier",
        group="loyalty",
        label=lambda: pgettext("segment rule", "會員等級"),
        description=lambda: _("not_in 也包含沒有等級的顧客。"),
        value=TIER,
        ops=SET_OPS,
        test=_tier_test,
        measure=lambda ctx, cond: Subquery(_accounts().values("tier_id")[:1]),
        fact=lambda cond, actual: _("會員等級：{tier}").format(tier=_tier_name(actual)),
    ),
)
