"""Enumerations of the spec equal the domain's StrEnums and the gateway's error codes."""

from __future__ import annotations

from enum import StrEnum

import pytest

from gateway.domain.enums import (
    CompartmentState,
    Direction,
    DoorState,
    ItemSensor,
    ParcelState,
    SizeClass,
)
from gateway.errors import ErrorCode
from gateway.spec import Spec
from gateway.wire import HTTP_STATUS, MessageKind

LIFECYCLE: list[type[StrEnum]] = [
    ParcelState,
    CompartmentState,
    DoorState,
    ItemSensor,
    SizeClass,
    Direction,
]


@pytest.mark.parametrize("enum", LIFECYCLE, ids=lambda e: e.__name__)
def test_lifecycle_enum_matches_domain(spec: Spec, enum: type[StrEnum]) -> None:
    published = spec.schema("lifecycle")["$defs"][enum.__name__]["enum"]
    assert published == [member.value for member in enum]  # same values, same order


def test_lifecycle_has_no_enum_the_domain_lacks(spec: Spec) -> None:
    assert set(spec.schema("lifecycle")["$defs"]) == {e.__name__ for e in LIFECYCLE}


def test_error_codes_match(spec: Spec) -> None:
    assert spec.schema("error-code")["enum"] == [code.value for code in ErrorCode]


def test_every_error_code_has_an_http_status() -> None:
    assert set(HTTP_STATUS) == set(ErrorCode)
    assert all(400 <= status <= 599 for status in HTTP_STATUS.values())


def test_message_kinds_match(spec: Spec) -> None:
    assert spec.schema("envelope")["properties"]["kind"]["enum"] == [k.value for k in MessageKind]
