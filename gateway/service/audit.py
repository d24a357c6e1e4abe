"""Reading and verifying the audit trail: the first altered, inserted or deleted entry, and why.

A hash chain proves that nothing changed *between* two entries, but not that the last entries
are still there: deleting the tail leaves a shorter chain that is perfectly valid, and so does
rewriting the whole chain with freshly computed hashes (SHA-256 has no key). Both are caught
only against an anchor kept outside the database: `openlocker audit head` prints the head
(position and hash), and `verify(expect_head=...)` checks that the log still reaches it and
still holds that very entry there.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum

from gateway.domain.audit import AuditAction
from gateway.domain.audit_chain import GENESIS_HASH, entry_hash
from gateway.store import Store
from gateway.store.audit import AuditRecord

_ANCHOR = re.compile(r"^(\d{1,18}):([0-9a-f]{64})$")


class Breach(StrEnum):
    """How the chain is broken."""

    ALTERED = "altered"
    INSERTED = "inserted"
    DELETED = "deleted"
    BROKEN_LINK = "broken-link"
    TRUNCATED = "truncated"
    ANCHOR_MISMATCH = "anchor-mismatch"


@dataclass(frozen=True, slots=True)
class Anchor:
    """A head kept outside the database: "position:hash" (position 0 is the empty log)."""

    position: int
    hash: str

    @classmethod
    def parse(cls, text: str) -> Anchor:
        match = _ANCHOR.match(text.strip().lower())
        if match is None:
            raise ValueError(f"an audit head is POSITION:SHA256HEX, not {text!r}")
        return cls(int(match[1]), match[2])

    def __str__(self) -> str:
        return f"{self.position}:{self.hash}"


EMPTY_HEAD = Anchor(0, GENESIS_HASH)


@dataclass(frozen=True, slots=True)
class Problem:
    position: int
    breach: Breach
    message: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What verify() found: `problem` is the first break, None if the chain is intact."""

    checked: int
    head: Anchor
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


class AuditService:
    def __init__(self, *, store: Store, page_size: int = 500) -> None:
        self._store = store
        self._page_size = page_size

    async def head(self) -> Anchor:
        async with self._store.transaction() as tx:
            head = await tx.audit.head()
        return EMPTY_HEAD if head is None else Anchor(head.position, head.hash)

    async def latest(
        self, limit: int, *, action: AuditAction | None = None, subject: str | None = None
    ) -> list[AuditRecord]:
        """The newest entries, oldest first; e.g. every keypad lockout of one locker."""
        if limit < 1:
            raise ValueError("the limit must be at least 1")
        async with self._store.transaction() as tx:
            return await tx.audit.latest(
                limit, action=None if action is None else action.value, subject=subject
            )

    async def verify(self, expect_head: Anchor | None = None) -> VerifyReport:
        """Walk the whole chain; stop at the first break, then check the anchor if given."""
        checker = _Checker(watch=None if expect_head is None else expect_head.position)
        async for row, following in self._rows_with_next():
            problem = checker.check(row, following)
            if problem is not None:
                return VerifyReport(checker.checked, checker.head, problem)
        problem = None if expect_head is None else checker.against(expect_head)
        return VerifyReport(checker.checked, checker.head, problem)

    async def verify_after(self, verified: Anchor) -> VerifyReport:
        """Only what was appended after `verified`, a head an earlier `verify` found intact:
        that entry must still be there, unchanged, and every later one must chain on it.
        `checked` counts the entries checked now. A change *before* `verified` is not looked
        for: only `verify` (the admin API, `openlocker audit verify`) finds that."""
        if verified.position > 0:
            async with self._store.transaction() as tx:
                found = await tx.audit.page(after=verified.position - 1, limit=1)
            problem = _still_there(verified, found[0] if found else None)
            if problem is not None:
                return VerifyReport(0, verified, problem)
        checker = _Checker(watch=None, start=verified)
        async for row, following in self._rows_with_next(after=verified.position):
            problem = checker.check(row, following)
            if problem is not None:
                return VerifyReport(checker.checked, checker.head, problem)
        return VerifyReport(checker.checked, checker.head, None)

    async def _rows_with_next(
        self, after: int = 0
    ) -> AsyncIterator[tuple[AuditRecord, AuditRecord | None]]:
        """Every entry after position `after` in order with the one after it: pages, one
        transaction each, so a long verify never holds SQLite's write lock for long."""
        previous: AuditRecord | None = None
        while True:
            async with self._store.transaction() as tx:
                page = await tx.audit.page(after=after, limit=self._page_size)
            for row in page:
                if previous is not None:
                    yield previous, row
                previous = row
            if len(page) < self._page_size:
                break
            after = page[-1].position
        if previous is not None:
            yield previous, None


