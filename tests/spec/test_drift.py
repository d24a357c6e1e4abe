"""The wire models and the published schemas agree, and every example parses into its model."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from gateway.spec import Spec
from gateway.wire import LIBRARY_SCHEMAS, SCHEMA_MODELS, ParcelOut, WireModel, dump

from .drift import differences, model_shape, schema_shape
from .helpers import example_files, example_id, load_json

VALID = [p for p in example_files("examples") if p.parent.name in SCHEMA_MODELS]


def test_every_message_schema_has_a_model(spec: Spec) -> None:
    assert set(SCHEMA_MODELS) == set(spec.names) - LIBRARY_SCHEMAS


@pytest.mark.parametrize("name", sorted(SCHEMA_MODELS))
def test_model_matches_schema(spec: Spec, name: str) -> None:
    assert differences(schema_shape(spec, name), model_shape(SCHEMA_MODELS[name])) == []


@pytest.mark.parametrize("path", VALID, ids=example_id)
def test_example_parses_and_round_trips(spec: Spec, path: Path) -> None:
    model = SCHEMA_MODELS[path.parent.name]
    parsed = model.model_validate(load_json(path))
    spec.validate(path.parent.name, dump(parsed))  # what we send back is valid, too


class _ExtraMember(ParcelOut):
    courier_name: str = Field(alias="courierName")


class _SnakeCase(WireModel):
    parcel_id: str  # no alias: "parcel_id" on the wire


class _Loosened(ParcelOut):
    reference: str | None = None  # nullable became optional


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (_ExtraMember, "members"),
        (_SnakeCase, "members"),
        (_Loosened, "schema requires reference"),
    ],
)
def test_drift_is_detected(spec: Spec, model: type[WireModel], expected: str) -> None:
    found = differences(schema_shape(spec, "parcel"), model_shape(model))
    assert any(expected in line for line in found), found


def test_enum_drift_is_detected(spec: Spec) -> None:
    shape = schema_shape(spec, "parcel")
    shape.props["state"].enum = (shape.props["state"].enum or set()) | {"lost"}
    assert any("/state: enum" in line for line in differences(shape, model_shape(ParcelOut)))


def test_nested_type_drift_is_detected(spec: Spec) -> None:
    shape = schema_shape(spec, "locker")
    shape.props["location"].props["lat"].types = {"integer"}
    assert differences(shape, model_shape(SCHEMA_MODELS["locker"])) == [
        "/location/lat: types ['integer'] != ['number']"
    ]
