"""Batch pre-advice: `POST /v1/parcels:batch`, many bookings with per-item results."""

from __future__ import annotations

from typing import Any

import pydantic
from aiohttp import web

from gateway.errors import FieldIssue, OpenLockerError, PayloadTooLarge, ValidationFailed
from gateway.http import render
from gateway.http.bodies import idempotency_key, json_response, read_json
from gateway.http.context import carrier, deps
from gateway.http.discovery import BATCH_PATH, discovery
from gateway.sdk.schemas import pointer
from gateway.service.idempotency import Idempotent
from gateway.service.inbound import new_parcel
from gateway.service.parcel_batch import BatchItem
from gateway.wire import CreateParcelIn, ParcelBatchIn, schema_of

ITEM_SCHEMA = schema_of(CreateParcelIn)


async def book_batch(request: web.Request) -> web.Response:
    limits = discovery(request)
    # A full batch outgrows the single-request body limit; this route alone reads up to its own.
    sized = request.clone(client_max_size=limits.batch_max_body_bytes)
    data = await read_json(sized, schema_of(ParcelBatchIn))
    entries: list[Any] = data["parcels"]
    if len(entries) > limits.batch_max:
        raise PayloadTooLarge(
            f"a batch holds at most {limits.batch_max} parcels ([parcels] batch_max); "
            f"this one holds {len(entries)}: split it",
            details={"limit": limits.batch_max, "count": len(entries)},
        )
    carrier_id = carrier(request).carrier_id
    items = [_item(request, carrier_id, entry) for entry in entries]
    answered = await deps(request).batches.book(
        carrier_id,
        items,
        Idempotent(idempotency_key(request, data), render.parcel_batch),
    )
    return json_response(answered.answer)


def _item(request: web.Request, carrier_id: str, entry: Any) -> BatchItem:
    """One entry as a booking command, or its refusal: checked against the single booking's
    own schema, so an entry of the wrong shape is refused alone, as `POST /v1/parcels`
    would refuse it."""
    try:
        deps(request).spec.validate(ITEM_SCHEMA, entry)
        return new_parcel(carrier_id, CreateParcelIn.model_validate(entry))
    except OpenLockerError as err:
        return err
    except pydantic.ValidationError as err:
        # The schema passed it, so the model drifted from it (tests/spec guard this).
        issues = tuple(FieldIssue(pointer(e["loc"]), e["msg"]) for e in err.errors())
        return ValidationFailed(f"invalid {ITEM_SCHEMA}: {issues[0].detail}", issues=issues)


def add_routes(app: web.Application) -> None:
    app.router.add_post(BATCH_PATH, book_batch)
