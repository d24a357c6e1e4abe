"""The audit page against the running gateway: the chain check is cached per head, the page
says what this view checked, and a change before the cached head is found by the admin API's
full check (which the page names)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from gateway.app import Gateway
from gateway.domain.audit import AuditAction
from gateway.domain.operators import Operator, Role
from gateway.store.tables import audit_log
from tests.admin.conftest import CHEAP_PASSWORDS, PASSWORD, password_hash
from tests.http.conftest import settings_for


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
    async with Gateway(settings=settings_for(url, operators=CHEAP_PASSWORDS)) as started:
        async with started.store.transaction() as tx:
            operator = Operator("vera", "Vera", Role.VIEWER, started.clock())
            await tx.operators.add(operator, password_hash())
        yield started


async def note(gateway: Gateway, n: int) -> None:
    async with gateway.store.transaction() as tx:
        for i in range(n):
            await tx.audit.append(
                AuditAction.CODE_TRIED, actor="locker:L1", subject="L1", details={"n": i}
            )


def text_of(html: str, element_id: str) -> str:
    found = re.search(rf'<p id="{element_id}"[^>]*>(.*?)</p>', html, re.S)
    assert found, html
    return " ".join(re.sub(r"<[^>]+>", "", found.group(1)).split())


async def test_the_audit_page_checks_only_what_is_new_and_says_so(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
        form = {"operator_id": "vera", "password": PASSWORD}
        assert (await client.post("/console/login", data=form)).status_code == 303
        await note(gateway, 4)
        async with gateway.store.transaction() as tx:
            head = await tx.audit.head()
        assert head is not None
        n = head.position  # start-up's entries (keys), the sign-in and these four

        first = (await client.get("/console/audit")).text
        verified = text_of(first, "verify")
        assert verified.startswith(f"Chain verified: {n} entries intact, head {n}:"), verified
        assert text_of(first, "verify-scope") == "The whole chain was checked on this view."

        # An older entry changed behind the check's back, then three new ones.
        async with gateway.store.engine.begin() as conn:
            await conn.execute(
                update(audit_log).where(audit_log.c.position == n - 1).values(details={"n": 99})
            )
        await note(gateway, 3)

        second = (await client.get("/console/audit")).text
        verified = text_of(second, "verify")
        assert verified.startswith(f"Chain verified: {n + 3} entries intact, head {n + 3}:")
        scope = text_of(second, "verify-scope")
        assert scope.startswith(
            f"Checked on this view: 3 new entries after position {n}, and entry {n} unchanged. "
            f"Entries 1 to {n} were checked in full at "
        ), scope
        assert "GET /v1/admin/audit/verify" in scope
        assert "openlocker audit verify" in scope

        full = await client.get("/v1/admin/audit/verify")
        assert full.status_code == 200, full.text
        assert full.json()["ok"] is False
        assert full.json()["problem"]["position"] == n - 1
