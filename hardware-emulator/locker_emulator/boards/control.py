"""Control-API routes for emulated board buses: look at locks, shut doors, stick locks, faults.

Protocol-agnostic: a `BoardBus` is a lock bank plus the TCP bus its boards answer on, whatever
protocol they speak (Kerong, Modbus). Mounted by `ControlApi(buses=...)` under `/buses`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from locker_emulator.boards.lock_bank import LockBank, LockBankError
from locker_emulator.boards.tcp_bus import BusFaultError, TcpBus, bus_faults_json
from locker_emulator.json_body import BodyError, json_object


@dataclass(frozen=True, slots=True)
class BoardBus:
    """One emulated bus: its name in the API, the protocol its boards speak, locks, server."""

    name: str
    protocol: str
    bank: LockBank
    bus: TcpBus

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "protocol": self.protocol,
            "url": self.bus.url,
            "boards": list(self.bank.boards),
            "locksPerBoard": self.bank.locks_per_board,
            "faults": bus_faults_json(self.bus.faults),
            "bytesReceived": self.bus.bytes_received,
            "repliesSent": self.bus.replies_sent,
            "repliesDropped": self.bus.replies_dropped,
        }


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response(
        {"error": {"status": status, "code": code, "message": message}}, status=status
    )


async def _json_object(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        return await json_object(request, optional=True)
    except BodyError as err:
        return _error(err.status, err.code, err.message)


class BusRoutes:
    """The `/buses` routes over a mapping of bus name -> BoardBus."""

    def __init__(self, buses: Mapping[str, BoardBus]) -> None:
        self._buses = buses

    def register(self, app: web.Application) -> None:
        app.router.add_get("/buses", self._list)
        app.router.add_get("/buses/{bus}", self._show)
        app.router.add_put("/buses/{bus}/faults", self._faults)
        app.router.add_post("/buses/{bus}/boards/{board}/locks/{lock}/close", self._close)
        app.router.add_put("/buses/{bus}/boards/{board}/locks/{lock}/faults", self._lock_faults)

    def _bus(self, request: web.Request) -> BoardBus | web.Response:
        name = request.match_info["bus"]
        bus = self._buses.get(name)
        if bus is None:
            return _error(404, "NotFound", f"no bus {name!r}; buses: {', '.join(self._buses)}")
        return bus

    @staticmethod
    def _lock(request: web.Request, bus: BoardBus) -> tuple[int, int] | web.Response:
        try:
            board, lock = int(request.match_info["board"]), int(request.match_info["lock"])
            bus.bank.lock(board, lock)
        except ValueError as err:
            return _error(404, "NotFound", str(err))
        return board, lock

    async def _list(self, request: web.Request) -> web.Response:
        return web.json_response({"buses": [bus.summary() for bus in self._buses.values()]})

    async def _show(self, request: web.Request) -> web.Response:
        bus = self._bus(request)
        if isinstance(bus, web.Response):
            return bus
        return web.json_response({**bus.summary(), "locks": bus.bank.snapshot()})

    async def _faults(self, request: web.Request) -> web.Response:
        bus = self._bus(request)
        if isinstance(bus, web.Response):
            return bus
        body = await _json_object(request)
        if isinstance(body, web.Response):
            return body
        try:
            faults = await bus.bus.update_faults(body)
        except BusFaultError as err:
            return _error(400, "BadRequest", str(err))
        return web.json_response(bus_faults_json(faults))

    async def _close(self, request: web.Request) -> web.Response:
        bus = self._bus(request)
        if isinstance(bus, web.Response):
            return bus
        where = self._lock(request, bus)
        if isinstance(where, web.Response):
            return where
        body = await _json_object(request)
        if isinstance(body, web.Response):
            return body
        unknown = sorted(set(body) - {"item_inside"})
        item = body.get("item_inside", False)
        if unknown or not isinstance(item, bool):
            return _error(400, "BadRequest", 'the body is {"item_inside": true|false}')
        try:
            bus.bank.close(*where, item_inside=item)
        except LockBankError as err:
            return _error(409, "Conflict", str(err))
        return web.json_response(_lock_json(bus.bank, *where))

    async def _lock_faults(self, request: web.Request) -> web.Response:
        bus = self._bus(request)
        if isinstance(bus, web.Response):
            return bus
        where = self._lock(request, bus)
        if isinstance(where, web.Response):
            return where
        body = await _json_object(request)
        if isinstance(body, web.Response):
            return body
        unknown = sorted(set(body) - {"stuck"})
        stuck = body.get("stuck")
        if unknown or not isinstance(stuck, bool):
            return _error(400, "BadRequest", 'the body is {"stuck": true|false}')
        bus.bank.set_stuck(*where, stuck)
        return web.json_response(_lock_json(bus.bank, *where))


def _lock_json(bank: LockBank, board: int, lock: int) -> dict[str, Any]:
    state = bank.lock(board, lock)
    return {
        "board": board,
        "lock": lock,
        "door_closed": state.door_closed,
        "item_present": state.item_present,
        "stuck": state.stuck,
        "releases": state.releases,
    }
