"""The physical side of RS-485 lock-control boards: per lock a door hook, an item sensor, a coil.

Board protocols (Kerong, Modbus) only translate frames into calls on a `LockBank`; the test rig
and the control API act on the same bank as the people standing at the locker. Boards are
addressed as the protocol addresses them (Kerong 0-9, Modbus unit ids 1-247); locks are numbered
from 1 on every board, as printed on the boards' terminal blocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


class LockBankError(ValueError):
    """A board or lock that does not exist, or an action the hardware does not allow."""


@dataclass(slots=True)
class LockState:
    """One lock with its door: mutable, because the bank is the hardware itself."""

    door_closed: bool = True
    item_present: bool = False
    stuck: bool = False
    # How many times the solenoid fired, whether or not the door then moved.
    releases: int = 0


class LockBank:
    """All locks of the boards on one bus (or several buses: the bank does not care)."""

    def __init__(self, *, boards: int | Iterable[int] = 1, locks_per_board: int = 16) -> None:
        addresses = list(range(boards)) if isinstance(boards, int) else sorted(set(boards))
        if not addresses:
            raise LockBankError("a lock bank needs at least one board")
        if any(address < 0 for address in addresses):
            raise LockBankError(f"board addresses must not be negative: {addresses}")
        if locks_per_board < 1:
            raise LockBankError(f"locks_per_board must be at least 1, not {locks_per_board}")
        self.locks_per_board = locks_per_board
        self._locks: dict[int, list[LockState]] = {
            board: [LockState() for _ in range(locks_per_board)] for board in addresses
        }

    # ---- what exists ---------------------------------------------------------------------

    @property
    def boards(self) -> tuple[int, ...]:
        """The board addresses present, ascending."""
        return tuple(self._locks)

    def has_board(self, board: int) -> bool:
        return board in self._locks

    def lock(self, board: int, lock: int) -> LockState:
        """The state of one lock (1-based); raises LockBankError for a board or lock not there."""
        locks = self._locks.get(board)
        if locks is None:
            raise LockBankError(f"no board {board} (boards: {list(self._locks)})")
        if not 1 <= lock <= self.locks_per_board:
            raise LockBankError(f"board {board} has locks 1-{self.locks_per_board}, not {lock}")
        return locks[lock - 1]

    def locks(self, board: int) -> Iterator[tuple[int, LockState]]:
        """(lock number, state) of every lock of one board, lock 1 first."""
        self.lock(board, 1)
        return enumerate(self._locks[board], start=1)

    # ---- what the controller does --------------------------------------------------------

    def release(self, board: int, lock: int) -> bool:
        """Fire the solenoid: the door springs open unless the lock is stuck; True if open now."""
        state = self.lock(board, lock)
        state.releases += 1
        if not state.stuck:
            state.door_closed = False
        return not state.door_closed

    # ---- what people and the rig do ------------------------------------------------------

    def close(self, board: int, lock: int, *, item_inside: bool) -> None:
        """A person shuts an open door, leaving an item inside or not."""
        state = self.lock(board, lock)
        if state.door_closed:
            raise LockBankError(f"board {board} lock {lock}: the door is already closed")
        state.item_present = item_inside
        state.door_closed = True

    def set_stuck(self, board: int, lock: int, stuck: bool = True) -> None:
        """A stuck lock no longer releases when its solenoid fires."""
        self.lock(board, lock).stuck = stuck

    def set_item(self, board: int, lock: int, present: bool) -> None:
        """Put an item in or take it out without the door moving (set up a test, a sensor fault)."""
        self.lock(board, lock).item_present = present

    # ---- what the sensors say ------------------------------------------------------------

    def door_closed(self, board: int, lock: int) -> bool:
        return self.lock(board, lock).door_closed

    def item_present(self, board: int, lock: int) -> bool:
        return self.lock(board, lock).item_present

    def stuck(self, board: int, lock: int) -> bool:
        return self.lock(board, lock).stuck

    def releases(self, board: int, lock: int) -> int:
        """How many times the solenoid of this lock fired since the bank was made."""
        return self.lock(board, lock).releases

    def door_bits(self, board: int) -> list[bool]:
        """Per lock of one board (lock 1 first): True when the door hook reports closed."""
        return [state.door_closed for _, state in self.locks(board)]

    def item_bits(self, board: int) -> list[bool]:
        """Per lock of one board (lock 1 first): True when the item sensor sees something."""
        return [state.item_present for _, state in self.locks(board)]

    def snapshot(self) -> dict[str, list[dict[str, object]]]:
        """Every lock as JSON, for the control API."""
        return {
            str(board): [
                {
                    "lock": number,
                    "door_closed": state.door_closed,
                    "item_present": state.item_present,
                    "stuck": state.stuck,
                    "releases": state.releases,
                }
                for number, state in enumerate(locks, start=1)
            ]
            for board, locks in self._locks.items()
        }
