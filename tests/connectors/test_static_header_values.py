"""A static header value the HTTP client cannot send stops the start-up, not every delivery."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.sdk.connectors import ConnectorConfigError, load_connector_class

CONFIGS: dict[str, dict[str, Any]] = {
    "standard-webhooks": {"url": "https://carrier.example/hooks"},
    "cloudevents": {"url": "https://carrier.example/ce"},
    "epcis": {"url": "https://carrier.example/epcis"},
    "sms": {"url": "https://sms.example/send", "sender": "PARCELS"},
}


def build(name: str, headers: dict[str, str]) -> None:
    kind = load_connector_class(name)
    kind(config=kind.config_model.model_validate(CONFIGS[name] | {"headers": headers}))


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize(
    "value", ["Zürich", "a\x0bb", "a\x7fb", "a\rb"], ids=["non-ascii", "vt", "del", "cr"]
)
def test_a_value_no_request_can_carry_is_a_config_error(name: str, value: str) -> None:
    with pytest.raises(ConnectorConfigError, match="X-Route"):
        build(name, {"X-Route": value})


@pytest.mark.parametrize("name", CONFIGS)
def test_printable_values_are_fine(name: str) -> None:
    build(name, {"X-Route": "north\t1 (A/B) ~ok"})
