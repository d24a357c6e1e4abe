"""The published spec: /v1/spec/{file} (the probes are in ops.py)."""

from __future__ import annotations

from aiohttp import web

from gateway.errors import NotFound
from gateway.http.context import deps

CONTENT_TYPES = {
    ".yaml": "application/yaml",
    ".json": "application/schema+json",
    ".md": "text/markdown",
}


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
    app.router.add_get("/v1/spec/{name}", spec_file)
