"""Configuration of the `kerong-cu16` adapter: buses, boards, and which lock is which door."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.sdk import AdapterConfig
from gateway.sdk.domain import SizeClass

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Wiring(_Strict):
    """Where one compartment's lock is wired: board 0-9 (its DIP address), lock 1-16."""

    board: int = Field(ge=0, le=9)
    lock: int = Field(ge=1, le=16)
    size_class: SizeClass


class KerongLocker(_Strict):
    """One locker: its bus, and its compartments by code."""

    bus_url: str = Field(
        min_length=1,
        description="A pyserial URL: /dev/ttyUSB0, socket://host:port or rfc2217://host:port.",
    )
    baudrate: int = Field(default=19200, gt=0)
    compartments: dict[str, Wiring] = Field(min_length=1)
    model: str = Field(default="KR-CU16", min_length=1, max_length=64)
    firmware: str = Field(
        default="unknown", min_length=1, max_length=64, description="Boards do not report it."
    )
    serial_number: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _codes_and_locks_unique(self) -> Self:
        for code in self.compartments:
            if not re.match(CODE_PATTERN, code):
                raise ValueError(f"compartment code {code!r} does not match {CODE_PATTERN}")
        seen: dict[tuple[int, int], str] = {}
        for code, wiring in self.compartments.items():
            where = (wiring.board, wiring.lock)
            if where in seen:
                raise ValueError(
                    f"compartments {seen[where]} and {code} are both wired to board "
                    f"{wiring.board} lock {wiring.lock}"
                )
            seen[where] = code
        return self

    @property
    def boards(self) -> list[int]:
        return sorted({wiring.board for wiring in self.compartments.values()})


class KerongCu16Config(AdapterConfig):
    lockers: dict[str, KerongLocker] = Field(
        default_factory=dict, description="Locker id -> its bus and wiring."
    )
    poll_interval_s: float = Field(default=0.5, gt=0, le=60)
    reply_timeout_s: float = Field(
        default=0.3, gt=0, le=10, description="How long a board may take to answer one frame."
    )
    read_retries: int = Field(
        default=1, ge=0, le=5, description="Extra tries of a lost read; unlocks are never resent."
    )
    offline_after_failures: int = Field(
        default=2, ge=1, le=100, description="Failed polls in a row before a locker is offline."
    )
    reconnect_max_s: float = Field(default=5.0, gt=0, le=300)
    boot_retry_s: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="After a refused boot (e.g. a locker not provisioned yet), ask again after "
        "this long, or the gateway's heartbeat interval if shorter.",
    )

    @model_validator(mode="after")
    def _buses_consistent(self) -> Self:
        # Lockers may share a bus (chained boards), but never a board, nor differ in baud rate.
        baud: dict[str, int] = {}
        owners: dict[tuple[str, int], str] = {}
        for locker_id, locker in self.lockers.items():
            if baud.setdefault(locker.bus_url, locker.baudrate) != locker.baudrate:
                raise ValueError(f"lockers on bus {locker.bus_url} disagree on the baud rate")
            for board in locker.boards:
                owner = owners.setdefault((locker.bus_url, board), locker_id)
                if owner != locker_id:
                    raise ValueError(
                        f"lockers {owner} and {locker_id} both use board {board} "
                        f"on bus {locker.bus_url}"
                    )
        return self

    def buses(self) -> dict[str, list[str]]:
        """Bus URL -> the lockers on it."""
        lockers: dict[str, list[str]] = defaultdict(list)
        for locker_id, locker in self.lockers.items():
            lockers[locker.bus_url].append(locker_id)
        return dict(lockers)
