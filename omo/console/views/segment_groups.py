"""顧客分群 (/console/segments/groups/): the ready-made segments (value groups, activity against the
brand's measured repurchase interval, channel mix, top 20%, the ten RFM segments) with their
definitions and members counted now, when the scores were computed and the RFM cut points. HQ roles
read it (`scores.read`); HQ admins queue a recomputation with 立即重新計算 (`scores.refresh`).
docs/rfm.md says every rule.
"""

from __future__ import annotations

from itertools import groupby

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from omo.console.access import ConsoleRequest, actor_for, console_view
from omo.console.pages import render_page
from omo.segments import score_overview, score_tasks


@console_view("scores.read")
def segment_groups(request: ConsoleRequest) -> HttpResponse:
    brand = request.user.brand
    found = score_overview.overview(brand.pk)
    sections = [
        {"heading": heading, "groups": list(groups)}
        for heading, groups in groupby(found.groups, key=lambda group: group.heading)
    ]
    thresholds = found.thresholds
    cut_points = (
        [
            (pgettext("segment groups", "R（距上次購買天數）"), thresholds.r, False),
            (pgettext("segment groups", "F（有效訂單數）"), thresholds.f, False),
            (pgettext("segment groups", "M（淨消費金額）"), thresholds.m, True),
        ]
        if thresholds.r
        else []
    )
    return render_page(
        request,
        "console/segments/groups.html",
        {
            "overview": found,
            "sections": sections,
            "cut_points": cut_points,
            "may_refresh": request.user.can("scores.refresh"),
        },
    )


@console_view("scores.refresh")
@require_POST
def segment_groups_refresh(request: ConsoleRequest) -> HttpResponse:
    queued, _requested_at = score_tasks.request_scores(request.user.brand, actor=actor_for(request))
    if queued:
        messages.success(request, pgettext("segment groups", "已排入重新計算，完成後人數會自動更新。"))
    else:
        messages.info(request, pgettext("segment groups", "已有一次重新計算在排隊中，請稍候。"))
    return redirect("console:segment_groups")
