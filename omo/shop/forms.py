"""Shop forms check only the shape of what was typed (types, lengths, choices).

The business rules (a phone that is a phone, an address for home delivery, a store for pick-up,
stock, coupons, points) live in omo.commerce.services.checkout, which names the field it refuses;
the view puts that message next to the field. One source of truth, no rule written twice.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from omo.commerce.einvoice import InvoiceKind
from omo.commerce.models import Order


class AddToCartForm(forms.Form):
    variant = forms.IntegerField(min_value=1)
    quantity = forms.IntegerField(min_value=1, max_value=99, initial=1)


class CartLineForm(forms.Form):
    variant = forms.IntegerField(min_value=1)
    quantity = forms.IntegerField(min_value=0, max_value=99)


class CheckoutForm(forms.Form):
    FULFILMENT_CHOICES = [
        (Order.Fulfilment.SHIP, _("宅配到府")),
        (Order.Fulfilment.PICKUP, _("門市取貨")),
    ]
    PAYMENT_CHOICES = [
        (Order.Payment.COD, _("貨到付款")),
        (Order.Payment.PAY_IN_STORE, _("門市付款")),
    ]

    name = forms.CharField(label=_("姓名"), max_length=120, required=False)
    phone = forms.CharField(label=_("手機"), max_length=30, required=False)
    email = forms.CharField(label=_("Email"), max_length=254, required=False)
    fulfilment = forms.ChoiceField(
        label=_("取貨方式"), choices=FULFILMENT_CHOICES, initial=Order.Fulfilment.SHIP
    )
    city = forms.CharField(label=_("縣市"), max_length=40, required=False)
    district = forms.CharField(label=_("鄉鎮市區"), max_length=40, required=False)
    postal_code = forms.CharField(label=_("郵遞區號"), max_length=10, required=False)
    line1 = forms.CharField(label=_("地址"), max_length=200, required=False)
    pickup_store = forms.IntegerField(label=_("取貨門市"), min_value=1, required=False)
    payment_method = forms.ChoiceField(
        label=_("付款方式"), choices=PAYMENT_CHOICES, initial=Order.Payment.COD
    )
    coupon_code = forms.CharField(label=_("優惠碼"), max_length=60, required=False)
    points = forms.IntegerField(label=_("折抵點數"), min_value=0, max_value=10_000_000, required=False)
    note = forms.CharField(label=_("備註"), max_length=500, required=False, widget=forms.Textarea)
    invoice_kind = forms.ChoiceField(
        label=_("電子發票"), choices=InvoiceKind.choices, initial=InvoiceKind.MEMBER, required=False
    )
    invoice_carrier = forms.CharField(label=_("手機條碼"), max_length=8, required=False)
    invoice_tax_id = forms.CharField(label=_("統一編號"), max_length=8, required=False)
    invoice_company = forms.CharField(label=_("公司名稱（發票抬頭）"), max_length=120, required=False)
    invoice_donation_code = forms.CharField(label=_("捐贈碼（愛心碼）"), max_length=7, required=False)

    def address(self) -> dict[str, str]:
        data = self.cleaned_data
        return {key: (data.get(key) or "").strip() for key in ("postal_code", "city", "district", "line1")}

    def invoice(self) -> dict[str, str]:
        data = self.cleaned_data
        return {
            "kind": data.get("invoice_kind") or InvoiceKind.MEMBER,
            "carrier": (data.get("invoice_carrier") or "").strip().upper(),
            "tax_id": (data.get("invoice_tax_id") or "").strip(),
            "company": (data.get("invoice_company") or "").strip(),
            "donation_code": (data.get("invoice_donation_code") or "").strip(),
        }


# services.checkout names fields as the API does; these are the form fields they belong next to.
SERVICE_FIELD_TO_FORM_FIELD = {
    "name": "name",
    "phone": "phone",
    "email": "email",
    "address.postal_code": "postal_code",
    "address.city": "city",
    "address.district": "district",
    "address.line1": "line1",
    "pickup_store": "pickup_store",
    "payment_method": "payment_method",
    "fulfilment": "fulfilment",
    "coupon_code": "coupon_code",
    "points": "points",
    "invoice_kind": "invoice_kind",
    "invoice_carrier": "invoice_carrier",
    "invoice_tax_id": "invoice_tax_id",
    "invoice_company": "invoice_company",
    "invoice_donation_code": "invoice_donation_code",
}

# The service explains refusals to developers in English; shoppers read these instead. Fields not
# listed (cart, coupon_code) already carry bilingual, shopper-ready messages from the service.
FRIENDLY_ERRORS = {
    "name": _("請填寫收件人姓名。"),
    "phone": _("請輸入有效的手機號碼，例如 0912-345-678。"),
    "email": _("Email 格式不正確。"),
    "address.city": _("請選擇縣市。"),
    "address.district": _("請選擇這個縣市的鄉鎮市區。"),
    "address.postal_code": _("郵遞區號與鄉鎮市區不符，請重新選擇鄉鎮市區。"),
    "address.line1": _("宅配需要填寫地址。"),
    "pickup_store": _("請選擇可以取貨的門市。"),
    "payment_method": _("宅配請選擇貨到付款，門市取貨請選擇門市付款。"),
    "fulfilment": _("目前無法宅配，請改選門市取貨。"),
    "points": _("點數不足或超過本單可折抵上限，請調整折抵點數。"),
    "invoice_kind": _("請選擇電子發票的開立方式。"),
    "invoice_carrier": _("手機條碼為「/」加 7 碼（數字、大寫英文或 . - +），例如 /ABC+123。"),
    "invoice_tax_id": _("統一編號為 8 碼數字，請再確認一次。"),
    "invoice_company": _("請填寫公司名稱（發票抬頭）。"),
    "invoice_donation_code": _("捐贈碼為 3 至 7 碼數字。"),
}
