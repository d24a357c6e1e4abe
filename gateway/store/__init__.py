"""Durable storage: one SQLAlchemy Core code path for SQLite (default) and PostgreSQL."""

from gateway.store.connector_attachments import ConnectorAttachmentRecord
from gateway.store.engine import create_engine, ensure_sqlite_folder, normalise_url
from gateway.store.errors import IdempotencyRace
from gateway.store.grants import GrantRecord
from gateway.store.network_keys import NetworkKeyRecord
from gateway.store.outbox import Delivery, NewDelivery
from gateway.store.records import CarrierRecord, IdempotencyRecord
from gateway.store.store import Store, UnitOfWork
from gateway.store.types import NaiveDatetimeError
from gateway.store.webhooks import WebhookSubscriptionRecord

__all__ = [
    "CarrierRecord",
    "ConnectorAttachmentRecord",
    "Delivery",
    "GrantRecord",
    "IdempotencyRace",
    "IdempotencyRecord",
    "NaiveDatetimeError",
    "NetworkKeyRecord",
    "NewDelivery",
    "Store",
    "UnitOfWork",
    "WebhookSubscriptionRecord",
    "create_engine",
    "ensure_sqlite_folder",
    "normalise_url",
]
