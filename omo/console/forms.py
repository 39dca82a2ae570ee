"""Console forms: sign-in, list filters (GET) and API key creation.

Filter forms never raise on bad input: a field that does not validate is reported next to the
field and left out of the query, the valid ones still apply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import pgettext_lazy

from omo.catalog.models import Category, Location
from omo.commerce.models import Order, SalesChannel
from omo.console import selectors
from omo.core.models import Brand
from omo.staff.models import Store, User
from omo.staff.roles import Role, Scope

if TYPE_CHECKING:
    from omo.staff.requests import BrandStaff


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any):
        super().__init__(format="%Y-%m-%d", **kwargs)


class ConsoleAuthenticationForm(AuthenticationForm):
    """Django's sign-in, refusing accounts that belong to no brand (e.g. a bare superuser)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": pgettext_lazy("console", "帳號或密碼不正確。"),
        "no_brand": pgettext_lazy("console", "此帳號不屬於任何品牌，請改用系統管理介面。"),
    }

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = pgettext_lazy("console", "帳號")
        self.fields["password"].label = pgettext_lazy("console", "密碼")
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "autofocus": True})

    def confirm_login_allowed(self, user: User) -> None:
        super().confirm_login_allowed(user)
        # Clerks may sign in here (LOGIN_URL is shared with the clerk app); the console itself
        # refuses them with a 403 that explains where to go.
        if user.brand_id is None:
            raise forms.ValidationError(self.error_messages["no_brand"], code="no_brand")


class FilterForm(forms.Form):
    """Base for GET filter forms: `value(name)` is the cleaned value or None when invalid/empty."""

    def __init__(self, data: Any = None, **kwargs: Any):
        super().__init__(data=data or None, **kwargs)

    def value(self, name: str) -> Any:
        # self.errors cleans the form on first use, after subclasses have set their querysets.
        if not self.is_bound or name in self.errors:
            return None
        value = self.cleaned_data.get(name)
        return None if value in (None, "") else value


class OrderFilterForm(FilterForm):
    q = forms.CharField(label=pgettext_lazy("console", "搜尋"), required=False, max_length=80)
    sales_channel = forms.ChoiceField(
        label=pgettext_lazy("console", "銷售通路"),
        required=False,
        choices=[("", pgettext_lazy("console", "全部通路")), *SalesChannel.choices],
    )
    store: forms.ModelChoiceField[Store] = forms.ModelChoiceField(
        label=pgettext_lazy("console", "門市"),
        required=False,
        queryset=None,
        empty_label=pgettext_lazy("console", "全部門市"),
    )
    status = forms.ChoiceField(
        label=pgettext_lazy("console", "狀態"),
        required=False,
        choices=[("", pgettext_lazy("console", "全部狀態")), *Order.Status.choices],
    )
    date_from = forms.DateField(label=pgettext_lazy("console", "起日"), required=False, widget=DateInput())
    date_to = forms.DateField(label=pgettext_lazy("console", "迄日"), required=False, widget=DateInput())
    customer = forms.IntegerField(required=False, widget=forms.HiddenInput(), min_value=1)

    def __init__(self, data: Any = None, *, user: BrandStaff, **kwargs: Any):
        super().__init__(data, **kwargs)
        cast("forms.ModelChoiceField[Store]", self.fields["store"]).queryset = selectors.stores_for(user)
        self.fields["q"].widget.attrs["placeholder"] = pgettext_lazy("console", "訂單編號或手機")
        if user.scope == Scope.STORE:
            del self.fields["store"]  # a store manager sees one store anyway

    def to_filters(self) -> selectors.OrderFilters:
        store = self.value("store") if "store" in self.fields else None
        return selectors.OrderFilters(
            sales_channel=self.value("sales_channel") or "",
            store_id=store.pk if store else None,
            status=self.value("status") or "",
            date_from=self.value("date_from"),
            date_to=self.value("date_to"),
            query=(self.value("q") or "").strip(),
            customer_id=self.value("customer"),
        )


class SearchForm(FilterForm):
    q = forms.CharField(label=pgettext_lazy("console", "搜尋"), required=False, max_length=120)

    def __init__(self, data: Any = None, *, placeholder: str = "", **kwargs: Any):
        super().__init__(data, **kwargs)
        if placeholder:
            self.fields["q"].widget.attrs["placeholder"] = placeholder

    @property
    def query(self) -> str:
        return (self.value("q") or "").strip()


