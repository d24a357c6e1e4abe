"""`openlocker-emulator modbus`: serve a Modbus lock controller on one TCP port, with control API.

Besides the bus routes every board bus has (`/buses/...`), a Modbus bus has controller faults:
`GET|PUT /buses/{bus}/modbus` with `{"exception": 6 | null, "lose_write_replies": 1}`.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from locker_emulator.boards.control import BoardBus
from locker_emulator.boards.lock_bank import LockBank
from locker_emulator.boards.modbus import MAX_UNIT, Framing, ModbusController, ModbusQuirk
from locker_emulator.boards.modbus_frames import ExceptionCode
from locker_emulator.boards.run_bus import add_control_arguments, run_until_stopped
from locker_emulator.boards.tcp_bus import TcpBus


def add_modbus_command(commands: Any) -> None:
    """Register the `modbus` subcommand on the CLI's subparsers."""
    modbus = commands.add_parser(
        "modbus", help="serve an emulated Modbus lock controller (Modbus TCP or RTU over TCP)"
    )
    modbus.add_argument("--host", default="127.0.0.1", help="address of the TCP server")
    modbus.add_argument("--port", type=int, default=5020, help="TCP port; 0 picks a free one")
    modbus.add_argument(
        "--framing",
        choices=[f.value for f in Framing],
        default=Framing.TCP.value,
        help="tcp: Modbus TCP (MBAP); rtu: Modbus RTU frames over the socket (serial over TCP)",
    )
    modbus.add_argument("--locks", type=int, default=16, help="locks per controller")
    modbus.add_argument(
        "--units",
        default="1",
        help=f"comma-separated unit ids of the controllers on the bus, 1-{MAX_UNIT}",
    )
    modbus.add_argument(
        "--quirk",
        choices=[q.value for q in ModbusQuirk],
        help="emulate a firmware quirk (for adapters' lenient mode)",
    )
    add_control_arguments(modbus)


def parse_units(text: str) -> list[int]:
    try:
        units = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise ValueError(f"--units must be comma-separated numbers, not {text!r}") from None
    if not units or any(not 1 <= unit <= MAX_UNIT for unit in units):
        raise ValueError(f"--units must be 1-{MAX_UNIT}, not {text!r}")
    return units


class ModbusRoutes:
    """`/buses/{bus}/modbus`: the controller faults of the Modbus buses among `controllers`."""

    def __init__(self, controllers: Mapping[str, ModbusController]) -> None:
        self._controllers = controllers

    def register(self, app: web.Application) -> None:
        app.router.add_get("/buses/{bus}/modbus", self._show)
        app.router.add_put("/buses/{bus}/modbus", self._update)

    async def _show(self, request: web.Request) -> web.Response:
        controller = self._controllers.get(request.match_info["bus"])
        if controller is None:
            return _error(404, "NotFound", f"no Modbus bus {request.match_info['bus']!r}")
        return web.json_response(controller_json(controller))

    async def _update(self, request: web.Request) -> web.Response:
        controller = self._controllers.get(request.match_info["bus"])
        if controller is None:
            return _error(404, "NotFound", f"no Modbus bus {request.match_info['bus']!r}")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "BadRequest", "the body must be a JSON object")
        if not isinstance(body, dict):
            return _error(400, "BadRequest", "the body must be a JSON object")
        problem = update_controller(controller, body)
        if problem is not None:
            return _error(400, "BadRequest", problem)
        return web.json_response(controller_json(controller))


def update_controller(controller: ModbusController, changes: dict[str, Any]) -> str | None:
    """Apply `{"exception": code | null, "lose_write_replies": n}`; what is wrong, if anything
    (then nothing is changed)."""
    unknown = sorted(set(changes) - {"exception", "lose_write_replies"})
    if unknown:
        return f"unknown member(s) {unknown}; known: exception, lose_write_replies"
    code = changes.get("exception")
    known = [int(c) for c in ExceptionCode]
    if code is not None and (isinstance(code, bool) or code not in known):
        return f"exception must be null or one of {known}"
    count = changes.get("lose_write_replies", 0)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        return "lose_write_replies must be a whole number >= 0"
    if "exception" in changes:
        controller.forced_exception = None if code is None else ExceptionCode(code)
    if "lose_write_replies" in changes:
        controller.lose_write_replies = count
    return None


def controller_json(controller: ModbusController) -> dict[str, Any]:
    forced = controller.forced_exception
    return {
        "framing": controller.framing.value,
        "quirk": controller.quirk.value if controller.quirk else None,
        "exception": int(forced) if forced is not None else None,
        "lose_write_replies": controller.lose_write_replies,
        "requests": controller.requests,
        "exceptions": controller.exceptions,
        "ignoredFrames": controller.ignored_frames,
        "stuckBits": {str(u): controller.fault_bits(u) for u in controller.bank.boards},
    }


def _error(status: int, code: str, message: str) -> web.Response:
    body = {"error": {"status": status, "code": code, "message": message}}
    return web.json_response(body, status=status)


async def serve_modbus(args: argparse.Namespace) -> int:
    """Run the controller's bus (and the control API) until SIGINT/SIGTERM."""
    units = parse_units(args.units)
    bank = LockBank(boards=units, locks_per_board=args.locks)
    framing = Framing(args.framing)
    controller = ModbusController(
        bank=bank, framing=framing, quirk=ModbusQuirk(args.quirk) if args.quirk else None
    )
    async with TcpBus(handler=controller, host=args.host, port=args.port, name="modbus") as bus:
        where = f"tcp://{args.host}:{bus.port}" if framing is Framing.TCP else bus.url
        ids = ",".join(str(unit) for unit in units)
        print(f"modbus {framing.value} controller unit(s) {ids} on {where}", flush=True)
        await run_until_stopped(
            args,
            BoardBus(name="modbus", protocol="modbus", bank=bank, bus=bus),
            extra_routes=(ModbusRoutes({"modbus": controller}).register,),
        )
    return 0
