"""Schemathesis over every operation of a running gateway's OpenAPI document; prints a JSON report.

Runs in its own virtual environment (tests/fuzz/http/fuzzer.py makes it): schemathesis pins
jsonschema-rs below the version the gateway needs, and a black-box client needs nothing of the
gateway's. It knows only what a carrier knows: the gateway's URL, the published document
(`/v1/spec/openapi.yaml`, its `$ref`s resolved against that URL), and its own signing key.

Each case is sent once with a fresh carrier token (a `jti` is single-use), or, for about one
case in eight, with no token at all; positive cases on a path with a `parcelId`, `lockerId` or
`webhookId` use, half of the time, an id that exists (`--known`), so that they get past 404.
Every response goes through schemathesis's checks plus `problem_json_errors`; failures are
counted by operation, check and status, with the first example's reproduction.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import jwt
import schemathesis
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi import checks as openapi_checks

PROBLEM = "application/problem+json"
ANONYMOUS_ONE_IN = 8
# A gateway that hangs is a finding too ("transport"), not a stuck run.
REQUEST_TIMEOUT_S = 30
# Each distinct failure keeps the first example; its text is cut here to keep reports short.
EXAMPLE_CHARS = 2_500


@dataclass(kw_only=True)
class Carrier:
    """Mints request tokens exactly as a carrier does: one per request, each with a new jti."""

    carrier_id: str
    audience: str
    key: Any
    kid: str
    alg: str

    def authorization(self) -> str:
        now = int(time.time())
        claims = {
            "iss": self.carrier_id,
            "aud": self.audience,
            "iat": now,
            "exp": now + 120,
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(claims, self.key, algorithm=self.alg, headers={"kid": self.kid})
        return f"Bearer {token}"


@dataclass(kw_only=True)
class Report:
    """What a run did and found; `failures` maps a failure's key to its count and example."""

    seed: int
    examples: int
    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    anonymous: int = 0
    no_negative: list[str] = field(default_factory=list)
    failures: dict[tuple[str, str, str, int], dict[str, Any]] = field(default_factory=dict)

    def fail(self, operation: str, mode: str, check: str, status: int, example: str) -> None:
        key = (operation, mode, check, status)
        found = self.failures.setdefault(key, {"count": 0, "example": example[:EXAMPLE_CHARS]})
        found["count"] += 1

    def as_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "examples_per_operation": self.examples,
            "operations": len({label.split(" [")[0] for label in self.cases}),
            "cases": sum(self.cases.values()),
            "anonymous": self.anonymous,
            "by_operation": dict(sorted(self.cases.items())),
            "statuses": dict(sorted(self.statuses.items())),
            "no_negative_cases": self.no_negative,
            "failures": [
                {"operation": op, "mode": mode, "check": check, "status": status, **found}
                for (op, mode, check, status), found in sorted(self.failures.items())
            ],
        }


