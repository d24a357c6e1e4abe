"""Domain errors: the wire-coded gateway errors the domain may raise."""

from __future__ import annotations

from gateway.errors import IllegalTransition


class IllegalParcelTransition(IllegalTransition):
    """The parcel's state does not allow the action."""


class IllegalCompartmentTransition(IllegalTransition):
    """The compartment's state does not allow the change."""
