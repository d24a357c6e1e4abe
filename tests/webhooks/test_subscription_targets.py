"""A subscription whose URL is a literal private, loopback or link-local IP is refused at
creation (422); names are judged at send time (tests/delivery/test_ssrf.py). The tests'
gateway allows loopback (tests/support/loopback.py), so loopback is allowed here."""

from __future__ import annotations

import pytest

from tests.webhooks.conftest import Hooks


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.0.0.1/hooks", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://[fd00::1]:8443/hooks", "private"),
        ("http://0.0.0.0:8080/hooks", "unspecified"),
    ],
)
async def test_a_literal_private_ip_is_a_422_problem(hooks: Hooks, url: str, reason: str) -> None:
    answer = await hooks.site.post("/v1/webhooks", {"url": url}, key=f"ssrf-{reason}")
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    hooks.site.spec.validate("problem", problem)
    assert problem["code"] == "PropertyConstraintViolation"
    assert [e["pointer"] for e in problem["errors"]] == ["/url"]
    assert reason in problem["detail"]


async def test_an_allowed_network_and_a_name_are_accepted(hooks: Hooks) -> None:
    assert (await hooks.subscribe("http://127.0.0.1:9/hooks"))["active"]  # loopback allowed
    assert (await hooks.subscribe("https://hooks.example/x"))["active"]
