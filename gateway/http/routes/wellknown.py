"""Public well-known documents: the network's signing keys (JWKS) and its discovery document."""

from __future__ import annotations

from aiohttp import web

from gateway.http.bodies import json_response
from gateway.http.context import deps
from gateway.http.discovery import DISCOVERY_PATH, discovery
from gateway.wire import dump

# Receivers may cache the key set this long; after a rotation, an unknown kid makes them
# fetch again, and the old key stays published during the overlap.
JWKS_MAX_AGE_S = 300
# The discovery document changes only with the configuration (a restart); clients may keep it
# this long, and fetch it again when an answer surprises them (a limit, a missing feature).
DISCOVERY_MAX_AGE_S = 3600


async def jwks(request: web.Request) -> web.Response:
    response = json_response(deps(request).network_keys.public_jwks())
    response.content_type = "application/jwk-set+json"
    response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_S}"
    return response


async def olp_configuration(request: web.Request) -> web.Response:
    response = json_response(dump(discovery(request).document(request)))
    response.headers["Cache-Control"] = f"public, max-age={DISCOVERY_MAX_AGE_S}"
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/.well-known/jwks.json", jwks)
    app.router.add_get(DISCOVERY_PATH, olp_configuration)
