"""The locker page's live stream: server-sent events carrying the grid, re-rendered whenever
the live feed sees the locker's committed state change (gateway/console/live.py)."""

from __future__ import annotations

import asyncio
import json
import logging

from aiohttp import web

from gateway.console import views
from gateway.console.web import ME, deps_of, page, render
from gateway.domain.operators import Role
from gateway.errors import OpenLockerError

log = logging.getLogger(__name__)
# An idle stream still sends a comment this often, so proxies and browsers keep it open.
KEEPALIVE_S = 15.0
# EventSource waits this long before reconnecting after the stream ended (e.g. a restart).
RETRY_MS = 2000


@page(Role.VIEWER)
async def events(request: web.Request) -> web.StreamResponse:
    """`event: grid` with the grid's HTML each time it changes; ends when the server stops or
    the operator's session ends (the page then goes to the sign-in page)."""
    deps, con = deps_of(request)
    locker_id = request.match_info["locker_id"]
    await deps.views.locker(locker_id)  # NotFound before the stream starts
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # nginx: pass each event on at once
        }
    )
    await response.prepare(request)
    await response.write(f"retry: {RETRY_MS}\n\n".encode())
    shown: str | None = None
    try:
        with con.feed.watch(locker_id) as watcher:
            while not watcher.closed:
                wait_s = await _session_left(request)
                if wait_s is None:
                    await response.write(b"event: signed-out\ndata: {}\n\n")
                    break
                html = await _grid_html(request, locker_id)
                if html != shown:
                    data = json.dumps({"html": html}, separators=(",", ":"))
                    await response.write(f"event: grid\ndata: {data}\n\n".encode())
                    shown = html
                watcher.changed.clear()
                try:
                    async with asyncio.timeout(min(KEEPALIVE_S, wait_s)):
                        await watcher.changed.wait()
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
    except (ConnectionResetError, ConnectionError):
        pass  # the page was closed
    except OpenLockerError as err:
        # The answer has started: a problem page cannot follow. The browser reconnects and
        # its grid fetch shows the error (or the sign-in page).
        log.warning("live stream of locker %s ended: %s", locker_id, err)
    return response


async def _session_left(request: web.Request) -> float | None:
    """Seconds until the stream's session ends, None once it has: checked at every change and
    keep-alive, so a stream never outlives a sign-out, an expiry or a disabled operator."""
    session_id = request[ME].session_id
    deps, con = deps_of(request)
    if session_id is None:
        # An API token: checked again, or a revoked token (a disabled operator's) would
        # watch on until the connection closed.
        _, _, credential = request.headers.get("Authorization", "").partition(" ")
        return KEEPALIVE_S if await deps.auth.token(credential.strip()) is not None else None
    deadline = await con.reads.session_deadline(session_id, deps.auth.sessions)
    if deadline is None:
        return None
    return max((deadline - deps.clock()).total_seconds(), 0.05)


async def _grid_html(request: web.Request, locker_id: str) -> str:
    deps, _ = deps_of(request)
    status, rows = await deps.views.locker(locker_id)
    now = deps.clock()
    cells = [views.cell_view(row, now) for row in rows]
    response = render(request, "grid.html", principal=request[ME], status=status, cells=cells)
    assert response.text is not None
    return response.text


def add_routes(app: web.Application) -> None:
    app.router.add_get("/console/lockers/{locker_id}/events", events)
