"""Coupons and points redeemed at stores' tills (POS), under 會員 → 門市折抵紀錄: each with its store,
till, staff member, time and whether the sale was voided, filtered by store and date. HQ sees every
store's; a store manager their own store's (omo/loyalty/till_records.py). The order and customer
pages show the same records for one sale or one customer (`records_context`)."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast
from zoneinfo import ZoneInfo

from django import forms
from django.http import HttpResponse
from django.utils.translation import pgettext_lazy

from omo.console import selectors
from omo.console.access import ConsoleRequest, actor_for, console_view
from omo.console.forms import DateInput, FilterForm
from omo.console.pages import paginate, render_page
from omo.loyalty import till_records
from omo.staff.models import Store
from omo.staff.roles import Scope

# The list shows the latest this many records for the filters (a page of 50 at a time).
LIST_LIMIT = 1000


class TillFilterForm(FilterForm):
    store: forms.ModelChoiceField[Store] = forms.ModelChoiceField(
        label=pgettext_lazy("console", "門市"),
        required=False,
        queryset=None,
        empty_label=pgettext_lazy("console", "全部門市"),
    )
    date_from = forms.DateField(label=pgettext_lazy("console", "起日"), required=False, widget=DateInput())
    date_to = forms.DateField(label=pgettext_lazy("console", "迄日"), required=False, widget=DateInput())

    def __init__(self, data: Any = None, *, user: Any, **kwargs: Any):
        super().__init__(data, **kwargs)
        cast("forms.ModelChoiceField[Store]", self.fields["store"]).queryset = selectors.stores_for(user)
        if user.scope == Scope.STORE:
            del self.fields["store"]  # a store manager sees their own store's only

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", pgettext_lazy("console", "迄日不可早於起日。"))
        return cleaned


def _day_start(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=zone)


def records_context(request: ConsoleRequest, records: list[till_records.TillRecord]) -> dict[str, Any]:
    """The records with the ids of their customers this user may open (others show no name)."""
    ids = {record.customer.pk for record in records if record.customer is not None}
    openable = set(selectors.customers_for(request.user).filter(pk__in=ids).values_list("pk", flat=True))
    return {"till_records": records, "till_customers": openable}


@console_view("loyalty.read")
def till_list(request: ConsoleRequest) -> HttpResponse:
    user = request.user
    form = TillFilterForm(request.GET, user=user)
    zone = ZoneInfo(user.brand.time_zone)
    store = form.value("store") if "store" in form.fields else None
    start, end = form.value("date_from"), form.value("date_to")
    if "date_to" in form.errors:
        end = None
    records = till_records.till_records(
        actor_for(request),
        store_id=store.pk if store is not None else None,
        since=_day_start(start, zone) if start else None,
        until=_day_start(end + dt.timedelta(days=1), zone) if end else None,
        limit=LIST_LIMIT,
    )
    page = paginate(request, cast(Any, records))
    return render_page(
        request,
        "console/loyalty/till.html",
        {
            "form": form,
            "page": page,
            "limit": LIST_LIMIT,
            "at_limit": len(records) >= LIST_LIMIT,
            **records_context(request, list(page.object_list)),
        },
    )
