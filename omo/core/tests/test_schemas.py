"""DictSchema: validated straight from dicts, the same answers as ninja's Schema."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from ninja import Schema
from pydantic import Field, ValidationError

from omo.core.schemas import DictSchema


class Line(DictSchema):
    sku: str = Field(..., max_length=5)
    quantity: int = Field(..., gt=0)


class Order(DictSchema):
    external_id: str
    lines: list[Line]


class PlainLine(Schema):
    sku: str = Field(..., max_length=5)
    quantity: int = Field(..., gt=0)


class PlainOrder(Schema):
    external_id: str
    lines: list[PlainLine]


class WithResolver(DictSchema):
    code: str

    @staticmethod
    def resolve_code(obj) -> str:
        return "resolved"


def _errors(shape, body):
    with pytest.raises(ValidationError) as err:
        shape.model_validate(body)
    return [(e["loc"], e["msg"], e["type"]) for e in err.value.errors()]


def test_a_dict_validates_as_with_schema():
    body = {"external_id": "A-1", "lines": [{"sku": "TEE", "quantity": "2"}], "extra": "ignored"}
    assert Order.model_validate(body).model_dump() == PlainOrder.model_validate(body).model_dump()


@pytest.mark.parametrize(
    "body",
    [
        {"external_id": "A-1", "lines": [{"sku": "TOO-LONG", "quantity": 0}]},
        {"lines": "nope"},
        {"external_id": None, "lines": [{"quantity": "lots"}]},
    ],
)
def test_errors_name_the_same_fields_as_with_schema(body):
    assert _errors(Order, body) == _errors(PlainOrder, body)


def test_objects_are_still_read_by_attribute():
    order = Order.model_validate(
        SimpleNamespace(external_id="A-2", lines=[SimpleNamespace(sku="X", quantity=1)])
    )
    assert order.lines[0].sku == "X"


def test_a_shape_with_resolvers_still_runs_them_for_dicts():
    assert WithResolver.model_validate({"code": "as sent"}).code == "resolved"
