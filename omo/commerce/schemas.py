"""The shape of an order as integrators send it (API, batch, CSV). Validation names each field."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, field_validator, model_validator

from omo.commerce.models import Order, SalesChannel
from omo.core.schemas import DictSchema


class _Shape(DictSchema):
    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        # PostgreSQL text cannot hold NUL: refused here by field, not a failed write for the whole batch.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain the NUL character (\\u0000)")
        return value


class CustomerRef(_Shape):
    name: str = Field("", max_length=120)
    phone: str = Field("", max_length=40)
    email: str = Field("", max_length=254)
    member_number: str = Field("", max_length=40)


class OrderLineIn(_Shape):
    sku: str = Field("", max_length=64, description="our SKU; unknown SKUs need a title")
    title: str = Field("", max_length=250)
    quantity: int = Field(..., gt=0, le=100000)
    unit_price: int = Field(..., ge=0, description="minor units (NT$1 = 100)")
    discount: int = Field(0, ge=0, description="line discount, minor units")

    @model_validator(mode="after")
    def _needs_sku_or_title(self) -> OrderLineIn:
        if not self.sku.strip() and not self.title.strip():
            raise ValueError("a line needs a sku or a title")
        if self.discount > self.quantity * self.unit_price:
            raise ValueError("discount is larger than the line amount")
        return self


class DiscountIn(_Shape):
    code: str = Field("", max_length=60)
    kind: str = Field("manual", max_length=30)
    amount: int = Field(..., ge=0)


class OrderIn(_Shape):
    source: str = Field(..., min_length=1, max_length=60, description="the sending system, e.g. pos-erp")
    external_id: str = Field(..., min_length=1, max_length=120, description="the order's id in that system")
    name: str = Field("", max_length=60, description="receipt or order number shown to people")
    sales_channel: SalesChannel
    store_code: str = Field("", max_length=30)
    staff_code: str = Field("", max_length=40, description="POS staff / employee code")
    placed_at: dt.datetime
    currency: str = Field("TWD", min_length=3, max_length=3)
    customer: CustomerRef | None = None
    lines: list[OrderLineIn] = Field(..., min_length=1, max_length=500)
    discounts: list[DiscountIn] = Field(default_factory=list, max_length=20)
    shipping_total: int = Field(0, ge=0)
    tax_total: int = Field(0, ge=0, description="tax not already included in prices")
    total: int | None = Field(None, ge=0, description="if sent, must equal the computed total")
    status: Literal["placed", "paid", "fulfilled", "cancelled"] = "paid"
    paid_at: dt.datetime | None = None
    ref: str = Field("", max_length=200)
    note: str = Field("", max_length=2000)
    fulfilment: Order.Fulfilment | None = None
    decrement_stock: bool | None = Field(
        None,
        description="take the sold units off the store's stock (movements recorded). Default: yes for a "
        "POS sale handed over in store (fulfilment in_store) at a store with a stock location; send "
        "false when the POS or ERP already sends stock levels",
    )

    @field_validator("placed_at", "paid_at")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must include a time zone offset, e.g. 2026-11-23T14:05:00+08:00")
        return value

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str) -> str:
        if not value.isalpha():
            raise ValueError("must be a 3-letter ISO 4217 code")
        return value.upper()

    @model_validator(mode="after")
    def _store_for_pos(self) -> OrderIn:
        if self.sales_channel == SalesChannel.POS and not self.store_code:
            raise ValueError("store_code is required for POS orders")
        return self

    def computed_subtotal(self) -> int:
        return sum(line.quantity * line.unit_price - line.discount for line in self.lines)

    def computed_total(self) -> int:
        discount = sum(d.amount for d in self.discounts)
        return self.computed_subtotal() - discount + self.shipping_total + self.tax_total


class RefundIn(_Shape):
    external_id: str = Field(..., min_length=1, max_length=120, description="idempotency key for this refund")
    amount: int | None = Field(
        default=None,
        gt=0,
        description="minor units; at most what was paid minus what was refunded. Without it, the lines' "
        "share of their line totals is refunded",
    )
    reason: str = Field("", max_length=250)
    lines: list[dict] = Field(
        default_factory=list,
        max_length=500,
        description='units given back: [{"line_id": 1, "quantity": 1}]',
    )
    restock: bool = Field(default=False, description="put the lines' units back in stock")
