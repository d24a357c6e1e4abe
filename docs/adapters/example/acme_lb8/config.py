"""Configuration of the ACME LB-8 adapter: strict, like every adapter config."""

from __future__ import annotations

from pydantic import Field

from gateway.sdk import AdapterConfig


class AcmeLb8Config(AdapterConfig):
    locker_id: str = Field(description="The OpenLocker id of the locker this board drives.")
    host: str = Field(default="127.0.0.1", description="The board's IP address.")
    port: int = Field(default=7000, ge=1, le=65535)
    doors: tuple[str, ...] = Field(
        min_length=1, description="Compartment codes, in the board's door order (door 1 first)."
    )
    connect_timeout_s: float = Field(default=3.0, gt=0)
    reconnect_s: float = Field(default=0.5, gt=0, description="First pause before reconnecting.")
    reconnect_max_s: float = Field(default=10.0, gt=0, description="Longest pause (back-off).")
    event_lane_capacity: int = Field(
        default=256, ge=1, description="Events the gateway may fall behind before a resync."
    )
