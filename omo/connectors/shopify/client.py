"""Shopify's GraphQL Admin API: `POST {base}/admin/api/{version}/graphql.json` with
`X-Shopify-Access-Token`, cursor pagination, and cost-based throttling.

Throttling (shopify.dev "API rate limits"): every answer carries `extensions.cost` with the
query's requested and actual cost and `throttleStatus {maximumAvailable, currentlyAvailable,
restoreRate}` (points per second). A query that costs more than what is available is refused with
an error whose `extensions.code` is `THROTTLED` (HTTP 200); we wait until enough points are
restored and ask again, and pace the next page so it is not refused in the first place. A plain
HTTP 429 (REST-style limiter, or a proxy) is honoured through `Retry-After`.

The base URL is `ShopifyConnection.api_base`, else the `OMO_SHOPIFY_API_BASE` setting/environment
variable, else `https://{shop domain}`, so tests and the demo point this real client at
omo/devtools/shopify_standin.py.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import urllib3
from django.conf import settings

from config import env
from omo.core.errors import FieldError

logger = logging.getLogger(__name__)

PRODUCTS_PAGE = 10  # with 25 variants each this stays well under the 1,000-point single-query limit
VARIANTS_PAGE = 25  # variants(first: 25) in PRODUCTS_QUERY; more are read with VARIANTS_QUERY

PRODUCTS_QUERY = """
query OmoProducts($first: Int!, $after: String) {
  shop { currencyCode }
  products(first: $first, after: $after, sortKey: ID) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id
      legacyResourceId
      handle
      title
      descriptionHtml
      vendor
      status
      updatedAt
      featuredMedia { preview { image { url altText } } }
      variants(first: 25) {
        pageInfo { hasNextPage endCursor }
        nodes { id legacyResourceId sku title price compareAtPrice barcode selectedOptions { name value } }
      }
    }
  }
}
"""

VARIANTS_QUERY = """
query OmoProductVariants($id: ID!, $first: Int!, $after: String) {
  product(id: $id) {
    variants(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { id legacyResourceId sku title price compareAtPrice barcode selectedOptions { name value } }
    }
  }
}
"""


class ShopifyApiError(FieldError):
    """The API refused or failed; `field` names what to fix (access_token, api_version, query…).

    `code` is Shopify's GraphQL error code when it gave one (e.g. MAX_COST_EXCEEDED); `shopify_status`
    the HTTP status Shopify answered, if it answered at all.
    """

    status = 502
    code = "shopify_error"

    def __init__(self, field: str, message: str, *, status: int | None = None, code: str = ""):
        super().__init__(field, message, code=code or None)
        self.shopify_status = status


def api_base(shop_domain: str, override: str = "") -> str:
    configured = (
        override or getattr(settings, "OMO_SHOPIFY_API_BASE", None) or env.get_str("OMO_SHOPIFY_API_BASE", "")
    )
    return (configured or f"https://{shop_domain}").rstrip("/")


@dataclass
class Throttle:
    maximum: float = 1000.0
    available: float = 1000.0
    restore_rate: float = 50.0
    last_requested: float = 0.0


@dataclass
class GraphQLClient:
    base: str
    api_version: str
    access_token: str
    sleep: Callable[[float], None] = time.sleep
    timeout: float = 20.0
    max_attempts: int = 8
    max_wait: float = 60.0
    throttle: Throttle = field(default_factory=Throttle)
    waits: list[float] = field(default_factory=list)  # every pause we took (tests, the sync report)
    requests: int = 0
    shop_currency: str = ""  # the shop's currency, read with the first page of products

    def __post_init__(self) -> None:
        self._pool = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=min(5.0, self.timeout), read=self.timeout), retries=False
        )

    @property
    def url(self) -> str:
        return f"{self.base}/admin/api/{self.api_version}/graphql.json"

    def _pause(self, seconds: float) -> None:
        seconds = max(0.0, min(seconds, self.max_wait))
        if seconds:
            self.waits.append(seconds)
            self.sleep(seconds)

    def _pace(self) -> None:
        """Before a query: wait until the bucket holds what the last one cost (it will cost about the same)."""
        deficit = self.throttle.last_requested - self.throttle.available
        if deficit > 0 and self.throttle.restore_rate > 0:
            self._pause(deficit / self.throttle.restore_rate)
            self.throttle.available = self.throttle.last_requested

    def _note_cost(self, document: dict[str, Any]) -> dict[str, Any]:
        cost = ((document.get("extensions") or {}).get("cost")) or {}
        status = cost.get("throttleStatus") or {}
        try:
            if "maximumAvailable" in status:
                self.throttle.maximum = float(status["maximumAvailable"])
            if "currentlyAvailable" in status:
                self.throttle.available = float(status["currentlyAvailable"])
            if "restoreRate" in status:
                self.throttle.restore_rate = float(status["restoreRate"])
            if "requestedQueryCost" in cost:
                self.throttle.last_requested = float(cost["requestedQueryCost"])
        except (TypeError, ValueError):
            logger.warning("unreadable Shopify cost extension: %r", cost)
        return cost

    def execute(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """The `data` of one query, after waiting out throttling; ShopifyApiError otherwise."""
        body = json.dumps({"query": query, "variables": variables}).encode()
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Shopify-Access-Token": self.access_token,
        }
        for attempt in range(1, self.max_attempts + 1):
            self._pace()
            self.requests += 1
            try:
                response = self._pool.request("POST", self.url, body=body, headers=headers)
            except urllib3.exceptions.HTTPError as exc:
                if attempt == self.max_attempts:
                    raise ShopifyApiError("api_base", f"cannot reach {self.base}: {exc}") from exc
                self._pause(min(2.0**attempt * 0.25, 8.0))
                continue
            status = response.status
            if status == 429:
                self._pause(_retry_after(response.headers.get("Retry-After")))
                continue
            if status >= 500:
                if attempt == self.max_attempts:
                    raise ShopifyApiError("api", f"Shopify answered {status}", status=status)
                self._pause(min(2.0**attempt * 0.25, 8.0))
                continue
            if status in (401, 403):
                raise ShopifyApiError(
                    "access_token",
                    f"refused ({status}): check the token and its read_products scope",
                    status=status,
                )
            if status == 404:
                raise ShopifyApiError("api_version", f"no Admin API at {self.url} (404)", status=status)
            try:
                document = json.loads(response.data or b"{}")
            except ValueError as exc:
                raise ShopifyApiError("api", f"answer is not JSON (HTTP {status})", status=status) from exc
            if status >= 400:
                raise ShopifyApiError("query", _first_error(document) or f"HTTP {status}", status=status)
            cost = self._note_cost(document)
            errors = document.get("errors") or []
            if errors and any(
                (e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors if isinstance(e, dict)
            ):
                needed = float(cost.get("requestedQueryCost") or self.throttle.last_requested or 1)
                rate = self.throttle.restore_rate or 50.0
                self._pause(max(needed - self.throttle.available, 1.0) / rate)
                self.throttle.available = needed
                continue
            if errors:
                raise ShopifyApiError(
                    "query", _first_error(document) or "GraphQL error", code=_first_code(document)
                )
            data = document.get("data")
            if not isinstance(data, dict):
                raise ShopifyApiError("api", "answer has no data")
            return data
        raise ShopifyApiError("api", f"still throttled after {self.max_attempts} attempts")

    def products(
        self, *, page_size: int = PRODUCTS_PAGE
    ) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """Every product node with all its variant nodes, page by page (cursor pagination)."""
        after: str | None = None
        while True:
            try:
                data = self.execute(PRODUCTS_QUERY, {"first": page_size, "after": after})
            except ShopifyApiError as exc:
                if exc.code != "MAX_COST_EXCEEDED" or page_size == 1:
                    raise
                page_size = max(1, page_size // 2)  # the store's products cost more than we planned for
                continue
            self.shop_currency = str((data.get("shop") or {}).get("currencyCode") or self.shop_currency)
            connection = data.get("products") or {}
            for node in connection.get("nodes") or []:
                yield node, self._all_variants(node)
            info = connection.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return
            after = info.get("endCursor")
            if not after:
                raise ShopifyApiError("query", "hasNextPage without endCursor")

    def _all_variants(self, node: dict[str, Any]) -> list[dict[str, Any]]:
        variants = node.get("variants") or {}
        found = list(variants.get("nodes") or [])
        info = variants.get("pageInfo") or {}
        while info.get("hasNextPage"):
            data = self.execute(
                VARIANTS_QUERY, {"id": node["id"], "first": 100, "after": info.get("endCursor")}
            )
            page = ((data.get("product") or {}).get("variants")) or {}
            found += page.get("nodes") or []
            info = page.get("pageInfo") or {}
        return found


def _retry_after(raw: str | None) -> float:
    try:
        return max(float(raw), 0.05) if raw else 1.0
    except ValueError:
        return 1.0


def _first_code(document: dict[str, Any]) -> str:
    errors = document.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str((errors[0].get("extensions") or {}).get("code", ""))
    return ""


def _first_error(document: dict[str, Any]) -> str:
    errors = document.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("message", ""))[:300]
    if isinstance(errors, str):
        return errors[:300]
    return ""
