"""Secrets never reach a message, a log line or a repr, whichever way they were written."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.settings import Settings, SettingsError, load_settings
from tests.settings.support import write

SECRET = "sk-live-0123456789"
DB_URL = f"postgresql://openlocker:{SECRET}@db.example/openlocker"
MQTT_URL = f"mqtts://gw:{SECRET}@broker.example:8883"


def test_reprs_hide_passwords_and_urls_that_may_carry_them() -> None:
    settings = Settings(mqtt={"url": MQTT_URL, "password": SECRET}, store={"database_url": DB_URL})
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)
    assert settings.mqtt.password is not None
    assert settings.mqtt.password.get_secret_value() == SECRET


def test_deprecation_lines_do_not_quote_secrets(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OPENLOCKER_MQTT_PASSWORD", SECRET)
    monkeypatch.setenv("OPENLOCKER_MQTT_URL", MQTT_URL)
    with caplog.at_level(logging.WARNING, logger="gateway.settings"):
        Settings(database_url=DB_URL, mqtt_username=SECRET)
    assert len(caplog.records) == 4
    assert SECRET not in caplog.text
    assert "`OPENLOCKER_MQTT__PASSWORD=...`" in caplog.text


def test_a_clash_of_two_secrets_quotes_neither(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.toml", f'mqtt_password = "{SECRET}"\n[mqtt]\npassword = "{SECRET}x"\n'
    )
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert SECRET not in str(caught.value)
    assert '`mqtt_password = "..."` and `mqtt.password` disagree' in str(caught.value)


@pytest.mark.parametrize(
    "toml",
    [
        f'[mqtt]\nprotocol = "{SECRET}"',  # a secret in the wrong key: a type error
        f'[http]\nport = "{SECRET}"',
        f'[mqtt]\npasswrd = "{SECRET}"',  # a typo: an unknown key
        f'[store]\ndatabase_url = "mysql://root:{SECRET}@db/x"',
        f'mqtt_tls_insecure = "{SECRET}"',  # flat, and invalid
    ],
)
def test_errors_do_not_quote_the_input(tmp_path: Path, toml: str) -> None:
    with pytest.raises((ValidationError, SettingsError)) as caught:
        load_settings(write(tmp_path / "s.toml", toml + "\n"))
    assert SECRET not in str(caught.value)
