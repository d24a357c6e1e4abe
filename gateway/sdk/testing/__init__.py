"""The adapter testing kit: the rig contract and the conformance suite every adapter passes."""

from __future__ import annotations

from gateway.sdk.testing.rig import AdapterRig

__all__ = ["AdapterRig"]
