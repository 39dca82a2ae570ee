"""What commerce holds about a person: orders (with their lines and refunds) and carts.

Accounting stays on erasure: orders keep their amounts and their link to the (now anonymous)
customer; who they were for and where they went is blanked.
"""

from __future__ import annotations

from collections.abc import Iterator

from omo.commerce.models import Cart, Order, OrderLine, Refund
from omo.core.models import Brand
from omo.customers import identity, personal_data, registry
from omo.customers.personal_data import Erasure, Moves, PersonalDataHandler, Rows, rows
from omo.customers.tasks import Kind, chunks


class CommerceData(PersonalDataHandler):
    app_label = "commerce"
    order = 10
    holds = ("commerce.Order", "commerce.Cart")

    def moves(self) -> Moves:
        return ((Order, "customer"), (Cart, "customer"))

    def export(self, brand_id: int, customer_ids: list[int]) -> dict[str, Rows]:
        orders = Order.objects.filter(brand_id=brand_id, customer_id__in=customer_ids).order_by(
            "placed_at", "id"
        )
        return {
            "orders": rows(orders),
            "order_lines": rows(
                OrderLine.objects.filter(brand_id=brand_id, order__in=orders).order_by("order_id", "id")
            ),
            "refunds": rows(Refund.objects.filter(brand_id=brand_id, order__in=orders).order_by("id")),
        }

    def needles(self, brand_id: int, customer_ids: list[int]) -> list[str]:
        orders = Order.objects.filter(brand_id=brand_id, customer_id__in=customer_ids)
        return [
            value
            for row in orders.values_list("contact_name", "contact_phone", "contact_email", "invoice_carrier")
            for value in row
            if value
        ]

    def erase(self, erasure: Erasure) -> dict[str, int]:
        orders = Order.objects.filter(brand_id=erasure.brand_id, customer_id__in=erasure.customer_ids)
        return {
            "orders": orders.update(
                contact_name="",
                contact_phone="",
                contact_email="",
                shipping_address={},
                note="",
                invoice_carrier="",  # a mobile barcode identifies its owner
            )
        }


def order_identifiers(brand: Brand, chunk: int) -> Iterator[list[identity.Observation]]:
    """Orders' contact phone and email, for the customer the order is for."""
    qs = Order.objects.filter(brand=brand, customer__isnull=False).exclude(contact_phone="", contact_email="")
    for found in chunks(qs, ("customer_id", "contact_phone", "contact_email"), chunk):
        yield [
            identity.Observation(
                [(Kind.PHONE, phone), (Kind.EMAIL, email)], customer_id=customer_id, create=False
            )
            for _, customer_id, phone, email in found
        ]


def register() -> None:
    """Called once from CommerceConfig.ready."""
    personal_data.register(CommerceData())
    registry.register_identifier_source(registry.IdentifierSource("orders", 30, order_identifiers))
