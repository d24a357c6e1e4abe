"""Policy `ask` when the carrier cannot answer (respx stands in for the carrier's API): each
failure is an `Asked` naming the problem, never a raise, and the scan gets `ask_fallback`."""

from __future__ import annotations

import httpx
import pytest
import respx

from gateway.domain.scan import ScanPolicy, ScanQuery
from gateway.service.scan_asks import ScanAsker
from tests.http.conftest import Site
from tests.scanask.test_scan_ask import WAW, FakeCarrier, carrier, fallback, open_round, site  # noqa: F401 - the fixtures

FAILURES = [
    (httpx.Response(401, json={"title": "bad key"}), "HTTP 401"),
    (httpx.Response(403), "HTTP 403"),
    (httpx.Response(429, headers={"Retry-After": "30"}), "HTTP 429 (Retry-After 30)"),
    (httpx.Response(503), "HTTP 503"),
    (
        httpx.Response(200, content=b"<html>proxy</html>"),
        "unreadable answer: the answer is not JSON",
    ),
    (httpx.ConnectTimeout("slow"), "no answer within 1 s"),
    (httpx.ConnectError("refused"), "ConnectError"),
]


@pytest.mark.parametrize(("reply", "problem"), FAILURES, ids=[p for _, p in FAILURES])
async def test_no_usable_answer_is_a_problem_and_the_fallback_decides(
    site: Site,  # noqa: F811
    carrier: tuple[FakeCarrier, str],  # noqa: F811
    reply: httpx.Response | Exception,
    problem: str,
) -> None:
    scans = site.gateway.locker_side.scans
    asker = scans.asker
    assert isinstance(asker, ScanAsker)
    await open_round(site)
    fallback(site, ScanPolicy.HOLD)
    with respx.mock(assert_all_called=True) as mock:
        mock.post(carrier[1]).mock(side_effect=[reply])
        asked = await asker.ask("acme", ScanQuery(WAW, "ASK-FAIL-1"))
        assert (asked.answer, asked.problem) == (None, problem)
        mock.post(carrier[1]).mock(side_effect=[reply])
        answer = await scans.answer(ScanQuery(WAW, "ASK-FAIL-2"))
    assert (str(answer.decision), answer.unadvised) == ("Accepted", True)
    assert carrier[0].seen == []  # respx answered, not the fake carrier
