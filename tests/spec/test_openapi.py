"""openapi.yaml is valid OpenAPI 3.1, its refs land, and it follows the house rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from referencing.exceptions import Unresolvable

from gateway.spec import Spec

from .helpers import SPEC_DIR

OPENAPI = SPEC_DIR / "openapi.yaml"
METHODS = ("get", "put", "post", "patch", "delete")


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    return loaded


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def deref(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local '#/components/...' reference (file refs are checked elsewhere)."""
    ref = node.get("$ref", "")
    if not ref.startswith("#/"):
        return node
    target: Any = doc
    for part in ref[2:].split("/"):
        target = target[part]
    return deref(doc, target)


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def test_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    assert doc["openapi"] == "3.1.0"
    validate(doc, base_uri=OPENAPI.as_uri())


def test_validator_notices_a_dangling_file_ref(doc: dict[str, Any]) -> None:
    broken = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    answer = broken["paths"]["/healthz"]["get"]["responses"]["200"]
    answer["content"]["application/json"]["schema"]["$ref"] = "./no-such-file.json"
    with pytest.raises((OpenAPIValidationError, Unresolvable)):
        validate(broken, base_uri=OPENAPI.as_uri())


def test_every_file_ref_exists_and_resolves(doc: dict[str, Any], spec: Spec) -> None:
    file_refs = [r for r in refs(doc) if not r.startswith("#")]
    assert len(file_refs) > 30
    for ref in file_refs:
        path, _, fragment = ref.partition("#")
        assert path.startswith("./"), ref
        assert (SPEC_DIR / path[2:]).is_file(), ref
        if fragment:
            resolver = spec.registry.resolver(base_uri=f"https://openlocker.dev/olp/v1/{path[2:]}")
            resolver.lookup(f"#{fragment}")


def test_every_message_schema_is_reachable(doc: dict[str, Any], spec: Spec) -> None:
    todo = [r.partition("#")[0].removeprefix("./") for r in refs(doc) if not r.startswith("#")]
    reached: set[str] = set()
    while todo:
        name = todo.pop().removesuffix(".json")
        if name and name not in reached:
            reached.add(name)
            todo.extend(r.partition("#")[0] for r in refs(spec.schema(name)))
    # The envelope and the olp-* files belong to the MQTT binding (asyncapi.yaml, checked in
    # test_asyncapi.py), compartments to operators; the connector event is what connectors are
    # handed in-process (and carriers get as a connector's `data`), never an HTTP body of ours.
    unreached = {name for name in set(spec.names) - reached if not name.startswith("olp-")}
    assert unreached == {"envelope", "compartment", "connector-event"}


def test_every_post_requires_an_idempotency_key(doc: dict[str, Any]) -> None:
    posts = [(p, op) for p, m, op in operations(doc) if m == "post"]
    # The operators' admin API (11 POSTs): its actions on compartments and parcels take an
    # optional Idempotency-Key (a retried remote open opens once). Signing in, tokens (a
    # stored answer would keep the token's secret), replays, keypad clears and the
    # maintenance open of an empty door (a retry is refused while its door session is live)
    # take none yet.
    admin = [(p, op) for p, op in posts if p.startswith("/v1/admin/")]
    # Managing operators adds 7 (add, password reset, disable, enable, role, revoke a token,
    # one's own password), none keyed: an answer with a one-time password is never stored.
    assert len(admin) == 11 + 7
    keyed = {
        p
        for p, _ in admin
        if p.startswith("/v1/admin/parcels/") or p.endswith(("/out-of-service", "/in-service"))
    }
    assert len(keyed) == 6
    for path, op in admin:
        params = [deref(doc, p) for p in op.get("parameters", [])]
        keys = [p for p in params if p["in"] == "header" and p["name"] == "Idempotency-Key"]
        assert [k["required"] for k in keys] == ([False] if path in keyed else []), path
        if path in keyed:
            assert "409" in op["responses"], path
    posts = [(p, op) for p, op in posts if not p.startswith("/v1/admin/")]
    # Parcels 6 (with the batch), locker side 3 (open, codes, grants), webhooks 2 (create,
    # retry), deliveries 1 (replay), connectors 1 (inbound pre-advice).
    courier = 4  # courier sessions: open, new code, open the next door, close
    holds = 2  # soft holds: create, release
    self_service = 4  # the carrier's link; the recipient's extend, new code, redirect request
    bundles = 3  # book a bundle, a code and a grant for its doors
    returns = 3  # announce a return, a new drop-off code, bind the courier's label
    assert len(posts) == 6 + 3 + 2 + 1 + 1 + courier + holds + self_service + bundles + returns
    # Issuing a code replaces the previous one, and each grant is single use, so a retry is
    # harmless; a stored answer would keep a clear-text code or a bearer grant around for
    # replays (SPEC §6).
    exempt = {"/v1/parcels/{parcelId}/codes", "/v1/parcels/{parcelId}/grants"}
    # A courier session's answer holds its code in clear; a second open is a 409 naming it.
    exempt |= {"/v1/courier-sessions", "/v1/courier-sessions/{sessionId}/code"}
    # A bundle's code replaces the bundle's previous one, as a parcel's does; its grant is a
    # bearer token, as a parcel's is.
    exempt |= {"/v1/bundles/{bundleId}/codes", "/v1/bundles/{bundleId}/grants"}
    # A return's answer holds its drop-off code in clear (a second announcement of the shop's
    # reference is a 409 naming it); a new code replaces the last; binding the same label
    # again answers unchanged, another label is a 409.
    exempt |= {"/v1/returns", "/v1/returns/{returnId}/code", "/v1/returns/{returnId}/label"}
    # A self-service link is a bearer token (a stored answer would keep it); the recipient's
    # extension is once only (a retry is 409 already_extended), a new code replaces the last,
    # a redirect request is once only.
    exempt |= {
        "/v1/parcels/{parcelId}/self-service-link",
        "/v1/self-service/parcel/extend",
        "/v1/self-service/parcel/code",
        "/v1/self-service/parcel/redirect",
    }
    for path, op in posts:
        params = [deref(doc, p) for p in op.get("parameters", [])]
        if path in exempt:
            assert not any(p["name"] == "Idempotency-Key" for p in params), path
            continue
        keys = [p for p in params if p["in"] == "header" and p["name"] == "Idempotency-Key"]
        assert keys, path
        assert keys[0]["required"] is True, path
        assert {"400", "409"} <= set(op["responses"]), path


