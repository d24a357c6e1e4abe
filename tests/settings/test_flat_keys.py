"""Every flat key of before the grouping still works, from every source, with one log line."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from gateway.settings import FLAT_KEYS, GROUPS, Settings, load_settings
from tests.settings.support import OLD_FLAT_KEYS, SAMPLES, env_value, toml_value, write


def grouped(settings: Settings, flat: str) -> Any:
    group, field = FLAT_KEYS[flat]
    return getattr(getattr(settings, group), field)


def expected(flat: str) -> Any:
    group, field = FLAT_KEYS[flat]
    return grouped(Settings(**{group: {field: SAMPLES[flat]}}), flat)


def deprecations(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "gateway.settings" and r.levelno == logging.WARNING
    ]


def test_the_table_covers_every_old_key_and_points_at_real_fields() -> None:
    assert sorted(FLAT_KEYS) == sorted(OLD_FLAT_KEYS)
    assert sorted(SAMPLES) == sorted(OLD_FLAT_KEYS)
    for flat, (group, field) in FLAT_KEYS.items():
        assert field in GROUPS[group].model_fields, flat
        assert group in Settings.model_fields, flat


@pytest.mark.parametrize("flat", OLD_FLAT_KEYS)
def test_a_flat_keyword_argument(flat: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="gateway.settings"):
        settings = Settings(**{flat: SAMPLES[flat]})
    assert grouped(settings, flat) == expected(flat) != grouped(Settings(), flat)
    group, field = FLAT_KEYS[flat]
    (line,) = deprecations(caplog)
    assert f"`{flat}=" in line
    assert f"[{group}] {field} = " in line
    assert f"OPENLOCKER_{group.upper()}__{field.upper()}=" in line


@pytest.mark.parametrize("flat", OLD_FLAT_KEYS)
def test_a_flat_environment_variable(
    flat: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    want = expected(flat)
    monkeypatch.setenv(f"OPENLOCKER_{flat.upper()}", env_value(SAMPLES[flat]))
    with caplog.at_level(logging.WARNING, logger="gateway.settings"):
        settings = load_settings()
    assert grouped(settings, flat) == want
    group, field = FLAT_KEYS[flat]
    (line,) = deprecations(caplog)
    assert f"`OPENLOCKER_{flat.upper()}=" in line
    assert f"OPENLOCKER_{group.upper()}__{field.upper()}=" in line


@pytest.mark.parametrize("flat", OLD_FLAT_KEYS)
def test_a_flat_key_in_the_file(
    flat: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path / "old.toml", f"{flat} = {toml_value(SAMPLES[flat])}\n")
    with caplog.at_level(logging.WARNING, logger="gateway.settings"):
        settings = load_settings(path)
    assert grouped(settings, flat) == expected(flat)
    group, field = FLAT_KEYS[flat]
    (line,) = deprecations(caplog)
    assert str(path) in line
    assert f"`{flat} = " in line
    assert f"`[{group}] {field} = " in line


def test_a_whole_old_file_reads_as_its_grouped_twin(tmp_path: Path) -> None:
    flat = "\n".join(f"{key} = {toml_value(value)}" for key, value in SAMPLES.items())
    old = load_settings(write(tmp_path / "old.toml", 'network_id = "net-1"\n' + flat))
    tables: dict[str, list[str]] = {}
    for key, value in SAMPLES.items():
        group, field = FLAT_KEYS[key]
        tables.setdefault(group, []).append(f"{field} = {toml_value(value)}")
    new_text = 'network_id = "net-1"\n' + "".join(
        f"[{group}]\n" + "\n".join(lines) + "\n" for group, lines in tables.items()
    )
    assert old == load_settings(write(tmp_path / "new.toml", new_text))


def test_the_constructor_form_the_tests_and_benches_use() -> None:
    settings = Settings(http_port=0, database_url="sqlite+aiosqlite:///x.db", network_id="n")
    assert (settings.http.port, settings.store.database_url) == (0, "sqlite+aiosqlite:///x.db")
    # Flat and grouped keys mix, each for its own setting.
    mixed = Settings(http_port=0, http={"host": "0.0.0.0"}, webhook_timeout_s=5)
    assert (mixed.http.host, mixed.http.port, mixed.webhooks.timeout.total_seconds()) == (
        "0.0.0.0",
        0,
        5,
    )