def problem_json_errors(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every error is an RFC 9457 problem. The one documented exception: /readyz answers 503
    with its readiness body (not a problem), so that probes see which check failed."""
    if response.status_code < 400:
        return None
    if case.operation.path == "/readyz" and response.status_code == 503:
        return None
    media = (response.headers.get("content-type") or [""])[0].split(";")[0].strip()
    if media != PROBLEM:
        raise Failure(
            operation=case.operation.label,
            title="Error is not application/problem+json",
            message=f"{response.status_code} answered with Content-Type {media or 'none'!r}",
        )
    return None


def no_undeclared_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """No 5xx, unless the operation declares that very status as an outcome of its own (an
    open answers 503 when the locker is offline, 504 when it does not answer in time: with no
    locker connected, that is what the seeded parcels get). `default` does not count."""
    status = response.status_code
    if status < 500 or str(status) in case.operation.definition.raw.get("responses", {}):
        return None
    raise Failure(
        operation=case.operation.label,
        title="Server error",
        message=f"{status} is a server error this operation does not declare",
    )


def status_declared(ctx: Any, response: Any, case: Any) -> bool | None:
    """The status is declared for the operation by its code or range (`4XX`). `default`
    does not count (schemathesis's status_code_conformance lets it): the document's default
    names only server-side problems, so a 400 or 403 hiding behind it is undocumented.
    (A 5xx is no_undeclared_server_error's to report.)"""
    status = response.status_code
    declared = case.operation.definition.raw.get("responses", {})
    if status >= 500 or str(status) in declared or f"{status // 100}XX" in declared:
        return None
    raise Failure(
        operation=case.operation.label,
        title="Undeclared status",
        message=f"{status} is not declared (only {', '.join(map(str, declared))})",
    )


def checks() -> list[Any]:
    """The checks every response goes through.

    Not `positive_data_acceptance` by default: it demands 2xx for any schema-valid request,
    and some refusals are semantic, not a schema's to state (see --strict-positive)."""
    return [
        no_undeclared_server_error,
        openapi_checks.status_code_conformance,
        status_declared,
        openapi_checks.content_type_conformance,
        openapi_checks.response_headers_conformance,
        openapi_checks.response_schema_conformance,
        openapi_checks.negative_data_rejection,
        openapi_checks.ignored_auth,
        problem_json_errors,
    ]


def _negates_auth(case: Any) -> bool:
    """Whether a negative case's mutation is the Authorization header itself (left out, or
    malformed): sending a valid token would turn it into a valid request."""
    data = getattr(getattr(case.meta, "phase", None), "data", None)
    return any(
        mutation.parameter_location.value == "header"
        and str(mutation.parameter).lower() == "authorization"
        for mutation in getattr(data, "mutations", ()) or ()
    )


def _drop_authorization(case: Any) -> None:
    """Schemathesis fills the bearer header with a made-up value; an anonymous case has none."""
    for name in [n for n in case.headers or {} if n.lower() == "authorization"]:
        del case.headers[name]


class Fuzzer:
    """Runs every operation of `schema` in both generation modes against `base_url`."""

    def __init__(
        self,
        *,
        schema: Any,
        base_url: str,
        carrier: Carrier,
        known: dict[str, list[str]],
        report: Report,
        strict_positive: bool,
        only: re.Pattern[str],
    ) -> None:
        self.schema = schema
        self.base_url = base_url
        self.carrier = carrier
        self.known = known
        self.report = report
        self.checks = checks()
        self.strict_positive = strict_positive
        self.only = only
        if strict_positive:
            self.checks.append(openapi_checks.positive_data_acceptance)

    def run(self) -> None:
        for result in self.schema.get_all_operations():
            operation = result.ok()
            if not self.only.search(operation.label):
                continue
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                self._run_operation(operation, mode)

    def _run_operation(self, operation: Any, mode: GenerationMode) -> None:
        label = f"{operation.label} [{mode.value}]"

        @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
        @settings(
            max_examples=self.report.examples,
            deadline=None,
            database=None,
            derandomize=False,
            phases=[hypothesis.Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis.seed(self.report.seed)
        def one_case(case: Any, data: st.DataObject) -> None:
            self.report.cases[label] += 1
            if mode is GenerationMode.POSITIVE:
                self._use_known_ids(case, data)
                if self.strict_positive and case.query:
                    # A cursor is opaque: only one this API handed out is valid, which no
                    # schema can state, so a generated one is refused (422) by design.
                    case.query.pop("cursor", None)
            headers = {}
            if mode is GenerationMode.NEGATIVE and _negates_auth(case):
                self.report.anonymous += 1  # sent as generated: no token, or a malformed one
            elif self.report.cases[label] % ANONYMOUS_ONE_IN == 0:
                # Every eighth case goes without a token (counted, not drawn: Hypothesis leans
                # towards the smallest value, which would make most cases anonymous).
                self.report.anonymous += 1
                _drop_authorization(case)
            else:
                headers["Authorization"] = self.carrier.authorization()
            self._call(case, label, mode, headers)

        try:
            one_case()
        except Unsatisfiable:
            # An operation with nothing to negate (no parameters, no body) has no negative case.
            if mode is not GenerationMode.NEGATIVE:
                raise
            self.report.no_negative.append(operation.label)

    def _use_known_ids(self, case: Any, data: st.DataObject) -> None:
        for name, ids in self.known.items():
            if ids and name in (case.path_parameters or {}) and data.draw(st.booleans()):
                case.path_parameters[name] = data.draw(st.sampled_from(ids))

    def _call(self, case: Any, label: str, mode: GenerationMode, headers: dict[str, str]) -> None:
        operation = case.operation.label
        try:
            response = case.call(base_url=self.base_url, headers=headers, timeout=REQUEST_TIMEOUT_S)
        except OSError as err:  # requests' errors: the connection broke, the server hung or died
            example = f"{err!r}\n{case.as_curl_command()}"
            self.report.fail(operation, mode.value, "transport", 0, example)
            return
        self.report.statuses[str(response.status_code)] += 1
        try:
            case.validate_response(response, checks=self.checks, headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                check = type(failure).__name__ if type(failure) is not Failure else failure.title
                self.report.fail(operation, mode.value, check, response.status_code, str(group))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--carrier-id", required=True)
    parser.add_argument("--audience", required=True)
    parser.add_argument("--key-pem", required=True, type=Path, help="the carrier's private key")
    parser.add_argument("--kid", required=True)
    parser.add_argument("--alg", required=True)
    parser.add_argument("--examples", type=int, default=25, help="cases per operation and mode")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--known", action="append", default=[], help="NAME=ID1,ID2: ids that exist")
    parser.add_argument("--strict-positive", action="store_true")
    parser.add_argument("--only", default="", help="a regex: fuzz the operations it finds")
    args = parser.parse_args(argv)

    key = load_pem_private_key(args.key_pem.read_bytes(), password=None)
    carrier = Carrier(
        carrier_id=args.carrier_id, audience=args.audience, key=key, kid=args.kid, alg=args.alg
    )
    known: dict[str, list[str]] = {}
    for item in args.known:
        name, _, ids = item.partition("=")
        known[name] = [i for i in ids.split(",") if i]
    report = Report(seed=args.seed, examples=args.examples)
    schema = schemathesis.openapi.from_url(f"{args.base_url}/v1/spec/openapi.yaml")
    Fuzzer(
        schema=schema,
        base_url=args.base_url,
        carrier=carrier,
        known=known,
        report=report,
        strict_positive=args.strict_positive,
        only=re.compile(args.only),
    ).run()
    json.dump(report.as_json(), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
