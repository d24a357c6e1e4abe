"""`[runtime] event_loop`: the CLI runs its command on asyncio's loop or on uvloop.

Plain (sync) tests: each starts its own event loop, as the `openlocker` command does.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.cli.run import run_event_loop

uvloop = pytest.importorskip("uvloop")


async def _loop_type() -> type[asyncio.AbstractEventLoop]:
    return type(asyncio.get_running_loop())


def test_asyncio_is_the_default_loop() -> None:
    assert not issubclass(run_event_loop(_loop_type(), "asyncio"), uvloop.Loop)


def test_uvloop_runs_the_command() -> None:
    assert issubclass(run_event_loop(_loop_type(), "uvloop"), uvloop.Loop)


def test_the_cli_reads_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[type[asyncio.AbstractEventLoop]] = []
    real = run_event_loop

    def spy(coro: object, event_loop: str) -> int:
        async def wrapped() -> int:
            seen.append(type(asyncio.get_running_loop()))
            return await coro  # type: ignore[misc, no-any-return]

        result: int = real(wrapped(), event_loop)
        return result

    monkeypatch.setattr("gateway.cli.run.run_event_loop", spy)
    monkeypatch.setenv("OPENLOCKER_RUNTIME__EVENT_LOOP", "uvloop")
    assert main(["--database-url", f"sqlite:///{tmp_path / 'gw.db'}", "migrate"]) == 0
    assert len(seen) == 1
    assert issubclass(seen[0], uvloop.Loop)
