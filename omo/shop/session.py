"""What the shop keeps in the shopper's session, per brand (one browser can shop several brands).

- the open cart's token (the Cart row is the truth; the session only points at it),
- the number of items in it, so every page can show the cart badge without a query,
- the clerk referral (`?ref=`) the shopper arrived with,
- the member this browser has been recognised as, by opening a signed member link, by placing
  a first order, or by signing in with LINE (LIFF) from a product card; and whether that last way
  proved it (then the contact details typed at checkout join that customer). Only a recognised member may spend points: a phone number typed into the
  checkout form is not proof of who is typing.
"""

from __future__ import annotations

from django.http import HttpRequest

from omo.core.models import Brand


class ShopSession:
    def __init__(self, request: HttpRequest, brand: Brand):
        self._session = request.session
        self._prefix = f"shop:{brand.pk}:"

    def _get(self, key: str, default=None):
        return self._session.get(self._prefix + key, default)

    def _set(self, key: str, value) -> None:
        self._session[self._prefix + key] = value

    def _pop(self, key: str) -> None:
        self._session.pop(self._prefix + key, None)

    @property
    def cart_token(self) -> str | None:
        return self._get("cart")

    def remember_cart(self, token: str, item_count: int) -> None:
        self._set("cart", token)
        self._set("items", item_count)

    def forget_cart(self) -> None:
        self._pop("cart")
        self._pop("items")

    @property
    def item_count(self) -> int:
        return int(self._get("items", 0) or 0)

    def set_item_count(self, count: int) -> None:
        self._set("items", count)

    @property
    def ref(self) -> str:
        return self._get("ref", "")

    def set_ref(self, ref: str) -> None:
        self._set("ref", ref)

    @property
    def member_id(self) -> int | None:
        return self._get("member")

    def recognise_member(self, customer_id: int) -> None:
        self._set("member", customer_id)
        self._pop("line")

    def recognise_line_member(self, customer_id: int) -> None:
        """Recognised by a LINE Login ID token LINE vouched for: the customer holding that LINE user."""
        self._set("member", customer_id)
        self._set("line", True)

    @property
    def signed_in_with_line(self) -> bool:
        return bool(self._get("line")) and self.member_id is not None
