"""Customers: search and the customer 360 page (viewing it is audited, as PDPA requires)."""

from __future__ import annotations

from urllib.parse import urlencode, urljoin

from django.conf import settings
from django.http import Http404, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils.translation import pgettext

from omo.analytics.selectors import customer_channel_split
from omo.commerce import shop_links
from omo.console import selectors
from omo.console.access import ConsoleRequest, actor_for, console_view
from omo.console.forms import SearchForm
from omo.console.pages import paginate, render_page
from omo.console.views.till import records_context
from omo.core import audit
from omo.core.errors import DomainError
from omo.customers import consent, privacy
from omo.customers.models import Customer
from omo.loyalty import till_records
from omo.segments import selectors as segment_selectors
from omo.segments.clv import selectors as clv_selectors
from omo.staff.roles import Scope, role_allows
from omo.tracking import timeline


@console_view("customers.read")
def customer_list(request: ConsoleRequest) -> HttpResponse:
    form = SearchForm(request.GET, placeholder=pgettext("console", "姓名、手機、Email 或會員編號"))
    customers = selectors.customer_list(request.user, form.query)
    return render_page(
        request, "console/customers/list.html", {"form": form, "page": paginate(request, customers)}
    )


def member_page_link(customer: Customer) -> str | None:
    """The customer's member page as an absolute URL, or None while the shop's pages are not served.

    The shop gives a path; staff paste the link into a chat, so it is made absolute with the public
    base URL (OMO_BASE_URL), not with the host the console happens to be opened on.
    """
    try:
        path = shop_links.member_link(customer)
    except NoReverseMatch:  # the shop is optional: a deployment may not mount its URLs
        return None
    return urljoin(f"{settings.BASE_URL}/", path)


@console_view("customers.read")
def customer_detail(request: ConsoleRequest, pk: int) -> HttpResponse:
    user = request.user
    try:
        customer = selectors.customer_detail(user, pk)
    except Customer.DoesNotExist as exc:
        raise Http404 from exc
    audit.record(actor_for(request), "customer.viewed", customer)
    orders = list(selectors.customer_orders(customer))
    # Order pages follow the viewer's scope: a store manager opens only their store's orders.
    openable = None if user.scope == Scope.BRAND else user.store_id
    timeline_context = _timeline_context(request, customer, openable)
    return render_page(
        request,
        "console/customers/detail.html",
        {
            "customer": customer,
            "identities": customer.identities.filter(brand_id=customer.brand_id).order_by("kind", "id"),
            "account": selectors.loyalty_account(customer),
            "ledger": selectors.points_ledger(customer),
            "coupon_codes": selectors.customer_coupon_codes(customer),
            "orders": orders,
            "openable_store_id": openable,
            "split": customer_channel_split(customer),
            "member_link": member_page_link(customer),
            "merges_link": _merges_link(user, customer),
            "consent": consent.current_consent(customer),
            "may_handle_personal_data": privacy.may_handle_personal_data(user.role),
            "customer_segments": customer_segments(user, customer),
            # Coupons and points redeemed at the tills of the stores the user sees.
            **records_context(request, till_records.customer_till_records(actor_for(request), customer)),
            "prediction": clv_selectors.panel(customer),
            **timeline_context,
        },
    )


CUSTOMER_SEGMENTS_SHOWN = 10


def customer_segments(user, customer: Customer) -> list[dict] | None:
    """The segments the customer is in, each with the sentence saying why (None: may not read them)."""
    if not role_allows(user.role, "segments.read"):
        return None
    shown = []
    for segment in segment_selectors.segments_of(customer).select_related("brand")[:CUSTOMER_SEGMENTS_SHOWN]:
        try:
            sentence = segment_selectors.explain_for(segment, customer).sentence
        except DomainError:  # a stored rule the engine now refuses: still list the segment
            sentence = ""
        shown.append({"segment": segment, "sentence": sentence})
    return shown


def _merges_link(user, customer: Customer) -> str | None:
    """The customer's merge history, for those who may merge and split (HQ admins)."""
    if not role_allows(user.role, "customers.merge"):
        return None
    return f"{reverse('console:merge_history')}?customer={customer.pk}"


def _timeline_context(request: ConsoleRequest, customer: Customer, openable_store_id: int | None) -> dict:
    """The customer's timeline page asked for by ?group=&since=&until=&cursor= (bad values are named)."""
    error = None
    try:
        filters = timeline.Filters.parse(request.GET)
    except timeline.TimelineError as exc:
        filters, error = timeline.Filters(), exc
    links = timeline.console_links(openable_store_id)
    try:
        page = timeline.timeline_page(customer, filters, cursor=request.GET.get("cursor", ""), links=links)
    except timeline.TimelineError as exc:
        page, error = timeline.timeline_page(customer, filters, links=links), exc
    return {
        "timeline": page,
        "timeline_error": error,
        "timeline_groups": list(timeline.GROUPS.items()),
        "timeline_query": urlencode(filters.as_query()),
    }
