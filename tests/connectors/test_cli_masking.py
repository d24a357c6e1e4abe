"""`connectors test` masks header values whose names say they are credentials, by any name."""

from __future__ import annotations

import pytest

from gateway.cli.connectors import MASK, describe
from gateway.sdk.connectors import HttpRequest

VALUE = "v-3f9a1c-credential"


@pytest.mark.parametrize(
    "name",
    ["X-Carrier-Auth", "X-Access-Key", "X-Partner-Key", "X-Password", "X-Session-Id", "Api-Key"],
)
def test_a_credential_header_is_masked(name: str) -> None:
    shown = describe(HttpRequest(url="https://c.example/", body=b"{}", headers={name: VALUE}))
    assert VALUE not in shown
    assert f"{name}: {MASK}" in shown


def test_other_headers_are_shown() -> None:
    shown = describe(
        HttpRequest(url="https://c.example/", body=b"{}", headers={"X-Event-Id": "e-1"})
    )
    assert "X-Event-Id: e-1" in shown
