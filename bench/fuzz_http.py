"""Schemathesis over the whole OpenAPI document, many cases, against a real gateway per database.

The long form of tests/fuzz/http/test_openapi.py: the same seeded gateway and driver, with
many more cases per operation and a fresh seed unless one is given; prints the figures
(operations, cases, answers by status, failures by check) and exits 1 on any failure.
`--strict-positive` also demands that every schema-valid request be accepted (schemathesis's
positive_data_acceptance), which reports refusals the document does not state.
Usage: scripts/fuzz-http [--database sqlite,postgresql] [--examples 200] [--seed N]
                         [--strict-positive] [--only 'GET /v1/lockers$']
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter

from bench.support import database
from tests.fuzz.http.fuzzer import FuzzReport, fuzz
from tests.fuzz.http.site import fuzz_site


async def fuzz_one(kind: str, examples: int, seed: int, strict: bool, only: str) -> FuzzReport:
    async with database(kind) as url, fuzz_site(url) as site:
        return await fuzz(
            site.gateway.base_url,
            site.carrier,
            examples=examples,
            seed=seed,
            known=site.known,
            strict_positive=strict,
            only=only,
            timeout_s=6 * 3600,
        )


def figures(kind: str, report: FuzzReport, elapsed_s: float) -> str:
    by_check = Counter[str]()
    for failure in report.failures:
        by_check[failure["check"]] += failure["count"]
    return "\n".join(
        [
            f"== {kind}: seed {report.data['seed']},"
            f" {report.data['examples_per_operation']} examples per operation and mode",
            f"operations      {report.operations}",
            f"cases           {report.cases} ({report.data['anonymous']} without a token)"
            f" in {elapsed_s:.0f} s ({report.cases / elapsed_s:.0f}/s)",
            f"answers         {report.data['statuses']}",
            f"no negative case (nothing to negate): {', '.join(report.data['no_negative_cases'])}",
            f"failures        {sum(by_check.values())} cases, {len(report.failures)} distinct,"
            f" by check: {dict(by_check) or 'none'}",
        ]
    )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="sqlite,postgresql")
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=None, help="default: a fresh one")
    parser.add_argument("--strict-positive", action="store_true")
    parser.add_argument("--only", default="", help="a regex: fuzz the operations it finds")
    args = parser.parse_args()
    seed = int(time.time()) if args.seed is None else args.seed
    failed = False
    for kind in args.database.split(","):
        started = time.monotonic()
        report = await fuzz_one(kind, args.examples, seed, args.strict_positive, args.only)
        print(figures(kind, report, time.monotonic() - started), flush=True)
        if report.failures:
            failed = True
            print(report.summary(), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
