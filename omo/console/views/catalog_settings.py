"""設定 → 商品目錄 (HQ admin): the catalogue's LINE images.

Shows how many of the brand's product images still wait for a LINE copy, and the images that have
none of their own with the reason in a sentence; 「補做 LINE 圖片」 makes the missing copies in the
background (omo/catalog/line_copies.py), optionally looking again at the ones that had a problem.
"""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.translation import pgettext

from omo.catalog import line_copies, tasks
from omo.console.access import ConsoleRequest, actor_for, console_view
from omo.console.pages import render_page
from omo.core import audit


@console_view("catalog.write", brand_wide=True)
def catalog_settings(request: ConsoleRequest) -> HttpResponse:
    brand = request.user.brand
    if request.method == "POST":
        retry = request.POST.get("retry_problems") == "1"
        with transaction.atomic():
            audit.record(actor_for(request), "catalog.line_images_requested", brand, retry_problems=retry)
            transaction.on_commit(lambda: tasks.make_line_copies.enqueue(brand.pk, retry))
        messages.success(request, pgettext("console", "已開始補做 LINE 圖片，完成後此頁會顯示結果。"))
        return redirect("console:catalog_settings")
    problems = [
        {
            "image": image,
            "sentence": line_copies.problem_sentence(image.line_problem, image.line_problem_detail),
        }
        for image in line_copies.with_problems(brand)
    ]
    return render_page(
        request,
        "console/catalog/settings.html",
        {"progress": line_copies.progress(brand), "problems": problems},
    )
