"""CSV imports: upload, then follow the job's progress live and read its row-by-row report."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_http_methods

from omo.console.access import ConsoleRequest, actor_for, console_view
from omo.console.pages import paginate, render_page
from omo.core import imports
from omo.core.models import ImportJob

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=pgettext_lazy("console", "資料類型"), choices=ImportJob.Kind.choices)
    mode = forms.ChoiceField(
        label=pgettext_lazy("console", "錯誤處理"),
        choices=ImportJob.Mode.choices,
        initial=ImportJob.Mode.VALID_ROWS,
    )
    file = forms.FileField(label=pgettext_lazy("console", "CSV 檔案（UTF-8 或 Big5）"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(pgettext_lazy("console", "檔案超過 20 MB。"))
        return upload


def _job(request: ConsoleRequest, pk: int) -> ImportJob:
    job = ImportJob.objects.filter(brand=request.user.brand, pk=pk).first()
    if job is None:
        raise Http404
    return job


@console_view("imports.run")
@require_http_methods(["GET", "POST"])
def import_list(request: ConsoleRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = imports.create_job(
                request.user.brand,
                kind=form.cleaned_data["kind"],
                mode=form.cleaned_data["mode"],
                filename=upload.name,
                raw=upload.read(),
                actor=actor_for(request),
            )
        except imports.ImportFileError as exc:
            form.add_error("file", str(exc))
        else:
            messages.success(request, pgettext_lazy("console", "已開始匯入。"))
            return redirect("console:import_detail", pk=job.pk)
    jobs = ImportJob.objects.filter(brand=request.user.brand).defer("content").select_related("created_by")
    return render_page(
        request,
        "console/imports/list.html",
        {"form": form, "page": paginate(request, jobs)},
        status=400 if form.errors else 200,
    )


@console_view("imports.run")
def import_detail(request: ConsoleRequest, pk: int) -> HttpResponse:
    return render_page(request, "console/imports/detail.html", {"job": _job(request, pk)})


@console_view("imports.run")
def import_progress(request: ConsoleRequest, pk: int) -> JsonResponse:
    job = _job(request, pk)
    return JsonResponse(
        {
            "status": job.status,
            "status_label": job.get_status_display(),
            "total_rows": job.total_rows,
            "processed_rows": job.processed_rows,
            "applied_rows": job.applied_rows,
            "error_rows": job.error_rows,
            "percent": job.progress_percent,
            "finished": job.finished_at is not None,
        }
    )
