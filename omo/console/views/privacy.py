"""Consent and personal data (個資) in the console: a customer's consent, PDPA export and erasure,
and the brand's retention periods.

Who may do what:
- see a customer's consent and its history: whoever may open the customer (customers.read, scoped);
- record a consent decision for the customer: customers.write (HQ, or the store manager for the store's customers);
- export or erase: HQ admins only (permission customers.privacy); both are audited;
- retention periods: HQ admins (brand-wide settings).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import pgettext, pgettext_lazy
from django.views.decorators.http import require_POST

from omo.console import selectors
from omo.console.access import ConsoleRequest, actor_for, console_view, forbidden
from omo.console.pages import render_page
from omo.core import audit
from omo.customers import consent, privacy, retention
from omo.customers.models import Consent, Customer


def _customer(request: ConsoleRequest, pk: int) -> Customer:
    try:
        return selectors.customer_detail(request.user, pk)
    except Customer.DoesNotExist as exc:
        raise Http404 from exc


def _not_privacy_role(request: ConsoleRequest) -> HttpResponse | None:
    if privacy.may_handle_personal_data(request.user.role):
        return None
    return forbidden(request, pgettext("console", "只有總部管理員可以匯出或刪除顧客個資。"), show_home=True)


class ConsentForm(forms.Form):
    platform = forms.ChoiceField(label=pgettext_lazy("console", "平台"), choices=Consent.Platform.choices)
    purpose = forms.ChoiceField(label=pgettext_lazy("console", "用途"), choices=Consent.Purpose.choices)
    granted = forms.TypedChoiceField(
        label=pgettext_lazy("console", "決定"),
        choices=[
            ("1", pgettext_lazy("console", "同意")),
            ("0", pgettext_lazy("console", "不同意 / 取消訂閱")),
        ],
        coerce=lambda value: value == "1",
    )
    note = forms.CharField(label=pgettext_lazy("console", "備註"), max_length=255, required=False)


class EraseForm(forms.Form):
    reason = forms.CharField(
        label=pgettext_lazy("console", "刪除原因"),
        max_length=privacy.MAX_REASON,
        help_text=pgettext_lazy("console", "例如：顧客於 2025/03/01 來電要求刪除個資。會記錄在稽核紀錄中。"),
    )
    confirmation = forms.CharField(
        label=pgettext_lazy("console", "確認"),
        max_length=20,
        help_text=pgettext_lazy("console", "請輸入「刪除」以確認。此動作無法復原。"),
    )

    def clean_confirmation(self) -> str:
        typed = self.cleaned_data["confirmation"].strip()
        if typed not in (privacy.ERASE_CONFIRMATION, "ERASE"):
            raise forms.ValidationError(pgettext("console", "請輸入「刪除」以確認。"))
        return typed


class RetentionForm(forms.Form):
    event_retention_days = forms.IntegerField(
        label=pgettext_lazy("console", "原始事件保留天數"),
        min_value=retention.MIN_DAYS,
        max_value=retention.MAX_DAYS,
    )
    receipt_retention_days = forms.IntegerField(
        label=pgettext_lazy("console", "Webhook 收據保留天數"),
        min_value=retention.MIN_DAYS,
        max_value=retention.MAX_DAYS,
    )


@console_view("customers.read")
def customer_privacy(request: ConsoleRequest, pk: int) -> HttpResponse:
    customer = _customer(request, pk)
    audit.record(actor_for(request), "customer.consent_viewed", customer)
    return render_page(
        request,
        "console/customers/privacy.html",
        {
            "customer": customer,
            "consent": consent.current_consent(customer),
            "history": consent.history(customer),
            "form": ConsentForm(),
            "may_record": request.user.can("customers.write"),
            "may_handle_personal_data": privacy.may_handle_personal_data(request.user.role),
        },
    )


@console_view("customers.write")
@require_POST
def customer_consent(request: ConsoleRequest, pk: int) -> HttpResponse:
    customer = _customer(request, pk)
    form = ConsentForm(request.POST)
    if not form.is_valid():
        for name, errors in form.errors.items():
            messages.error(request, f"{form.fields[name].label}：{' '.join(str(error) for error in errors)}")
        return redirect("console:customer_privacy", pk=customer.pk)
    try:
        row = consent.record_consent(
            customer,
            platform=form.cleaned_data["platform"],
            purpose=form.cleaned_data["purpose"],
            granted=form.cleaned_data["granted"],
            source="console",
            note=form.cleaned_data["note"],
            actor=actor_for(request),
        )
    except consent.ConsentError as exc:
        messages.error(request, f"{exc.field}：{exc.message}")
        return redirect("console:customer_privacy", pk=customer.pk)
    if row is None:
        messages.info(request, pgettext("console", "與目前的紀錄相同，未新增。"))
    else:
        messages.success(request, pgettext("console", "已記錄同意狀態。"))
    return redirect("console:customer_privacy", pk=customer.pk)


@console_view("customers.privacy", brand_wide=True)
@require_POST
def customer_export(request: ConsoleRequest, pk: int) -> HttpResponse:
    refused = _not_privacy_role(request)
    if refused is not None:
        return refused
    customer = _customer(request, pk)
    data = privacy.export_customer(customer, actor=actor_for(request))
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{privacy.export_filename(customer)}"'
    response["Cache-Control"] = "no-store"
    return response


@console_view("customers.privacy", brand_wide=True)
def customer_erase(request: ConsoleRequest, pk: int) -> HttpResponse:
    refused = _not_privacy_role(request)
    if refused is not None:
        return refused
    customer = _customer(request, pk)
    form = EraseForm(request.POST or None)
    if customer.erased_at is not None:
        messages.info(request, pgettext("console", "此顧客的個資已刪除。"))
        return redirect("console:customer_detail", pk=customer.pk)
    if request.method == "POST" and form.is_valid():
        try:
            report = privacy.erase_customer(
                customer, actor=actor_for(request), reason=form.cleaned_data["reason"]
            )
        except privacy.PrivacyError as exc:
            form.add_error(None, f"{exc.field}：{exc.message}")
        else:
            messages.success(
                request,
                pgettext("console", "已刪除顧客 #%(id)s 的個資（%(count)s 筆顧客資料）。訂單已匿名保留。")
                % {"id": customer.pk, "count": len(report.customer_ids)},
            )
            return redirect("console:customer_detail", pk=customer.pk)
    return render_page(
        request,
        "console/customers/privacy_erase.html",
        {"customer": customer, "form": form, "confirmation_word": privacy.ERASE_CONFIRMATION},
        status=400 if request.method == "POST" else 200,
    )


@console_view("customers.privacy", brand_wide=True)
def privacy_settings(request: ConsoleRequest) -> HttpResponse:
    refused = _not_privacy_role(request)
    if refused is not None:
        return refused
    current = retention.settings_for(request.user.brand)
    form = RetentionForm(
        request.POST or None,
        initial={
            "event_retention_days": current.event_retention_days,
            "receipt_retention_days": current.receipt_retention_days,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            retention.update_retention(
                request.user.brand,
                event_days=form.cleaned_data["event_retention_days"],
                receipt_days=form.cleaned_data["receipt_retention_days"],
                actor=actor_for(request),
            )
        except retention.RetentionError as exc:
            form.add_error(exc.field, exc.message)
        else:
            messages.success(request, pgettext("console", "已更新保存期限。"))
            return redirect("console:privacy_settings")
    return render_page(
        request,
        "console/customers/privacy_settings.html",
        {"form": form, "settings": current},
        status=400 if request.method == "POST" else 200,
    )
