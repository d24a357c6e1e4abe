"""`openlocker keys rotate | list | retire KID` over a SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main


def keys(db: Path, *args: str) -> list[str]:
    return ["--database-url", f"sqlite+aiosqlite:///{db}", "keys", *args]


def table(out: str) -> dict[str, list[str]]:
    """kid -> [created, activates, retired, status] of `keys list`."""
    rows = [line.split("\t") for line in out.splitlines() if line.count("\t") == 4]
    return {row[0]: row[1:] for row in rows[1:]}


def test_list_rotate_retire(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "keys.db"
    assert main(keys(db, "list")) == 0
    out = capsys.readouterr().out
    assert "key-set version 1" in out
    (first,) = table(out)
    assert table(out)[first][2:] == ["-", "signing"]

    assert main(keys(db, "rotate")) == 0
    rotated = capsys.readouterr().out
    assert "key-set version 2" in rotated
    assert main(keys(db, "list")) == 0
    listed = table(capsys.readouterr().out)
    (second,) = set(listed) - {first}
    assert second in rotated
    assert listed[first][3] == "signing"
    assert listed[second][3] == "verifying"  # published, signing only after the lead
    assert listed[second][1] > listed[second][0]  # activates after it was created

    # The new key does not sign yet: retiring the only signer is refused, nothing changes.
    assert main(keys(db, "retire", "--", first)) == 2
    assert "last key able to sign" in capsys.readouterr().err
    assert main(keys(db, "retire", "--", "no-such-kid")) == 2
    assert "no network key" in capsys.readouterr().err
    assert main(keys(db, "retire", "--", second)) == 0
    assert "key-set version 3" in capsys.readouterr().out
    assert main(keys(db, "list")) == 0
    listed = table(capsys.readouterr().out)
    assert listed[second][2] != "-"
    assert listed[second][3] == "retired"
    assert listed[first][3] == "signing"


def test_with_no_lead_a_rotated_key_signs_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENLOCKER_KEY_PUBLISH_LEAD_S", "0")
    db = tmp_path / "keys.db"
    assert main(keys(db, "list")) == 0
    (first,) = table(capsys.readouterr().out)
    assert main(keys(db, "rotate")) == 0
    capsys.readouterr()
    assert main(keys(db, "retire", "--", first)) == 0
    capsys.readouterr()
    assert main(keys(db, "list")) == 0
    listed = table(capsys.readouterr().out)
    assert [row[3] for row in listed.values()] == ["retired", "signing"]
