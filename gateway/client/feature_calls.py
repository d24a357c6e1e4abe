"""Calls of the network features of issue 14: pre-check and soft holds, bundles, courier
sessions and the collection manifest, recipient self-service links, returns without a label
(calls.py: the rest)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from gateway.client.calls import Call, new_key, query, reads, segment
from gateway.wire import OpenResultOut, dump
from gateway.wire.bundles import (
    BundleCodeOut,
    BundleGrantOut,
    BundleOut,
    BundleParcelIn,
    CreateBundleIn,
)
from gateway.wire.courier import (
    CollectionManifestOut,
    CourierSessionCodeOut,
    CourierSessionOut,
    OpenCourierSessionIn,
)
from gateway.wire.holds import CreateHoldIn, HoldListOut, HoldOut, PrecheckOut
from gateway.wire.returns import BindReturnLabelIn, CreateReturnIn, ReturnOut
from gateway.wire.self_service import SelfServiceLinkOut


def _stamp(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("`at` needs a UTC offset")
    return at.isoformat()


def precheck(
    locker_id: str,
    *,
    size_class: str | None = None,
    dimensions_mm: Mapping[str, int] | None = None,
    weight_g: int | None = None,
    at: datetime | None = None,
) -> Call[PrecheckOut]:
    if size_class is None and dimensions_mm is None:
        raise ValueError("needs one of: size_class, dimensions_mm")
    dims = dict(dimensions_mm or {})
    params = query(
        sizeClass=size_class,
        lengthMm=dims.get("length"),
        widthMm=dims.get("width"),
        heightMm=dims.get("height"),
        weightG=weight_g,
        at=None if at is None else _stamp(at),
    )
    path = f"/v1/lockers/{segment(locker_id)}/precheck"
    return Call("precheckLocker", "GET", path, reads(PrecheckOut), params=params)


def create_hold(
    locker_id: str, *, idempotency_key: str | None = None, **members: Any
) -> Call[HoldOut]:
    """`members` of create-hold-request.json by Python or wire name (`size_class="M"`,
    `ttl_seconds=600`, `reference=...`), checked before anything is sent."""
    request = CreateHoldIn.model_validate({"lockerId": locker_id, **members})
    return Call(
        "createHold",
        "POST",
        "/v1/holds",
        reads(HoldOut),
        body=dump(request),
        idempotency_key=idempotency_key or new_key(),
    )


def hold(hold_id: str) -> Call[HoldOut]:
    return Call("getHold", "GET", f"/v1/holds/{segment(hold_id)}", reads(HoldOut))


def release_hold(hold_id: str, *, idempotency_key: str | None = None) -> Call[HoldOut]:
    return Call(
        "releaseHold",
        "POST",
        f"/v1/holds/{segment(hold_id)}/release",
        reads(HoldOut),
        body={},
        idempotency_key=idempotency_key or new_key(),
    )


def open_courier_session(
    locker_id: str, *, courier_ref: str | None = None, ttl_seconds: int | None = None
) -> Call[CourierSessionOut]:
    # No Idempotency-Key (openapi.yaml): a second open session is 409 AlreadyExists.
    body = dump(
        OpenCourierSessionIn(locker_id=locker_id, courier_ref=courier_ref, ttl_seconds=ttl_seconds)
    )
    return Call(
        "openCourierSession", "POST", "/v1/courier-sessions", reads(CourierSessionOut), body=body
    )


def courier_session(session_id: str) -> Call[CourierSessionOut]:
    path = f"/v1/courier-sessions/{segment(session_id)}"
    return Call("getCourierSession", "GET", path, reads(CourierSessionOut))


def courier_session_code(session_id: str) -> Call[CourierSessionCodeOut]:
    # No Idempotency-Key: asking again replaces the previous code.
    path = f"/v1/courier-sessions/{segment(session_id)}/code"
    return Call("issueCourierSessionCode", "POST", path, reads(CourierSessionCodeOut), body={})


def close_courier_session(
    session_id: str, *, idempotency_key: str | None = None
) -> Call[CourierSessionOut]:
    return Call(
        "closeCourierSession",
        "POST",
        f"/v1/courier-sessions/{segment(session_id)}/close",
        reads(CourierSessionOut),
        body={},
        idempotency_key=idempotency_key or new_key(),
    )


def collection_manifest(locker_ids: Sequence[str] = ()) -> Call[CollectionManifestOut]:
    """The route's lockers in driving order (at most 50); none: every locker with work."""
    params = {"lockerId": list(locker_ids)} if locker_ids else {}
    return Call(
        "getCollectionManifest",
        "GET",
        "/v1/collection-manifest",
        reads(CollectionManifestOut),
        params=params,
    )


