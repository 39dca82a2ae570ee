"""Fields of the customer record: tags, profile attributes and home store; consent and
reachability per platform (the same reading as omo/customers/consent.py, in SQL).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import (
    BooleanField,
    Case,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    Value,
    When,
)
from django.db.models.expressions import BaseExpression
from django.db.models.functions import ExtractMonth
from django.utils.translation import gettext as _
from django.utils.translation import pgettext, pgettext_lazy

from omo.customers.consent import MESSAGING_PLATFORMS
from omo.customers.models import Consent
from omo.inbox.models import Contact
from omo.segments.rules import values
from omo.segments.rules.spec import (
    BOOL_OPS,
    CHOICE_OPS,
    NUMERIC_OPS,
    SET_OPS,
    TAG_OPS,
    Choice,
    Condition,
    Ctx,
    FieldSpec,
    Param,
    ValueType,
    register,
)
from omo.segments.rules.sql import JsonListHas, days_since, lookups
from omo.segments.rules.values import quote
from omo.staff.models import Store

if TYPE_CHECKING:
    from omo.core.models import Brand


def as_boolean(q: Q) -> BaseExpression:
    """A condition as a value (for the explanation): true or false, never NULL."""
    return Case(When(q, then=Value(True)), default=Value(False), output_field=BooleanField())


def yes_no(test: Q, op_value: bool) -> Q:
    return test if op_value else ~test


# --- tags -------------------------------------------------------------------------------------


def _tag_test(ctx: Ctx, cond: Condition) -> Q:
    has = Q(JsonListHas("tags", cond.value))
    return ~has if cond.op == "has_not" else has


def _tag_fact(cond: Condition, actual: Any) -> str:
    if actual:
        return _("有{tag}標籤").format(tag=values.TEXT.show(cond.value))
    return _("沒有{tag}標籤").format(tag=values.TEXT.show(cond.value))


# --- profile ----------------------------------------------------------------------------------


def _filled(column: str) -> Q:
    return ~Q(**{column: ""})


def _has_field(name: str, column: str, label: Any, yes: Any, no: Any) -> FieldSpec:
    return FieldSpec(
        name=name,
        group="profile",
        label=label,
        value=values.BOOL,
        ops=BOOL_OPS,
        test=lambda ctx, cond: yes_no(_filled(column), cond.value),
        measure=lambda ctx, cond: as_boolean(_filled(column)),
        fact=lambda cond, actual: yes() if actual else no(),
        shows_condition=False,
    )


MONTH = ValueType(
    "month",
    values.integer(1, 12),
    lambda item: _("{n} 月").format(n=item),
    choices=lambda brand: [Choice(month, _("{n} 月").format(n=month)) for month in range(1, 13)],
)


def _month_test(ctx: Ctx, cond: Condition) -> Q:
    positive = lookups("birthday__month", cond.op, cond.value)
    return ~positive if cond.op in ("ne", "not_in") else positive


def _signup_test(ctx: Ctx, cond: Condition) -> Q:
    positive = days_since("created_at", cond.op, cond.value, ctx.now)
    return ~positive if cond.op == "ne" else positive


def _date_fact(label: Any) -> Any:
    def fact(cond: Condition, actual: Any) -> str:
        shown = actual.date().isoformat() if hasattr(actual, "date") else _("沒有資料")
        return _("{label}：{value}").format(label=label(), value=shown)

    return fact


def _store_name(pk: Any) -> str:
    if pk is None:
        return _("（無）")
    name = Store.objects.filter(pk=pk).values_list("name", flat=True).first()
    return quote(name) if name else f"#{pk}"


def store_choices(brand: Brand) -> list[Choice]:
    return [Choice(pk, name) for pk, name in Store.objects.filter(brand=brand).values_list("pk", "name")]


STORE = values.ids_value("store", Store, lambda: pgettext("segment rule", "門市"), _store_name, store_choices)


def _home_store_test(ctx: Ctx, cond: Condition) -> Q:
    positive = Q(home_store_id__in=cond.value)
    return ~positive if cond.op == "not_in" else positive


# --- consent and reachability -----------------------------------------------------------------


def platform_choices(brand: Brand | None = None) -> list[Choice]:
    return [Choice(value, str(label)) for value, label in Consent.Platform.choices]


PLATFORM = Param(
    "platform",
    pgettext_lazy("segment rule", "平台"),
    "platform",
    values.one_of(platform_choices),
    required=True,
    choices=platform_choices,
)


def reachable_q(platform: str) -> Q:
    """Reachable as omo/customers/consent.py says: a chat contact on the platform that did not block
    the account (messaging platforms), a phone number (SMS), an email address (email)."""
    if platform in MESSAGING_PLATFORMS:
        return Q(
            Exists(
                Contact.objects.filter(
                    customer=OuterRef("pk"), inbox__platform=platform, blocked_at__isnull=True
                )
            )
        )
    if platform == Consent.Platform.SMS:
        return _filled("phone")
    return _filled("email")


def granted_q(platform: str, purpose: str) -> Q:
    """The holding decision (the latest row, by time then id) is a grant; without any row, the
    default: transactional yes, LINE marketing while following, anything else no."""
    decisions = Consent.objects.filter(customer=OuterRef("pk"), platform=platform, purpose=purpose)
    later = Consent.objects.filter(customer=OuterRef("customer"), platform=platform, purpose=purpose).filter(
        Q(recorded_at__gt=OuterRef("recorded_at"))
        | Q(recorded_at=OuterRef("recorded_at"), pk__gt=OuterRef("pk"))
    )
    holding_grant = Q(Exists(decisions.filter(granted=True).exclude(Exists(later))))
    if purpose == Consent.Purpose.TRANSACTIONAL:
        default = Q()
    elif platform == Consent.Platform.LINE:
        default = Q(
            Exists(
                Contact.objects.filter(
                    customer=OuterRef("pk"), inbox__platform="line", is_follower=True, blocked_at__isnull=True
                )
            )
        )
    else:
        return holding_grant
    return holding_grant | (~Q(Exists(decisions)) & default)


def _consent_field(purpose: str, label: Any) -> FieldSpec:
    def fact(cond: Condition, actual: Any) -> str:
        platform = dict(Consent.Platform.choices)[cond.param("platform")]
        if actual:
            return _("已同意在 {platform} 接收{purpose}").format(platform=platform, purpose=label())
        return _("未同意在 {platform} 接收{purpose}").format(platform=platform, purpose=label())

    return FieldSpec(
        name=f"consent.{purpose}",
        group="consent",
        label=lambda: _("同意接收{purpose}").format(purpose=label()),
        description=lambda: _(
            "依最新一筆同意紀錄；沒有紀錄時依預設（交易通知可傳；LINE 好友可收行銷訊息）。"
        ),
        value=values.BOOL,
        ops=BOOL_OPS,
        params=(PLATFORM,),
        test=lambda ctx, cond: yes_no(granted_q(cond.param("platform"), purpose), cond.value),
        measure=lambda ctx, cond: as_boolean(granted_q(cond.param("platform"), purpose)),
        fact=fact,
        shows_condition=False,
    )


def _reachable_fact(cond: Condition, actual: Any) -> str:
    platform = dict(Consent.Platform.choices)[cond.param("platform")]
    if actual:
        return _("可在 {platform} 聯絡").format(platform=platform)
    return _("無法在 {platform} 聯絡").format(platform=platform)


register(
    FieldSpec(
        name="tag",
        group="profile",
        label=lambda: pgettext("segment rule", "標籤"),
        description=lambda: _("完全相同的標籤才算（大小寫有別）。"),
        value=values.TEXT,
        ops=TAG_OPS,
        test=_tag_test,
        measure=lambda ctx, cond: JsonListHas("tags", cond.value),
        fact=_tag_fact,
        shows_condition=False,
    ),
    _has_field(
        "profile.has_phone",
        "phone",
        lambda: _("有手機號碼"),
        lambda: _("有手機號碼"),
        lambda: _("沒有手機號碼"),
    ),
    _has_field(
        "profile.has_email", "email", lambda: _("有 Email"), lambda: _("有 Email"), lambda: _("沒有 Email")
    ),
    _has_field(
        "profile.has_member_number",
        "member_number",
        lambda: _("有會員編號"),
        lambda: _("有會員編號"),
        lambda: _("沒有會員編號"),
    ),
    FieldSpec(
        name="profile.birthday_month",
        group="profile",
        label=lambda: _("生日月份"),
        value=MONTH,
        ops=CHOICE_OPS,
        test=_month_test,
        measure=lambda ctx, cond: ExtractMonth("birthday"),
        fact=lambda cond, actual: _("生日月份：{value}").format(
            value=MONTH.show(actual) if actual else _("沒有資料")
        ),
    ),
    FieldSpec(
        name="profile.signup_days",
        group="profile",
        label=lambda: _("加入天數"),
        description=lambda: _("從成為顧客到現在的整天數。"),
        value=values.DAYS,
        ops=NUMERIC_OPS,
        test=_signup_test,
        measure=lambda ctx, cond: ExpressionWrapper(F("created_at"), output_field=DateTimeField()),
        fact=_date_fact(lambda: _("加入日期")),
    ),
    FieldSpec(
        name="home_store",
        group="profile",
        label=lambda: _("所屬門市"),
        value=STORE,
        ops=SET_OPS,
        test=_home_store_test,
        measure=lambda ctx, cond: ExpressionWrapper(F("home_store_id"), output_field=IntegerField()),
        fact=lambda cond, actual: _("所屬門市：{store}").format(store=_store_name(actual)),
    ),
    _consent_field("marketing", lambda: _("行銷訊息")),
    _consent_field("transactional", lambda: _("交易通知")),
    FieldSpec(
        name="reachable",
        group="consent",
        label=lambda: _("可聯絡"),
        description=lambda: _("LINE 等聊天平台：有未封鎖官方帳號的聯絡人；簡訊：有手機；Email：有 Email。"),
        value=values.BOOL,
        ops=BOOL_OPS,
        params=(PLATFORM,),
        test=lambda ctx, cond: yes_no(reachable_q(cond.param("platform")), cond.value),
        measure=lambda ctx, cond: as_boolean(reachable_q(cond.param("platform"))),
        fact=_reachable_fact,
        shows_condition=False,
    ),
)
