"""Every carrier operation of openapi.yaml as one `Call`: method, path, body, how to read the
answer. The async and the sync client send the same calls, so an endpoint is defined once.

`OPERATIONS` maps each carrier `operationId` to the client method that calls it; a test
compares it with openapi.yaml, so a new endpoint without a client method fails the build.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from gateway.client.discovery import DISCOVERY_PATH, NetworkConfiguration
from gateway.client.models import read
from gateway.wire import (
    AccessCodeOut,
    AccessGrantOut,
    CancelParcelIn,
    CreateParcelIn,
    CreateWebhookIn,
    DeliveryListOut,
    DeliveryOut,
    ExtendParcelIn,
    LockerListOut,
    LockerOut,
    OpenResultOut,
    ParcelBatchOut,
    ParcelEventListOut,
    ParcelListOut,
    ParcelOut,
    RedirectParcelIn,
    WebhookDeliveryListOut,
    WebhookDeliveryOut,
    WebhookListOut,
    WebhookSubscriptionOut,
    dump,
)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

# operationId (openapi.yaml) -> the method of CarrierClient and SyncCarrierClient.
OPERATIONS: dict[str, str] = {
    "listLockers": "list_lockers",
    "getLocker": "locker",
    "createParcel": "book",
    "listParcels": "list_parcels",
    "createParcelBatch": "book_batch",
    "getParcel": "parcel",
    "reserveParcel": "reserve",
    "cancelParcel": "cancel",
    "openParcelDoor": "open_door",
    "issueAccessCode": "code",
    "issueAccessGrant": "grant",
    "extendParcel": "extend",
    "redirectParcel": "redirect",
    "listParcelEvents": "events",
    "createWebhook": "subscribe",
    "listWebhooks": "webhooks",
    "getWebhook": "webhook",
    "deleteWebhook": "unsubscribe",
    "listWebhookDeliveries": "webhook_deliveries",
    "retryWebhookDelivery": "retry_webhook_delivery",
    "listDeliveries": "deliveries",
    "replayDelivery": "replay_delivery",
    "connectorInboundPreadvice": "connector_preadvice",
    "connectorParcelStatus": "connector_status",
    "getDiscovery": "configuration",
    "getNetworkKeys": "network_keys",
    "getSpecFile": "spec_file",
    # feature_calls.py
    "precheckLocker": "precheck",
    "createHold": "create_hold",
    "getHold": "hold",
    "releaseHold": "release_hold",
    "listHolds": "list_holds",
    "createReturn": "create_return",
    "getReturn": "get_return",
    "issueReturnCode": "return_code",
    "bindReturnLabel": "bind_return_label",
    "openCourierSession": "open_courier_session",
    "getCourierSession": "courier_session",
    "issueCourierSessionCode": "courier_session_code",
    "closeCourierSession": "close_courier_session",
    "openCourierSessionNextDoor": "open_courier_next_door",
    "getCollectionManifest": "collection_manifest",
    "issueSelfServiceLink": "self_service_link",
    "createBundle": "create_bundle",
    "getBundle": "bundle",
    "issueBundleCode": "bundle_code",
    "issueBundleGrant": "bundle_grant",
}


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One request. `idempotency_key` is chosen once, when the call is built, so that every
    retry of it carries the same key and the gateway acts once (SPEC §6)."""

    operation: str
    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    body: Any = None
    params: Mapping[str, str | list[str]] = field(default_factory=dict)
    idempotency_key: str | None = None
    signed: bool = True  # carries a carrier token
    # A retry may meet the first attempt still running (POST .../open answers 409
    # IdempotencyConflict until the locker answered, SPEC §6): wait and ask again.
    waits_for_first: bool = False

    def headers(self) -> dict[str, str]:
        return {} if self.idempotency_key is None else {"Idempotency-Key": self.idempotency_key}


def new_key() -> str:
    return uuid.uuid4().hex


def segment(value: str) -> str:
    return quote(value, safe="")


def reads(model: type[M]) -> Callable[[httpx.Response], M]:
    return lambda response: read(model, response.json())


def _json(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    return body


def _nothing(response: httpx.Response) -> None:
    return None


def _text(response: httpx.Response) -> str:
    return response.text


def _configuration(response: httpx.Response) -> NetworkConfiguration:
    return NetworkConfiguration.from_answer(_json(response))


def query(**values: Any) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if v is not None}


def raw(
    method: str,
    path: str,
    body: Any = None,
    *,
    idempotent: bool = True,
    idempotency_key: str | None = None,
) -> Call[Any]:
    """A signed request to any path, its answer read as JSON (None when empty); a POST gets
    an Idempotency-Key (yours, or a new one) unless `idempotent` is False."""
    key = None
    if method == "POST" and idempotent:
        key = idempotency_key or new_key()
    return Call(
        "raw",
        method,
        path,
        lambda r: r.json() if r.content else None,
        body=body,
        idempotency_key=key,
    )


