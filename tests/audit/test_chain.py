"""The audit hash chain on both engines: appends chain, and every kind of tampering shows."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update

from gateway.domain.audit import AuditAction
from gateway.domain.audit_chain import entry_hash
from gateway.service.audit import Anchor, AuditService, Breach
from gateway.store import Store
from gateway.store.tables import audit_log as t

# Small pages, so that the checks run across page boundaries too.
PAGE = 2


async def append_many(store: Store, count: int, *, per_tx: int = 1) -> None:
    for i in range(0, count, per_tx):
        async with store.transaction() as tx:
            for j in range(i, min(i + per_tx, count)):
                await tx.audit.append(
                    AuditAction.CODE_TRIED,
                    actor=f"locker:L{j % 3}",
                    subject=f"L{j % 3}",
                    details={"result": "rejected", "n": j},
                )


async def rows(store: Store) -> list[dict[str, Any]]:
    async with store.engine.connect() as conn:
        result = await conn.execute(select(t).order_by(t.c.position))
        return [dict(row) for row in result.mappings()]


def forged(position: int, prev_hash: str, **changes: Any) -> dict[str, Any]:
    """A row an attacker with database access writes, hashed correctly (SHA-256 has no key)."""
    values: dict[str, Any] = {
        "position": position,
        "at": changes.pop("at"),
        "action": "door.opened",
        "actor": "operator",
        "subject": "WAW-CENTRAL-01/S01",
        "details": {"source": "forged"},
        "prev_hash": prev_hash,
    }
    given_hash = changes.pop("hash", None)
    values.update(changes)
    values["hash"] = given_hash or entry_hash(**values)
    return values


async def renumber_from(store: Store, position: int, by: int) -> None:
    """Shift every row from `position` on by `by`, one row at a time (the key is unique)."""
    existing = [r["position"] for r in await rows(store) if r["position"] >= position]
    async with store.engine.begin() as conn:
        for p in sorted(existing, reverse=by > 0):
            await conn.execute(update(t).where(t.c.position == p).values(position=p + by))


async def test_an_untouched_chain_verifies(store: Store) -> None:
    await append_many(store, 7, per_tx=3)
    service = AuditService(store=store, page_size=PAGE)

    report = await service.verify()

    assert report.ok, report.problem
    assert report.checked == 7
    stored = await rows(store)
    assert [r["position"] for r in stored] == list(range(1, 8))
    assert report.head == Anchor(7, stored[-1]["hash"]) == await service.head()
    assert (await service.verify(expect_head=report.head)).ok
    # An anchor taken earlier still holds after more appends.
    await append_many(store, 2)
    assert (await service.verify(expect_head=report.head)).ok


async def test_the_empty_log_verifies_and_has_position_zero(store: Store) -> None:
    service = AuditService(store=store)
    head = await service.head()
    assert head.position == 0
    assert (await service.verify(expect_head=head)).ok


async def test_entries_are_written_only_if_the_transaction_commits(store: Store) -> None:
    async def append_then_fail() -> None:
        async with store.transaction() as tx:
            await tx.audit.append(AuditAction.KEY_CREATED, actor="operator", subject="kid-1")
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        await append_then_fail()
    async with store.transaction() as tx:
        await tx.audit.append(AuditAction.KEY_CREATED, actor="operator", subject="kid-2")
        # The transaction's own appends are visible to it before the commit.
        head = await tx.audit.head()
        assert head is not None
        assert (head.position, head.subject) == (1, "kid-2")
    assert [r["subject"] for r in await rows(store)] == ["kid-2"]


@pytest.mark.parametrize(
    ("actor", "subject", "details"),
    [
        ("acme", "p1", None),
        ("carrier:", "p1", None),
        ("operator", "", None),
        ("operator", "p1", {"when": object()}),
        ("operator", "p1", {"x": float("nan")}),
    ],
)
async def test_bad_entries_are_refused_at_once(
    store: Store, actor: str, subject: str, details: Any
) -> None:
    with pytest.raises(ValueError, match="audit"):
        async with store.transaction() as tx:
            await tx.audit.append(
                AuditAction.CODE_ISSUED, actor=actor, subject=subject, details=details
            )
    assert await rows(store) == []


async def test_an_altered_row_is_found(store: Store) -> None:
    await append_many(store, 6)
    async with store.engine.begin() as conn:
        await conn.execute(
            update(t).where(t.c.position == 4).values(details={"result": "accepted", "n": 3})
        )

    report = await AuditService(store=store, page_size=PAGE).verify()

    assert report.problem is not None
    assert (report.problem.position, report.problem.breach) == (4, Breach.ALTERED)
    assert report.checked == 3


async def test_a_row_inserted_with_a_correct_hash_is_found(store: Store) -> None:
    await append_many(store, 6)
    before = await rows(store)
    # Make room at 3 and chain the forgery to row 2: its own hash is perfect.
    await renumber_from(store, 3, 1)
    async with store.engine.begin() as conn:
        await conn.execute(insert(t).values(forged(3, before[1]["hash"], at=before[1]["at"])))

    report = await AuditService(store=store, page_size=PAGE).verify()

    assert report.problem is not None
    assert (report.problem.position, report.problem.breach) == (3, Breach.INSERTED)


async def test_a_row_appended_by_hand_without_its_hash_is_found(store: Store) -> None:
    await append_many(store, 3)
    before = await rows(store)
    async with store.engine.begin() as conn:
        row = forged(4, before[-1]["hash"], at=before[-1]["at"], hash="0" * 64)
        await conn.execute(insert(t).values(row))

    report = await AuditService(store=store, page_size=PAGE).verify()

    assert report.problem is not None
    assert (report.problem.position, report.problem.breach) == (4, Breach.ALTERED)


async def test_a_deleted_middle_row_is_found(store: Store) -> None:
    await append_many(store, 6)
    async with store.engine.begin() as conn:
        await conn.execute(delete(t).where(t.c.position == 3))

    report = await AuditService(store=store, page_size=PAGE).verify()

    assert report.problem is not None
    assert (report.problem.position, report.problem.breach) == (3, Breach.DELETED)
    assert "row 3 is missing" in report.problem.message


async def test_a_deleted_row_hidden_by_renumbering_is_found(store: Store) -> None:
    await append_many(store, 6)
    async with store.engine.begin() as conn:
        await conn.execute(delete(t).where(t.c.position == 3))
    await renumber_from(store, 4, -1)

    report = await AuditService(store=store, page_size=PAGE).verify()

    assert report.problem is not None
    assert (report.problem.position, report.problem.breach) == (3, Breach.BROKEN_LINK)


async def test_a_deleted_first_row_is_found(store: Store) -> None:
    await append_many(store, 3)
    async with store.engine.begin() as conn:
        await conn.execute(delete(t).where(t.c.position == 1))

    report = await AuditService(store=store).verify()

    assert report.problem is not None
    assert (report.problem.position, report.problem.breach) == (1, Breach.DELETED)


async def test_a_truncated_tail_is_found_only_against_an_anchor(store: Store) -> None:
    await append_many(store, 6)
    service = AuditService(store=store, page_size=PAGE)
    anchor = await service.head()
    async with store.engine.begin() as conn:
        await conn.execute(delete(t).where(t.c.position >= 5))

    # What is left is a perfectly valid, shorter chain: that is why the anchor exists.
    assert (await service.verify()).ok
    report = await service.verify(expect_head=anchor)

    assert report.problem is not None
    assert (report.problem.position, report.problem.breach) == (5, Breach.TRUNCATED)
    assert report.checked == 4


async def test_a_chain_rewritten_with_fresh_hashes_is_found_against_an_anchor(
    store: Store,
) -> None:
    await append_many(store, 5)
    service = AuditService(store=store, page_size=PAGE)
    anchor = await service.head()
    # Alter row 2 and recompute every hash after it: the chain is consistent again.
    old = await rows(store)
    prev = old[0]["hash"]
    async with store.engine.begin() as conn:
        for row in old[1:]:
            values = {k: row[k] for k in ("position", "at", "action", "actor", "subject")}
            values["details"] = {"result": "accepted"} if row["position"] == 2 else row["details"]
            values["prev_hash"] = prev
            prev = entry_hash(**values)
            await conn.execute(
                update(t)
                .where(t.c.position == row["position"])
                .values(details=values["details"], prev_hash=values["prev_hash"], hash=prev)
            )

    assert (await service.verify()).ok
    report = await service.verify(expect_head=anchor)

    assert report.problem is not None
    assert (report.problem.position, report.problem.breach) == (5, Breach.ANCHOR_MISMATCH)


async def test_fifty_concurrent_transactions_make_one_chain(store: Store) -> None:
    async def one(i: int) -> None:
        async with store.transaction() as tx:
            await tx.audit.append(AuditAction.CODE_ISSUED, actor=f"carrier:c{i}", subject=f"p{i}")
            await asyncio.sleep(0)  # let the others interleave inside their transactions
            await tx.audit.append(AuditAction.CODE_TRIED, actor=f"locker:L{i}", subject=f"L{i}")

    await asyncio.gather(*(one(i) for i in range(50)))

    report = await AuditService(store=store).verify()
    assert report.ok, report.problem
    assert report.checked == 100
    stored = await rows(store)
    # Each transaction's two entries are adjacent: a transaction's appends chain together.
    for first, second in zip(stored[::2], stored[1::2], strict=True):
        assert first["subject"][1:] == second["subject"][1:]


async def test_two_stores_on_one_database_make_one_chain(database_url: str) -> None:
    async with Store.connect(database_url) as one, Store.connect(database_url) as two:
        await one.migrate()

        async def burst(store: Store, name: str) -> None:
            for i in range(20):
                async with store.transaction() as tx:
                    await tx.audit.append(
                        AuditAction.KEY_SET_PUSHED, actor=f"gateway:{name}", subject=f"k{i}"
                    )

        await asyncio.gather(*(burst(s, n) for s, n in [(one, "gw-1"), (two, "gw-2")] * 3))

        report = await AuditService(store=two).verify()
        assert report.ok, report.problem
        assert report.checked == 120
        actors = {r["actor"] for r in await rows(one)}
        assert actors == {"gateway:gw-1", "gateway:gw-2"}


def test_an_anchor_is_parsed_strictly() -> None:
    h = "ab" * 32
    assert Anchor.parse(f"12:{h}") == Anchor(12, h)
    assert str(Anchor(12, h)) == f"12:{h}"
    for bad in ("12", f"x:{h}", "12:abc", f"-1:{h}", f"12:{h}00"):
        with pytest.raises(ValueError, match="POSITION:SHA256HEX"):
            Anchor.parse(bad)
