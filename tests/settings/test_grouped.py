"""Grouped settings: TOML tables, OPENLOCKER_<GROUP>__<FIELD>, durations, limits, precedence."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.settings import Settings, SettingsError, load_settings
from tests.settings.support import write


def test_tables_in_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "openlocker.toml",
        """
network_id = "net-1"
[http]
port = 0
[webhooks]
timeout = 10
lease = "PT2M"
[lockers]
heartbeat_interval = 30
""",
    )
    settings = load_settings(path)
    assert settings.network_id == "net-1"
    assert settings.http.port == 0
    assert settings.webhooks.timeout == timedelta(seconds=10)
    assert settings.webhooks.lease == timedelta(minutes=2)
    assert settings.lockers.heartbeat_interval == timedelta(seconds=30)


def test_grouped_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENLOCKER_WEBHOOKS__TIMEOUT", "10")
    monkeypatch.setenv("OPENLOCKER_WEBHOOKS__LEASE", "P0DT0H1M30S")
    monkeypatch.setenv("OPENLOCKER_HOUSEKEEPING__INTERVAL", "0.5")
    monkeypatch.setenv("OPENLOCKER_MQTT__SHARED_SUBSCRIPTIONS", "false")
    settings = load_settings()
    assert settings.webhooks.timeout == timedelta(seconds=10)
    assert settings.webhooks.lease == timedelta(seconds=90)
    assert settings.housekeeping.interval == timedelta(milliseconds=500)
    assert settings.mqtt.shared_subscriptions is False


@pytest.mark.parametrize(
    ("spelling", "seconds"), [(10, 10), (2.5, 2.5), ("PT1M", 60), ("PT0.25S", 0.25)]
)
def test_a_duration_is_seconds_or_iso_8601(spelling: object, seconds: float) -> None:
    assert Settings(lockers={"open_timeout": spelling}).lockers.open_timeout == timedelta(
        seconds=seconds
    )


@pytest.mark.parametrize(
    ("group", "values", "problem"),
    [
        ("webhooks", {"timeout": 121}, "less than or equal to 2 minutes"),
        ("webhooks", {"timeout": 0}, "greater than 0 seconds"),
        ("webhooks", {"timeout": 30, "lease": 30}, "webhooks.lease must be longer"),
        ("lockers", {"heartbeat_interval": 4}, "greater than or equal to 5 seconds"),
        ("lockers", {"heartbeat_interval": 7.5}, "whole number of seconds"),
        ("tokens", {"carrier_token_max_lifetime": "PT10M"}, "less than or equal to 5 minutes"),
        ("http", {"port": 70000}, "less than or equal to 65535"),
        ("keypad", {"max_failures": 0}, "greater than or equal to 1"),
        ("store", {"database_url": "mysql://x"}, "sqlite or postgresql"),
        ("runtime", {"event_loop": "trio"}, "'asyncio' or 'uvloop'"),
        ("webhooks", {"timeout": "ten seconds"}, "valid timedelta"),
    ],
)
def test_limits_hold(group: str, values: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(**{group: values})
    assert problem in str(caught.value)
    assert group in str(caught.value)


def test_arguments_beat_the_environment_which_beats_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path / "s.toml", "[http]\nhost = '10.0.0.1'\nport = 1\nmax_body_bytes = 2048\n"
    )
    # A flat key in one source and a grouped one in another: no clash, the usual order.
    monkeypatch.setenv("OPENLOCKER_HTTP_PORT", "2")
    monkeypatch.setenv("OPENLOCKER_HTTP__HOST", "10.0.0.2")
    settings = load_settings(path, http={"host": "10.0.0.3", "port": None})
    assert (settings.http.host, settings.http.port, settings.http.max_body_bytes) == (
        "10.0.0.3",
        2,
        2048,
    )


def test_a_flat_and_a_grouped_value_that_agree_are_fine(tmp_path: Path) -> None:
    path = write(tmp_path / "s.toml", 'webhook_timeout_s = 10\n[webhooks]\ntimeout = "PT10S"\n')
    assert load_settings(path).webhooks.timeout == timedelta(seconds=10)


def test_a_flat_and_a_grouped_value_that_disagree_stop_start_up(tmp_path: Path) -> None:
    path = write(tmp_path / "s.toml", "webhook_timeout_s = 10\n[webhooks]\ntimeout = 5\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    text = str(caught.value)
    assert str(path) in text
    assert "`webhook_timeout_s = 10` and `webhooks.timeout` disagree" in text
    assert "`[webhooks] timeout = 10` / `OPENLOCKER_WEBHOOKS__TIMEOUT=10`" in text


def test_the_same_clash_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENLOCKER_WEBHOOK_TIMEOUT_S", "10")
    monkeypatch.setenv("OPENLOCKER_WEBHOOKS__TIMEOUT", "5")
    with pytest.raises(SettingsError, match="`OPENLOCKER_WEBHOOK_TIMEOUT_S=10` and `webhooks"):
        load_settings()


def test_and_in_arguments() -> None:
    with pytest.raises(SettingsError, match=r'`webhooks=\{"timeout": 10\}`'):
        Settings(webhook_timeout_s=10, webhooks={"timeout": 5})


def test_a_flat_key_that_cannot_be_merged_says_what_to_write(tmp_path: Path) -> None:
    path = write(tmp_path / "s.toml", "http = 8080\nhttp_port = 8081\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    text = str(caught.value)
    assert "`http_port = 8081` cannot be merged into `http`" in text
    assert "`[http] port = 8081` / `OPENLOCKER_HTTP__PORT=8081`" in text


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("webhook_timeout = 10", "unknown key `webhook_timeout`; did you mean `webhooks.timeout`"),
        ("[webhooks]\ntimeout_s = 10", "unknown key `webhooks.timeout_s`; did you mean "),
        ("[webhook]\ntimeout = 10", "unknown key `webhook`"),
        ("colour = 'blue'", "unknown key `colour` (see gateway/settings.py"),
    ],
)
def test_a_bad_key_is_named_with_what_was_meant(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(write(tmp_path / "s.toml", toml + "\n"))
    assert message in str(caught.value)


def test_the_group_lists_its_keys(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(write(tmp_path / "s.toml", "[lockers]\nopen_timeout_s = 5\n"))
    assert "`[lockers]` has: open_timeout, heartbeat_interval, lane_capacity" in str(caught.value)


def test_unknown_environment_variables_are_still_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tools and scripts set their own OPENLOCKER_* variables (OPENLOCKER_TEST_PG_ADMIN_URL...).
    monkeypatch.setenv("OPENLOCKER_SOMETHING_ELSE", "x")
    assert load_settings() == Settings()