# ---- lockers --------------------------------------------------------------------------------


def list_lockers(
    *,
    near: tuple[float, float] | None = None,
    radius_m: int | None = None,
    size_class: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[LockerListOut]:
    point = None if near is None else f"{near[0]},{near[1]}"
    params = query(near=point, radiusM=radius_m, sizeClass=size_class, limit=limit)
    params |= query(cursor=cursor)
    return Call("listLockers", "GET", "/v1/lockers", reads(LockerListOut), params=params)


def locker(locker_id: str) -> Call[LockerOut]:
    return Call("getLocker", "GET", f"/v1/lockers/{segment(locker_id)}", reads(LockerOut))


# ---- parcels --------------------------------------------------------------------------------


def create_parcel(
    request: CreateParcelIn, *, idempotency_key: str | None = None
) -> Call[ParcelOut]:
    return Call(
        "createParcel",
        "POST",
        "/v1/parcels",
        reads(ParcelOut),
        body=dump(request),
        idempotency_key=idempotency_key or new_key(),
    )


def parcel_request(parcel_id: str, *, locker_id: str, **members: Any) -> CreateParcelIn:
    """A `create-parcel-request.json` body from Python names or wire names
    (`size_class="S"` or `sizeClass="S"`), checked here before anything is sent."""
    return CreateParcelIn.model_validate({"parcelId": parcel_id, "lockerId": locker_id, **members})


def book_batch(
    parcels: Sequence[CreateParcelIn | Mapping[str, Any]],
    *,
    idempotency_key: str | None = None,
    max_items: int | None = None,
) -> Call[ParcelBatchOut]:
    """Entries may be models or plain objects: a plain one goes out as given, so that the
    gateway judges it (one bad entry never spoils the others, SPEC §13.2)."""
    if not parcels:
        raise ValueError("a batch needs at least one parcel")
    if max_items is not None and len(parcels) > max_items:
        raise ValueError(f"this network takes at most {max_items} parcels per batch")
    body = {"parcels": [dump(p) if isinstance(p, CreateParcelIn) else dict(p) for p in parcels]}
    return Call(
        "createParcelBatch",
        "POST",
        "/v1/parcels:batch",
        reads(ParcelBatchOut),
        body=body,
        idempotency_key=idempotency_key or new_key(),
    )


def list_parcels(
    *,
    state: str | None = None,
    locker_id: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[ParcelListOut]:
    params = query(state=state, lockerId=locker_id, limit=limit, cursor=cursor)
    return Call("listParcels", "GET", "/v1/parcels", reads(ParcelListOut), params=params)


def parcel(parcel_id: str) -> Call[ParcelOut]:
    return Call("getParcel", "GET", f"/v1/parcels/{segment(parcel_id)}", reads(ParcelOut))


def _parcel_action(
    operation: str, parcel_id: str, action: str, body: Any, key: str | None
) -> Call[ParcelOut]:
    return Call(
        operation,
        "POST",
        f"/v1/parcels/{segment(parcel_id)}/{action}",
        reads(ParcelOut),
        body=body,
        idempotency_key=key or new_key(),
    )


def reserve(parcel_id: str, *, idempotency_key: str | None = None) -> Call[ParcelOut]:
    return _parcel_action("reserveParcel", parcel_id, "reserve", {}, idempotency_key)


def cancel(
    parcel_id: str, *, reason: str | None = None, idempotency_key: str | None = None
) -> Call[ParcelOut]:
    body = dump(CancelParcelIn(reason=reason))
    return _parcel_action("cancelParcel", parcel_id, "cancel", body, idempotency_key)


def extend(
    parcel_id: str, *, pickup_until: datetime, idempotency_key: str | None = None
) -> Call[ParcelOut]:
    body = dump(ExtendParcelIn(pickup_until=pickup_until))
    return _parcel_action("extendParcel", parcel_id, "extend", body, idempotency_key)


def redirect(
    parcel_id: str, *, locker_id: str, new_parcel_id: str, idempotency_key: str | None = None
) -> Call[ParcelOut]:
    body = dump(RedirectParcelIn(locker_id=locker_id, new_parcel_id=new_parcel_id))
    return _parcel_action("redirectParcel", parcel_id, "redirect", body, idempotency_key)


def open_door(parcel_id: str, *, idempotency_key: str | None = None) -> Call[OpenResultOut]:
    return Call(
        "openParcelDoor",
        "POST",
        f"/v1/parcels/{segment(parcel_id)}/open",
        reads(OpenResultOut),
        body={},
        idempotency_key=idempotency_key or new_key(),
        waits_for_first=True,
    )


def code(parcel_id: str) -> Call[AccessCodeOut]:
    # No Idempotency-Key (SPEC §6): each call replaces the previous unused code.
    path = f"/v1/parcels/{segment(parcel_id)}/codes"
    return Call("issueAccessCode", "POST", path, reads(AccessCodeOut), body={})


def grant(parcel_id: str) -> Call[AccessGrantOut]:
    # No Idempotency-Key (SPEC §6): each call yields another single-use grant.
    path = f"/v1/parcels/{segment(parcel_id)}/grants"
    return Call("issueAccessGrant", "POST", path, reads(AccessGrantOut), body={})


def events(parcel_id: str) -> Call[ParcelEventListOut]:
    path = f"/v1/parcels/{segment(parcel_id)}/events"
    return Call("listParcelEvents", "GET", path, reads(ParcelEventListOut))


# ---- webhooks and deliveries ------------------------------------------------------------------


def subscribe(
    url: str,
    *,
    events: Sequence[str] | None = None,
    description: str | None = None,
    idempotency_key: str | None = None,
) -> Call[WebhookSubscriptionOut]:
    request = CreateWebhookIn.model_validate(
        {"url": url, "events": None if events is None else list(events), "description": description}
    )
    return Call(
        "createWebhook",
        "POST",
        "/v1/webhooks",
        reads(WebhookSubscriptionOut),
        body=dump(request),
        idempotency_key=idempotency_key or new_key(),
    )


def webhooks() -> Call[WebhookListOut]:
    return Call("listWebhooks", "GET", "/v1/webhooks", reads(WebhookListOut))


def webhook(webhook_id: str) -> Call[WebhookSubscriptionOut]:
    path = f"/v1/webhooks/{segment(webhook_id)}"
    return Call("getWebhook", "GET", path, reads(WebhookSubscriptionOut))


def unsubscribe(webhook_id: str) -> Call[None]:
    return Call("deleteWebhook", "DELETE", f"/v1/webhooks/{segment(webhook_id)}", _nothing)


def webhook_deliveries(
    webhook_id: str,
    *,
    state: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[WebhookDeliveryListOut]:
    path = f"/v1/webhooks/{segment(webhook_id)}/deliveries"
    params = query(state=state, limit=limit, cursor=cursor)
    return Call("listWebhookDeliveries", "GET", path, reads(WebhookDeliveryListOut), params=params)


def retry_webhook_delivery(
    webhook_id: str, delivery_id: int, *, idempotency_key: str | None = None
) -> Call[WebhookDeliveryOut]:
    path = f"/v1/webhooks/{segment(webhook_id)}/deliveries/{delivery_id}/retry"
    return Call(
        "retryWebhookDelivery",
        "POST",
        path,
        reads(WebhookDeliveryOut),
        body={},
        idempotency_key=idempotency_key or new_key(),
    )


def deliveries(
    *,
    state: str | None = None,
    target: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[DeliveryListOut]:
    params = query(state=state, target=target, limit=limit, cursor=cursor)
    return Call("listDeliveries", "GET", "/v1/deliveries", reads(DeliveryListOut), params=params)


def replay_delivery(delivery_id: int, *, idempotency_key: str | None = None) -> Call[DeliveryOut]:
    return Call(
        "replayDelivery",
        "POST",
        f"/v1/deliveries/{delivery_id}/replay",
        reads(DeliveryOut),
        body={},
        idempotency_key=idempotency_key or new_key(),
    )


# ---- connectors -------------------------------------------------------------------------------


def connector_preadvice(
    attachment_id: str, document: Mapping[str, Any], *, idempotency_key: str | None = None
) -> Call[ParcelOut]:
    return Call(
        "connectorInboundPreadvice",
        "POST",
        f"/v1/connectors/{segment(attachment_id)}/inbound",
        reads(ParcelOut),
        body=dict(document),
        idempotency_key=idempotency_key or new_key(),
    )


def connector_status(attachment_id: str, parcel_id: str) -> Call[dict[str, Any]]:
    path = f"/v1/connectors/{segment(attachment_id)}/parcels/{segment(parcel_id)}"
    return Call("connectorParcelStatus", "GET", path, _json)


# ---- the network's public documents -----------------------------------------------------------


def configuration() -> Call[NetworkConfiguration]:
    return Call("getDiscovery", "GET", DISCOVERY_PATH, _configuration, signed=False)


def network_keys() -> Call[dict[str, Any]]:
    return Call("getNetworkKeys", "GET", "/.well-known/jwks.json", _json, signed=False)


def spec_file(name: str) -> Call[str]:
    return Call("getSpecFile", "GET", f"/v1/spec/{segment(name)}", _text, signed=False)
