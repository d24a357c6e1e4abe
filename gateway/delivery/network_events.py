"""Network events (`locker.*`) in the outbox: rendered by connectors that take them.

Their rows carry a locker, not a parcel, so they are not a `ConnectorEvent`; only the
`olp-webhooks` connector (every webhook subscription) renders them, as the published
`webhook-locker-event.json` body. Any other connector skips them (settled, never sent).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from gateway.sdk.connectors import Outbound


@runtime_checkable
class RendersNetworkEvents(Protocol):
    def render_network_event(
        self, body: Mapping[str, Any], *, event_id: str, event_type: str
    ) -> Outbound: ...
