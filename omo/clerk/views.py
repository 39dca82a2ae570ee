"""The clerk app (/clerk/): thin views that check who may see what and call one service each.

Access: signed-in, active clerks and store managers of a brand. Reads go through each app's
`visible_<things>(actor)` (conversations: omo.inbox.selectors, customers: omo.customers.selectors),
the same rules the console and the API use, so another clerk's or another brand's conversation or
customer is a 404, never a leak.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.db.models import Count, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse, reverse_lazy
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import pgettext, pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from omo.attribution import leaderboard
from omo.attribution import selectors as attribution_selectors
from omo.binding import selectors as binding_selectors
from omo.binding import services as binding_services
from omo.clerk import services
from omo.commerce import selectors as commerce_selectors
from omo.commerce.models import Order, SalesChannel
from omo.core.audit import Actor
from omo.core.money import format_money
from omo.customers import privacy
from omo.customers import search as customer_search
from omo.customers.models import Customer
from omo.customers.selectors import visible_customers
from omo.inbox import event_words
from omo.inbox import realtime as inbox_realtime
from omo.inbox import selectors as inbox_selectors
from omo.inbox import services as inbox_services
from omo.inbox.models import Message
from omo.inbox.outbound import OutboundError, retry_message
from omo.loyalty.models import LoyaltyAccount
from omo.segments.clv import selectors as clv_selectors
from omo.staff import services as staff_services
from omo.staff.actors import actor_for_request
from omo.staff.requests import StaffRequest
from omo.staff.roles import Role
from omo.staff.selectors import visible_staff
from omo.tracking import timeline

CLERK_APP_ROLES = frozenset({Role.CLERK, Role.STORE_MANAGER})

View = Callable[..., HttpResponse]


class ClerkRequest(StaffRequest):
    """What a view wrapped by `clerk_view` receives: its user is a signed-in clerk or store manager."""


LANGUAGES = frozenset(code for code, _name in settings.LANGUAGES)


def clerk_language(request: HttpRequest) -> str:
    """One language per screen: the signed-in person's own choice (the toggle saves it on their
    staff record, so it follows them to another phone), else the language cookie, else zh-Hant.
    A phone's own language does not decide: the shop floor reads Traditional Chinese first."""
    user = request.user
    if user.is_authenticated and getattr(user, "preferred_language", "") in LANGUAGES:
        return str(user.preferred_language)
    cookie = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
    return cookie if cookie in LANGUAGES else settings.LANGUAGE_CODE


def clerk_view(view: View) -> View:
    """Sign-in required; clerks and store managers of a brand only; dates in the brand's time zone;
    words in the person's language."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with translation.override(clerk_language(request)):
            return _guarded(view, request, *args, **kwargs)

    wrapper.clerk_app = True  # type: ignore[attr-defined]  # read by the access sweep
    return wrapper


def _guarded(view: View, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    user = request.user
    if not user.is_authenticated:
        if request.path.endswith(".json") or request.method == "POST":
            return JsonResponse({"error": "not signed in", "field": "auth"}, status=401)
        return redirect_to_login(request.get_full_path(), reverse("clerk:login"))
    brand = user.brand
    if not user.is_active or brand is None or user.role not in CLERK_APP_ROLES:
        return render(request, "clerk/forbidden.html", status=403)
    try:
        zone = ZoneInfo(brand.time_zone)
    except (KeyError, ValueError):
        zone = ZoneInfo("Asia/Taipei")
    with timezone.override(zone):
        return view(request, *args, **kwargs)


def _error(field: str, message: str, status: int = 422) -> JsonResponse:
    return JsonResponse({"error": message, "field": field}, status=status)


def _actor(request: ClerkRequest) -> Actor:
    """The signed-in clerk or store manager as the Actor every app's `visible_<things>` takes."""
    return actor_for_request(request)


def _conversation_or_404(request: ClerkRequest, conversation_id: int):
    conversation = inbox_selectors.get_conversation(_actor(request), conversation_id)
    if conversation is None:
        raise Http404("no such conversation")
    return conversation


def _body(request: HttpRequest) -> dict[str, Any]:
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    return request.POST.dict() | {k: request.POST.getlist(k) for k in request.POST if k.endswith("[]")}


