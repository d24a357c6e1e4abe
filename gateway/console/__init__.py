"""The operators' web console at /console: server-rendered pages over the admin services."""

from __future__ import annotations

from aiohttp import web

from gateway.console import account_pages, actions, operator_pages, pages, parcel_pages, stream
from gateway.console.live import LiveFeed
from gateway.console.parcel_reads import ParcelReads
from gateway.console.reads import ConsoleReads
from gateway.console.web import CONSOLE, HERE, PREFIX, TEMPLATES, ConsoleDeps, templates
from gateway.console.web import security_headers as _security_headers

__all__ = ["ConsoleDeps", "ConsoleReads", "LiveFeed", "ParcelReads", "mount_console"]


def mount_console(app: web.Application, deps: ConsoleDeps) -> None:
    """Add the console's routes to the gateway's application (which holds the admin deps)."""
    app[CONSOLE] = deps
    app[TEMPLATES] = templates()
    app.router.add_static(
        PREFIX + "/static", HERE / "static", append_version=True, name="console-static"
    )
    pages.add_routes(app)
    actions.add_routes(app)
    parcel_pages.add_routes(app)
    operator_pages.add_routes(app)
    account_pages.add_routes(app)
    stream.add_routes(app)
    app.on_response_prepare.append(_security_headers)

    async def end_streams(app: web.Application) -> None:
        # Open event streams would otherwise hold the server's shutdown for its whole timeout.
        deps.feed.close_all()

    app.on_shutdown.append(end_streams)