def test_every_error_answer_is_a_problem(doc: dict[str, Any]) -> None:
    for path, method, op in operations(doc):
        for status, response in op["responses"].items():
            if status.startswith(("2", "3")):
                continue
            content = deref(doc, response)["content"]
            assert list(content) == ["application/problem+json"], f"{method} {path} {status}"
            assert content["application/problem+json"]["schema"] == {"$ref": "./problem.json"}


def test_operations_are_named_and_secured(doc: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in operations(doc)]
    # Parcels and lockers 14 (with the batch), locker side 3, webhooks 7 (with the JWKS),
    # deliveries 2, connectors 2 (inbound pre-advice, status pull), metrics 1, discovery 1,
    # the operators' admin API 25.
    # Courier sessions (open, read, new code, open the next door, close), the manifest.
    courier = 6
    holds = 5  # the pre-check and soft holds (create, list, read, release)
    # Hold-time policies (admin: list, get, set, delete) and recipient self-service (the
    # carrier's link; the recipient's view, extend, new code, redirect request).
    policies = 4 + 5
    bundles = 4  # book, read, a code and a grant for its doors
    returns = 4  # announce, read, a new drop-off code, bind the courier's label
    # Admins managing operators: add, read one, password reset, disable, enable, role, revoke
    # a token; an operator's own password.
    operators = 8
    expected = 14 + 3 + 7 + 2 + 2 + 1 + 1 + 25 + courier + holds + policies + bundles + returns
    expected += operators
    assert len(ids) == len(set(ids)) == expected
    public = {p for p, _, op in operations(doc) if op.get("security") == []}
    assert public == {
        "/healthz",
        "/readyz",
        "/v1/spec/{file}",
        "/.well-known/jwks.json",
        "/.well-known/olp-configuration",
        "/v1/admin/session",  # POST: signing in
    }
    # The admin API takes operators' credentials only, never a carrier's.
    for path, _, op in operations(doc):
        if path.startswith("/v1/admin/") and op.get("security") != []:
            schemes = {name for requirement in op["security"] for name in requirement}
            assert schemes <= {"operatorSession", "operatorToken"}, path
            assert {"401", "403"} <= set(op["responses"]), path
    scheme = doc["components"]["securitySchemes"]["carrierJwt"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    assert doc["security"] == [{"carrierJwt": []}]


def test_creations_answer_201_and_transitions_200(doc: dict[str, Any]) -> None:
    for path, method, op in operations(doc):
        if method != "post":
            continue
        created = path in (
            "/v1/parcels",
            "/v1/parcels/{parcelId}/redirect",
            "/v1/parcels/{parcelId}/codes",
            "/v1/parcels/{parcelId}/grants",
            "/v1/parcels/{parcelId}/self-service-link",
            "/v1/bundles",
            "/v1/bundles/{bundleId}/codes",
            "/v1/bundles/{bundleId}/grants",
            "/v1/courier-sessions",
            "/v1/courier-sessions/{sessionId}/code",
            "/v1/returns",
            "/v1/returns/{returnId}/code",
            "/v1/holds",
            "/v1/webhooks",
            "/v1/connectors/{attachmentId}/inbound",
            "/v1/admin/tokens",
            "/v1/admin/operators",
        )
        assert ("201" if created else "200") in op["responses"], path
