"""Storage-specific errors (all part of the gateway's error hierarchy)."""

from __future__ import annotations

from gateway.errors import ConcurrentUpdate


class IdempotencyRace(ConcurrentUpdate):
    """Another request stored an answer under the same Idempotency-Key first; read it back."""