class ProductFilterForm(SearchForm):
    category: forms.ModelChoiceField[Category] = forms.ModelChoiceField(
        label=pgettext_lazy("console", "分類"),
        required=False,
        queryset=None,
        empty_label=pgettext_lazy("console", "全部分類"),
    )

    def __init__(self, data: Any = None, *, user: BrandStaff, **kwargs: Any):
        super().__init__(data, placeholder=str(pgettext_lazy("console", "商品名稱、SKU 或條碼")), **kwargs)
        cast("forms.ModelChoiceField[Category]", self.fields["category"]).queryset = selectors.categories_for(
            user
        )


class StockFilterForm(SearchForm):
    location: forms.ModelChoiceField[Location] = forms.ModelChoiceField(
        label=pgettext_lazy("console", "據點"),
        required=False,
        queryset=None,
        empty_label=pgettext_lazy("console", "全部據點"),
    )
    low = forms.IntegerField(
        label=pgettext_lazy("console", "可售量不超過"), required=False, min_value=0, max_value=100000
    )

    def __init__(self, data: Any = None, *, user: BrandStaff, **kwargs: Any):
        super().__init__(data, placeholder=str(pgettext_lazy("console", "SKU、條碼或商品名稱")), **kwargs)
        cast("forms.ModelChoiceField[Location]", self.fields["location"]).queryset = selectors.locations_for(
            user
        )


class AuditFilterForm(FilterForm):
    action = forms.CharField(label=pgettext_lazy("console", "動作"), required=False, max_length=80)
    actor = forms.CharField(label=pgettext_lazy("console", "執行者"), required=False, max_length=200)
    target_type = forms.CharField(label=pgettext_lazy("console", "對象類型"), required=False, max_length=60)
    target_id = forms.CharField(label=pgettext_lazy("console", "對象 ID"), required=False, max_length=64)
    date_from = forms.DateField(label=pgettext_lazy("console", "起日"), required=False, widget=DateInput())
    date_to = forms.DateField(label=pgettext_lazy("console", "迄日"), required=False, widget=DateInput())

    def to_filters(self) -> selectors.AuditFilters:
        return selectors.AuditFilters(
            action=(self.value("action") or "").strip(),
            actor=(self.value("actor") or "").strip(),
            target_type=(self.value("target_type") or "").strip(),
            target_id=(self.value("target_id") or "").strip(),
            date_from=self.value("date_from"),
            date_to=self.value("date_to"),
        )


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=pgettext_lazy("console", "名稱"),
        max_length=120,
        help_text=pgettext_lazy("console", "例如：POS 串接、ERP 夜間匯入"),
    )
    role = forms.ChoiceField(
        label=pgettext_lazy("console", "權限角色"),
        choices=Role.choices,
        initial=Role.HQ_ADMIN,
        help_text=pgettext_lazy("console", "金鑰能做的事與此角色相同。"),
    )
    store: forms.ModelChoiceField[Store] = forms.ModelChoiceField(
        label=pgettext_lazy("console", "門市"),
        queryset=None,
        required=False,
        help_text=pgettext_lazy("console", "店長金鑰必填：只能存取這家門市的資料。"),
    )
    staff: forms.ModelChoiceField[User] = forms.ModelChoiceField(
        label=pgettext_lazy("console", "店員"),
        queryset=None,
        required=False,
        help_text=pgettext_lazy("console", "店員金鑰必填：金鑰以這位店員的身分存取自己的顧客與業績。"),
    )

    def __init__(self, *args: Any, brand: Brand, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.brand = brand
        cast("forms.ModelChoiceField[Store]", self.fields["store"]).queryset = Store.objects.filter(
            brand=brand
        ).order_by("code")
        cast("forms.ModelChoiceField[User]", self.fields["staff"]).queryset = User.objects.filter(
            brand=brand, role=Role.CLERK, is_active=True
        ).order_by("display_name", "username")

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(pgettext_lazy("console", "請輸入名稱。"))
        return name

    def clean(self):
        data = super().clean()
        role, store, staff = data.get("role"), data.get("store"), data.get("staff")
        if role in (Role.HQ_ADMIN, Role.HQ_AGENT):
            if store is not None:
                self.add_error("store", pgettext_lazy("console", "總部角色的金鑰適用全品牌，請勿選擇門市。"))
            if staff is not None:
                self.add_error("staff", pgettext_lazy("console", "總部角色的金鑰適用全品牌，請勿選擇店員。"))
        elif role == Role.STORE_MANAGER:
            if store is None:
                self.add_error("store", pgettext_lazy("console", "店長金鑰需要選擇門市。"))
            if staff is not None:
                self.add_error("staff", pgettext_lazy("console", "店長金鑰不需選擇店員。"))
        elif role == Role.CLERK:
            if staff is None:
                self.add_error("staff", pgettext_lazy("console", "店員金鑰需要選擇店員。"))
            if store is not None:
                self.add_error("store", pgettext_lazy("console", "店員金鑰使用店員所屬門市，請勿選擇門市。"))
        return data
