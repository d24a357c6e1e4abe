"""Schemathesis over the whole OpenAPI document against a running gateway, on each database.

Every operation gets positive and negative cases (a bounded number; `scripts/fuzz-http` runs
many more), as a carrier with a fresh token or without one: no 5xx, every error a documented
application/problem+json, every answer within its schema (tests/fuzz/http/driver.py).
About 25-35 s per database on a quiet machine, most of it the cases themselves; the fuzzer's
environment is made once per machine (about 20 s, tests/fuzz/http/fuzzer.py).
"""

from __future__ import annotations

from tests.fuzz.http.fuzzer import fuzz
from tests.fuzz.http.site import fuzz_site

# Per operation and generation mode: ~50 operations x 2 modes x this, ~ 550 requests.
EXAMPLES = 6


async def test_the_api_answers_every_case_as_its_document_says(database_url: str) -> None:
    async with fuzz_site(database_url) as site:
        report = await fuzz(
            site.gateway.base_url, site.carrier, examples=EXAMPLES, known=site.known, timeout_s=600
        )
    assert report.operations >= 25, report.summary()
    assert report.cases >= 300, report.summary()
    assert report.data["anonymous"] > 0, report.summary()
    assert not report.failures, report.summary()
