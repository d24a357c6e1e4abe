"""The fuzz driver catches what it must: a small API that breaks its document on purpose."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import yaml
from aiohttp import web

from tests.fuzz.http.fuzzer import fuzz
from tests.support.carriers import TestCarrier

PROBLEM = {"application/problem+json": {"schema": {"type": "object"}}}
THING = {"application/json": {"schema": {"type": "object", "required": ["id"]}}}


def _operation(responses: dict[str, object]) -> dict[str, object]:
    return {
        "get": {
            "responses": {
                code: {"description": code, "content": content}
                for code, content in responses.items()
            }
        }
    }


DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "broken on purpose", "version": "1"},
    "paths": {
        "/v1/boom": _operation({"200": THING, "default": PROBLEM}),  # answers 500
        "/v1/plain": _operation({"200": THING, "404": PROBLEM}),  # text/plain 404
        "/v1/drift": _operation({"200": THING}),  # 200 without `id`
        "/v1/busy": _operation({"200": THING, "503": PROBLEM}),  # declared 503: fine
        "/v1/fine": _operation({"200": THING}),
    },
}


def _problem(status: int) -> web.Response:
    body = {"type": "about:blank", "title": "x", "status": status}
    return web.json_response(body, status=status, content_type="application/problem+json")


async def _spec(_: web.Request) -> web.Response:
    return web.Response(text=yaml.safe_dump(DOCUMENT), content_type="application/yaml")


async def _boom(_: web.Request) -> web.Response:
    return _problem(500)


async def _plain(_: web.Request) -> web.Response:
    return web.Response(status=404, text="not here")


async def _drift(_: web.Request) -> web.Response:
    return web.json_response({"name": "no id"})


async def _busy(_: web.Request) -> web.Response:
    return _problem(503)


async def _fine(_: web.Request) -> web.Response:
    return web.json_response({"id": "1"})


@pytest.fixture
async def broken_api() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/v1/spec/openapi.yaml", _spec)
    for path, handler in [
        ("/v1/boom", _boom),
        ("/v1/plain", _plain),
        ("/v1/drift", _drift),
        ("/v1/busy", _busy),
        ("/v1/fine", _fine),
    ]:
        app.router.add_get(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_the_driver_reports_each_kind_of_failure(broken_api: str) -> None:
    carrier = TestCarrier.ed25519("acme", "fuzz-net")
    report = await fuzz(broken_api, carrier, examples=3)
    found = {(f["operation"], f["check"], f["status"]) for f in report.failures}
    assert ("GET /v1/boom", "Server error", 500) in found, report.summary()
    assert ("GET /v1/plain", "Error is not application/problem+json", 404) in found
    assert any(op == "GET /v1/drift" and status == 200 for op, _, status in found), found
    assert not any(op in ("GET /v1/busy", "GET /v1/fine") for op, _, _ in found), found
    assert report.operations == 5
