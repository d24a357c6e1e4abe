"""The adapter testing kit: the rig contract and the conformance suite every adapter passes."""

from __future__ import annotations

from gateway.sdk.testing.collector import EventCollector
from gateway.sdk.testing.contract import AdapterContract
from gateway.sdk.testing.host import RecordedBoot, RecordingHost
from gateway.sdk.testing.rig import AdapterRig
from gateway.sdk.testing.session import Conformance, ForeignException, KitTiming, open_conformance

__all__ = [
    "AdapterContract",
    "AdapterRig",
    "Conformance",
    "EventCollector",
    "ForeignException",
    "KitTiming",
    "RecordedBoot",
    "RecordingHost",
    "open_conformance",
]
