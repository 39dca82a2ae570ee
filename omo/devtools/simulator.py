"""The phone simulator (/dev/simulator/): a person plays the customer against the LINE stand-in.

Devtools only (mounted when settings.DEBUG or OMO_DEVTOOLS; every view checks again). What a
phone would do on LINE is done here through the stand-in's control API (OMO_LINE_STANDIN_URL):

- "scan" a clerk QR / open a clerk link (`/b/<code>` or the bare code): the customer follows the
  official account, then sends the prefilled "#<code>" message (the no-LIFF binding flow),
  both as signed webhooks the stand-in posts to our own `/webhooks/line/<inbox id>`;
- "play" the demo's ready customer (bound to the demo clerk, with orders and a chat): the session
  takes that customer's LINE user id, so what is typed next reaches the clerk at once;
- chat: each text is a signed message webhook;
- what the customer received: the stand-in's per-user delivery log, Flex carousels turned into
  cards (image, name, price, button) whose links open /r/<token> → the shop;
- a card link into LIFF (`https://liff.line.me/<liff id>/shop?r=…`, when the brand's LINE account
  has LIFF): opened as LINE would, at the LIFF endpoint (`/b/liff/?liff.state=…`), with an ID
  token the stand-in mints for the simulated user in the URL fragment, where the shop's LIFF page
  takes it instead of LINE's SDK (`liff/open`).

The simulated LINE user id lives in the browser session, one per inbox.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from omo.binding import selectors as binding_selectors
from omo.binding.services import PREFILL_TEXT  # the text LINE's oaMessage URL types in
from omo.devtools import line_webhook_sender as wh
from omo.devtools.seed_story import STORY_LINE_USER
from omo.inbox.models import Contact, Inbox

app_name = "simulator"

CODE_IN_LINK = re.compile(r"(?:/b/)?([0-9A-Za-z]{6,24})/?(?:[?#].*)?$")
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class StandInError(Exception):
    pass


def _standin(path_: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    url = f"{settings.OMO_LINE_STANDIN_URL}/_standin/{path_}"
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        method="POST" if data is not None else "GET",
        headers={"Content-Type": "application/json"},
    )
    try:
        with _direct.open(request, timeout=10) as response:
            return json.loads(response.read() or b"{}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise StandInError(f"LINE stand-in at {settings.OMO_LINE_STANDIN_URL} did not answer: {exc}") from exc


def _guard() -> None:
    if not (settings.DEBUG or getattr(settings, "OMO_DEVTOOLS", False)):
        raise Http404("devtools are off")


def _inbox(request: HttpRequest, raw: Any) -> Inbox:
    try:
        inbox_id = int(raw)
    except (TypeError, ValueError) as exc:
        raise Http404("choose a LINE inbox") from exc
    inbox = Inbox.objects.filter(pk=inbox_id, platform="line", is_active=True).first()
    if inbox is None:
        raise Http404("no such LINE inbox")
    return inbox


def _user_id(request: HttpRequest, inbox: Inbox, display_name: str = "") -> str:
    key = f"simulator:line-user:{inbox.pk}"
    user_id = request.session.get(key)
    if not user_id:
        user_id = wh.user_id()
        _standin("users", {"user_id": user_id, "display_name": display_name or "模擬顧客"})
        request.session[key] = user_id
    return user_id


def _send(inbox: Inbox, *events: dict[str, Any]) -> dict[str, Any]:
    answer = _standin(
        "webhooks",
        {
            "channel_id": inbox.external_id,
            "url": f"{settings.BASE_URL}/webhooks/line/{inbox.pk}",
            "events": list(events),
        },
    )
    if answer.get("status") != 200:
        raise StandInError(f"our webhook answered {answer.get('status')}: {answer.get('body')}")
    return answer


def _body(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _fail(message: str, status: int = 422, field: str = "") -> JsonResponse:
    return JsonResponse({"error": message, "field": field}, status=status)


def _story_contact(inbox_id: int | str) -> Contact | None:
    """The demo's ready customer in this inbox, if the demo data has one."""
    return (
        Contact.objects.select_related("customer")
        .filter(inbox_id=inbox_id, external_user_id=STORY_LINE_USER)
        .first()
    )


@require_GET
def page(request: HttpRequest) -> HttpResponse:
    _guard()
    inboxes = list(
        Inbox.objects.filter(platform="line", is_active=True).select_related("brand").order_by("pk")
    )
    selected = request.GET.get("inbox", str(inboxes[0].pk) if inboxes else "")
    story = _story_contact(selected) if selected.isdigit() else None
    return render(
        request,
        "devtools/simulator.html",
        {
            "inboxes": inboxes,
            "selected": selected,
            "standin": settings.OMO_LINE_STANDIN_URL,
            "story": story.customer.name if story else "",
        },
    )


@require_POST
def play_story(request: HttpRequest) -> JsonResponse:
    """Play the demo's ready customer: a follower of the account, already bound to a clerk."""
    _guard()
    data = _body(request)
    inbox = _inbox(request, data.get("inbox_id"))
    contact = _story_contact(inbox.pk)
    if contact is None:
        return _fail("this account has no demo customer to play; scan a clerk link instead", status=404)
    try:
        _standin("users", {"user_id": contact.external_user_id, "display_name": contact.customer.name})
    except StandInError as exc:
        return _fail(str(exc), status=502)
    request.session[f"simulator:line-user:{inbox.pk}"] = contact.external_user_id
    request.session[f"simulator:followed:{inbox.pk}"] = True
    return JsonResponse({"user_id": contact.external_user_id, "customer": contact.customer.name})


