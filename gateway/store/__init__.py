"""Durable storage: one SQLAlchemy Core code path for SQLite (default) and PostgreSQL."""

from gateway.store.engine import create_engine, normalise_url
from gateway.store.errors import IdempotencyRace
from gateway.store.records import CarrierRecord, IdempotencyRecord
from gateway.store.store import Store, UnitOfWork
from gateway.store.types import NaiveDatetimeError

__all__ = [
    "CarrierRecord",
    "IdempotencyRace",
    "IdempotencyRecord",
    "NaiveDatetimeError",
    "Store",
    "UnitOfWork",
    "create_engine",
    "normalise_url",
]
