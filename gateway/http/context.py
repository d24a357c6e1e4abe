"""Typed keys for what the HTTP app and each request carry."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from gateway.auth.carrier_tokens import CarrierAuthenticator, CarrierIdentity
from gateway.service.codes import CodeService
from gateway.service.connectors import ConnectorService
from gateway.service.deliveries import DeliveryService
from gateway.service.grants import GrantService
from gateway.service.hold_policies import HoldPolicies
from gateway.service.holds import HoldService
from gateway.service.lockers import LockerService
from gateway.service.parcel_batch import BatchBooking
from gateway.service.parcels import ParcelService
from gateway.service.self_service import SelfService
from gateway.service.unlocks import Unlocks
from gateway.service.webhooks import WebhookService
from gateway.spec import Spec
from gateway.store import Store
from gateway.tokens.network_keys import NetworkKeys


@dataclass(frozen=True, slots=True)
class HttpDeps:
    """Everything the routes need, built once by the gateway and passed in."""

    store: Store
    spec: Spec
    parcels: ParcelService
    lockers: LockerService
    authenticator: CarrierAuthenticator
    webhooks: WebhookService
    network_keys: NetworkKeys
    unlocks: Unlocks
    codes: CodeService
    grants: GrantService
    deliveries: DeliveryService
    connectors: ConnectorService
    batches: BatchBooking
    hold_policies: HoldPolicies
    self_service: SelfService
    holds: HoldService


DEPS = web.AppKey("deps", HttpDeps)
CARRIER = web.RequestKey("carrier", CarrierIdentity)


def deps(request: web.Request) -> HttpDeps:
    return request.app[DEPS]


def carrier(request: web.Request) -> CarrierIdentity:
    return request[CARRIER]
