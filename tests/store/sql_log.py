"""The SQL a store sends, caught with SQLAlchemy's event hook: the tests that count a
transaction's statements (the booking's budget, a door transition's) read it from here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from gateway.store import Store


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    """The statements `store` sends inside the block, white space folded. BEGIN is left out
    (SQLite's BEGIN IMMEDIATE is sent as a statement); COMMIT never passes this hook."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith("BEGIN"):
            sent.append(" ".join(statement.split()))

    event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", record)