def self_service_link(parcel_id: str) -> Call[SelfServiceLinkOut]:
    # No Idempotency-Key: each call gives a new link (a stored answer would keep a bearer link).
    path = f"/v1/parcels/{segment(parcel_id)}/self-service-link"
    return Call("issueSelfServiceLink", "POST", path, reads(SelfServiceLinkOut), body={})


def create_bundle(
    bundle_id: str,
    *,
    locker_id: str,
    parcels: Sequence[BundleParcelIn | Mapping[str, Any]],
    idempotency_key: str | None = None,
    **members: Any,
) -> Call[BundleOut]:
    """Several parcels for one recipient, opened with one code; all booked or none (409
    BundleOverCapacity names the parcels left without a compartment)."""
    entries = [dump(p) if isinstance(p, BundleParcelIn) else dict(p) for p in parcels]
    request = CreateBundleIn.model_validate(
        {"bundleId": bundle_id, "lockerId": locker_id, "parcels": entries, **members}
    )
    return Call(
        "createBundle",
        "POST",
        "/v1/bundles",
        reads(BundleOut),
        body=dump(request),
        idempotency_key=idempotency_key or new_key(),
    )


def bundle(bundle_id: str) -> Call[BundleOut]:
    return Call("getBundle", "GET", f"/v1/bundles/{segment(bundle_id)}", reads(BundleOut))


def bundle_code(bundle_id: str, *, purpose: str | None = None) -> Call[BundleCodeOut]:
    # No Idempotency-Key: asking again replaces the bundle's unused code of that purpose.
    body = {} if purpose is None else {"purpose": purpose}
    path = f"/v1/bundles/{segment(bundle_id)}/codes"
    return Call("issueBundleCode", "POST", path, reads(BundleCodeOut), body=body)


def bundle_grant(bundle_id: str, *, purpose: str | None = None) -> Call[BundleGrantOut]:
    # No Idempotency-Key: like a parcel's grant, each call yields another single-use grant.
    body = {} if purpose is None else {"purpose": purpose}
    path = f"/v1/bundles/{segment(bundle_id)}/grants"
    return Call("issueBundleGrant", "POST", path, reads(BundleGrantOut), body=body)


def open_courier_next_door(
    session_id: str, *, idempotency_key: str | None = None
) -> Call[OpenResultOut]:
    """Like a remote open: a lost answer's retry waits for the first attempt's outcome."""
    return Call(
        "openCourierSessionNextDoor",
        "POST",
        f"/v1/courier-sessions/{segment(session_id)}/open-next",
        reads(OpenResultOut),
        body={},
        idempotency_key=idempotency_key or new_key(),
        waits_for_first=True,
    )


def list_holds(
    *,
    state: str | None = None,
    locker_id: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[HoldListOut]:
    params = query(state=state, lockerId=locker_id, limit=limit, cursor=cursor)
    return Call("listHolds", "GET", "/v1/holds", reads(HoldListOut), params=params)


# ---- returns without a label --------------------------------------------------------------


def create_return(locker_id: str, *, reference: str, **members: Any) -> Call[ReturnOut]:
    """A return's drop-off code and QR (in clear, this once). No Idempotency-Key: the shop's
    `reference` is unique per carrier, so a retry is 409 AlreadyExists naming the return."""
    request = CreateReturnIn.model_validate(
        {"lockerId": locker_id, "reference": reference, **members}
    )
    return Call("createReturn", "POST", "/v1/returns", reads(ReturnOut), body=dump(request))


def get_return(return_id: str) -> Call[ReturnOut]:
    return Call("getReturn", "GET", f"/v1/returns/{segment(return_id)}", reads(ReturnOut))


def return_code(return_id: str) -> Call[ReturnOut]:
    # No Idempotency-Key: asking again replaces the previous code.
    path = f"/v1/returns/{segment(return_id)}/code"
    return Call("issueReturnCode", "POST", path, reads(ReturnOut), body={})


def bind_return_label(return_id: str, label: str) -> Call[ReturnOut]:
    # No Idempotency-Key: the same label again answers the return unchanged.
    body = dump(BindReturnLabelIn(label=label))
    path = f"/v1/returns/{segment(return_id)}/label"
    return Call("bindReturnLabel", "POST", path, reads(ReturnOut), body=body)