@require_POST
def open_link(request: HttpRequest) -> JsonResponse:
    """Scan a clerk QR / open a clerk link: follow the account, then send the prefilled code message."""
    _guard()
    data = _body(request)
    inbox = _inbox(request, data.get("inbox_id"))
    match = CODE_IN_LINK.search(str(data.get("link") or "").strip())
    if not match:
        return _fail("paste a clerk link like /b/K7QX2M4P9A or the code itself", field="link")
    clerk_code = binding_selectors.find_code(match.group(1))
    if clerk_code is None or clerk_code.brand_id != inbox.brand_id:
        return _fail("no clerk with this code at this brand", status=404, field="link")
    try:
        user_id = _user_id(request, inbox, str(data.get("display_name") or ""))
        events = []
        followed_key = f"simulator:followed:{inbox.pk}"
        if not request.session.get(followed_key):
            events.append(wh.follow_event(user_id))
            request.session[followed_key] = True
        events.append(wh.text_event(user_id, PREFILL_TEXT.format(code=clerk_code.code)))
        for event in events:  # one request each, like a phone doing two things in a row
            _send(inbox, event)
    except StandInError as exc:
        return _fail(str(exc), status=502)
    return JsonResponse({"user_id": user_id, "code": clerk_code.code, "sent": [e["type"] for e in events]})


@require_POST
def say(request: HttpRequest) -> JsonResponse:
    _guard()
    data = _body(request)
    inbox = _inbox(request, data.get("inbox_id"))
    text = str(data.get("text") or "").strip()
    if not text:
        return _fail("type a message", field="text")
    if len(text) > 5000:
        return _fail("at most 5,000 characters", field="text")
    try:
        user_id = _user_id(request, inbox)
        _send(inbox, wh.text_event(user_id, text))
    except StandInError as exc:
        return _fail(str(exc), status=502)
    return JsonResponse({"user_id": user_id, "sent": "message"})


LIFF_PREFIX = "https://liff.line.me/"


def _open_uri(uri: str, inbox: Inbox) -> str:
    """Where tapping a link leads in the simulator: LIFF links through `liff/open`."""
    if uri.startswith(LIFF_PREFIX):
        return f"{reverse('simulator:liff-open')}?{urlencode({'inbox': str(inbox.pk), 'uri': uri})}"
    return uri


@require_GET
def liff_open(request: HttpRequest) -> HttpResponse:
    """Open a LIFF URL as LINE would for the simulated user: at the LIFF app's endpoint
    (`/b/liff/?liff.state=<path and query>`), signed in (a stand-in ID token in the fragment)."""
    _guard()
    inbox = _inbox(request, request.GET.get("inbox"))
    uri = request.GET.get("uri", "")
    liff_id, _, rest = uri.removeprefix(LIFF_PREFIX).partition("/")
    config = inbox.config or {}
    if (
        not uri.startswith(LIFF_PREFIX)
        or liff_id != config.get("liff_id")
        or not config.get("login_channel_id")
    ):
        return _fail("not a LIFF link of this inbox", status=404, field="uri")
    try:
        user_id = _user_id(request, inbox)
        id_token = _standin("id-tokens", {"user_id": user_id, "client_id": config["login_channel_id"]})[
            "id_token"
        ]
    except StandInError as exc:
        return _fail(str(exc), status=502)
    state = "/" + rest if rest else ""
    return HttpResponseRedirect(f"/b/liff/?{urlencode({'liff.state': state})}#id_token={id_token}")


def _cards(contents: dict[str, Any]) -> list[dict[str, Any]]:
    """A Flex carousel (or bubble) as simple cards: image, name, price, button label and link."""
    bubbles = contents.get("contents", []) if contents.get("type") == "carousel" else [contents]
    cards = []
    for bubble in bubbles:
        texts = [
            c.get("text", "")
            for c in (bubble.get("body") or {}).get("contents", [])
            if c.get("type") == "text"
        ]
        buttons = [
            c.get("action", {})
            for c in (bubble.get("footer") or {}).get("contents", [])
            if c.get("type") == "button"
        ]
        hero = bubble.get("hero") or {}
        action = buttons[0] if buttons else hero.get("action", {})
        cards.append(
            {
                "image": hero.get("url", ""),
                "title": texts[0] if texts else "",
                "lines": texts[1:],
                "label": action.get("label", ""),
                "uri": action.get("uri", ""),
            }
        )
    return cards


def _render(message: dict[str, Any], inbox: Inbox) -> dict[str, Any]:
    kind = message.get("type")
    if kind == "flex":
        cards = _cards(message.get("contents") or {})
        for card in cards:
            card["uri"] = _open_uri(card["uri"], inbox)
        return {"type": "flex", "alt": message.get("altText", ""), "cards": cards}
    if kind == "text":
        return {"type": "text", "text": message.get("text", "")}
    return {"type": kind, "text": f"[{kind}]"}


@require_GET
def received(request: HttpRequest) -> JsonResponse:
    _guard()
    inbox = _inbox(request, request.GET.get("inbox_id"))
    user_id = request.session.get(f"simulator:line-user:{inbox.pk}")
    if not user_id:
        return JsonResponse({"user_id": None, "messages": []})
    try:
        deliveries = _standin(f"deliveries?user_id={user_id}")["deliveries"]
    except StandInError as exc:
        return _fail(str(exc), status=502)
    messages = [
        {**_render(message, inbox), "via": delivery["via"], "at": delivery["at"]}
        for delivery in deliveries
        for message in delivery["messages"]
    ]
    return JsonResponse({"user_id": user_id, "messages": messages}, json_dumps_params={"ensure_ascii": False})


urlpatterns = [
    path("", page, name="page"),
    path("api/open-link", open_link, name="open-link"),
    path("api/say", say, name="say"),
    path("api/play-story", play_story, name="play-story"),
    path("api/received", received, name="received"),
    path("liff/open", liff_open, name="liff-open"),
]
