"""A malformed `[[connectors]]` table: named by its id and field, its values never printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.cli import main
from gateway.settings import Settings, load_settings

SECRET = "sk-live-typed-into-the-wrong-key"
TOML = f"""
[[connectors]]
id = "acme-epcis"
carrier = "acme"
connector = "epcis"
config = {{ url = "https://acme.example/epcis" }}
auht = {{ type = "api-key", value = "{SECRET}" }}

[[connectors]]
carrier = "acme"
connector = "epcis"
config = "{SECRET}"
"""


def test_a_bad_table_in_the_file_is_named_and_its_values_are_not_printed(tmp_path: Path) -> None:
    path = tmp_path / "openlocker.toml"
    path.write_text(TOML)
    with pytest.raises(ValidationError) as caught:
        load_settings(path)
    text = str(caught.value)
    assert SECRET not in text
    assert "connectors[acme-epcis].auht: unknown key" in text
    # No id to name it by: its position.
    assert "connectors[1].id: Field required" in text
    assert "connectors[1].config: Input should be a valid dictionary" in text


def test_the_same_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    table = {"id": "globex-sw", "carrier": "globex", "connector": "standard-webhooks"}
    monkeypatch.setenv("OPENLOCKER_CONNECTORS", json.dumps([table | {"auth": SECRET}]))
    with pytest.raises(ValidationError) as caught:
        load_settings()
    text = str(caught.value)
    assert SECRET not in text
    assert "connectors[globex-sw].auth: Input should be a valid dictionary" in text


def test_the_command_prints_the_problem_without_the_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "openlocker.toml"
    path.write_text(TOML)
    assert main(["--config", str(path), "connectors", "list"]) == 2
    err = capsys.readouterr().err
    assert "connectors[acme-epcis].auht: unknown key" in err
    assert SECRET not in err


def test_other_settings_errors_do_not_quote_values_either() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(network_id="not a valid id " + SECRET)
    assert SECRET not in str(caught.value)
