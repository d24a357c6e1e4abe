"""Connector endpoints: a carrier's own shipment JSON in as a parcel, its own statuses out.

A pre-advice is mapped by the attachment's connector into a `POST /v1/parcels` body, checked
against the very schema of that route and booked by the same `ParcelService.create` (same
idempotency, same checks), so a connector can create nothing the API could not. Problems
name the field in the carrier's document wherever the connector says where a member came from.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol

from gateway.domain.parcel import Parcel
from gateway.errors import FieldIssue, NotFound, OpenLockerError, ValidationFailed
from gateway.sdk.connectors import (
    Capability,
    Connector,
    InboundRequest,
    ParcelStatusView,
    SourcedAnnouncement,
)
from gateway.service.idempotency import Answered, Idempotent
from gateway.service.parcels import NewParcel, ParcelService
from gateway.spec import Spec
from gateway.wire import CreateParcelIn, dump, event_to_wire, parcel_to_wire

__all__ = ["AttachmentLookup", "InboundService", "new_parcel"]

ANNOUNCEMENT_SCHEMA = "create-parcel-request"


class AttachmentLookup(Protocol):
    """Finds a carrier's own active attachment, built; NotFound for anyone else's."""

    async def get_for_carrier(self, carrier_id: str, attachment_id: str) -> Connector: ...


def new_parcel(carrier_id: str, body: CreateParcelIn) -> NewParcel:
    """The booking command of a validated `POST /v1/parcels` body."""
    ttl, window = body.reservation_ttl_seconds, body.pickup_window_seconds
    return NewParcel(
        carrier_id=carrier_id,
        parcel_id=body.parcel_id,
        locker_id=body.locker_id,
        need=body.size_requirement(),
        direction=body.direction,
        reserve=body.reserve,
        reservation_ttl=timedelta(seconds=ttl) if ttl is not None else None,
        pickup_window=timedelta(seconds=window) if window is not None else None,
        reference=body.reference,
        recipient=body.recipient.to_domain() if body.recipient else None,
        hold_id=body.hold_id,
    )


class InboundService:
    def __init__(
        self, *, parcels: ParcelService, spec: Spec, attachments: AttachmentLookup
    ) -> None:
        self._parcels = parcels
        self._spec = spec
        self._attachments = attachments

    async def announce(
        self,
        carrier_id: str,
        attachment_id: str,
        request: InboundRequest,
        idem: Idempotent[Parcel],
    ) -> Answered[Parcel]:
        """Map the carrier's shipment and book it; the parcel as `POST /v1/parcels` answers."""
        connector = await self._connector(carrier_id, attachment_id, Capability.INBOUND_PREADVICE)
        try:
            announcement = connector.parse_inbound(request)
        except NotImplementedError:
            raise _not_offered(attachment_id, Capability.INBOUND_PREADVICE) from None
        sources = announcement.sources if isinstance(announcement, SourcedAnnouncement) else {}
        data = dict(announcement)
        try:
            self._spec.validate(ANNOUNCEMENT_SCHEMA, data)
            command = new_parcel(carrier_id, CreateParcelIn.model_validate(data))
            return await self._parcels.create(command, idem)
        except ValidationFailed as err:
            raise _traced(err, sources) from err
        except NotFound as err:
            pointer = err.details.get("pointer")
            if not isinstance(pointer, str):
                raise
            # An unknown locker is a bad field of the shipment, not a missing endpoint.
            issue = FieldIssue(_source(pointer, sources) or pointer, err.description)
            raise ValidationFailed(
                f"the shipment cannot be announced: {issue.pointer} {issue.detail}",
                issues=(issue,),
            ) from err

    async def status(self, carrier_id: str, attachment_id: str, parcel_id: str) -> dict[str, Any]:
        """The carrier's own parcel in the attachment's vocabulary."""
        connector = await self._connector(carrier_id, attachment_id, Capability.STATUS_PULL)
        parcel = await self._parcels.get(carrier_id, parcel_id)
        events = await self._parcels.events(carrier_id, parcel_id)
        view = ParcelStatusView(
            parcel=dump(parcel_to_wire(parcel)),
            events=tuple(dump(event_to_wire(e)) for e in events),
        )
        try:
            return connector.render_status(view)
        except NotImplementedError:
            raise _not_offered(attachment_id, Capability.STATUS_PULL) from None

    async def _connector(
        self, carrier_id: str, attachment_id: str, capability: Capability
    ) -> Connector:
        connector = await self._attachments.get_for_carrier(carrier_id, attachment_id)
        if capability not in connector.capabilities:
            raise _not_offered(attachment_id, capability)
        return connector


def _not_offered(attachment_id: str, capability: Capability) -> OpenLockerError:
    # 404 rather than 405: the route exists for other attachments; this one has no such endpoint.
    return NotFound(f"connector attachment {attachment_id!r} offers no {capability}")


def _source(pointer: str, sources: dict[str, str]) -> str | None:
    """The carrier-side pointer of an announcement pointer, via its longest mapped prefix."""
    for target in sorted(sources, key=len, reverse=True):
        if pointer == target or pointer.startswith(target + "/"):
            return sources[target] + pointer[len(target) :]
    return None


def _traced(err: ValidationFailed, sources: dict[str, str]) -> ValidationFailed:
    """The same failure, its issues renamed into the carrier's document where known."""
    issues = tuple(_trace(issue, sources) for issue in err.issues)
    if not issues:
        return err
    first = issues[0]
    more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
    return ValidationFailed(
        f"the shipment cannot be announced: {first.pointer or '/'} {first.detail}{more}",
        issues=issues,
        code=err.code,
    )


def _trace(issue: FieldIssue, sources: dict[str, str]) -> FieldIssue:
    source = _source(issue.pointer, sources)
    if source is not None:
        return FieldIssue(source, issue.detail)
    if issue.pointer == "" and issue.detail.startswith("needs one of: "):
        names = issue.detail.removeprefix("needs one of: ").split(", ")
        where = [sources.get(f"/{name}", name) for name in names]
        return FieldIssue("", f"needs one of: {', '.join(where)}")
    if issue.pointer:
        # A member the mapping sets itself (a constant): the carrier cannot fix it.
        return FieldIssue("", f"the mapping's {issue.pointer} {issue.detail}")
    return issue
