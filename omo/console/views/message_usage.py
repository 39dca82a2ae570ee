"""訊息用量與費用 (/console/cost/): the LINE message plan's use this month and last, per account,
clerk and store: free replies vs billed pushes, the included quota used and the NT$ cost of pushes
beyond it, shared by each one's pushes (omo/platforms/line/cost.py). HQ roles see the brand; a store
manager sees the account totals and their own store's rows; the plan itself is set under
設定 → 平台帳號 (HQ admins).
"""

from __future__ import annotations

from django.http import HttpResponse
from django.utils.translation import pgettext

from omo.console.access import ConsoleRequest, actor_for, console_view
from omo.console.pages import render_page
from omo.platforms.line import cost
from omo.staff.roles import Scope


@console_view("message_usage.read")
def message_usage(request: ConsoleRequest) -> HttpResponse:
    actor = actor_for(request)
    brand = request.user.brand
    this_month, last_month = cost.this_and_last_month(brand.time_zone)
    names = {inbox.pk: inbox.name for inbox in cost.line_inboxes(brand.pk)}
    months = [
        {
            "label": label,
            "month": chosen,
            "reports": [
                {"report": report, "name": names.get(report.inbox_id, "")}
                for report in cost.usage_for(actor, chosen)
            ],
        }
        for label, chosen in (
            (pgettext("message usage", "本月"), this_month),
            (pgettext("message usage", "上個月"), last_month),
        )
    ]
    return render_page(
        request,
        "console/message_usage.html",
        {
            "months": months,
            "has_inbox": bool(names),
            "may_set_plan": request.user.can("apikeys.manage"),
            "scope_store": request.user.store if request.user.scope == Scope.STORE else None,
        },
    )
