"""Every refusal of the product is a DomainError, and the API answers all of them with one handler."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from types import SimpleNamespace

import pytest
from django.test import RequestFactory

import omo
from config.api import api
from omo.catalog.inventory import OutOfStock, StockError
from omo.catalog.services import CatalogError
from omo.commerce.services import OrderError
from omo.core.api import ApiError
from omo.core.apikeys import ApiKeyError
from omo.core.errors import BadRequest, Conflict, DomainError, FieldError, Forbidden, Invalid, NotFound
from omo.core.imports import ImportFileError
from omo.customers.privacy import PrivacyError
from omo.customers.services import CustomerError
from omo.loyalty.services import CouponError, InsufficientPoints, LoyaltyError

ERROR_SUFFIXES = ("Error", "Refused", "Invalid")


def _product_modules() -> list[str]:
    """Every module of the product: not its tests, migrations or the developer tools."""
    names = []
    for info in pkgutil.walk_packages(omo.__path__, "omo."):
        parts = info.name.split(".")
        if "tests" in parts or "migrations" in parts or parts[1] == "devtools":
            continue
        names.append(info.name)
    return names


def _error_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for name in _product_modules():
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if (
                inspect.isclass(value)
                and value.__module__ == name
                and issubclass(value, BaseException)
                and attr.endswith(ERROR_SUFFIXES)
            ):
                found[f"{name}.{attr}"] = value
    return found


def test_every_error_class_of_the_product_is_a_domain_error():
    classes = _error_classes()
    # The walk must reach the apps, or an empty list would pass.
    assert {
        "omo.commerce.services.recording.OrderError",
        "omo.core.api.ApiError",
        "omo.platforms.base.PlatformError",
    } <= set(classes)
    strays = sorted(name for name, cls in classes.items() if not issubclass(cls, DomainError))
    assert strays == []


def test_errors_that_were_value_errors_still_are():
    """Callers that catch ValueError around a service keep catching its refusals."""
    for cls in (OrderError, CustomerError, CatalogError, StockError, LoyaltyError, PrivacyError):
        assert issubclass(cls, ValueError)


def test_config_api_maps_domain_errors_in_one_handler():
    handled = [cls for cls in api._exception_handlers if issubclass(cls, DomainError)]
    assert handled == [DomainError]


# --- the error values ---------------------------------------------------------------------------


def test_the_kinds_carry_their_status_and_code():
    assert [(k.status, k.code) for k in (Invalid, BadRequest, Conflict, NotFound, Forbidden)] == [
        (422, "invalid"),
        (400, "bad_request"),
        (409, "conflict"),
        (404, "not_found"),
        (403, "forbidden"),
    ]


def test_a_status_named_at_the_raise_site_brings_its_code():
    assert (OrderError("status", "已出貨", status=409).code, OrderError("x", "y").code) == (
        "conflict",
        "invalid",
    )
    assert OrderError("customer", "belongs to another brand", status=404).code == "not_found"
    # A code named at the raise site wins over the one the status implies.
    assert OrderError("x", "y", status=409, code="busy").code == "busy"
    # The class's own status keeps the class's own code.
    assert StockError("quantity must be positive", status=409).code == "stock_conflict"


def test_text_and_body():
    error = OrderError("quantity", "must be between 0 and 99")
    assert str(error) == "quantity: must be between 0 and 99"
    assert error.message == "must be between 0 and 99"
    assert error.body() == {"detail": "must be between 0 and 99", "code": "invalid", "field": "quantity"}
    # Errors whose text was the bare message keep it so.
    assert str(LoyaltyError("delta", "must not be zero")) == "must not be zero"
    assert Conflict("已被使用").body() == {"detail": "已被使用", "code": "conflict"}
    assert Invalid("bad", field="").body() == {"detail": "bad", "code": "invalid"}


def test_extra_facts_join_the_body():
    variant = SimpleNamespace(sku="TEE-M")
    error = OutOfStock(variant, 3, 1)  # type: ignore[arg-type]
    assert str(error) == "TEE-M: 3 requested, 1 available"
    assert (error.requested, error.available, error.variant) == (3, 1, variant)
    assert error.body() == {
        "detail": "TEE-M: 3 requested, 1 available",
        "code": "out_of_stock",
        "field": "quantity",
        "available": 1,
    }


def test_catalog_conflict_follows_the_status():
    assert CatalogError("handle", "tee already exists", status=409).conflict is True
    assert CatalogError("title", "is required").conflict is False


def test_a_status_without_a_code_of_its_own_keeps_the_class_code():
    assert Invalid("teapot", status=418).code == "invalid"


def test_domain_error_needs_a_message():
    with pytest.raises(TypeError):
        DomainError()  # type: ignore[call-arg]


# --- the one handler ----------------------------------------------------------------------------


def _answer(error: Exception) -> tuple[int, dict]:
    request = RequestFactory().get("/api/v1/anything")
    response = api.on_exception(request, error)
    return response.status_code, json.loads(response.content)


@pytest.mark.parametrize(
    ("error", "status", "body"),
    [
        (Invalid("必填", field="name"), 422, {"detail": "必填", "code": "invalid", "field": "name"}),
        (BadRequest("壞掉的請求"), 400, {"detail": "壞掉的請求", "code": "bad_request"}),
        (Conflict("已存在", field="code"), 409, {"detail": "已存在", "code": "conflict", "field": "code"}),
        (NotFound("找不到"), 404, {"detail": "找不到", "code": "not_found"}),
        (Forbidden("沒有權限"), 403, {"detail": "沒有權限", "code": "forbidden"}),
        (
            FieldError("phone", "not a phone number"),
            422,
            {"detail": "not a phone number", "code": "invalid", "field": "phone"},
        ),
        (
            ApiError(422, "invalid", "no variant with sku 'X'", field="sku"),
            422,
            {"detail": "no variant with sku 'X'", "code": "invalid", "field": "sku"},
        ),
        (
            OrderError("status", "an order that is paid cannot be marked paid", status=409),
            409,
            {"detail": "an order that is paid cannot be marked paid", "code": "conflict", "field": "status"},
        ),
        (
            CustomerError("identity", "an identifier already belongs to another customer", status=409),
            409,
            {
                "detail": "an identifier already belongs to another customer",
                "code": "conflict",
                "field": "identity",
            },
        ),
        (
            CustomerError("email", "not an email address"),
            422,
            {"detail": "not an email address", "code": "invalid", "field": "email"},
        ),
        (
            InsufficientPoints(500, 20),
            409,
            {
                "detail": "點數不足：要折抵 500 點，餘額 20 點",
                "code": "insufficient_points",
                "field": "points",
            },
        ),
        (
            CouponError("優惠碼 X 已過期 / coupon X has expired"),
            422,
            {"detail": "優惠碼 X 已過期 / coupon X has expired", "code": "invalid", "field": "coupon_code"},
        ),
        (
            StockError("on_hand cannot be negative"),
            409,
            {"detail": "on_hand cannot be negative", "code": "stock_conflict", "field": "on_hand"},
        ),
        (
            OutOfStock(SimpleNamespace(sku="TEE-M"), 3, 1),  # type: ignore[arg-type]
            409,
            {
                "detail": "TEE-M: 3 requested, 1 available",
                "code": "out_of_stock",
                "field": "quantity",
                "available": 1,
            },
        ),
        (
            ApiKeyError("role", "no such role"),
            422,
            {"detail": "no such role", "code": "invalid", "field": "role"},
        ),
        (
            ImportFileError("file", "檔案不是 UTF-8"),
            422,
            {"detail": "檔案不是 UTF-8", "code": "invalid", "field": "file"},
        ),
        (
            PrivacyError("reason", "請填寫原因"),
            400,
            {"detail": "請填寫原因", "code": "invalid", "field": "reason"},
        ),
        (
            PrivacyError("customer", "不可匯出", status=403),
            403,
            {"detail": "不可匯出", "code": "forbidden", "field": "customer"},
        ),
    ],
)
def test_the_one_handler_answers_each_kind(error, status, body):
    assert _answer(error) == (status, body)
