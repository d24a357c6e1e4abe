"""The register map of a generic Modbus lock controller, as this adapter reads and writes it.

There is no standard Modbus profile for lock controllers, so this map is OpenLocker's own: small,
and close to what RS-485 lock boards with a Modbus firmware offer. Every offset is configurable
per locker (`registers` in the adapter config) for controllers that put the blocks elsewhere.
Lock n is 1-based, as printed on the controller's terminal block; the controller is one unit
(slave) id on its bus.

- coil `coil_base + n - 1`: the unlock pulse. Writing 1 (0xFF00, function 05) fires lock n;
  the controller resets the coil itself, so reading it gives 0.
- discrete input `door_base + n - 1`: 1 = door n closed (the hook is engaged). Read as one
  block (function 02).
- discrete input `item_base + n - 1`: 1 = the item sensor of compartment n sees something.
- input register `fault_base + (n - 1) // 16`, bit `(n - 1) % 16`: 1 = lock n fired but its
  latch did not release (stuck); a later release that opens the door clears it (function 04).

Defaults: coils from 0, door inputs from 0, item inputs from 1000, the fault bitmap from input
register 0. An unlock writes one coil once and then reads the door inputs back; it is never
retried blindly, because a second pulse could open a door someone has just shut.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RegisterMap(BaseModel):
    """Where the controller keeps each block (0-based protocol addresses)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    coil_base: int = Field(default=0, ge=0, le=0xFFFF, description="coil of lock 1")
    door_base: int = Field(default=0, ge=0, le=0xFFFF, description="door input of lock 1")
    item_base: int | None = Field(
        default=1000,
        ge=0,
        le=0xFFFF,
        description="item-sensor input of lock 1; null for controllers without item sensors",
    )
    fault_base: int | None = Field(
        default=0,
        ge=0,
        le=0xFFFF,
        description="input register holding the stuck bits of locks 1-16; null if absent",
    )

    def coil(self, lock: int) -> int:
        return self.coil_base + lock - 1


def fault_words(locks: int) -> int:
    """Input registers needed for the stuck bits of `locks` locks."""
    return (locks + 15) // 16


def stuck_locks(words: list[int], locks: int) -> frozenset[int]:
    """The 1-based locks whose stuck bit is set."""
    return frozenset(n for n in range(1, locks + 1) if (words[(n - 1) // 16] >> ((n - 1) % 16)) & 1)
