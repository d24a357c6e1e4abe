"""The rig: the hardware (real or emulated) behind one adapter under the conformance kit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from gateway.sdk.adapter import AdapterFeatures, AdapterHost, LockerAdapter


@runtime_checkable
class AdapterRig(Protocol):
    """What a vendor provides so the contract suite can drive and observe their hardware."""

    # Read-only properties, so that a plain class attribute of a narrower type (a tuple of
    # codes, say) satisfies them too.
    @property
    def locker_id(self) -> str:
        """The locker the adapter drives in this rig."""
        ...

    @property
    def compartments(self) -> Sequence[str]:
        """Its compartment codes (at least two)."""
        ...

    @property
    def features(self) -> AdapterFeatures:
        """What this hardware really has (a subset of the adapter's features)."""
        ...

    def make_adapter(self, host: AdapterHost) -> LockerAdapter:
        """A new adapter, configured for this rig, not yet entered."""
        ...

    async def wait_ready(self, adapter: LockerAdapter) -> None:
        """Return once the adapter can drive the locker (booted, or polled once)."""
        ...

    async def close_door(self, code: str, *, item_inside: bool) -> None:
        """A person shuts an open door, leaving an item inside or not."""
        ...

    async def jam(self, code: str) -> None:
        """From now on this lock does not release when commanded."""
        ...

    async def disconnect(self) -> None:
        """The locker becomes unreachable (cable pulled, broker gone, board powered off)."""
        ...

    async def reconnect(self) -> None:
        """The locker is reachable again."""
        ...

    async def lose_next_reply(self) -> None:
        """The next command is executed by the hardware but its reply never arrives."""
        ...

    def unlock_count(self, code: str) -> int:
        """How many times the hardware really released this lock since the rig started."""
        ...

    def door_open(self, code: str) -> bool:
        """Whether the door is physically open now."""
        ...
