"""Probes and the published spec: /healthz, /readyz, /v1/spec/{file}."""

from __future__ import annotations

from aiohttp import web

from gateway.errors import NotFound, OpenLockerError
from gateway.http.bodies import json_response
from gateway.http.context import deps

CONTENT_TYPES = {
    ".yaml": "application/yaml",
    ".json": "application/schema+json",
    ".md": "text/markdown",
}


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: the database answers too (a load balancer stops routing otherwise)."""
    checks: dict[str, str] = {}
    try:
        await deps(request).store.ping()
        checks["database"] = "ok"
    except OpenLockerError as err:
        checks["database"] = err.description
    ready = all(v == "ok" for v in checks.values())
    return json_response(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status=200 if ready else 503,
    )


async def spec_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    content = deps(request).spec.published_files().get(name)
    if content is None:
        raise NotFound(f"no spec file {name!r}")
    suffix = name[name.rfind(".") :]
    return web.Response(
        body=content, content_type=CONTENT_TYPES.get(suffix, "application/octet-stream")
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/v1/spec/{name}", spec_file)
