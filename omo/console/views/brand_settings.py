"""Settings pages: stores, staff, API keys and the audit log (HQ only)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import pgettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from omo.console import selectors
from omo.console.access import ConsoleRequest, actor_for, console_view
from omo.console.forms import ApiKeyForm, AuditFilterForm
from omo.console.pages import paginate, render_page
from omo.core.apikeys import ApiKeyError, create_api_key, revoke_api_key
from omo.core.models import ApiKey
from omo.staff.roles import Role, Scope


@console_view(brand_wide=True)
def store_list(request: ConsoleRequest) -> HttpResponse:
    return render_page(
        request,
        "console/settings/stores.html",
        {
            "stores": selectors.store_settings_list(request.user),
            "may_write": request.user.can("stores.write"),
        },
    )


@console_view("staff.read")
def staff_list(request: ConsoleRequest) -> HttpResponse:
    """HQ sees everyone; a store manager their own store's team (and edits its clerks)."""
    page = paginate(request, selectors.staff_list(request.user))
    brand_wide = request.user.scope == Scope.BRAND
    editable = {member.pk for member in page.object_list if brand_wide or member.role == Role.CLERK}
    return render_page(
        request,
        "console/settings/staff.html",
        {"page": page, "may_write": request.user.can("staff.write"), "editable": editable},
    )


@console_view("apikeys.manage")
def api_key_list(request: ConsoleRequest) -> HttpResponse:
    return render_page(
        request, "console/settings/api_keys.html", {"keys": selectors.api_keys_for(request.user)}
    )


@console_view("apikeys.manage")
@never_cache
def api_key_create(request: ConsoleRequest) -> HttpResponse:
    """On success the secret is rendered into this one response and never stored or shown again."""
    form = ApiKeyForm(request.POST or None, brand=request.user.brand)
    if request.method == "POST" and form.is_valid():
        store, staff = form.cleaned_data["store"], form.cleaned_data["staff"]
        key, secret = create_api_key(
            request.user.brand,
            name=form.cleaned_data["name"],
            role=form.cleaned_data["role"],
            actor=actor_for(request),
            store_id=store.pk if store else None,
            staff_id=staff.pk if staff else None,
        )
        return render_page(request, "console/settings/api_key_created.html", {"key": key, "secret": secret})
    return render_page(request, "console/settings/api_key_new.html", {"form": form})


@console_view("apikeys.manage")
@require_POST
def api_key_revoke(request: ConsoleRequest, pk: int) -> HttpResponse:
    try:
        key = selectors.api_keys_for(request.user).get(pk=pk)
    except ApiKey.DoesNotExist as exc:
        raise Http404 from exc
    try:
        revoke_api_key(key, actor=actor_for(request))
    except ApiKeyError as exc:
        messages.error(request, exc.message)
        return redirect("console:api_keys")
    messages.success(request, pgettext("console", "已撤銷 API 金鑰「%(name)s」。") % {"name": key.name})
    return redirect("console:api_keys")


@console_view("audit.read")
def audit_list(request: ConsoleRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    entries = selectors.audit_list(request.user, form.to_filters())
    return render_page(
        request,
        "console/settings/audit.html",
        {
            "form": form,
            "page": paginate(request, entries),
            "actions": selectors.audit_actions(request.user),
            "target_types": selectors.audit_target_types(request.user),
        },
    )
