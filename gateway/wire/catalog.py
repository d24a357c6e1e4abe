"""Which wire model carries which schema of schemas/v1 (drift tests and transports use it)."""

from __future__ import annotations

from types import MappingProxyType

from gateway.wire.base import WireModel
from gateway.wire.batch import OlpConfigurationOut, ParcelBatchIn, ParcelBatchOut
from gateway.wire.bundles import (
    BundleCodeOut,
    BundleGrantClaimsWire,
    BundleGrantOut,
    BundleOut,
    CreateBundleIn,
    IssueBundleCodeIn,
    IssueBundleGrantIn,
    WebhookBundleEventOut,
)
from gateway.wire.connector_events import ConnectorEvent
from gateway.wire.courier import (
    CloseCourierSessionIn,
    CollectionManifestOut,
    CourierSessionCodeOut,
    CourierSessionOut,
    IssueSessionCodeIn,
    OpenCourierSessionIn,
    OpenNextDoorIn,
    WebhookCourierEventOut,
)
from gateway.wire.deliveries import DeliveryListOut, DeliveryOut, ReplayDeliveryIn
from gateway.wire.doors import AccessCodeOut, IssueCodeIn, OpenParcelIn, OpenResultOut
from gateway.wire.envelope import Envelope, MessageKind
from gateway.wire.grants import AccessGrantOut, GrantClaimsWire, IssueGrantIn
from gateway.wire.health import HealthOut, ReadinessOut
from gateway.wire.hold_policies import HoldPolicyListOut, HoldPolicyOut, SetHoldPolicyIn
from gateway.wire.holds import (
    CreateHoldIn,
    HoldListOut,
    HoldOut,
    PrecheckOut,
    ReleaseHoldIn,
    WebhookHoldEventOut,
)
from gateway.wire.lockers import (
    CompartmentOut,
    LocationOut,
    LockerListOut,
    LockerOut,
    SizeAvailabilityOut,
)
from gateway.wire.olp_messages import (
    BootCall,
    BootResult,
    CodeEnteredEvent,
    DisplayCall,
    DisplayResult,
    DoorClosedEvent,
    DoorOpenedEvent,
    ErrorReply,
    FaultEvent,
    HeartbeatCall,
    HeartbeatResult,
    OpenCompartmentCall,
    OpenCompartmentResult,
    ReplayEventsCall,
    ReplayEventsResult,
    ScanParcelCall,
    ScanParcelResult,
    SetAvailabilityCall,
    SetAvailabilityResult,
    SetKeySetCall,
    SetKeySetResult,
    StateEvent,
    StatusEvent,
    message_model,
)
from gateway.wire.olp_payloads import (
    BootPayload,
    BootResultPayload,
    CodeEnteredPayload,
    DisplayPayload,
    DisplayResultPayload,
    DoorClosedPayload,
    DoorOpenedPayload,
    FaultPayload,
    HeartbeatPayload,
    HeartbeatResultPayload,
    OpenCompartmentPayload,
    OpenCompartmentResultPayload,
    ReplayEventsPayload,
    ReplayEventsResultPayload,
    SetAvailabilityPayload,
    SetAvailabilityResultPayload,
    SetKeySetPayload,
    SetKeySetResultPayload,
    StatePayload,
    StatusPayload,
)
from gateway.wire.olp_scan import ScanParcelPayload, ScanParcelResultPayload
from gateway.wire.parcels import ParcelEventListOut, ParcelEventOut, ParcelListOut, ParcelOut
from gateway.wire.problem import ProblemOut
from gateway.wire.requests import (
    CancelParcelIn,
    CreateParcelIn,
    ExtendParcelIn,
    RedirectParcelIn,
    ReserveParcelIn,
)
from gateway.wire.requirements import DeliveryRequirementsWire
from gateway.wire.returns import BindReturnLabelIn, CreateReturnIn, IssueReturnCodeIn, ReturnOut
from gateway.wire.scan_query import ScanQueryAnswerIn, ScanQueryRequestOut
from gateway.wire.self_service import (
    SelfServiceExtendIn,
    SelfServiceLinkOut,
    SelfServiceParcelOut,
    SelfServiceRedirectIn,
)
from gateway.wire.webhooks import (
    CreateWebhookIn,
    RetryDeliveryIn,
    WebhookDeliveryListOut,
    WebhookDeliveryOut,
    WebhookEventOut,
    WebhookListOut,
    WebhookLockerEventOut,
    WebhookSubscriptionOut,
)

