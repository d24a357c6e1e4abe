"""Event types and delivery states match the domain and the spec."""

from __future__ import annotations

from gateway.domain.enums import ParcelState
from gateway.domain.webhooks import DeliveryState, WebhookEventType
from gateway.spec import Spec


def test_one_event_type_per_parcel_state_in_order() -> None:
    parcel_types = [t.value for t in WebhookEventType if not t.is_network_event]
    assert parcel_types == [f"parcel.{s}" for s in ParcelState]
    # The rest are network events about a locker, never a parcel state.
    network = [t.value for t in WebhookEventType if t.is_network_event]
    assert network == [
        "locker.keypad_locked",
        "locker.keypad_cleared",
        "locker.temperature_alarm",
        "locker.temperature_cleared",
        "bundle.partially_picked_up",
        "bundle.picked_up",
        "courier.session_opened",
        "courier.session_closed",
        "hold.converted",
        "hold.released",
        "hold.expired",
    ]
    assert WebhookEventType.entering(ParcelState.READY_FOR_PICKUP) == "parcel.ready_for_pickup"


def test_the_spec_lists_the_same_types_and_states() -> None:
    defs = Spec.load().schema("webhook-common")["$defs"]
    assert defs["EventType"]["enum"] == [t.value for t in WebhookEventType]
    assert defs["DeliveryState"]["enum"] == [s.value for s in DeliveryState]
