"""Tracked links and clicks: issuing a signed link for a clerk's product card, resolving it, recording
a person's click (not a link preview's), and where the click leads."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from omo.attribution import links
from omo.attribution.models import (
    Attribution,
    Click,
    LinkIssue,
)
from omo.catalog.models import Product
from omo.core import events
from omo.core.errors import FieldError
from omo.core.models import Brand
from omo.customers.models import Customer
from omo.staff.models import User

logger = logging.getLogger(__name__)

Rule = Attribution.Rule

# Link-preview fetchers open links to draw a preview; they are not the customer.

PREVIEW_AGENTS = (
    "facebookexternalhit",
    "line/",
    "bot",
    "slackbot",
    "twitterbot",
    "whatsapp",
    "crawler",
    "spider",
    "preview",
    "embedly",
    "discordbot",
    "telegrambot",
    "skypeuripreview",
)
# LINE's in-app browser says "Line/13.x" too, but as part of a full browser UA; the preview
# fetcher sends a short UA without "Mozilla/5.0 (iPhone|Linux; Android" and "Safari"/"Mobile".
_IN_APP_BROWSER = re.compile(r"Mozilla/5\.0 \((iPhone|iPad|Linux; Android|Windows|Macintosh)", re.I)


class AttributionError(FieldError, ValueError):
    pass


# --- tracked links and clicks -------------------------------------------------------------------------


def product_path(brand: Brand, product: Product) -> str:
    return reverse("shop:product", kwargs={"brand_slug": brand.slug, "handle": product.handle})


def absolute(path: str) -> str:
    return f"{settings.BASE_URL.rstrip('/')}{path}"


def issue_link(
    brand: Brand,
    *,
    clerk: User | None,
    product: Product,
    customer: Customer | None = None,
    conversation_id: int | None = None,
    at: dt.datetime | None = None,
) -> LinkIssue:
    """One tracked link for one product; the token names this row (clerk, customer, conversation)."""
    if product.brand_id != brand.pk:
        raise AttributionError("product", "belongs to another brand", status=404)
    if customer is not None and customer.brand_id != brand.pk:
        raise AttributionError("customer", "belongs to another brand", status=404)
    if clerk is not None and clerk.brand_id != brand.pk:
        raise AttributionError("clerk", "belongs to another brand", status=404)
    return LinkIssue.objects.create(
        brand=brand,
        clerk=clerk,
        customer=customer,
        product=product,
        conversation_id=conversation_id,
        target=product_path(brand, product),
        issued_at=at or timezone.now(),
    )


def link_url(link: LinkIssue) -> str:
    """The absolute `/r/<token>` URL a card button opens."""
    return absolute(reverse("attribution:click", kwargs={"token": links.link_token(link.pk, link.brand_id)}))


def is_preview_agent(user_agent: str) -> bool:
    agent = (user_agent or "").strip()
    if not agent:
        return True  # people's browsers always send one; fetchers and scripts often do not
    lowered = agent.lower()
    if "facebookexternalhit" in lowered or "facebot" in lowered:
        return True
    if _IN_APP_BROWSER.search(agent) and "bot" not in lowered:
        return False  # a phone or desktop browser (LINE's in-app browser included)
    return any(marker in lowered for marker in PREVIEW_AGENTS)


@dataclass(frozen=True)
class ClickOutcome:
    click: Click
    redirect_to: str


def resolve_link(token: str) -> LinkIssue:
    """The LinkIssue a token names, or links.LinkInvalid / LinkExpired."""
    claim = links.read_link_token(token)
    link = LinkIssue.objects.select_related("brand").filter(pk=claim.link_id, brand_id=claim.brand_id).first()
    if link is None:
        raise links.LinkInvalid("no such link")
    return link


def safe_target(link: LinkIssue) -> str:
    """The link's target if it is inside the brand's shop, else the shop's home page.

    The target is written by us, but a row edited by hand must still never send a customer
    anywhere outside the brand's shop (no open redirect).
    """
    shop_home = reverse("shop:home", kwargs={"brand_slug": link.brand.slug})
    target = link.target or shop_home
    if not target.startswith(shop_home) or "//" in target or "\\" in target or "?" in target:
        return shop_home
    return target


def record_click(
    link: LinkIssue,
    *,
    user_agent: str = "",
    ip_address: str | None = None,
    session_key: str = "",
    at: dt.datetime | None = None,
) -> ClickOutcome:
    """Record a click (previews flagged, not counted) and say where to send the browser."""
    click = Click.objects.create(
        brand_id=link.brand_id,
        link=link,
        clerk_id=link.clerk_id,
        customer_id=link.customer_id,
        clicked_at=at or timezone.now(),
        is_preview=is_preview_agent(user_agent),
        user_agent=(user_agent or "")[:300],
        ip_address=ip_address or None,
        session_key=(session_key or "")[:64],
    )
    if not click.is_preview:
        events.publish("link.clicked", brand_id=link.brand_id, click_id=click.pk)
    # Signed refs are URL-safe (base64url and ":"), so they travel unescaped and read back as sent.
    target = f"{safe_target(link)}?ref={quote(links.link_ref(link.pk), safe=':')}"
    return ClickOutcome(click, target)
