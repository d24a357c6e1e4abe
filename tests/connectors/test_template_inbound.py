"""The template connector's inbound mapping: a carrier's shipment JSON -> an announcement."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.template import TemplateConfig, TemplateConnector
from gateway.sdk.connectors import (
    ConnectorConfigError,
    InboundRequest,
    MappingError,
    SourcedAnnouncement,
    announcement_schema,
)

FIELDS: dict[str, Any] = {
    "parcelId": {"pointer": "/shipment/id", "required": True},
    "lockerId": {"pointer": "/shipment/receiver/lockerCode", "required": True},
    "sizeClass": {"pointer": "/shipment/size", "values": {"A": "S", "B": "M", "C": "L"}},
    "weightG": {"pointer": "/shipment/weight", "type": "integer"},
    "reference": {"pointer": "/shipment/ref", "default": "pre-advice"},
    "direction": {"value": "last_mile"},
    "dimensionsMm.length": {"pointer": "/shipment/dims/0"},
}
SHIPMENT: dict[str, Any] = {
    "shipment": {"id": "CX123", "receiver": {"lockerCode": "WAW-CENTRAL-01"}, "size": "B"}
}


def connector(**fields: Any) -> TemplateConnector:
    mapping = {k: v for k, v in (FIELDS | fields).items() if v is not None}
    config = TemplateConfig.model_validate({"inbound": {"fields": mapping}})
    return TemplateConnector(config=config)


def parse(document: Any, **fields: Any) -> SourcedAnnouncement:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    answer = connector(**fields).parse_inbound(InboundRequest(body, "application/json"))
    assert isinstance(answer, SourcedAnnouncement)
    return answer


def problems(document: Any, **fields: Any) -> list[tuple[str, str]]:
    with pytest.raises(MappingError) as caught:
        parse(document, **fields)
    return [(i.pointer, i.detail) for i in caught.value.issues]


def test_a_shipment_becomes_an_announcement_with_its_sources() -> None:
    answer = parse(SHIPMENT)
    assert answer == {
        "parcelId": "CX123",
        "lockerId": "WAW-CENTRAL-01",
        "sizeClass": "M",
        "reference": "pre-advice",
        "direction": "last_mile",
    }
    assert answer.sources == {
        "/parcelId": "/shipment/id",
        "/lockerId": "/shipment/receiver/lockerCode",
        "/sizeClass": "/shipment/size",
        "/weightG": "/shipment/weight",
        "/reference": "/shipment/ref",
        "/dimensionsMm/length": "/shipment/dims/0",
    }


def test_conversions_nested_targets_and_array_indexes() -> None:
    shipment = {"shipment": {**SHIPMENT["shipment"], "weight": "1250", "dims": [300, 200]}}
    answer = parse(shipment)
    assert answer["weightG"] == 1250
    assert answer["dimensionsMm"] == {"length": 300}


def test_escaped_pointer_tokens() -> None:
    document = {"a/b": {"~x": "CX9"}, "l": "L1"}
    answer = parse(
        document,
        parcelId={"pointer": "/a~1b/~0x", "required": True},
        lockerId={"pointer": "/l"},
        sizeClass={"value": "S"},
        weightG=None,
        reference=None,
        **{"dimensionsMm.length": None},
    )
    assert (answer["parcelId"], answer["lockerId"]) == ("CX9", "L1")


def test_every_problem_is_named_by_the_carriers_pointer() -> None:
    found = problems(
        {"shipment": {"receiver": {"lockerCode": None}, "size": "D", "weight": "heavy"}}
    )
    assert found == [
        ("/shipment/id", "is required"),
        ("/shipment/receiver/lockerCode", "is required"),
        ("/shipment/size", "must be one of: A, B, C"),
        ("/shipment/weight", "must be a integer value"),
    ]


def test_a_parent_of_the_wrong_type_is_named() -> None:
    assert problems({"shipment": "CX123"}) == [
        ("/shipment", "must be an object or an array"),
        ("/shipment", "must be an object or an array"),
        ("/shipment", "must be an object or an array"),
        ("/shipment", "must be an object or an array"),
        ("/shipment", "must be an object or an array"),
        ("/shipment", "must be an object or an array"),
    ]


def test_problems_do_not_repeat_values() -> None:
    with pytest.raises(MappingError) as caught:
        parse({"shipment": {**SHIPMENT["shipment"], "size": "Ada Lovelace"}})
    assert "Ada" not in str(caught.value)


def test_a_body_that_is_not_json() -> None:
    assert problems(b"{not json") == [("", "the body is not JSON")]


def test_no_inbound_mapping_means_no_preadvice() -> None:
    plain = TemplateConnector(
        config=TemplateConfig.model_validate({"statuses": {"parcel.expired": "X"}})
    )
    with pytest.raises(NotImplementedError):
        plain.parse_inbound(InboundRequest(b"{}", "application/json"))


def test_the_targets_are_the_announcement_schemas_members() -> None:
    assert "lockerId" in announcement_schema()["properties"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"courier": {"pointer": "/c"}}, r"inbound\.fields\.courier: no such announcement member"),
        ({"parcelId": None}, r"inbound\.fields: parcelId must be mapped"),
        ({"sizeClass": None, "dimensionsMm.length": None}, r"inbound\.fields: map .*sizeClass"),
        ({"dimensionsMm": {"pointer": "/d"}}, r"dimensionsMm is mapped as a whole already"),
        ({"dimensionsMm.": {"pointer": "/d"}}, r"inbound\.fields\.dimensionsMm\.: no such"),
    ],
)
def test_a_bad_inbound_mapping_fails_at_construction(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ConnectorConfigError, match=message):
        connector(**fields)


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ({"pointer": "shipment/id"}, "is not a JSON pointer"),
        ({"pointer": "/a~2"}, "is not a JSON pointer"),
        ({}, "exactly one of pointer"),
        ({"pointer": "/a", "value": "x"}, "exactly one of pointer"),
        ({"value": "x", "required": True}, "a constant value takes no"),
        ({"pointer": "/a", "required": True, "default": "x"}, "a required field has no default"),
        ({"pointer": "/a", "type": "date"}, "type"),
    ],
)
def test_a_bad_inbound_field_is_refused_by_the_model(field: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        connector(reference=field)
