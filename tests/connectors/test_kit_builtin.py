"""Every built-in connector passes the conformance kit, loaded through its entry point."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from gateway.sdk.connectors import InboundRequest, available_connectors, load_connector_class
from gateway.sdk.testing.connectors import ConnectorCase, ConnectorContract

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "connectors"
URL = "https://carrier.example/hooks"
BUILT_IN = {"olp-webhooks", "standard-webhooks", "cloudevents", "epcis", "template", "email", "sms"}
SHIPX_LIKE_SHIPMENT = {
    "tracking_number": "JJD000390007729481234",
    "custom_attributes": {"target_point": "WAW-CENTRUM-01"},
    "parcels": [{"template": "small", "weight_g": 1250}],
    "reference": "order 4711",
    "receiver": {"email": "ada@example.org", "phone": "+48500100200"},
}


def case(
    name: str,
    *configs: Mapping[str, object],
    inbound: tuple[bytes, ...] = (),
    inbound_configs: list[Mapping[str, object]] | None = None,
) -> ConnectorCase:
    requests = [InboundRequest(body=b, content_type="application/json") for b in inbound]
    return ConnectorCase(
        connector=load_connector_class(name),
        configs=configs,
        inbound=requests,
        inbound_configs=inbound_configs,
    )


def test_every_built_in_connector_is_installed_and_under_the_kit() -> None:
    assert set(available_connectors()) >= BUILT_IN
    tested = {
        getattr(cls, "name", None)
        for cls in globals().values()
        if isinstance(cls, type) and issubclass(cls, ConnectorContract)
    }
    tested.discard(None)
    assert tested == BUILT_IN


class TestOlpWebhooks(ConnectorContract):
    name = "olp-webhooks"

    @pytest.fixture
    def connector_case(self) -> ConnectorCase:
        return case(self.name, {"url": URL}, {"url": URL, "events": ["parcel.picked_up"]})


class TestStandardWebhooks(ConnectorContract):
    name = "standard-webhooks"

    @pytest.fixture
    def connector_case(self) -> ConnectorCase:
        return case(self.name, {"url": URL}, {"url": URL, "headers": {"X-Tenant": "7"}})


class TestCloudEvents(ConnectorContract):
    name = "cloudevents"

    @pytest.fixture
    def connector_case(self) -> ConnectorCase:
        broker = {"url": "mqtts://broker.example:8883", "username": "u", "password": "pw-1234"}
        return case(
            self.name,
            {"url": URL},
            {"url": URL, "mode": "structured"},
            {"transport": "mqtt", "broker": broker},
        )


class TestEpcis(ConnectorContract):
    name = "epcis"

    @pytest.fixture
    def connector_case(self) -> ConnectorCase:
        return case(self.name, {"url": URL}, {"url": URL, "capture": True, "olp_extensions": False})


class TestTemplate(ConnectorContract):
    name = "template"

    @pytest.fixture
    def connector_case(self) -> ConnectorCase:
        shipx_like = {
            "mapping_file": str(EXAMPLES / "inpost-shipx-like.toml"),
            "url": URL + "/{{ parcel.parcelId }}",
        }
        return case(
            self.name,
            {"mapping_file": str(EXAMPLES / "upu-emsevt.toml"), "url": URL},
            shipx_like,
            inbound=(json.dumps(SHIPX_LIKE_SHIPMENT).encode(),),
            inbound_configs=[shipx_like],  # the EMSEVT mapping takes no pre-advice
        )


class TestEmail(ConnectorContract):
    name = "email"

    @pytest.fixture
    def connector_case(self) -> ConnectorCase:
        smtp = {"host": "smtp.example", "username": "u", "password": "smtp-pw-1234"}
        return case(self.name, {"smtp": smtp, "from_address": "lockers@example.org"})


class TestSms(ConnectorContract):
    name = "sms"

    @pytest.fixture
    def connector_case(self) -> ConnectorCase:
        return case(self.name, {"url": "https://sms.example/api/send", "sender": "OpenLocker"})