class ClerkLoginView(auth_views.LoginView):
    template_name = "clerk/login.html"
    redirect_authenticated_user = True
    next_page = "clerk:home"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        with translation.override(clerk_language(request)):
            response = super().dispatch(request, *args, **kwargs)
            if hasattr(response, "render"):
                response.render()
            return response

    def get_default_redirect_url(self) -> str:
        return str(reverse_lazy("clerk:home"))


class ClerkLogoutView(auth_views.LogoutView):
    next_page = "clerk:login"


# --- PWA -----------------------------------------------------------------------------------------------


@require_GET
def manifest(request: HttpRequest) -> JsonResponse:
    language = clerk_language(request)
    with translation.override(language):
        data = _manifest(language)
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False})
    response["Content-Type"] = "application/manifest+json"
    return response


def _manifest(language: str) -> dict[str, Any]:
    return {
        "name": pgettext("clerk", "omo 店員 App"),
        "short_name": pgettext("clerk", "店員"),
        "description": pgettext("clerk", "與綁定顧客聊天、推薦商品、查看業績"),
        "lang": "en" if language == "en" else "zh-Hant",
        "start_url": reverse("clerk:home"),
        "scope": reverse("clerk:home"),
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#2f6f4f",
        "icons": [
            {"src": static("clerk/icon.svg"), "sizes": "any", "type": "image/svg+xml", "purpose": "any"},
            {"src": static("clerk/icon-192.png"), "sizes": "192x192", "type": "image/png"},
        ],
    }


