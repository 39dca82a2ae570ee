"""The filters bar of the analytics pages and the CSV export they share.

Bad values are reported next to their field and left out; the others still apply (like every
console filter form). A store manager's store is forced and the store field is not offered; the
clerk list holds only staff the viewer may see, so another brand's or store's clerk is refused.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlencode

from django import forms
from django.http import HttpResponse
from django.utils.translation import pgettext, pgettext_lazy

from omo.analytics.reports.filters import Comparison, ReportFilters, today
from omo.commerce.models import SalesChannel
from omo.console import selectors
from omo.console.forms import DateInput, FilterForm
from omo.staff.actors import as_actor
from omo.staff.models import Store, User
from omo.staff.roles import Role, Scope
from omo.staff.selectors import visible_staff

if TYPE_CHECKING:
    from omo.staff.requests import BrandStaff

MAX_DAYS = 731  # two years: longer periods scan too many orders for an interactive page

COMPARISONS = (
    (Comparison.NONE, pgettext_lazy("analytics", "不比較")),
    (Comparison.PREVIOUS, pgettext_lazy("analytics", "前一期間")),
    (Comparison.LAST_YEAR, pgettext_lazy("analytics", "去年同期")),
)


class AnalyticsFilterForm(FilterForm):
    date_from = forms.DateField(label=pgettext_lazy("analytics", "起日"), required=False, widget=DateInput())
    date_to = forms.DateField(label=pgettext_lazy("analytics", "迄日"), required=False, widget=DateInput())
    compare = forms.ChoiceField(label=pgettext_lazy("analytics", "比較"), required=False, choices=COMPARISONS)
    store: forms.ModelChoiceField[Store] = forms.ModelChoiceField(
        label=pgettext_lazy("analytics", "門市"),
        required=False,
        queryset=None,
        empty_label=pgettext_lazy("analytics", "全部門市"),
    )
    clerk: forms.ModelChoiceField[User] = forms.ModelChoiceField(
        label=pgettext_lazy("analytics", "店員"),
        required=False,
        queryset=None,
        empty_label=pgettext_lazy("analytics", "全部店員"),
    )
    sales_channel = forms.ChoiceField(
        label=pgettext_lazy("analytics", "銷售通路"),
        required=False,
        choices=[("", pgettext_lazy("analytics", "全部通路")), *SalesChannel.choices],
    )

    def __init__(self, data: Any = None, *, user: BrandStaff, **kwargs: Any):
        super().__init__(data, **kwargs)
        self.user = user
        cast("forms.ModelChoiceField[Store]", self.fields["store"]).queryset = selectors.stores_for(user)
        cast("forms.ModelChoiceField[User]", self.fields["clerk"]).queryset = (
            visible_staff(as_actor(user))
            .filter(role__in=(Role.CLERK, Role.STORE_MANAGER))
            .order_by("display_name", "username")
        )
        if user.scope == Scope.STORE:
            del self.fields["store"]  # forced to their own store

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("date_from"), data.get("date_to")
        if first and last:
            if last < first:
                self.add_error("date_to", pgettext("analytics", "迄日不能早於起日。"))
            elif (last - first).days + 1 > MAX_DAYS:
                self.add_error("date_to", pgettext("analytics", "期間最長兩年（731 天）。"))
        return data

    def to_filters(self, *, default_days: int) -> tuple[ReportFilters, str]:
        brand = self.user.brand
        last = self.value("date_to") or today(brand)
        first = self.value("date_from") or last - dt.timedelta(days=default_days - 1)
        if first > last or (last - first).days + 1 > MAX_DAYS:  # a bad pair was reported; use the default
            last = today(brand)
            first = last - dt.timedelta(days=default_days - 1)
        if self.user.scope == Scope.STORE:
            store_id = self.user.store_id
        else:
            store = self.value("store")
            store_id = store.pk if store else None
        clerk = self.value("clerk")
        filters = ReportFilters(
            brand=brand,
            first=first,
            last=last,
            store_id=store_id,
            clerk_id=clerk.pk if clerk else None,
            sales_channel=self.value("sales_channel") or "",
        )
        return filters, self.value("compare") or Comparison.NONE


@dataclass(frozen=True)
class Table:
    """A report's table as shown and as exported."""

    header: Sequence[str]
    rows: Sequence[Sequence[Any]]


def csv_response(table: Table, filename: str, filters: ReportFilters) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"{filename}-{filters.first:%Y%m%d}-{filters.last:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response.write("\ufeff")  # a BOM, so spreadsheet programs read the Chinese headers as UTF-8
    writer = csv.writer(response)
    writer.writerow([str(cell) for cell in table.header])
    for row in table.rows:
        writer.writerow(["" if cell is None else cell for cell in row])
    return response


def query_string(params: Iterable[tuple[str, Any]], **changes: Any) -> str:
    merged = dict(params)
    merged.update(changes)
    return urlencode({key: value for key, value in merged.items() if value not in (None, "")})
