"""The delivery engine's access hook: a pickup code and QR grant, issued as a notifier sends.

Credentials are issued at send time, not when the event is recorded, so that the message
that reaches the recipient carries one that works:

- the keypad code comes from `CodeService.issue(replace=False)`: each message gets its own
  code and the older ones keep working, because the recipient may type any of them. With
  an e-mail and an SMS notifier, replacing would void the first channel's code the moment
  the second sent its own; a retry's first attempt may have arrived after all; the reminder
  must not void the code of the message the recipient already has. Every code ends with
  the pickup deadline and opens nothing once the parcel is no longer ready. A carrier's own
  `POST /v1/parcels/{id}/codes` still replaces every unused pickup code, these included;
- the QR is a network-signed pickup grant from `GrantService.issue` (`OLPG1:` form); grants
  are not revoked, each is bounded by the parcel's deadline and the grant lifetime.

Only `parcel.ready_for_pickup` and `parcel.pickup_reminder` get credentials, and only while
the parcel is still ready for pickup; otherwise the hook raises `SkipEvent` (the parcel was
picked up, expired or redirected before the message went out, so there is nothing to say).
"""

from __future__ import annotations

import logging

from gateway.delivery.engine import AccessHook
from gateway.delivery.routes import Route
from gateway.domain.door import OpenPurpose
from gateway.errors import IllegalTransition, NotFound
from gateway.sdk.connectors import (
    PICKUP_REMINDER,
    AccessInfo,
    Capability,
    ConnectorEvent,
    SkipEvent,
)
from gateway.service.codes import CodeService
from gateway.service.grants import GrantService

__all__ = ["ACCESS_EVENT_TYPES", "AccessHook", "NotifyAccess"]

log = logging.getLogger(__name__)

ACCESS_EVENT_TYPES = frozenset({"parcel.ready_for_pickup", PICKUP_REMINDER})


class NotifyAccess:
    """`await hook(event, route)`: the event with `access` filled, for a notifier's render."""

    def __init__(self, *, codes: CodeService, grants: GrantService | None = None) -> None:
        self._codes = codes
        self._grants = grants

    async def __call__(self, event: ConnectorEvent, route: Route) -> ConnectorEvent:
        if event.type not in ACCESS_EVENT_TYPES:
            return event
        if Capability.RECIPIENT_NOTIFICATIONS not in route.connector.capabilities:
            return event  # a carrier's own system issues its codes through the API
        if _would_skip(route, event):
            # No address, opted out, not among its events: issuing a code now would only
            # revoke a working one. The real render says why it skips.
            return event
        actor = f"gateway:notifier/{route.target_id}"
        carrier_id, parcel_id = event.carrier_id, event.parcel.parcel_id
        try:
            code = await self._codes.issue(
                carrier_id,
                parcel_id,
                purpose_required=OpenPurpose.PICKUP,
                actor=actor,
                replace=False,
            )
        except (NotFound, IllegalTransition):
            raise SkipEvent("the parcel is no longer waiting for pickup") from None
        token = qr = None
        if self._grants is not None:
            try:
                grant = await self._grants.issue(
                    carrier_id, parcel_id, purpose_required=OpenPurpose.PICKUP, actor=actor
                )
            except (NotFound, IllegalTransition):
                # Picked up or expired between the two: the code is already void as well.
                raise SkipEvent("the parcel is no longer waiting for pickup") from None
            token, qr = grant.token, grant.qr
        log.debug("pickup credential issued for event %s (%s)", event.event_id, route.target_id)
        # The code's expiry (the pickup deadline); the QR may lapse sooner (grant lifetime).
        access = AccessInfo(code=code.code, grant=token, qr=qr, expires_at=code.expires_at)
        return event.model_copy(update={"access": access})


def _would_skip(route: Route, event: ConnectorEvent) -> bool:
    """Whether the notifier skips this event whatever the credential (a dry render: pure)."""
    recipient = event.recipient
    if recipient is None or recipient.opt_out:
        return True
    try:
        route.connector.render(event)
    except SkipEvent:
        return True
    except Exception:  # any other trouble is the real render's to report
        return False
    return False
