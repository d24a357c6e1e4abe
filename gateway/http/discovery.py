"""The discovery document (`/.well-known/olp-configuration`): what a client configures from.

Every figure comes from the settings in force or from the code that enforces it (never a copy),
and a feature is listed only when the routes that serve it are mounted in this application.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from gateway import OLP_VERSION
from gateway.auth.jwks import ALLOWED_ALGORITHMS
from gateway.http.bodies import MAX_NESTING
from gateway.http.query import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX
from gateway.tokens.grants import GRANT_ALGORITHMS
from gateway.tokens.network_keys import ALG as NETWORK_KEY_ALG
from gateway.wire import AlgorithmsOut, EndpointsOut, LimitsOut, OlpConfigurationOut

if TYPE_CHECKING:
    from gateway.settings import Settings

DISCOVERY_PATH = "/.well-known/olp-configuration"
BATCH_PATH = "/v1/parcels:batch"

# The feature vocabulary (SPEC.md §"Discovery"): a name, and the routes (method, path
# pattern) without which it is not offered. Names are stable; new ones are only ever added.
FEATURE_ROUTES: dict[str, tuple[tuple[str, str], ...]] = {
    "parcels": (("POST", "/v1/parcels"), ("GET", "/v1/parcels/{parcel_id}")),
    "batch-pre-advice": (("POST", BATCH_PATH),),
    "lockers": (("GET", "/v1/lockers"),),
    "remote-open": (("POST", "/v1/parcels/{parcel_id}/open"),),
    "pickup-codes": (("POST", "/v1/parcels/{parcel_id}/codes"),),
    "grants": (("POST", "/v1/parcels/{parcel_id}/grants"),),
    "extend": (("POST", "/v1/parcels/{parcel_id}/extend"),),
    "redirect": (("POST", "/v1/parcels/{parcel_id}/redirect"),),
    "parcel-history": (("GET", "/v1/parcels/{parcel_id}/events"),),
    "webhooks": (("POST", "/v1/webhooks"), ("GET", "/.well-known/jwks.json")),
    "dead-letter-replay": (("POST", "/v1/deliveries/{delivery_id}/replay"),),
    "connectors": (("POST", "/v1/connectors/{attachment_id}/inbound"),),
    "precheck": (("GET", "/v1/lockers/{locker_id}/precheck"),),
    "soft-holds": (("POST", "/v1/holds"), ("POST", "/v1/holds/{hold_id}/release")),
    "bundles": (("POST", "/v1/bundles"), ("POST", "/v1/bundles/{bundle_id}/codes")),
    "bundle-grants": (("POST", "/v1/bundles/{bundle_id}/grants"),),
    "courier-sessions": (
        ("POST", "/v1/courier-sessions"),
        ("POST", "/v1/courier-sessions/{session_id}/close"),
    ),
    "collection-manifest": (("GET", "/v1/collection-manifest"),),
    "self-service": (
        ("POST", "/v1/parcels/{parcel_id}/self-service-link"),
        ("GET", "/v1/self-service/parcel"),
    ),
    "returns": (("POST", "/v1/returns"), ("POST", "/v1/returns/{return_id}/label")),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Discovery:
    """The settings the document publishes, taken once from the settings in force."""

    network_id: str
    public_url: str | None
    mqtt_urls: tuple[str, ...]
    max_body_bytes: int
    batch_max: int
    batch_max_body_bytes: int
    idempotency_retention_s: int
    carrier_token_max_lifetime_s: int
    max_token_bytes: int
    webhook_subscriptions_max: int

    @classmethod
    def from_settings(cls, s: Settings) -> Discovery:
        return cls(
            network_id=s.network_id,
            public_url=s.http.public_url,
            mqtt_urls=tuple(s.mqtt.public_urls),
            max_body_bytes=s.http.max_body_bytes,
            batch_max=s.parcels.batch_max,
            batch_max_body_bytes=s.parcels.batch_max_body_bytes,
            idempotency_retention_s=int(s.parcels.idempotency_retention.total_seconds()),
            carrier_token_max_lifetime_s=int(s.tokens.carrier_token_max_lifetime.total_seconds()),
            max_token_bytes=s.tokens.max_token_bytes,
            webhook_subscriptions_max=s.webhooks.max_subscriptions,
        )

    def document(self, request: web.Request) -> OlpConfigurationOut:
        base = self._base(request)
        return OlpConfigurationOut(
            spec_version=OLP_VERSION,
            network_id=self.network_id,
            endpoints=EndpointsOut(
                api=base,
                jwks_uri=f"{base}/.well-known/jwks.json",
                openapi=f"{base}/v1/spec/openapi.yaml",
                spec=f"{base}/v1/spec/SPEC.md",
                health=f"{base}/healthz",
                mqtt=list(self.mqtt_urls) or None,
            ),
            algorithms=AlgorithmsOut(
                carrier_tokens=list(ALLOWED_ALGORITHMS),
                grants=sorted(GRANT_ALGORITHMS),
                webhook_signatures=[NETWORK_KEY_ALG],
            ),
            limits=LimitsOut(
                max_body_bytes=self.max_body_bytes,
                batch_max_items=self.batch_max,
                batch_max_body_bytes=self.batch_max_body_bytes,
                max_json_depth=MAX_NESTING,
                page_size_default=PAGE_SIZE_DEFAULT,
                page_size_max=PAGE_SIZE_MAX,
                idempotency_key_retention_seconds=self.idempotency_retention_s,
                carrier_token_max_lifetime_seconds=self.carrier_token_max_lifetime_s,
                max_token_bytes=self.max_token_bytes,
                webhook_subscriptions_max=self.webhook_subscriptions_max,
            ),
            features=mounted_features(request.app),
        )

    def base_url(self, request: web.Request) -> str:
        """The network's public origin (links handed to people, e.g. self-service)."""
        return self._base(request)

    def _base(self, request: web.Request) -> str:
        """The configured public URL, else the origin this request reached (no proxy)."""
        if self.public_url is not None:
            return self.public_url.rstrip("/")
        return f"{request.scheme}://{request.host}"


DISCOVERY = web.AppKey("discovery", Discovery)


def discovery(request: web.Request) -> Discovery:
    return request.app[DISCOVERY]


def mounted_features(app: web.Application) -> list[str]:
    """The features whose every route is mounted in `app`, in the vocabulary's order."""
    mounted = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
    }
    return [name for name, needs in FEATURE_ROUTES.items() if all(n in mounted for n in needs)]