@require_POST
@clerk_view
def set_language(request: ClerkRequest) -> HttpResponse:
    """The language toggle: saved on the person's staff record and in the language cookie (so the
    sign-in page, and the console on this phone, follow), then back to the screen it was pressed on."""
    language = str(request.POST.get("language") or "")
    try:
        staff_services.set_preferred_language(request.user, language)
    except staff_services.StaffError as exc:
        return _error(exc.field or "language", exc.message)
    target = str(request.POST.get("next") or "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        target = reverse("clerk:home")
    response = redirect(target)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """Served from /clerk/ so its scope covers the whole app (a worker under /static/ could not)."""
    response = render(request, "clerk/sw.js", content_type="application/javascript")
    response["Service-Worker-Allowed"] = reverse("clerk:home")
    response["Cache-Control"] = "no-cache"
    return response


# --- home: my conversations --------------------------------------------------------------------------------


def _row(conversation) -> dict[str, Any]:
    summary = inbox_selectors.conversation_summary(conversation)
    summary["url"] = reverse("clerk:chat", args=[conversation.pk])
    return summary


@never_cache
@clerk_view
def home(request: ClerkRequest) -> HttpResponse:
    rows = [_row(c) for c in inbox_selectors.conversation_list(request.user, status=None, limit=100)]
    return render(request, "clerk/home.html", {"rows": rows, "rows_json": rows, "tab": "home"})


@never_cache
@clerk_view
def conversations_json(request: ClerkRequest) -> JsonResponse:
    rows = [_row(c) for c in inbox_selectors.conversation_list(request.user, status=None, limit=100)]
    return JsonResponse({"conversations": rows, "unread": sum(r["unread_count"] for r in rows)})


# --- chat ---------------------------------------------------------------------------------------------------


def _message_row(message: Message, names: event_words.EventNames | None = None) -> dict[str, Any]:
    row = inbox_selectors.message_dict(message)
    if message.kind == Message.Kind.FLEX:
        row["cards"] = services.card_summary(message)
    if message.kind == Message.Kind.EVENT:
        row["text"] = event_words.event_sentence(message, names or event_words.EventNames([message]))
    return row


def _message_rows(messages: list[Message]) -> list[dict[str, Any]]:
    names = event_words.EventNames(messages)
    return [_message_row(m, names) for m in messages]


def _customer_timeline(
    actor: Actor, customer: Customer, params: Any = None, *, limit: int = 20
) -> dict[str, Any]:
    """The customer's timeline for the panel; chats link only where this clerk may open them."""
    params = params if params is not None else {}
    error = None
    try:
        filters = timeline.Filters.parse(params)
    except timeline.TimelineError as exc:
        filters, error = timeline.Filters(), exc
    open_ids = set(
        inbox_selectors.visible_conversations(actor).filter(customer=customer).values_list("pk", flat=True)
    )
    links = timeline.clerk_links(lambda conversation_id: conversation_id in open_ids)
    try:
        page = timeline.timeline_page(
            customer, filters, cursor=params.get("cursor", ""), limit=limit, links=links
        )
    except timeline.TimelineError as exc:
        page, error = timeline.timeline_page(customer, filters, limit=limit, links=links), exc
    return {
        "page": page,
        "error": error,
        "groups": list(timeline.GROUPS.items()),
        "query": urlencode(filters.as_query()),
    }


def _customer_panel(actor: Actor, customer: Customer, params: Any = None) -> dict[str, Any]:
    """A customer the actor may see (the caller checked) with their whole history: like the
    console's customer page, the panel shows every sales channel whatever the viewer's scope."""
    account = (
        LoyaltyAccount.objects.filter(brand=actor.brand, customer=customer).select_related("tier").first()
    )
    orders = commerce_selectors.customer_orders(customer).exclude(status=Order.Status.CANCELLED)
    totals = orders.aggregate(
        in_store=Sum("total", filter=Q(sales_channel=SalesChannel.POS)),
        online=Sum("total", filter=~Q(sales_channel=SalesChannel.POS)),
        in_store_n=Count("id", filter=Q(sales_channel=SalesChannel.POS)),
        online_n=Count("id", filter=~Q(sales_channel=SalesChannel.POS)),
    )
    binding = binding_selectors.binding_info(customer)
    return {
        "customer": customer,
        "tier": account.tier.name if account and account.tier else "",
        "points": account.balance if account else 0,
        "tags": list(customer.tags or []),
        "notes": customer.notes,
        "recent_orders": list(orders.order_by("-placed_at")[:10]),
        "in_store_total": format_money(totals["in_store"] or 0, "TWD"),
        "online_total": format_money(totals["online"] or 0, "TWD"),
        "in_store_count": totals["in_store_n"],
        "online_count": totals["online_n"],
        "binding": binding,
        "timeline": _customer_timeline(actor, customer, params),
        "prediction": clv_selectors.panel(customer),
    }


@never_cache
@clerk_view
def chat(request: ClerkRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation_or_404(request, conversation_id)
    actor = _actor(request)
    inbox_services.mark_read(conversation, user=request.user)
    # A conversation handed to the clerk (or their store team's) shows its messages; the customer's
    # record only when the customer is the clerk's own (visible_customers: bound to them).
    panel = None
    if visible_customers(actor).filter(pk=conversation.customer_id).exists():
        privacy.record_view(request, conversation.customer, via="clerk.chat")
        panel = _customer_panel(actor, conversation.customer)
    messages = _message_rows(inbox_selectors.timeline(conversation, limit=200))
    context = {
        "conversation": conversation,
        "messages_json": messages,
        "panel": panel,
        "tab": "home",
        # Delivery states arrive as message.updated; without a layer shared with the worker the
        # page refreshes them itself.
        "status_push": inbox_realtime.worker_events_reach_sockets(),
    }
    return render(request, "clerk/chat.html", context)


@never_cache
@clerk_view
def messages_json(request: ClerkRequest, conversation_id: int) -> JsonResponse:
    conversation = _conversation_or_404(request, conversation_id)
    return JsonResponse({"messages": _message_rows(inbox_selectors.timeline(conversation, limit=200))})


@require_POST
@clerk_view
def send(request: ClerkRequest, conversation_id: int) -> JsonResponse:
    conversation = _conversation_or_404(request, conversation_id)
    text = str(_body(request).get("text") or "")
    try:
        message = inbox_services.send_text(conversation, text=text, sender=request.user)
    except inbox_services.InboxError as exc:
        return _error(exc.field, exc.message)
    return JsonResponse({"message": _message_row(message)}, status=201)


@require_POST
@clerk_view
def retry(request: ClerkRequest, conversation_id: int, message_id: int) -> JsonResponse:
    conversation = _conversation_or_404(request, conversation_id)
    message = Message.objects.filter(
        brand_id=request.user.brand_id, conversation=conversation, pk=message_id
    ).first()
    if message is None:
        return _error("message", "not found", status=404)
    try:
        message = retry_message(message)
    except OutboundError as exc:
        return _error(exc.field, exc.message, status=409)
    return JsonResponse({"message": _message_row(message)})


@require_POST
@clerk_view
def send_cards(request: ClerkRequest, conversation_id: int) -> JsonResponse:
    conversation = _conversation_or_404(request, conversation_id)
    body = _body(request)
    raw = body.get("product_ids") or body.get("product_ids[]") or []
    try:
        ids = [int(x) for x in (raw if isinstance(raw, list) else [raw])]
    except (TypeError, ValueError):
        return _error("product_ids", "must be a list of product ids")
    try:
        message = services.send_product_card(
            conversation, clerk=request.user, product_ids=ids, alt_text=str(body.get("alt_text") or "")
        )
    except services.ClerkError as exc:
        return _error(exc.field, exc.message, exc.status)
    return JsonResponse({"message": _message_row(message)}, status=201)


@require_POST
@clerk_view
def send_cart(request: ClerkRequest, conversation_id: int) -> JsonResponse:
    conversation = _conversation_or_404(request, conversation_id)
    raw = _body(request).get("lines") or []
    try:
        lines = [(int(line["variant_id"]), int(line.get("quantity", 1))) for line in raw]
    except (TypeError, ValueError, KeyError):
        return _error("lines", 'send [{"variant_id": 1, "quantity": 1}, …]')
    try:
        sent = services.send_cart(conversation, clerk=request.user, lines=lines)
    except services.ClerkError as exc:
        return _error(exc.field, exc.message, exc.status)
    return JsonResponse(
        {"cart": sent.cart_token, "url": sent.url, "message": _message_row(sent.message)}, status=201
    )


@never_cache
@clerk_view
def product_search(request: ClerkRequest) -> JsonResponse:
    products = services.search_products(request.user, request.GET.get("q", ""))
    return JsonResponse(
        {
            "products": [
                {
                    "id": p.id,
                    "title": p.title,
                    "price": p.price_display,
                    "image_url": p.image_url,
                    "variants": [v.__dict__ for v in p.variants],
                }
                for p in products
            ]
        },
        json_dumps_params={"ensure_ascii": False},
    )


# --- me: QR, customers, sales ------------------------------------------------------------------------------


@clerk_view
def my_qr(request: ClerkRequest) -> HttpResponse:
    code = binding_services.clerk_code_for(request.user)
    return render(
        request,
        "clerk/qr.html",
        {
            "code": code.code,
            "link": binding_services.binding_url(code.code),
            "qr_svg": _qr_svg_url(code.code),
            "tab": "qr",
        },
    )


def _qr_svg_url(code: str) -> str:
    try:
        return reverse("binding:qr-svg", args=[code])
    except NoReverseMatch:  # binding's URLs not mounted (yet): the documented path
        return f"/b/{code}/qr.svg"


@never_cache
@clerk_view
def my_customers(request: ClerkRequest) -> HttpResponse:
    """My bound customers, optionally searched (name, phone, email, member number, LINE name)."""
    user = request.user
    query = " ".join(request.GET.get("q", "").split())[:100]
    bindings = binding_selectors.bound_bindings(user)
    if query:
        matches = customer_search.search(
            visible_customers(_actor(request)), query, brand_id=user.brand_id, country=user.brand.country
        )
        bindings = bindings.filter(customer__in=matches)
    shown = list(bindings.order_by("-started_at")[:500])
    return render(request, "clerk/customers.html", {"bindings": shown, "tab": "customers", "query": query})


@never_cache
@clerk_view
def customer_detail(request: ClerkRequest, customer_id: int) -> HttpResponse:
    actor = _actor(request)
    customer = visible_customers(actor).filter(pk=customer_id).first()
    if customer is None:
        raise Http404("no such customer")
    privacy.record_view(request, customer, via="clerk.customer")
    return render(
        request,
        "clerk/customer.html",
        {"panel": _customer_panel(actor, customer, request.GET), "tab": "customers"},
    )


@never_cache
@clerk_view
def my_sales(request: ClerkRequest) -> HttpResponse:
    brand = request.user.brand
    zone = attribution_selectors.brand_zone(brand)
    try:
        month = attribution_selectors.parse_month(request.GET.get("month"), zone=zone)
    except ValueError as exc:
        return render(request, "clerk/sales.html", {"error": str(exc), "tab": "sales"}, status=400)
    attributions = list(attribution_selectors.clerk_attributions(brand, request.user, month)[:300])
    summary = attribution_selectors.clerk_month_summary(brand, request.user, month)
    # The rank on the leaderboard this month (two grouped queries), shown on this month's page only.
    this_month = leaderboard.period_for(brand, "this_month")
    rank = leaderboard.clerk_rank(brand, request.user, this_month) if month == this_month.first_day else None
    return render(
        request,
        "clerk/sales.html",
        {
            "month": month,
            "attributions": attributions,
            "summary": summary,
            "sales": format_money(summary.sales, brand.currency),
            "commission": format_money(summary.commission, brand.currency),
            "rank": rank,
            "tab": "sales",
        },
    )


@clerk_view
def statement_csv(request: ClerkRequest) -> HttpResponse:
    brand = request.user.brand
    try:
        month = attribution_selectors.parse_month(
            request.GET.get("month"), zone=attribution_selectors.brand_zone(brand)
        )
    except ValueError as exc:
        return HttpResponse(f"month: {exc}", status=400, content_type="text/plain; charset=utf-8")
    body = attribution_selectors.statement_csv(brand, request.user, month)
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="commission-{request.user.username}-{month:%Y-%m}.csv"'
    )
    return response


# --- binding recovery by phone -----------------------------------------------------------------------

RECOVERY_REFUSALS = {
    "no_match": pgettext_lazy("clerk", "找不到使用這個手機號碼的顧客。"),
    "several_matches": pgettext_lazy("clerk", "有多位顧客使用這個手機號碼，請總部先合併顧客資料。"),
    "bound_elsewhere": pgettext_lazy(
        "clerk", "這位顧客已綁定 %(clerk)s，依品牌的綁定規則不能改綁；請店長轉移綁定。"
    ),
    "already_bound": pgettext_lazy("clerk", "這位顧客已經綁定這位店員。"),
    "not_on_line": pgettext_lazy("clerk", "這位顧客沒有加入 LINE 官方帳號好友（或已封鎖）。"),
}


def _recovery_refusal(exc: binding_services.BindingError) -> str:
    known = RECOVERY_REFUSALS.get(exc.code)
    if known is not None:
        return str(known) % {"clerk": exc.extra.get("clerk", "")}
    if exc.field == "phone":
        return pgettext("clerk", "請輸入正確的手機號碼，例如 0912-345-678。")
    if exc.status == 403:
        return pgettext("clerk", "您只能為自己（店長：自己門市的店員）送出綁定確認。")
    return pgettext("clerk", "找不到這位店員。")


@never_cache
@clerk_view
def recovery(request: ClerkRequest) -> HttpResponse:
    """A customer whose scan failed: the clerk enters their phone and the customer confirms on LINE."""
    user = request.user
    clerks: list[Any] = [user]
    if user.role == Role.STORE_MANAGER:
        clerks = list(
            visible_staff(_actor(request))
            .filter(is_active=True, role__in=[Role.CLERK, Role.STORE_MANAGER])
            .order_by("display_name", "username")
        )
    context: dict[str, Any] = {"tab": "qr", "clerks": clerks, "phone": "", "chosen": user.pk}
    if request.method == "POST":
        phone = (request.POST.get("phone") or "").strip()[:40]
        try:
            chosen = int(request.POST.get("clerk") or user.pk)
        except ValueError:
            chosen = 0
        clerk = next((c for c in clerks if c.pk == chosen), None)
        context.update(phone=phone, chosen=chosen)
        if clerk is None:
            context["error"] = pgettext("clerk", "請選擇店員。")
            return render(request, "clerk/recovery.html", context, status=422)
        try:
            sent = binding_services.recover_by_phone(phone, clerk, actor=_actor(request))
        except binding_services.BindingError as exc:
            context["error"] = _recovery_refusal(exc)
            return render(request, "clerk/recovery.html", context, status=exc.status)
        context.update(sent=sent, phone="")
    return render(request, "clerk/recovery.html", context)
