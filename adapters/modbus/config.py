"""Configuration of the `modbus` adapter: per locker a controller, its bus, its lock numbers."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adapters.modbus.registers import RegisterMap
from gateway.sdk import AdapterConfig
from gateway.sdk.domain import SizeClass

LOCKER_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
# pyserial URL handlers that reach a remote serial line (a serial device server).
SERIAL_SCHEMES = ("socket", "rfc2217")


class Framing(StrEnum):
    TCP = "tcp"  # Modbus TCP: MBAP header, transaction ids, no CRC
    RTU = "rtu"  # Modbus RTU: unit, PDU, CRC-16, over a serial line (or a serial-over-TCP server)


class Compartment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lock: int = Field(ge=1, le=2000, description="lock number on the controller, 1 = first coil")
    size_class: SizeClass


class ModbusLocker(BaseModel):
    """One controller: where it is, its unit id, and which lock serves which compartment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(
        description="tcp://host:port for Modbus TCP; for Modbus RTU a pyserial URL: "
        "/dev/ttyUSB0, COM3, socket://host:port, rfc2217://host:port"
    )
    unit: int = Field(default=1, ge=1, le=247, description="the controller's unit (slave) id")
    baudrate: int = Field(default=19200, gt=0)
    parity: Literal["N", "E", "O"] = "N"
    bytesize: Literal[7, 8] = 8
    stopbits: Literal[1, 2] = 1
    compartments: dict[str, Compartment] = Field(min_length=1)
    registers: RegisterMap = RegisterMap()
    locks: int | None = Field(
        default=None,
        ge=1,
        le=2000,
        description="locks on the controller (the block read per poll); default: the highest used",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value.startswith("tcp://"):
            parts = urlsplit(value)
            try:
                port = parts.port
            except ValueError as err:
                raise ValueError(f"bad port in {value!r}") from err
            if not parts.hostname or port is None or parts.path not in ("", "/"):
                raise ValueError(f"a Modbus TCP url is tcp://host:port, not {value!r}")
        elif not value.strip():
            raise ValueError("url must not be empty")
        elif "://" in value and value.split("://", 1)[0] not in SERIAL_SCHEMES:
            raise ValueError(
                f"unknown scheme in {value!r}: tcp:// (Modbus TCP), a device path, "
                f"or {', '.join(s + '://' for s in SERIAL_SCHEMES)} (Modbus RTU)"
            )
        return value

    @model_validator(mode="after")
    def _locks_cover_compartments(self) -> Self:
        used = [c.lock for c in self.compartments.values()]
        if len(set(used)) != len(used):
            raise ValueError("two compartments share one lock")
        if self.locks is not None and max(used) > self.locks:
            raise ValueError(f"lock {max(used)} is beyond the controller's {self.locks} locks")
        return self

    @property
    def framing(self) -> Framing:
        return Framing.TCP if self.url.startswith("tcp://") else Framing.RTU

    @property
    def lock_count(self) -> int:
        return self.locks or max(c.lock for c in self.compartments.values())

    def bus_settings(self) -> tuple[object, ...]:
        """What lockers sharing one bus (url) must agree on."""
        return (self.baudrate, self.parity, self.bytesize, self.stopbits)


class ModbusConfig(AdapterConfig):
    """`settings.adapters["modbus"]`. In lenient mode one firmware quirk is accepted, with a
    warning: a write-single-coil echo carrying 0x0000 (the coil's state after its self-reset)
    instead of the 0xFF00 written."""

    lockers: dict[str, ModbusLocker] = Field(default_factory=dict)
    poll_interval_s: float = Field(default=0.5, gt=0, le=60)
    timeout_s: float = Field(default=1.0, gt=0, le=30, description="per request")
    offline_after: int = Field(
        default=2, ge=1, le=100, description="failed polls in a row before a locker is offline"
    )
    confirm_s: float = Field(
        default=1.0,
        gt=0,
        le=10,
        description="how long after an unlock pulse the door input may take to show it open",
    )
    boot_retry_s: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="how soon to ask again when the gateway refused a locker (not provisioned)",
    )
    vendor: str = "generic"
    model: str = "modbus-lock-controller"
    firmware: str = "unknown"

    @field_validator("lockers")
    @classmethod
    def _ids(cls, value: dict[str, ModbusLocker]) -> dict[str, ModbusLocker]:
        for locker_id in value:
            if not re.match(LOCKER_ID, locker_id):
                raise ValueError(f"bad locker id {locker_id!r}")
        return value

    @model_validator(mode="after")
    def _shared_buses_agree(self) -> Self:
        seen: dict[str, tuple[str, ModbusLocker]] = {}
        for locker_id, locker in self.lockers.items():
            first = seen.setdefault(locker.url, (locker_id, locker))
            if first[0] == locker_id:
                continue
            other = first[1]
            if other.unit == locker.unit:
                raise ValueError(f"lockers {first[0]} and {locker_id} share {locker.url} unit")
            if other.bus_settings() != locker.bus_settings():
                raise ValueError(
                    f"lockers {first[0]} and {locker_id} share {locker.url} "
                    "with different serial settings"
                )
        return self
