"""`[tracing]`: off by default, read from the file and the environment, its values checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.settings import Settings, SettingsError, load_settings
from tests.settings.support import write


def test_off_by_default() -> None:
    tracing = Settings().tracing
    assert tracing.enabled is False
    assert tracing.exporter == "otlp"
    assert tracing.otlp_endpoint is None
    assert tracing.service_name == "openlocker-gateway"


def test_the_table_in_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "openlocker.toml",
        """
[tracing]
enabled = true
exporter = "otlp"
otlp_endpoint = "http://collector:4318/v1/traces"
service_name = "lockers-eu"
""",
    )
    tracing = load_settings(path).tracing
    assert tracing.enabled is True
    assert tracing.otlp_endpoint == "http://collector:4318/v1/traces"
    assert tracing.service_name == "lockers-eu"


def test_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENLOCKER_TRACING__ENABLED", "true")
    monkeypatch.setenv("OPENLOCKER_TRACING__EXPORTER", "console")
    tracing = load_settings(None).tracing
    assert (tracing.enabled, tracing.exporter) == (True, "console")


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"exporter": "jaeger"}, "'otlp', 'console' or 'none'"),
        ({"otlp_endpoint": "collector:4318"}, "should match pattern"),
        ({"service_name": ""}, "at least 1 character"),
    ],
)
def test_limits_hold(values: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(tracing=values)
    assert problem in str(caught.value)
    assert "tracing" in str(caught.value)


def test_an_unknown_key_is_named() -> None:
    with pytest.raises(SettingsError, match=r"unknown key `tracing\.sample`"):
        Settings(tracing={"sample": 0.5})
