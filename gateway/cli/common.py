"""What every CLI command shares: the store, opened and migrated for one command."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, TypeAlias

from gateway.settings import Settings
from gateway.store import Store, ensure_sqlite_folder

if TYPE_CHECKING:
    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Subparsers: TypeAlias = argparse._SubParsersAction


@contextlib.asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[Store]:
    ensure_sqlite_folder(settings.store.database_url)
    async with Store.connect(settings.store.database_url) as store:
        await store.migrate()
        yield store


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (a limit, an id)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, not {text!r}")
    return value
