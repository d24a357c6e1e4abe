"""What the admin routes share: typed request bodies (checked at the edge, problem+json on
failure) and the JSON they answer with (documented in openapi.yaml under `Admin*`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import pydantic
from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from gateway.auth.operator_sessions import Principal
from gateway.domain.keypad import KeypadCounter
from gateway.domain.operators import Operator, Role
from gateway.domain.parcel import Parcel, ParcelEvent
from gateway.errors import ErrorCode, FieldIssue, OpenLockerError, ValidationFailed
from gateway.http import render
from gateway.http.bodies import idempotency_key, parse_json
from gateway.service.admin_actions import Reply
from gateway.service.admin_views import CompartmentStatus, LockerStatus
from gateway.service.audit import VerifyReport
from gateway.service.idempotency import JsonBody
from gateway.service.unlocks import OpenResult
from gateway.store import Delivery
from gateway.store.audit import AuditRecord
from gateway.store.operators import TokenRecord
from gateway.wire import dump, event_to_wire, parcel_to_wire

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

# ---- request bodies ------------------------------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=True)


class LoginIn(_In):
    operator_id: str = Field(alias="operatorId", min_length=1, max_length=64)
    # Exactly as typed: the CLI stores passwords unstripped, so stripping here would lock out
    # an operator whose password starts or ends with a space.
    password: Annotated[str, StringConstraints(strip_whitespace=False)] = Field(
        min_length=1, max_length=1024
    )


class ReasonIn(_In):
    """Every admin action says why; the reason goes into the audit chain."""

    reason: str = Field(min_length=3, max_length=500)


class ReassignIn(ReasonIn):
    locker_id: str = Field(alias="lockerId", min_length=1, max_length=64)
    compartment: str = Field(min_length=1, max_length=32)


class TokenIn(_In):
    name: str = Field(min_length=1, max_length=100)
    role: Role | None = None
    # With an offset: a naive time cannot be compared with the clock (it was a 500).
    expires_at: AwareDatetime | None = Field(default=None, alias="expiresAt")


async def read_admin_body(request: web.Request, model: type[M]) -> M:
    """The JSON body as `model`, or problem+json naming the offending member."""
    return (await _read(request, model))[0]


async def read_admin_action(
    request: web.Request, model: type[M], render: Callable[[T], JsonBody]
) -> tuple[M, Reply[T]]:
    """The body as `model`, and how to answer: `render`, with the optional Idempotency-Key
    (its fingerprint is the method, path and body as sent) if the request carries one."""
    body, data = await _read(request, model)
    key = idempotency_key(request, data) if "Idempotency-Key" in request.headers else None
    return body, Reply(render, key)


async def _read(request: web.Request, model: type[M]) -> tuple[M, Any]:
    raw = await request.read()
    if request.content_type != "application/json":
        raise OpenLockerError(
            f"send application/json, not {request.content_type or 'nothing'}",
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        )
    data: Any = parse_json(raw)
    try:
        return model.model_validate(data), data
    except pydantic.ValidationError as err:
        issues = tuple(
            FieldIssue("/" + "/".join(str(p) for p in e["loc"]), e["msg"]) for e in err.errors()
        )
        raise ValidationFailed(
            f"invalid request body: {issues[0].pointer}: {issues[0].detail}", issues=issues
        ) from None


# ---- answers -------------------------------------------------------------------------------


def ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().removesuffix("+00:00") + "Z"


def principal(found: Principal) -> dict[str, Any]:
    body: dict[str, Any] = {
        "operator": operator(found.operator),
        "role": found.role.value,
        "via": found.via.value,
        "expiresAt": ts(found.expires_at),
    }
    if found.csrf is not None:
        body["csrfToken"] = found.csrf
    return body


def operator(found: Operator) -> dict[str, Any]:
    return {
        "id": found.id,
        "name": found.name,
        "role": found.role.value,
        "active": found.active,
        "createdAt": ts(found.created_at),
        # Set while the operator holds a one-time password an admin issued.
        "oneTimePasswordExpiresAt": ts(found.one_time_password_until),
    }


def token(found: TokenRecord, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": found.id,
        "name": found.name,
        "role": found.role.value,
        "createdAt": ts(found.created_at),
        "expiresAt": ts(found.expires_at),
        "revokedAt": ts(found.revoked_at),
        "lastUsedAt": ts(found.last_used_at),
    }
    if secret is not None:
        body["token"] = secret
    return body


def locker_status(status: LockerStatus) -> dict[str, Any]:
    presence = status.presence
    return {
        "lockerId": status.locker.id,
        "name": status.locker.name,
        "adapter": status.locker.adapter,
        "online": bool(presence and presence.online),
        "lastSeenAt": ts(presence.last_seen_at) if presence else None,
        "bootedAt": ts(presence.booted_at) if presence else None,
        "firmware": presence.firmware if presence else None,
        "compartments": status.compartment_states,
        "availability": [
            {"sizeClass": a.size_class.value, "available": a.available, "total": a.total}
            for a in status.availability
        ],
    }


def compartment(row: CompartmentStatus) -> dict[str, Any]:
    c = row.compartment
    return {
        "code": c.code,
        "sizeClass": c.size_class.value,
        "state": c.state.value,
        "door": c.door.value,
        "itemSensor": c.item.value,
        "parcel": None if row.parcel is None else parcel_ref(row.parcel),
    }


def parcel_ref(found: Parcel) -> dict[str, Any]:
    return {
        "uid": found.uid,
        "carrierId": found.carrier_id,
        "parcelId": found.parcel_id,
        "state": found.state.value,
    }


def parcel(found: Parcel) -> dict[str, Any]:
    """What only operators see (uid, carrier) around the carrier's own view (parcel.json)."""
    return {"uid": found.uid, "carrierId": found.carrier_id, "parcel": dump(parcel_to_wire(found))}


def parcel_detail(found: Parcel, events: list[ParcelEvent]) -> dict[str, Any]:
    return {**parcel(found), "events": [dump(event_to_wire(e)) for e in events]}


def open_result(result: OpenResult) -> dict[str, Any]:
    return render.open_result(result)


def delivery(found: Delivery) -> dict[str, Any]:
    """The carrier around the delivery as the carrier sees it (delivery.json)."""
    return {"carrierId": found.carrier_id, "delivery": render.delivery(found)}


def keypad_lockout(counter: KeypadCounter) -> dict[str, Any]:
    return {
        "lockerId": counter.locker_id,
        "lockedUntil": ts(counter.locked_until),
        "lockouts": counter.lockouts,
        "dailyFailures": counter.day_failures,
    }


def audit_entry(row: AuditRecord) -> dict[str, Any]:
    return {
        "position": row.position,
        "at": ts(row.at),
        "action": row.action,
        "actor": row.actor,
        "subject": row.subject,
        "details": row.details,
        "hash": row.hash,
    }


def verify_report(report: VerifyReport) -> dict[str, Any]:
    problem = report.problem
    return {
        "ok": report.ok,
        "checked": report.checked,
        "head": str(report.head),
        "problem": None
        if problem is None
        else {
            "position": problem.position,
            "breach": problem.breach.value,
            "message": problem.message,
        },
    }
