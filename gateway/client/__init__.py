"""The carrier client library: every carrier endpoint of OLP v1, typed, async and sync.

    from gateway.client import CarrierClient
    client = await CarrierClient.discover(base_url, carrier_id="acme", private_key=key, kid="k1")
    parcel = await client.book("ACME-1", locker_id="WAW-1", size_class="S")

Modules: `async_client` and `sync_client` (the two clients), `calls` (every endpoint, defined
once), `retry` (429 Retry-After, 5xx, timeouts), `tokens` (carrier tokens from the carrier's
key), `discovery` (the discovery document and its Cache-Control cache), `webhooks` (signature
verification), `networks` and `sync_networks` (many networks at once), `models` (reading
answers leniently).
"""

from gateway.client.async_client import CarrierClient
from gateway.client.calls import OPERATIONS, Call
from gateway.client.discovery import (
    DISCOVERY_PATH,
    DiscoveryCache,
    NetworkConfiguration,
    discover,
    discover_sync,
)
from gateway.client.errors import (
    CarrierApiError,
    CarrierClientError,
    NetworkUnreachable,
    WebhookSignatureError,
)
from gateway.client.models import UnreadableAnswer
from gateway.client.networks import Account, LockerSearch, NetworkLocker, NetworkParcel, Networks
from gateway.client.retry import RetryPolicy
from gateway.client.sync_client import SyncCarrierClient
from gateway.client.sync_networks import SyncNetworks
from gateway.client.tokens import (
    PrivateKey,
    load_private_key,
    mint_carrier_token,
    public_jwks,
)
from gateway.client.transport import nodelay_sync_transport, nodelay_transport
from gateway.client.webhooks import (
    OtherEvent,
    WebhookEvent,
    WebhookVerifier,
    parse_event,
    verify_signature,
)

__all__ = [
    "DISCOVERY_PATH",
    "OPERATIONS",
    "Account",
    "Call",
    "CarrierApiError",
    "CarrierClient",
    "CarrierClientError",
    "DiscoveryCache",
    "LockerSearch",
    "NetworkConfiguration",
    "NetworkLocker",
    "NetworkParcel",
    "NetworkUnreachable",
    "Networks",
    "OtherEvent",
    "PrivateKey",
    "RetryPolicy",
    "SyncCarrierClient",
    "SyncNetworks",
    "UnreadableAnswer",
    "WebhookEvent",
    "WebhookSignatureError",
    "WebhookVerifier",
    "discover",
    "discover_sync",
    "load_private_key",
    "mint_carrier_token",
    "nodelay_sync_transport",
    "nodelay_transport",
    "parse_event",
    "public_jwks",
    "verify_signature",
]
