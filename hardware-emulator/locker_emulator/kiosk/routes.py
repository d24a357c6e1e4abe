"""The kiosk web page of each emulated locker: keypad, scanner, doors live, fault buttons."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from jinja2 import Environment, FileSystemLoader, select_autoescape

from locker_emulator.faults import FaultError
from locker_emulator.kiosk.view import (
    COMPARTMENT_TOGGLES,
    DOOR_LEFT_OPEN_SECONDS,
    Hand,
    Hands,
    locker_view,
)
from locker_emulator.locker_state import UnknownCompartment
from locker_emulator.olp_client import EmulatedLocker
from locker_emulator.parcel_scan import BadLabel, NotReady
from locker_emulator.physics import PhysicsError

logger = logging.getLogger("locker_emulator.kiosk")
_HERE = Path(__file__).parent
# An idle stream still sends a comment this often, so proxies and browsers keep it open.
KEEPALIVE_SECONDS = 15.0
_DOOR_ACTS = ("put-in", "take-out", "close", "leave-open")
_MAX_OUTAGE_SECONDS = 86400.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an action did, in words for the person who clicked; `status` for scripts."""

    message: str
    status: int = 200


class Kiosk:
    """Serves `/kiosk` (every locker) and `/kiosk/{locker}` on the control API's application."""

    def __init__(
        self, *, lockers: Mapping[str, EmulatedLocker], keepalive: float = KEEPALIVE_SECONDS
    ) -> None:
        self._lockers = lockers
        self._keepalive = keepalive
        self._hands = Hands()
        self._closing = False
        self._templates = Environment(
            loader=FileSystemLoader(_HERE / "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def register(self, app: web.Application) -> None:
        """Add the kiosk's routes to `app` (the control API's)."""
        app.router.add_static(
            "/kiosk/static", _HERE / "static", append_version=True, name="kiosk-static"
        )
        app.router.add_get("/kiosk", self._index)
        app.router.add_get("/kiosk/{locker}", self._page)
        app.router.add_get("/kiosk/{locker}/events", self._events)
        app.router.add_post("/kiosk/{locker}/keypad", self._keypad)
        app.router.add_post("/kiosk/{locker}/scan", self._scan)
        app.router.add_post("/kiosk/{locker}/scan-parcel", self._scan_parcel)
        app.router.add_post("/kiosk/{locker}/doors/{code}/faults", self._door_fault)
        app.router.add_post("/kiosk/{locker}/doors/{code}/{act}", self._door)
        app.router.add_post("/kiosk/{locker}/faults", self._locker_faults)
        app.router.add_post("/kiosk/{locker}/outage", self._outage)
        app.on_shutdown.append(self._on_shutdown)

    async def _on_shutdown(self, app: web.Application) -> None:
        # Open event streams would otherwise hold the server's shutdown for its whole timeout.
        self._closing = True
        for locker in self._lockers.values():
            locker.model.touch()

    # ----- helpers -----

    def _locker(self, request: web.Request) -> EmulatedLocker:
        locker_id = request.match_info["locker"]
        try:
            return self._lockers[locker_id]
        except KeyError:
            raise web.HTTPNotFound(text=f"no locker {locker_id!r} in this emulator") from None

    def _html(self, request: web.Request, template: str, **context: Any) -> web.Response:
        static = request.app.router["kiosk-static"]

        def static_url(name: str) -> str:
            # Versioned by content hash: a browser never runs a stale script after an upgrade.
            return str(static.url_for(filename=name))

        body = self._templates.get_template(template).render(static=static_url, **context)
        return web.Response(text=body, content_type="text/html")

    def regions(self, view: dict[str, Any]) -> dict[str, str]:
        """The parts of the page that change, rendered; the page and the stream share them."""
        module = self._templates.get_template("regions.html").module
        names = ("status", "display", "doors")
        return {name: str(getattr(module, name)(view)) for name in names}

    @staticmethod
    def _check_origin(request: web.Request) -> None:
        # A page on another site must not be able to open doors here with a cross-site form.
        # `Origin: null` is what a sandboxed iframe's form sends, so it counts as cross-site;
        # without Origin, the browser's Sec-Fetch-Site says where a request came from.
        origin = request.headers.get("Origin")
        foreign = origin == "null" or (bool(origin) and urlsplit(origin).netloc != request.host)
        if foreign or request.headers.get("Sec-Fetch-Site") == "cross-site":
            raise web.HTTPForbidden(text="cross-site requests are refused")

    async def _act(self, request: web.Request, outcome: Outcome) -> web.Response:
        """JSON for the page's script; a redirect back to the page for a plain form post."""
        if "application/json" in request.headers.get("Accept", ""):
            return web.json_response(
                {"ok": outcome.status < 400, "message": outcome.message}, status=outcome.status
            )
        locker = request.match_info["locker"]
        raise web.HTTPSeeOther(f"/kiosk/{quote(locker)}?note={quote(outcome.message)}")

    async def _form(self, request: web.Request) -> Mapping[str, str]:
        self._check_origin(request)
        try:
            data = await request.post()
        except (ValueError, LookupError, HttpProcessingError):
            # Not the form its Content-Type says (no boundary, an unknown charset...).
            raise web.HTTPBadRequest(text="the form cannot be read") from None
        return {key: value for key, value in data.items() if isinstance(value, str)}

    # ----- pages -----

    async def _index(self, request: web.Request) -> web.Response:
        views = [locker_view(locker, self._hands) for locker in self._lockers.values()]
        return self._html(request, "index.html", lockers=views)

    async def _page(self, request: web.Request) -> web.Response:
        locker = self._locker(request)
        view = locker_view(locker, self._hands)
        return self._html(
            request,
            "locker.html",
            view=view,
            regions=self.regions(view),
            note=request.query.get("note", "")[:300],
            others=[other for other in self._lockers if other != locker.locker_id],
        )

    async def _events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: the changed parts of the page, each time the locker changes."""
        locker = self._locker(request)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        last: dict[str, Any] | None = None
        try:
            while not self._closing:
                view = locker_view(locker, self._hands)
                if view != last:
                    data = json.dumps({"regions": self.regions(view)}, separators=(",", ":"))
                    await response.write(f"event: locker\ndata: {data}\n\n".encode())
                    last = view
                try:
                    async with asyncio.timeout(self._keepalive):
                        await locker.wait_until(partial(self._moved, locker, view))
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
        except (ConnectionResetError, ConnectionError):
            pass  # the page was closed
        return response

    def _moved(self, locker: EmulatedLocker, shown: dict[str, Any]) -> bool:
        """Whether the page would look different now (most changes, e.g. heartbeats, do not)."""
        return self._closing or locker_view(locker, self._hands) != shown

    # ----- actions -----

    async def _keypad(self, request: web.Request) -> web.Response:
        locker = self._locker(request)
        form = await self._form(request)
        code = form.get("code", "").strip()
        # A return's label, scanned with its drop-off code (an empty field: nothing scanned).
        label = form.get("label", "").strip() or None
        try:
            locker.enter_code(code, label=label)
        except ValueError as err:
            return await self._act(request, Outcome(f"Not sent: {err}", 400))
        scanned = f", label {label}" if label else ""
        return await self._act(
            request, Outcome(f"Code entered; asking the gateway ({code}{scanned})")
        )

    async def _scan(self, request: web.Request) -> web.Response:
        locker = self._locker(request)
        token = (await self._form(request)).get("token", "").strip()
        if not token:
            return await self._act(request, Outcome("Nothing scanned: paste a grant first", 400))
        verdict = locker.present_grant(token)
        if verdict.accepted:
            return await self._act(request, Outcome(f"Grant accepted: {verdict.message}"))
        return await self._act(
            request, Outcome(f"Grant refused ({verdict.reason}): {verdict.message}", 403)
        )

    async def _scan_parcel(self, request: web.Request) -> web.Response:
        """A courier scans a parcel label: the locker asks the gateway (query on scan)."""
        locker = self._locker(request)
        form = await self._form(request)
        parcel_id = form.get("parcelId", "").strip()
        size = form.get("sizeClass", "").strip() or None
        if not parcel_id:
            return await self._act(request, Outcome("Nothing scanned: type a parcel id", 400))
        try:
            reply = await locker.scan_parcel(parcel_id, size)
        except NotReady as err:
            return await self._act(request, Outcome(f"Not asked: {err}", 409))
        except BadLabel as err:
            return await self._act(request, Outcome(f"Not asked: {err}", 400))
        status = 200 if reply.decision == "Accepted" else 403 if reply.answered else 504
        return await self._act(request, Outcome(reply.screen_text, status))

    async def _door(self, request: web.Request) -> web.Response:
        locker = self._locker(request)
        await self._form(request)
        code, act = request.match_info["code"], request.match_info["act"]
        if act not in _DOOR_ACTS:
            raise web.HTTPNotFound(text=f"no door action {act!r}")
        try:
            outcome = self._perform(locker, code, act)
        except UnknownCompartment as err:
            raise web.HTTPNotFound(text=str(err)) from None
        except PhysicsError as err:
            outcome = Outcome(f"Compartment {code}: {err}", 409)
        return await self._act(request, outcome)

    def _perform(self, locker: EmulatedLocker, code: str, act: str) -> Outcome:
        locker.compartment(code)  # UnknownCompartment before anything else
        view = next(d for d in locker_view(locker, self._hands)["doors"] if d["code"] == code)
        if act == "put-in":
            if not view["can_put_in"]:
                raise PhysicsError("the door must be open and the compartment empty")
            self._hands.set(locker, code, Hand.PUT_IN)
            locker.model.touch()
            return Outcome(f"Parcel placed in {code}; close the door to finish")
        if act == "take-out":
            if not view["can_take_out"]:
                raise PhysicsError("the door must be open with a parcel inside")
            self._hands.set(locker, code, Hand.TAKE_OUT)
            locker.model.touch()
            return Outcome(f"Parcel taken out of {code}; close the door to finish")
        if act == "leave-open":
            locker.leave_open(code)
            return Outcome(f"Walked away from {code}; its door stays open")
        hand = self._hands.take(locker, code)
        if hand is Hand.PUT_IN:
            locker.deposit(code)
            return Outcome(f"Door {code} closed with the parcel inside")
        if hand is Hand.TAKE_OUT:
            locker.take(code)
            return Outcome(f"Door {code} closed; the compartment is empty")
        locker.close(code)
        return Outcome(f"Door {code} closed")

    async def _door_fault(self, request: web.Request) -> web.Response:
        locker = self._locker(request)
        form = await self._form(request)
        code, name = request.match_info["code"], form.get("name", "")
        if name not in dict(COMPARTMENT_TOGGLES):
            return await self._act(request, Outcome(f"No compartment fault {name!r}", 400))
        on = form.get("on") == "1"
        value: object = on
        if name == "door_left_open":
            value = DOOR_LEFT_OPEN_SECONDS if on else None
        try:
            locker.update_compartment_faults(code, {name: value})
        except UnknownCompartment as err:
            raise web.HTTPNotFound(text=str(err)) from None
        words = dict(COMPARTMENT_TOGGLES)[name]
        return await self._act(request, Outcome(f"{code}: {words}: {'on' if on else 'off'}"))

    async def _locker_faults(self, request: web.Request) -> web.Response:
        locker = self._locker(request)
        form = await self._form(request)
        changes: dict[str, object] = {}
        try:
            for name in ("slow_replies", "clock_skew"):
                if form.get(name, "").strip():
                    changes[name] = float(form[name])
            locker.update_faults(changes)
        except (ValueError, FaultError) as err:
            return await self._act(request, Outcome(f"Not changed: {err}", 400))
        faults = locker.faults
        return await self._act(
            request,
            Outcome(f"Slow replies {faults.slow_replies:g} s, clock skew {faults.clock_skew:g} s"),
        )

    async def _outage(self, request: web.Request) -> web.Response:
        locker = self._locker(request)
        form = await self._form(request)
        kind = form.get("kind", "offline")
        try:
            seconds = float(form.get("seconds", "10"))
        except ValueError:
            seconds = -1.0
        if kind not in ("offline", "power_loss") or not 0 <= seconds <= _MAX_OUTAGE_SECONDS:
            return await self._act(
                request, Outcome("An outage needs kind offline or power_loss and 0-86400 s", 400)
            )
        locker.go_offline(seconds, power_loss=kind == "power_loss")
        what = "Power cut" if kind == "power_loss" else "Network cut"
        return await self._act(request, Outcome(f"{what} for {seconds:g} s"))
