"""The MQTT fuzz runs on SQLite only: it attacks the MQTT edge and the locker side, whose
database paths tests/holes and tests/e2e already run on both engines."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import site

__all__ = ["database_url", "site"]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'openlocker.db'}"