def _still_there(verified: Anchor, found: AuditRecord | None) -> Problem | None:
    """`found`: the first entry at or after the verified head's position, if any."""
    p = verified.position
    if found is None:
        return Problem(
            p, Breach.TRUNCATED, f"row {p}, the head verified earlier, and all after it are gone"
        )
    if found.position != p:
        return Problem(p, Breach.DELETED, f"row {p}, the head verified earlier, was deleted")
    if found.hash != verified.hash:
        return Problem(
            p,
            Breach.ANCHOR_MISMATCH,
            f"row {p} is not the entry verified earlier: the chain was rewritten up to there",
        )
    if not _hash_matches(found):
        return Problem(
            p, Breach.ALTERED, f"row {p} was altered: its content does not match its hash"
        )
    return None


class _Checker:
    """The chain rules, one entry at a time; remembers two hashes back to spot an insertion."""

    def __init__(self, *, watch: int | None, start: Anchor = EMPTY_HEAD) -> None:
        """`start`: a head known intact, to check only the entries after it."""
        self.checked = 0
        # Only the hash at the anchor's position is kept: the log may be long.
        self._watch = watch
        self._watched: str | None = GENESIS_HASH if watch == 0 else None
        self.head = start
        self._expected = start.position + 1
        self._prev_hash = start.hash
        self._prev2_hash: str | None = None

    def check(self, row: AuditRecord, following: AuditRecord | None) -> Problem | None:
        p = row.position
        if p != self._expected:
            missing = (
                f"row {self._expected} is"
                if p == self._expected + 1
                else f"rows {self._expected}..{p - 1} are"
            )
            return Problem(self._expected, Breach.DELETED, f"{missing} missing (deleted)")
        if row.prev_hash != self._prev_hash:
            if self._prev2_hash is not None and row.prev_hash == self._prev2_hash:
                return Problem(
                    p - 1,
                    Breach.INSERTED,
                    f"row {p - 1} was inserted: row {p} links past it to row {p - 2}",
                )
            return Problem(
                p,
                Breach.BROKEN_LINK,
                f"row {p} does not link to row {p - 1}: a row before it was deleted and the "
                "rest renumbered, or its prev_hash was altered",
            )
        if not _hash_matches(row):
            if following is not None and following.prev_hash == self._prev_hash:
                return Problem(
                    p,
                    Breach.INSERTED,
                    f"row {p} was inserted: row {p + 1} links past it to row {p - 1}",
                )
            return Problem(
                p, Breach.ALTERED, f"row {p} was altered: its content does not match its hash"
            )
        self._prev2_hash, self._prev_hash = self._prev_hash, row.hash
        self._expected = p + 1
        self.checked += 1
        self.head = Anchor(p, row.hash)
        if p == self._watch:
            self._watched = row.hash
        return None

    def against(self, anchor: Anchor) -> Problem | None:
        if anchor.position > self.head.position:
            return Problem(
                self.head.position + 1,
                Breach.TRUNCATED,
                f"the log ends at position {self.head.position} but the anchor is at "
                f"{anchor.position}: rows {self.head.position + 1}..{anchor.position} were deleted",
            )
        if self._watched != anchor.hash:
            return Problem(
                anchor.position,
                Breach.ANCHOR_MISMATCH,
                f"row {anchor.position} is not the entry the anchor recorded: the chain was "
                "rewritten up to there",
            )
        return None


def _hash_matches(row: AuditRecord) -> bool:
    try:
        computed = entry_hash(
            position=row.position,
            at=row.at,
            action=row.action,
            actor=row.actor,
            subject=row.subject,
            details=row.details,
            prev_hash=row.prev_hash,
        )
    except (TypeError, ValueError, AttributeError):
        # Content no honest append could have written (a non-JSON detail, no timestamp).
        return False
    return computed == row.hash
