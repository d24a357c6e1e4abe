"""`[operators] trusted_proxies`: networks, from the file or the environment, checked."""

from __future__ import annotations

from ipaddress import ip_network
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.settings import Settings, load_settings
from tests.settings.support import write


def test_trusted_proxies_from_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "openlocker.toml",
        """
[operators]
trusted_proxies = ["10.0.0.0/8", "127.0.0.1/32", "fd00::/8"]
""",
    )
    settings = load_settings(path)
    assert settings.operators.trusted_proxies == (
        ip_network("10.0.0.0/8"),
        ip_network("127.0.0.1/32"),
        ip_network("fd00::/8"),
    )


def test_trusted_proxies_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENLOCKER_OPERATORS__TRUSTED_PROXIES", '["192.168.1.10"]')
    assert load_settings().operators.trusted_proxies == (ip_network("192.168.1.10/32"),)


def test_none_are_trusted_by_default() -> None:
    assert Settings().operators.trusted_proxies == ()


@pytest.mark.parametrize("value", ["10.0.0.1/8", "proxy.example.net", "10.0.0.0/33"])
def test_a_network_that_is_not_one_stops_start_up(value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(operators={"trusted_proxies": [value]})
    assert "operators.trusted_proxies" in str(caught.value)
