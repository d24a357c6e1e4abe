"""Every instance's delivery engine told when outbox rows became due, on PostgreSQL.

The transaction that queues or replays rows sends `NOTIFY openlocker_outbox_due` before its
commit; PostgreSQL delivers it at the commit (never for a rolled-back one), once per
transaction (it folds identical notifications), to every connection that LISTENs on the
channel: one per delivery engine (gateway/delivery/wake.py). The queuing process's own engine
is also woken in-process (`Store.on_outbox_due`); a second wake-up costs one empty claim.
SQLite has one process per file: the in-process wake-up is all there is.
"""

from __future__ import annotations

from sqlalchemy import text

CHANNEL = "openlocker_outbox_due"
NOTIFY = text(f"NOTIFY {CHANNEL}")
