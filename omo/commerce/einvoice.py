"""Taiwan e-invoice (電子發票) choices a shopper makes at checkout, and the checks on their numbers.

- member carrier (會員載具): the invoice is kept in the shop's own member carrier; no number needed.
- mobile barcode carrier (手機條碼載具): "/" and 7 characters from 0-9, A-Z, ".", "-", "+".
- company (公司統一編號): an 8-digit business number with the Ministry of Finance check, and the
  company name printed on the invoice.
- donation (捐贈): a charity's donation code (愛心碼), 3 to 7 digits.
"""

from __future__ import annotations

import re

from django.db import models
from django.utils.translation import gettext_lazy as _


class InvoiceKind(models.TextChoices):
    MEMBER = "member", _("會員載具")
    MOBILE = "mobile", _("手機條碼載具")
    COMPANY = "company", _("公司統一編號")
    DONATION = "donation", _("捐贈發票")


MOBILE_BARCODE = re.compile(r"/[0-9A-Z.+\-]{7}")
DONATION_CODE = re.compile(r"[0-9]{3,7}")
TAX_ID = re.compile(r"[0-9]{8}")
TAX_ID_WEIGHTS = (1, 2, 1, 2, 1, 2, 4, 1)


def is_mobile_barcode(value: str) -> bool:
    return MOBILE_BARCODE.fullmatch(value) is not None


def is_donation_code(value: str) -> bool:
    return DONATION_CODE.fullmatch(value) is not None


def is_tax_id(value: str) -> bool:
    """The Ministry of Finance check on a business number (統一編號).

    Each digit times its weight (1,2,1,2,1,2,4,1); the digits of each product are added (18 → 1+8);
    the number is valid when the sum divides by 5 (numbers issued before 2023 divide by 10, which
    divides by 5 too). When the 7th digit is 7 its product is 28 → 10, counted as either 1 or 0,
    so the number is also valid when the sum plus one divides by 5.
    """
    if TAX_ID.fullmatch(value) is None:
        return False
    total = 0
    for digit, weight in zip(value, TAX_ID_WEIGHTS, strict=True):
        digits = sum(divmod(int(digit) * weight, 10))
        total += sum(divmod(digits, 10))  # only 7×4 = 28 → 10 needs a second step: 1
    if total % 5 == 0:
        return True
    # 7×4 = 28 → 2+8 = 10: the sum above counted it as 1+0 = 1; the rule also allows 0
    return value[6] == "7" and (total - 1) % 5 == 0


def invoice_errors(
    kind: str, *, carrier: str = "", tax_id: str = "", company: str = "", donation_code: str = ""
) -> dict[str, str]:
    """What is wrong with the shopper's e-invoice choice, by field name; empty when it is fine."""
    if kind not in InvoiceKind.values:
        return {"invoice_kind": f"one of {', '.join(InvoiceKind.values)}"}
    errors: dict[str, str] = {}
    if kind == InvoiceKind.MOBILE and not is_mobile_barcode(carrier):
        errors["invoice_carrier"] = 'is "/" and 7 characters from 0-9, A-Z, ".", "-", "+"'
    if kind == InvoiceKind.COMPANY:
        if not is_tax_id(tax_id):
            errors["invoice_tax_id"] = "is not a valid 8-digit business number"
        if not company.strip():
            errors["invoice_company"] = "is required with a business number"
    if kind == InvoiceKind.DONATION and not is_donation_code(donation_code):
        errors["invoice_donation_code"] = "is 3 to 7 digits"
    return errors
