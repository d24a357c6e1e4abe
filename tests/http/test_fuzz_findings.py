"""What schemathesis (tests/fuzz/http) found against the running gateway, each pinned down.

Each answer must carry a status the OpenAPI document declares for that very operation:
the document's `default` names only server-side problems, so it does not count.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from gateway.errors import ValidationFailed
from gateway.spec import Spec
from tests.http.conftest import Site

NUL = "\x00"
OPENAPI: dict[str, Any] = yaml.safe_load(Spec.load().file("openapi.yaml").content)


def query_operations() -> list[tuple[str, dict[str, Any]]]:
    """Every GET operation with query parameters, as (path, operation), from the document."""
    document = OPENAPI
    found = []
    for path, item in document["paths"].items():
        operation = item.get("get")
        if operation is None:
            continue
        parameters = [*item.get("parameters", []), *operation.get("parameters", [])]
        refs = [p["$ref"].rsplit("/", 1)[-1] for p in parameters if "$ref" in p]
        inline = [p for p in parameters if "$ref" not in p]
        named = [document["components"]["parameters"][name] for name in refs] + inline
        query = [p["name"] for p in named if p["in"] == "query"]
        if query and "{" not in path:
            found.append((path, {**operation, "query": query}))
    return found


async def test_a_nul_in_a_query_parameter_is_a_declared_422(site: Site) -> None:
    # Found by the fuzzer: the NUL guard answered 400 FormatViolation, which no GET declares.
    operations = query_operations()
    assert len(operations) >= 3
    for path, operation in operations:
        for name in operation["query"]:
            params = {name: f"a{NUL}b"}
            response = await site.client.get(path, params=params, headers=site.acme.auth())
            assert str(response.status_code) in operation["responses"], (path, name)
            assert response.status_code == 422, (path, name, response.text)
            assert response.headers["Content-Type"].startswith("application/problem+json")
            body = response.json()
            assert body["code"] == "PropertyConstraintViolation"
            assert body["errors"][0]["pointer"] == f"/query/{name}"


@pytest.mark.parametrize("status", ["503", "504"])
def test_an_open_declares_the_offline_and_timeout_answers(status: str) -> None:
    # Found by the fuzzer: with its locker offline an open answers 503 Unavailable (504
    # Timeout when the locker does not answer), hidden behind `default`.
    responses = OPENAPI["paths"]["/v1/parcels/{parcelId}/open"]["post"]["responses"]
    assert status in responses
    assert "application/problem+json" in responses[status]["content"]


@pytest.mark.parametrize(
    "url", ["http://:Nu8LnHz65q", "https://vj4Et:x2", "http://h.example:65536/x", "https://[zz]/x"]
)
def test_webhook_urls_the_gateway_refuses_break_the_schema_too(url: str) -> None:
    # Found by the fuzzer (strict positive mode): the pattern took any of `.:[]` in the host,
    # so a schema-valid body got the gateway's own 422 for a host or port it cannot use.
    with pytest.raises(ValidationFailed):
        Spec.load().validate("create-webhook-request", {"url": url})


@pytest.mark.parametrize("near", ["-93.4,21.0", "52.2,751.0", "90.5,0", "0,-180.01"])
def test_near_points_out_of_range_break_the_documented_pattern(near: str) -> None:
    # Found by the fuzzer (strict positive mode): the pattern let latitudes past 90 and
    # longitudes past 180 through, which the gateway refuses with 422.
    pattern = OPENAPI["components"]["parameters"]["Near"]["schema"]["pattern"]
    assert re.match(pattern, near) is None
    assert re.match(pattern, "52.2297,21.0122")
    assert re.match(pattern, "-90,-180.0")


@pytest.mark.parametrize(
    ("name", "pointer"), [("a~b", "/query/a~0b"), ("a/b", "/query/a~1b"), ("~1", "/query/~01")]
)
async def test_a_query_parameter_pointer_is_escaped_as_rfc_6901_says(
    site: Site, name: str, pointer: str
) -> None:
    # Found by the fuzzer: an unknown parameter named with `~` or `/` got the pointer
    # `/query/a~b`, which is no JSON pointer: the problem broke its own schema.
    response = await site.client.get(
        "/v1/lockers", params={name: "1"}, headers=site.acme.auth()
    )
    assert response.status_code == 422, response.text
    body = response.json()
    site.spec.validate("problem", body)
    assert body["errors"][0]["pointer"] == pointer
