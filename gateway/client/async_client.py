"""The asyncio carrier client: every carrier endpoint, typed answers, retries built in.

async with await CarrierClient.discover(base_url, carrier_id="acme",
                                        private_key=key, kid="k1") as client:
    parcel = await client.book("ACME-1", locker_id="WAW-1", size_class="S")
    grant = await client.grant(parcel.parcel_id)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx

from gateway.client import calls, feature_calls
from gateway.client.calls import Call
from gateway.client.discovery import DiscoveryCache, NetworkConfiguration, discover
from gateway.client.errors import CarrierApiError
from gateway.client.retry import RetryPolicy
from gateway.client.signing import (
    DEFAULT_RETRY,
    ClientCore,
    read_answer,
    wait_after_answer,
    wait_after_failure,
)
from gateway.client.tokens import PrivateKey
from gateway.client.transport import nodelay_transport
from gateway.wire import (
    AccessCodeOut,
    AccessGrantOut,
    CreateParcelIn,
    DeliveryListOut,
    DeliveryOut,
    LockerListOut,
    LockerOut,
    OpenResultOut,
    ParcelBatchOut,
    ParcelEventListOut,
    ParcelListOut,
    ParcelOut,
    WebhookDeliveryListOut,
    WebhookDeliveryOut,
    WebhookListOut,
    WebhookSubscriptionOut,
)
from gateway.wire.bundles import BundleCodeOut, BundleGrantOut, BundleOut, BundleParcelIn
from gateway.wire.courier import CollectionManifestOut, CourierSessionCodeOut, CourierSessionOut
from gateway.wire.holds import HoldListOut, HoldOut, PrecheckOut
from gateway.wire.returns import ReturnOut
from gateway.wire.self_service import SelfServiceLinkOut

T = TypeVar("T")

__all__ = ["CarrierClient"]


class CarrierClient(ClientCore):
    """One carrier at one network. Every request is signed with a fresh token; POSTs carry an
    Idempotency-Key (yours, or a new one) that every retry of the call reuses."""

    def __init__(
        self,
        base_url: str,
        *,
        carrier_id: str,
        private_key: PrivateKey,
        kid: str,
        audience: str,
        timeout_s: float = 30.0,
        clock: Callable[[], float] = time.time,
        network: NetworkConfiguration | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(
            base_url,
            carrier_id=carrier_id,
            private_key=private_key,
            kid=kid,
            audience=audience,
            clock=clock,
            network=network,
            retry=retry,
        )
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout_s, transport=transport or nodelay_transport()
        )

    @classmethod
    async def discover(
        cls,
        base_url: str,
        *,
        carrier_id: str,
        private_key: PrivateKey,
        kid: str,
        timeout_s: float = 30.0,
        clock: Callable[[], float] = time.time,
        retry: RetryPolicy = DEFAULT_RETRY,
        cache: DiscoveryCache | None = None,
    ) -> CarrierClient:
        """A client configured from the network's discovery document: its API URL, its
        network id as the tokens' audience, its limits; refused if the network does not
        accept tokens signed with this key's algorithm."""
        network = await discover(base_url, timeout_s=timeout_s, cache=cache)
        client = cls(
            network.api_url,
            carrier_id=carrier_id,
            private_key=private_key,
            kid=kid,
            audience=network.network_id,
            timeout_s=timeout_s,
            clock=clock,
            network=network,
            retry=retry,
        )
        try:
            client._discovered_at(base_url, cache)
        except ValueError:
            await client.aclose()
            raise
        return client

    async def __aenter__(self) -> CarrierClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ---- sending ----------------------------------------------------------------------------

    async def send(self, call: Call[T]) -> T:
        """Send `call`, retrying as `self.retry` says; its answer read, or CarrierApiError /
        NetworkUnreachable."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._http.request(
                    call.method,
                    call.path,
                    params=dict(call.params),
                    json=call.body,
                    headers=self.credentials.headers(call),
                )
            except httpx.TransportError as err:  # timeouts included
                await self._sleep(wait_after_failure(self.retry, call, attempt, self.base_url, err))
                continue
            if response.status_code < 400:
                return read_answer(call, response)
            await self._sleep(wait_after_answer(self.retry, call, attempt, response))

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        idempotent: bool = True,
        idempotency_key: str | None = None,
    ) -> Any:
        """A signed request to any path, answered as parsed JSON (for what has no method)."""
        return await self.send(
            calls.raw(method, path, body, idempotent=idempotent, idempotency_key=idempotency_key)
        )

    async def refresh_configuration(self) -> NetworkConfiguration:
        """Fetch the discovery document again (past any cache) and use its limits from now
        on: SPEC §13.1 asks a client to do so when an answer contradicts the document."""
        base, cache = self._rediscover_from()
        self.network = await discover(base, cache=cache)
        return self.network

    # ---- lockers ----------------------------------------------------------------------------

    async def list_lockers(
        self,
        *,
        near: tuple[float, float] | None = None,
        radius_m: int | None = None,
        size_class: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> LockerListOut:
        """One page of lockers; with `near` (lat, lon) nearest first, with `distance_m`."""
        return await self.send(
            calls.list_lockers(
                near=near, radius_m=radius_m, size_class=size_class, limit=limit, cursor=cursor
            )
        )

    async def iter_lockers(
        self,
        *,
        near: tuple[float, float] | None = None,
        radius_m: int | None = None,
        size_class: str | None = None,
    ) -> AsyncGenerator[LockerOut, None]:
        """Every locker, page after page."""
        cursor: str | None = None
        while True:
            page = await self.list_lockers(
                near=near, radius_m=radius_m, size_class=size_class, cursor=cursor
            )
            for item in page.items:
                yield item
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def locker(self, locker_id: str) -> LockerOut:
        return await self.send(calls.locker(locker_id))

    # ---- parcels ----------------------------------------------------------------------------

    async def book(
        self,
        parcel_id: str,
        *,
        locker_id: str,
        idempotency_key: str | None = None,
        **members: Any,
    ) -> ParcelOut:
        """Announce a parcel (and by default reserve a compartment). `members` are those of
        create-parcel-request.json, by Python or wire name: `size_class="S"`,
        `dimensions_mm={"length": 300, "width": 200, "height": 100}`, `weight_g=900`..."""
        request = calls.parcel_request(parcel_id, locker_id=locker_id, **members)
        return await self.create_parcel(request, idempotency_key=idempotency_key)

    async def create_parcel(
        self, request: CreateParcelIn, *, idempotency_key: str | None = None
    ) -> ParcelOut:
        return await self.send(calls.create_parcel(request, idempotency_key=idempotency_key))

    async def book_batch(
        self,
        parcels: Sequence[CreateParcelIn | Mapping[str, Any]],
        *,
        idempotency_key: str | None = None,
    ) -> ParcelBatchOut:
        """Book many parcels at once (POST /v1/parcels:batch); the answer holds one item per
        parcel, in order, each booked (201, `parcel`) or refused (`problem`). Send the same
        `idempotency_key` again to retry safely: the answer is replayed, nothing is booked
        twice. A batch over the network's published limit is refused here, before sending."""
        limit = self.network.limits.get("batchMaxItems") if self.network else None
        call = calls.book_batch(parcels, idempotency_key=idempotency_key, max_items=limit)
        try:
            return await self.send(call)
        except CarrierApiError as err:
            if err.code == "PayloadTooLarge" and self.network is not None:
                await self.refresh_configuration()  # the published limit changed
            raise

    async def list_parcels(
        self,
        *,
        state: str | None = None,
        locker_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> ParcelListOut:
        return await self.send(
            calls.list_parcels(state=state, locker_id=locker_id, limit=limit, cursor=cursor)
        )

    async def iter_parcels(
        self, *, state: str | None = None, locker_id: str | None = None
    ) -> AsyncGenerator[ParcelOut, None]:
        """Every parcel of yours (in the order they were created), page after page."""
        cursor: str | None = None
        while True:
            page = await self.list_parcels(state=state, locker_id=locker_id, cursor=cursor)
            for item in page.items:
                yield item
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def parcel(self, parcel_id: str) -> ParcelOut:
        return await self.send(calls.parcel(parcel_id))

    async def reserve(self, parcel_id: str, *, idempotency_key: str | None = None) -> ParcelOut:
        return await self.send(calls.reserve(parcel_id, idempotency_key=idempotency_key))

    async def cancel(
        self, parcel_id: str, *, reason: str | None = None, idempotency_key: str | None = None
    ) -> ParcelOut:
        return await self.send(
            calls.cancel(parcel_id, reason=reason, idempotency_key=idempotency_key)
        )

    async def extend(
        self, parcel_id: str, *, pickup_until: datetime, idempotency_key: str | None = None
    ) -> ParcelOut:
        return await self.send(
            calls.extend(parcel_id, pickup_until=pickup_until, idempotency_key=idempotency_key)
        )

    async def redirect(
        self,
        parcel_id: str,
        *,
        locker_id: str,
        new_parcel_id: str,
        idempotency_key: str | None = None,
    ) -> ParcelOut:
        """Send a waiting parcel to another locker of this network; answers the new parcel."""
        return await self.send(
            calls.redirect(
                parcel_id,
                locker_id=locker_id,
                new_parcel_id=new_parcel_id,
                idempotency_key=idempotency_key,
            )
        )

    async def open_door(
        self, parcel_id: str, *, idempotency_key: str | None = None
    ) -> OpenResultOut:
        return await self.send(calls.open_door(parcel_id, idempotency_key=idempotency_key))

    async def code(self, parcel_id: str) -> AccessCodeOut:
        """A keypad code for the parcel's next door opening (replaces the previous one)."""
        return await self.send(calls.code(parcel_id))

    async def grant(self, parcel_id: str) -> AccessGrantOut:
        """A signed access grant for the parcel's next door opening (QR text in `qr`)."""
        return await self.send(calls.grant(parcel_id))

    async def events(self, parcel_id: str) -> ParcelEventListOut:
        return await self.send(calls.events(parcel_id))

    # ---- webhooks and deliveries ------------------------------------------------------------

    async def subscribe(
        self,
        url: str,
        *,
        events: Sequence[str] | None = None,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> WebhookSubscriptionOut:
        return await self.send(
            calls.subscribe(
                url, events=events, description=description, idempotency_key=idempotency_key
            )
        )

    async def webhooks(self) -> WebhookListOut:
        return await self.send(calls.webhooks())

    async def webhook(self, webhook_id: str) -> WebhookSubscriptionOut:
        return await self.send(calls.webhook(webhook_id))

    async def unsubscribe(self, webhook_id: str) -> None:
        await self.send(calls.unsubscribe(webhook_id))

    async def webhook_deliveries(
        self,
        webhook_id: str,
        *,
        state: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> WebhookDeliveryListOut:
        return await self.send(
            calls.webhook_deliveries(webhook_id, state=state, limit=limit, cursor=cursor)
        )

    async def retry_webhook_delivery(
        self, webhook_id: str, delivery_id: int, *, idempotency_key: str | None = None
    ) -> WebhookDeliveryOut:
        return await self.send(
            calls.retry_webhook_delivery(webhook_id, delivery_id, idempotency_key=idempotency_key)
        )

    async def deliveries(
        self,
        *,
        state: str | None = None,
        target: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> DeliveryListOut:
        return await self.send(
            calls.deliveries(state=state, target=target, limit=limit, cursor=cursor)
        )

    async def replay_delivery(
        self, delivery_id: int, *, idempotency_key: str | None = None
    ) -> DeliveryOut:
        return await self.send(calls.replay_delivery(delivery_id, idempotency_key=idempotency_key))

    async def iter_deliveries(
        self, *, state: str | None = None, target: str | None = None
    ) -> AsyncGenerator[DeliveryOut, None]:
        """Every delivery to your targets (webhooks and connectors), oldest first, page after
        page; `state="dead"` walks the dead letters."""
        cursor: str | None = None
        while True:
            page = await self.deliveries(state=state, target=target, cursor=cursor)
            for item in page.items:
                yield item
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def iter_webhook_deliveries(
        self, webhook_id: str, *, state: str | None = None
    ) -> AsyncGenerator[WebhookDeliveryOut, None]:
        """Every delivery of one subscription, oldest first, page after page."""
        cursor: str | None = None
        while True:
            page = await self.webhook_deliveries(webhook_id, state=state, cursor=cursor)
            for item in page.items:
                yield item
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    # ---- connectors and public documents ----------------------------------------------------

    async def connector_preadvice(
        self,
        attachment_id: str,
        document: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> ParcelOut:
        return await self.send(
            calls.connector_preadvice(attachment_id, document, idempotency_key=idempotency_key)
        )

    async def connector_status(self, attachment_id: str, parcel_id: str) -> dict[str, Any]:
        return await self.send(calls.connector_status(attachment_id, parcel_id))

    async def configuration(self) -> NetworkConfiguration:
        return await self.send(calls.configuration())

    async def network_keys(self) -> dict[str, Any]:
        return await self.send(calls.network_keys())

    async def spec_file(self, name: str) -> str:
        return await self.send(calls.spec_file(name))

    # ---- pre-check and holds, courier sessions, self-service (feature_calls.py) -----------

    async def precheck(
        self,
        locker_id: str,
        *,
        size_class: str | None = None,
        dimensions_mm: Mapping[str, int] | None = None,
        weight_g: int | None = None,
        at: datetime | None = None,
    ) -> PrecheckOut:
        """Could the locker take this parcel at `at` (now when None)? Books nothing."""
        return await self.send(
            feature_calls.precheck(
                locker_id,
                size_class=size_class,
                dimensions_mm=dimensions_mm,
                weight_g=weight_g,
                at=at,
            )
        )

    async def create_hold(
        self, locker_id: str, *, idempotency_key: str | None = None, **members: Any
    ) -> HoldOut:
        """Hold capacity of a size class for a short TTL, without a compartment."""
        return await self.send(
            feature_calls.create_hold(locker_id, idempotency_key=idempotency_key, **members)
        )

    async def hold(self, hold_id: str) -> HoldOut:
        return await self.send(feature_calls.hold(hold_id))

    async def release_hold(self, hold_id: str, *, idempotency_key: str | None = None) -> HoldOut:
        return await self.send(feature_calls.release_hold(hold_id, idempotency_key=idempotency_key))

    async def open_courier_session(
        self, locker_id: str, *, courier_ref: str | None = None, ttl_seconds: int | None = None
    ) -> CourierSessionOut:
        """One code for a courier's whole round at the locker (shown once, in `code`)."""
        return await self.send(
            feature_calls.open_courier_session(
                locker_id, courier_ref=courier_ref, ttl_seconds=ttl_seconds
            )
        )

    async def courier_session(self, session_id: str) -> CourierSessionOut:
        return await self.send(feature_calls.courier_session(session_id))

    async def courier_session_code(self, session_id: str) -> CourierSessionCodeOut:
        return await self.send(feature_calls.courier_session_code(session_id))

    async def close_courier_session(
        self, session_id: str, *, idempotency_key: str | None = None
    ) -> CourierSessionOut:
        return await self.send(
            feature_calls.close_courier_session(session_id, idempotency_key=idempotency_key)
        )

    async def collection_manifest(self, locker_ids: Sequence[str] = ()) -> CollectionManifestOut:
        """What to take back: per locker of the route (in driving order), or everywhere."""
        return await self.send(feature_calls.collection_manifest(locker_ids))

    async def self_service_link(self, parcel_id: str) -> SelfServiceLinkOut:
        """A signed, short-lived link for the recipient (extend once, new code, redirect)."""
        return await self.send(feature_calls.self_service_link(parcel_id))

    async def create_bundle(
        self,
        bundle_id: str,
        *,
        locker_id: str,
        parcels: Sequence[BundleParcelIn | Mapping[str, Any]],
        idempotency_key: str | None = None,
        **members: Any,
    ) -> BundleOut:
        """Several parcels for one recipient at one locker, opened with one code."""
        return await self.send(
            feature_calls.create_bundle(
                bundle_id,
                locker_id=locker_id,
                parcels=parcels,
                idempotency_key=idempotency_key,
                **members,
            )
        )

    async def bundle(self, bundle_id: str) -> BundleOut:
        return await self.send(feature_calls.bundle(bundle_id))

    async def bundle_code(self, bundle_id: str, *, purpose: str | None = None) -> BundleCodeOut:
        return await self.send(feature_calls.bundle_code(bundle_id, purpose=purpose))

    async def bundle_grant(self, bundle_id: str, *, purpose: str | None = None) -> BundleGrantOut:
        """One signed grant opening every compartment of the bundle awaiting that opening."""
        return await self.send(feature_calls.bundle_grant(bundle_id, purpose=purpose))

    async def open_courier_next_door(
        self, session_id: str, *, idempotency_key: str | None = None
    ) -> OpenResultOut:
        """Open the door the session's code would open next (a locker without a keypad)."""
        return await self.send(
            feature_calls.open_courier_next_door(session_id, idempotency_key=idempotency_key)
        )

    async def list_holds(
        self,
        *,
        state: str | None = None,
        locker_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> HoldListOut:
        return await self.send(
            feature_calls.list_holds(state=state, locker_id=locker_id, limit=limit, cursor=cursor)
        )

    async def create_return(self, locker_id: str, *, reference: str, **members: Any) -> ReturnOut:
        """Announce a return without a label: its drop-off code and QR, shown this once.
        `members`: `size_class=` or `dimensions_mm=`, `weight_g=`, `valid_for_seconds=`."""
        return await self.send(
            feature_calls.create_return(locker_id, reference=reference, **members)
        )

    async def get_return(self, return_id: str) -> ReturnOut:
        return await self.send(feature_calls.get_return(return_id))

    async def return_code(self, return_id: str) -> ReturnOut:
        """A new drop-off code (replaces the previous one)."""
        return await self.send(feature_calls.return_code(return_id))

    async def bind_return_label(self, return_id: str, label: str) -> ReturnOut:
        """Bind the label the locker could not read (the same label again changes nothing)."""
        return await self.send(feature_calls.bind_return_label(return_id, label))
