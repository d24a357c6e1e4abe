"""The independent witnesses of a chaos run: the hardware's door ledger and the webhook receiver."""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from locker_emulator.bank import EmulatorBank
from locker_emulator.olp_client import EmulatedLocker

from tests.chaos.invariants import Delivery, PhysicalOpen

# The command being executed by the emulator task that is performing it (set around _execute).
_COMMAND: contextvars.ContextVar[tuple[dict[str, Any], datetime] | None] = contextvars.ContextVar(
    "chaos_command", default=None
)
RELEASED = ("Unlocked", "DoorJammed")  # the lock really released (the emulator's own rule)


class DoorLedger:
    """Every lock release the emulated hardware performs, with the command (id, exp) behind it.

    Instruments each locker's command executor in place: the emulator has counters per
    compartment only, and a double open must be pinned to the command that caused it.
    """

    def __init__(self) -> None:
        self.opens: list[PhysicalOpen] = []

    def attach(self, bank: EmulatorBank) -> None:
        for locker in bank:
            self._instrument(locker)

    def _instrument(self, locker: EmulatedLocker) -> None:
        inbound: Any = locker._inbound  # test instrumentation of the hardware
        execute: Callable[..., Any] = inbound._execute
        perform: Callable[..., Any] = inbound._perform

        async def execute_traced(
            client: Any, message: dict[str, Any], command: Any, exp: datetime, corr: Any
        ) -> None:
            _COMMAND.set((message, exp))
            await execute(client, message, command, exp, corr)

        def perform_traced(command: Any) -> tuple[dict[str, Any], Any]:
            payload, events = perform(command)
            current = _COMMAND.get()
            if current is not None and payload.get("outcome") in RELEASED:
                message, exp = current
                self.opens.append(
                    PhysicalOpen(
                        locker_id=locker.locker_id,
                        compartment_code=str(payload["compartmentCode"]),
                        purpose=str(message.get("payload", {}).get("purpose")),
                        at=datetime.now(UTC),
                        via=f"command {message.get('id')}",
                        exp=exp,
                    )
                )
            return payload, events

        inbound._execute = execute_traced
        inbound._perform = perform_traced

    def grant_used(self, locker_id: str, verdict: dict[str, Any]) -> None:
        """A grant the scanner accepted: the locker opened on its own (no command, no exp)."""
        if verdict.get("outcome") in RELEASED:
            self.opens.append(
                PhysicalOpen(
                    locker_id=locker_id,
                    compartment_code=str(verdict["compartmentCode"]),
                    purpose=str(verdict["act"]),
                    at=datetime.now(UTC),
                    via=f"grant {verdict['jti']}",
                )
            )


class WebhookReceiver:
    """A carrier's endpoint: a real aiohttp server on port 0 recording every 2xx delivery."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.requests = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{carrier}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, carrier_id: str) -> str:
        return f"http://127.0.0.1:{self.port}/{carrier_id}"

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = json.loads(await request.read())
        self.deliveries.append(
            Delivery(parcel_id=str(body["parcel"]["parcelId"]), seq=int(body["event"]["seq"]))
        )
        return web.Response(status=204)