SCHEMA_MODELS: MappingProxyType[str, type[WireModel]] = MappingProxyType(
    {
        "envelope": Envelope,
        "problem": ProblemOut,
        "location": LocationOut,
        "size-availability": SizeAvailabilityOut,
        "locker": LockerOut,
        "locker-list": LockerListOut,
        "compartment": CompartmentOut,
        "parcel": ParcelOut,
        "parcel-list": ParcelListOut,
        "parcel-batch-request": ParcelBatchIn,
        "parcel-batch-result": ParcelBatchOut,
        "discovery": OlpConfigurationOut,
        # Bundles: several parcels for one recipient, one code.
        "create-bundle-request": CreateBundleIn,
        "bundle": BundleOut,
        "issue-bundle-code-request": IssueBundleCodeIn,
        "bundle-code": BundleCodeOut,
        "issue-bundle-grant-request": IssueBundleGrantIn,
        "bundle-grant": BundleGrantOut,
        "bundle-grant-claims": BundleGrantClaimsWire,
        "webhook-bundle-event": WebhookBundleEventOut,
        "parcel-event": ParcelEventOut,
        "parcel-event-list": ParcelEventListOut,
        "open-parcel-request": OpenParcelIn,
        "open-result": OpenResultOut,
        "issue-code-request": IssueCodeIn,
        "access-code": AccessCodeOut,
        "issue-grant-request": IssueGrantIn,
        "access-grant": AccessGrantOut,
        "olp-grant": GrantClaimsWire,
        "create-parcel-request": CreateParcelIn,
        "delivery-requirements": DeliveryRequirementsWire,
        "reserve-parcel-request": ReserveParcelIn,
        "cancel-parcel-request": CancelParcelIn,
        "extend-parcel-request": ExtendParcelIn,
        "redirect-parcel-request": RedirectParcelIn,
        # Hold-time policies and recipient self-service (gateway/wire/hold_policies.py,
        # gateway/wire/self_service.py).
        "hold-policy": HoldPolicyOut,
        "hold-policy-list": HoldPolicyListOut,
        "set-hold-policy-request": SetHoldPolicyIn,
        "self-service-link": SelfServiceLinkOut,
        "self-service-parcel": SelfServiceParcelOut,
        "self-service-extend-request": SelfServiceExtendIn,
        "self-service-redirect-request": SelfServiceRedirectIn,
        # Pre-check and soft holds (gateway/service/holds.py).
        "precheck-result": PrecheckOut,
        "create-hold-request": CreateHoldIn,
        "release-hold-request": ReleaseHoldIn,
        "hold": HoldOut,
        "hold-list": HoldListOut,
        "webhook-hold-event": WebhookHoldEventOut,
        "health": HealthOut,
        "readiness": ReadinessOut,
        # Webhooks: the subscription API and the delivered event.
        "create-webhook-request": CreateWebhookIn,
        "webhook-subscription": WebhookSubscriptionOut,
        "webhook-list": WebhookListOut,
        "webhook-delivery": WebhookDeliveryOut,
        "webhook-delivery-list": WebhookDeliveryListOut,
        "webhook-event": WebhookEventOut,
        "webhook-locker-event": WebhookLockerEventOut,
        # Courier sessions and the collection manifest (gateway/wire/courier.py).
        "open-courier-session-request": OpenCourierSessionIn,
        "courier-session": CourierSessionOut,
        "issue-session-code-request": IssueSessionCodeIn,
        "courier-session-code": CourierSessionCodeOut,
        "close-courier-session-request": CloseCourierSessionIn,
        "open-next-door-request": OpenNextDoorIn,
        "collection-manifest": CollectionManifestOut,
        # Returns without a label (gateway/wire/returns.py).
        "create-return-request": CreateReturnIn,
        "return": ReturnOut,
        "issue-return-code-request": IssueReturnCodeIn,
        "bind-return-label-request": BindReturnLabelIn,
        "webhook-courier-event": WebhookCourierEventOut,
        "retry-delivery-request": RetryDeliveryIn,
        # Deliveries over every target of a carrier (webhooks and connectors).
        "delivery": DeliveryOut,
        "delivery-list": DeliveryListOut,
        "replay-delivery-request": ReplayDeliveryIn,
        # What every connector is handed (and the outbox stores); not an HTTP body.
        "connector-event": ConnectorEvent,
        # Query on scan asked of a carrier (the `olp-scan-query` connector); not our routes.
        "scan-query-request": ScanQueryRequestOut,
        "scan-query-answer": ScanQueryAnswerIn,
        # MQTT binding: payloads (olp-<action>[-result]) ...
        "olp-boot": BootPayload,
        "olp-boot-result": BootResultPayload,
        "olp-heartbeat": HeartbeatPayload,
        "olp-heartbeat-result": HeartbeatResultPayload,
        "olp-scan-parcel": ScanParcelPayload,
        "olp-scan-parcel-result": ScanParcelResultPayload,
        "olp-open-compartment": OpenCompartmentPayload,
        "olp-open-compartment-result": OpenCompartmentResultPayload,
        "olp-set-availability": SetAvailabilityPayload,
        "olp-set-availability-result": SetAvailabilityResultPayload,
        "olp-replay-events": ReplayEventsPayload,
        "olp-replay-events-result": ReplayEventsResultPayload,
        "olp-set-key-set": SetKeySetPayload,
        "olp-set-key-set-result": SetKeySetResultPayload,
        "olp-display": DisplayPayload,
        "olp-display-result": DisplayResultPayload,
        "olp-status": StatusPayload,
        "olp-state": StatePayload,
        "olp-door-opened": DoorOpenedPayload,
        "olp-door-closed": DoorClosedPayload,
        "olp-code-entered": CodeEnteredPayload,
        "olp-fault": FaultPayload,
        # ... and whole messages (olp-message-<action>[-result], olp-message-error)
        "olp-message-boot": BootCall,
        "olp-message-boot-result": BootResult,
        "olp-message-heartbeat": HeartbeatCall,
        "olp-message-heartbeat-result": HeartbeatResult,
        "olp-message-scan-parcel": ScanParcelCall,
        "olp-message-scan-parcel-result": ScanParcelResult,
        "olp-message-open-compartment": OpenCompartmentCall,
        "olp-message-open-compartment-result": OpenCompartmentResult,
        "olp-message-set-availability": SetAvailabilityCall,
        "olp-message-set-availability-result": SetAvailabilityResult,
        "olp-message-replay-events": ReplayEventsCall,
        "olp-message-replay-events-result": ReplayEventsResult,
        "olp-message-set-key-set": SetKeySetCall,
        "olp-message-set-key-set-result": SetKeySetResult,
        "olp-message-display": DisplayCall,
        "olp-message-display-result": DisplayResult,
        "olp-message-status": StatusEvent,
        "olp-message-state": StateEvent,
        "olp-message-door-opened": DoorOpenedEvent,
        "olp-message-door-closed": DoorClosedEvent,
        "olp-message-code-entered": CodeEnteredEvent,
        "olp-message-fault": FaultEvent,
        "olp-message-error": ErrorReply,
    }
)
# Schema files that only hold shared definitions or a bare enum, with no model of their own.
LIBRARY_SCHEMAS = frozenset({"common", "lifecycle", "error-code", "olp-enums", "webhook-common"})

_SCHEMA_OF_MODEL = {model: name for name, model in SCHEMA_MODELS.items()}


def schema_of(model: type[WireModel]) -> str:
    """The schema of schemas/v1 that `model` carries, e.g. "create-parcel-request"."""
    try:
        return _SCHEMA_OF_MODEL[model]
    except KeyError:
        raise KeyError(f"{model.__name__} carries no schema of schemas/v1") from None


def message_schema(kind: MessageKind, action: str) -> str | None:
    """The olp-message-* schema that validates a whole MQTT message of this kind and action.

    A receiver reads `kind` and `action` from the body (the `res` topics carry every action)
    and validates with this one schema; None means an action OLP v1 does not define.
    """
    model = message_model(kind, action)
    return None if model is None else _SCHEMA_OF_MODEL[model]
