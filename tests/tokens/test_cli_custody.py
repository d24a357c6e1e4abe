"""`openlocker keys root | new-kek`: what an operator provisions lockers with, and a new KEK."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import pytest
from locker_emulator.root_trust import RootKey as PinnedRoot

from gateway import cli
from gateway.domain.audit import AuditAction
from gateway.store import Store


def test_keys_root_prints_the_jwk_a_locker_pins_and_rotates_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'openlocker.db'}"
    assert cli.main(["--database-url", url, "keys", "root"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert "d" not in first
    assert PinnedRoot.from_jwk(first).kid == first["kid"]  # the emulator takes it as it is
    assert cli.main(["--database-url", url, "keys", "root"]) == 0
    assert json.loads(capsys.readouterr().out) == first  # made once, then the same
    assert cli.main(["--database-url", url, "keys", "root", "--rotate"]) == 0
    printed = capsys.readouterr()
    second = json.loads(printed.out)  # stdout is the JSON line alone
    assert second["kid"] != first["kid"]
    assert first["kid"] in printed.err

    async def audited() -> list[object]:
        async with Store.connect(url) as store, store.transaction() as tx:
            rows = await tx.audit.page()
        return [
            r.details.get("endorsedBy") for r in rows if r.action == AuditAction.ROOT_KEY_CREATED
        ]

    assert asyncio.run(audited()) == [None, first["kid"]]


def test_keys_new_kek_writes_a_private_file_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'openlocker.db'}"
    path = tmp_path / "kek-2027"
    assert cli.main(["--database-url", url, "keys", "new-kek", str(path)]) == 0
    assert "written to" in capsys.readouterr().out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    made = path.read_bytes()
    assert cli.main(["--database-url", url, "keys", "new-kek", str(path)]) == 2
    assert "never overwritten" in capsys.readouterr().err
    assert path.read_bytes() == made
