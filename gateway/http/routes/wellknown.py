"""Public well-known documents: the network's signing keys (JWKS) for webhooks and grants."""

from __future__ import annotations

from aiohttp import web

from gateway.http.bodies import json_response
from gateway.http.context import deps

# Receivers may cache the key set this long; after a rotation, an unknown kid makes them
# fetch again, and the old key stays published during the overlap.
JWKS_MAX_AGE_S = 300


async def jwks(request: web.Request) -> web.Response:
    response = json_response(deps(request).network_keys.public_jwks())
    response.content_type = "application/jwk-set+json"
    response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_S}"
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/.well-known/jwks.json", jwks)
