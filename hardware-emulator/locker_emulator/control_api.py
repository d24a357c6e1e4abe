"""A small HTTP API over a running bank for tests and demos: look, act at doors, inject faults."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from locker_emulator.boards.control import BoardBus, BusRoutes
from locker_emulator.faults import FaultError
from locker_emulator.json_body import BodyError, json_object
from locker_emulator.kiosk import Kiosk
from locker_emulator.locker_state import UnknownCompartment
from locker_emulator.olp_client import EmulatedLocker
from locker_emulator.parcel_scan import BadLabel, NotReady
from locker_emulator.physics import PhysicsError

logger = logging.getLogger("locker_emulator.control")
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_DOOR_ACTIONS = ("deposit", "take", "close", "leave-open")
_MAX_BODY = 64 * 1024


class ApiError(Exception):
    """An error answer: HTTP status, a short code and a message for humans."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _error(status: int, code: str, message: str) -> web.Response:
    body = {"error": {"status": status, "code": code, "message": message}}
    return web.json_response(body, status=status)


@web.middleware
async def _errors_as_json(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Every failure becomes a JSON error; nothing a client sends can crash the emulator."""
    try:
        return await handler(request)
    except ApiError as err:
        return _error(err.status, err.code, err.message)
    except web.HTTPException as err:
        if err.status < 400:
            raise
        return _error(
            err.status,
            err.reason.replace(" ", ""),
            f"{request.method} {request.path}: {err.reason}",
        )
    except Exception:
        logger.exception("control API: %s %s failed", request.method, request.path)
        return _error(
            500, "InternalError", "the emulator failed to handle this request; see its log"
        )


class ControlApi:
    """`await api.start()` serves the routes on host:port (0 = any free port), `stop()` ends it."""

    def __init__(
        self,
        *,
        lockers: Mapping[str, EmulatedLocker],
        host: str = "127.0.0.1",
        port: int = 8090,
        buses: Mapping[str, BoardBus] | None = None,
        extra_routes: Sequence[Callable[[web.Application], None]] = (),
    ) -> None:
        self._lockers = lockers
        # Emulated RS-485 board buses (Kerong, Modbus), served under /buses.
        self._buses: Mapping[str, BoardBus] = buses or {}
        # Protocol-specific routes (a Modbus controller's own faults), registered on the app.
        self._extra_routes = tuple(extra_routes)
        self._host = host
        self._requested_port = port
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Base URL once started."""
        return f"http://{self._host}:{self.port}"

    def app(self) -> web.Application:
        """The aiohttp application (also usable with aiohttp's test server)."""
        app = web.Application(middlewares=[_errors_as_json], client_max_size=_MAX_BODY)
        BusRoutes(self._buses).register(app)
        for register in self._extra_routes:
            register(app)
        app.router.add_get("/lockers", self._list)
        app.router.add_get("/lockers/{locker}", self._show)
        app.router.add_post("/lockers/{locker}/compartments/{code}/{action}", self._door)
        app.router.add_post("/lockers/{locker}/keypad", self._keypad)
        app.router.add_post("/lockers/{locker}/grant", self._grant)
        app.router.add_post("/lockers/{locker}/scan-parcel", self._scan_parcel)
        app.router.add_put("/lockers/{locker}/faults", self._locker_faults)
        app.router.add_put("/lockers/{locker}/compartments/{code}/faults", self._compartment_faults)
        app.router.add_put(
            "/lockers/{locker}/compartments/{code}/temperature", self._compartment_temperature
        )
        app.router.add_post("/lockers/{locker}/offline", self._offline)
        app.router.add_get("/lockers/{locker}/log", self._log)
        # The kiosk page per locker (/kiosk/{locker}): the same lockers, for a person to click.
        Kiosk(lockers=self._lockers).register(app)
        return app

    async def start(self) -> None:
        """Bind and serve; `port` then holds the bound port."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._requested_port)
        await site.start()
        addresses = self._runner.addresses
        self.port = int(addresses[0][1]) if addresses else self._requested_port

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ----- helpers -----

    def _locker(self, request: web.Request) -> EmulatedLocker:
        locker_id = request.match_info["locker"]
        try:
            return self._lockers[locker_id]
        except KeyError:
            raise ApiError(404, "NotFound", f"no locker {locker_id!r} in this bank") from None

    @staticmethod
    def _compartment_code(request: web.Request, locker: EmulatedLocker) -> str:
        code = request.match_info["code"]
        try:
            locker.compartment(code)
        except UnknownCompartment:
            raise ApiError(
                404, "NotFound", f"locker {locker.locker_id} has no compartment {code!r}"
            ) from None
        return code

    @staticmethod
    async def _body(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
        try:
            return await json_object(request, optional=optional)
        except BodyError as err:
            raise ApiError(err.status, err.code, err.message) from None

    # ----- routes -----

    async def _list(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"lockers": [one.model.summary() for one in self._lockers.values()]}
        )

    async def _show(self, request: web.Request) -> web.Response:
        return web.json_response(self._locker(request).snapshot())

    async def _door(self, request: web.Request) -> web.Response:
        locker = self._locker(request)
        code = self._compartment_code(request, locker)
        action = request.match_info["action"]
        await self._body(request, optional=True)  # no body needed, but never a form's
        if action not in _DOOR_ACTIONS:
            raise ApiError(
                404, "NotFound", f"no door action {action!r}; use one of {', '.join(_DOOR_ACTIONS)}"
            )
        perform = {
            "deposit": locker.deposit,
            "take": locker.take,
            "close": locker.close,
            "leave-open": locker.leave_open,
        }[action]
        try:
            perform(code)
        except PhysicsError as err:
            raise ApiError(409, "Conflict", str(err)) from None
        return web.json_response(
            {"compartment": locker.model.compartment_json(locker.compartment(code))}
        )

    async def _keypad(self, request: web.Request) -> web.Response:
        locker = self._locker(request)
        body = await self._body(request)
        code = body.get("code")
        compartment = body.get("compartmentCode")
        if not isinstance(code, str):
            raise ApiError(400, "BadRequest", "code is required: a string of 4 to 12 digits")
        if compartment is not None and not isinstance(compartment, str):
            raise ApiError(400, "BadRequest", "compartmentCode must be a string")
        label = body.get("label")  # a return's label, scanned with its drop-off code
        if label is not None and not isinstance(label, str):
            raise ApiError(400, "BadRequest", "label must be a string")
        try:
            locker.enter_code(code, compartment, label)
        except UnknownCompartment as err:
            raise ApiError(404, "NotFound", str(err)) from None
        except ValueError as err:
            raise ApiError(400, "BadRequest", str(err)) from None
        return web.json_response({"queued": "CodeEntered", "code": code}, status=202)

    async def _scan_parcel(self, request: web.Request) -> web.Response:
        """A courier scans a parcel label (query on scan): the gateway's answer, once it came."""
        locker = self._locker(request)
        body = await self._body(request)
        parcel_id = body.get("parcelId")
        size_class = body.get("sizeClass")
        if not isinstance(parcel_id, str) or not parcel_id:
            raise ApiError(400, "BadRequest", "parcelId is required: the label as a string")
        if size_class is not None and not isinstance(size_class, str):
            raise ApiError(400, "BadRequest", "sizeClass must be a string (XS, S, M, L, XL)")
        try:
            reply = await locker.scan_parcel(parcel_id, size_class)
        except NotReady as err:
            raise ApiError(409, "Conflict", str(err)) from None
        except BadLabel as err:
            raise ApiError(400, "BadRequest", str(err)) from None
        # No answer in time is an answer of the API too: 504 with what the screen says.
        return web.json_response(reply.to_json(), status=200 if reply.answered else 504)

    async def _grant(self, request: web.Request) -> web.Response:
        locker = self._locker(request)
        body = await self._body(request)
        token = body.get("token")
        if not isinstance(token, str) or not token:
            raise ApiError(400, "BadRequest", "token is required: the grant (QR text) as a string")
        verdict = locker.present_grant(token)
        # A refused grant is an answer, not an error of the API: 403 with the reason.
        return web.json_response(verdict.to_json(), status=200 if verdict.accepted else 403)

    async def _locker_faults(self, request: web.Request) -> web.Response:
        locker = self._locker(request)
        body = await self._body(request)
        try:
            locker.update_faults(body)
        except (FaultError, ValueError) as err:
            raise ApiError(400, "BadRequest", str(err)) from None
        return web.json_response(locker.snapshot()["faults"])

    async def _compartment_faults(self, request: web.Request) -> web.Response:
        locker = self._locker(request)
        code = self._compartment_code(request, locker)
        body = await self._body(request)
        try:
            locker.update_compartment_faults(code, body)
        except FaultError as err:
            raise ApiError(400, "BadRequest", str(err)) from None
        return web.json_response(
            {"compartment": locker.model.compartment_json(locker.compartment(code))}
        )

    async def _compartment_temperature(self, request: web.Request) -> web.Response:
        """`{"celsius": 11.5}`: what the compartment's thermometer reads from now on."""
        locker = self._locker(request)
        code = self._compartment_code(request, locker)
        body = await self._body(request)
        celsius = body.get("celsius")
        if (
            set(body) != {"celsius"}
            or isinstance(celsius, bool)
            or not isinstance(celsius, int | float)
        ):
            raise ApiError(400, "BadRequest", 'the body is {"celsius": <number>}')
        if not -100 <= celsius <= 100:
            raise ApiError(400, "BadRequest", "celsius must be within -100..100")
        try:
            locker.set_temperature(code, float(celsius))
        except PhysicsError as err:
            raise ApiError(409, "Conflict", str(err)) from None
        return web.json_response(
            {"compartment": locker.model.compartment_json(locker.compartment(code))}
        )

    async def _offline(self, request: web.Request) -> web.Response:
        locker = self._locker(request)
        body = await self._body(request, optional=True)
        unknown = sorted(set(body) - {"seconds", "power_loss"})
        if unknown:
            raise ApiError(
                400, "BadRequest", f"unknown member(s) {unknown}; known: seconds, power_loss"
            )
        seconds = body.get("seconds", 10)
        power_loss = body.get("power_loss", False)
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not 0 <= seconds <= 86400
        ):
            raise ApiError(400, "BadRequest", "seconds must be a number from 0 to 86400")
        if not isinstance(power_loss, bool):
            raise ApiError(400, "BadRequest", "power_loss must be true or false")
        locker.go_offline(float(seconds), power_loss=power_loss)
        return web.json_response({"offline": float(seconds), "power_loss": power_loss}, status=202)

    async def _log(self, request: web.Request) -> web.Response:
        locker = self._locker(request)
        raw_limit = request.query.get("limit")
        limit: int | None = None
        if raw_limit is not None:
            if not raw_limit.isdigit() or int(raw_limit) < 1:
                raise ApiError(400, "BadRequest", "limit must be a positive integer")
            limit = int(raw_limit)
        return web.json_response({"entries": locker.log_entries(limit)})
