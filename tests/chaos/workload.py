"""Carriers, couriers and recipients working through full lifecycles while the system is attacked.

Each parcel: book (POST /v1/parcels), deposit (a remote open or an access grant at the
scanner), pickup (a keypad code or a remote open). Every POST that gets no final answer (the
gateway died, 5xx, the key still in progress) is sent again with the SAME Idempotency-Key,
to whichever instance is up, as a carrier's client would. A door is asked to open again only
once the earlier request can no longer open it (its deadline passed with the door shut).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import json
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from locker_emulator.olp_client import EmulatedLocker
from locker_emulator.physics import DoorState

from tests.chaos.invariants import Answer, Holding, Outcome
from tests.chaos.rig import OPEN_TIMEOUT_S, Site
from tests.support.carriers import TestCarrier

# How long one POST is retried with its key before the workload calls the key stuck.
KEY_PATIENCE_S = 45.0
RETRY_PAUSE_S = 0.25
STATE_PATIENCE_S = 120.0
# Documented exceptions (OpenAPI): each call issues a new code or grant; no key is kept.
NOT_IDEMPOTENT = ("/codes", "/grants")
NEW_CODES = 3  # codes a recipient is sent before the workload calls the pickup stuck
# The parcel whose lifecycle the current task runs: its requests go into its trace.
_PARCEL: contextvars.ContextVar[str | None] = contextvars.ContextVar("chaos_parcel", default=None)


class Stuck(Exception):
    """The system did not move within the patience: a finding, not a reason."""


@dataclass
class Workload:
    site: Site
    seed: int
    requests: collections.Counter[str] = field(default_factory=collections.Counter)
    answers: list[Answer] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    holdings: list[Holding] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    slowest_s: float = 0.0  # the longest wait for a door close to show in a parcel's state
    # Per parcel, what its people did and were answered (the evidence behind a violation).
    trace: collections.defaultdict[str, list[str]] = field(
        default_factory=lambda: collections.defaultdict(list)
    )
    _turn: int = 0

    def note(self, what: str) -> None:
        """One line in the current parcel's trace, stamped with the wall clock (UTC, as the
        gateways' logs are)."""
        if (pid := _PARCEL.get()) is not None:
            self.trace[pid].append(f"{datetime.now(UTC):%H:%M:%S.%f} {what}")

    # ----- HTTP as a carrier's client does it -----

    async def _send(
        self, method: str, path: str, carrier: TestCarrier, **kw: Any
    ) -> httpx.Response:
        """One request to the next live instance; raises httpx.HTTPError when none answers."""
        urls = self.site.urls()
        if not urls:
            raise httpx.ConnectError("no gateway instance is up")
        self._turn += 1
        url = urls[self._turn % len(urls)]
        self.requests[method] += 1
        headers = kw.pop("headers", {})
        key = headers.get("Idempotency-Key")
        what = f"{method} {path}" + (f" key={key}" if key else "") + f" to {url}"
        try:
            async with httpx.AsyncClient(base_url=url, timeout=OPEN_TIMEOUT_S + 10) as http:
                answer = await http.request(method, path, headers=carrier.auth() | headers, **kw)
        except httpx.HTTPError as err:
            self.note(f"{what}: {type(err).__name__}")
            raise
        if method != "GET" or answer.status_code != 200:
            self.note(f"{what}: {answer.status_code} {answer.text[:300]}")
        return answer

    async def post(
        self, carrier: TestCarrier, path: str, key: str, body: Any = None
    ) -> httpx.Response:
        """POST until a final answer, always with `key`; the answer is recorded for the checks."""
        deadline = time.monotonic() + KEY_PATIENCE_S
        while True:
            try:
                answer = await self._send(
                    "POST", path, carrier, json=body or {}, headers={"Idempotency-Key": key}
                )
            except httpx.HTTPError:
                answer = None
            if answer is not None and not _transient(answer):
                if not path.endswith(NOT_IDEMPOTENT):
                    self.answers.append(
                        Answer(
                            key=key,
                            status=answer.status_code,
                            body=_canonical(answer),
                            via=f"{answer.request.url.host}:{answer.request.url.port} at "
                            f"{datetime.now(UTC):%H:%M:%S.%f}",
                        )
                    )
                return answer
            if time.monotonic() > deadline:
                what = (
                    "no answer" if answer is None else f"{answer.status_code} {answer.text[:200]}"
                )
                self.findings.append(
                    f"key {key} on {path}: still {what} after {KEY_PATIENCE_S:.0f} s"
                )
                raise Stuck(f"{path}: {what}")
            self.requests["retry"] += 1
            await asyncio.sleep(RETRY_PAUSE_S)

    async def state(self, carrier: TestCarrier, parcel_id: str) -> str | None:
        try:
            answer = await self._send("GET", f"/v1/parcels/{parcel_id}", carrier)
        except httpx.HTTPError:
            return None
        return str(answer.json()["state"]) if answer.status_code == 200 else None

    async def until_state(self, carrier: TestCarrier, parcel_id: str, wanted: str) -> None:
        """Until the door's close shows in the parcel's state (the slowest wait is a figure)."""
        began = time.monotonic()
        self.note(f"waiting for {wanted}")
        while (now := await self.state(carrier, parcel_id)) != wanted:
            if time.monotonic() > began + STATE_PATIENCE_S:
                self.note(f"gave up: still {now}")
                raise Stuck(f"{parcel_id} still {now}, not {wanted}")
            await asyncio.sleep(0.2)
        self.slowest_s = max(self.slowest_s, time.monotonic() - began)

    # ----- the people at the locker -----

    async def open_door(
        self, carrier: TestCarrier, pid: str, locker: EmulatedLocker, code: str, phase: str
    ) -> None:
        """Remote opens until the door stands open; a new key only once the last one is dead."""
        for attempt in range(5):
            answer = await self.post(carrier, f"/v1/parcels/{pid}/open", f"{phase}-{pid}-{attempt}")
            if answer.status_code == 200 and answer.json().get("outcome") == "Unlocked":
                return
            # Unknown or refused: the command may still be on its way; its exp closes that.
            await asyncio.sleep(OPEN_TIMEOUT_S + 1)
            if locker.compartment(code).door is DoorState.OPEN:
                return
        raise Stuck(f"{pid}: the {phase} door never opened")

    async def grant_door(
        self, carrier: TestCarrier, pid: str, locker: EmulatedLocker, code: str, phase: str
    ) -> bool:
        """A grant at the scanner, held up twice (a replay: it must open at most once)."""
        answer = await self.post(carrier, f"/v1/parcels/{pid}/grants", f"grant-{phase}-{pid}")
        if answer.status_code != 201:
            return False
        token = answer.json()["token"]
        for _ in range(2):
            verdict = locker.present_grant(token).to_json()
            self.note(f"grant scanned at {locker.locker_id}: {verdict.get('outcome')}")
            self.requests["grant scans"] += 1
            self.site.ledger.grant_used(locker.locker_id, verdict)
        return locker.compartment(code).door is DoorState.OPEN

    async def code_door(
        self, carrier: TestCarrier, pid: str, locker: EmulatedLocker, code: str
    ) -> None:
        """Type the code, as a person does: again only while the keypad has said nothing, never
        once it refused the code. A code whose unlock went unanswered stays used by design (it
        might have opened), so then, once that unlock's `exp` has passed with the door shut,
        the carrier issues a new one."""
        deadline = time.monotonic() + STATE_PATIENCE_S
        for attempt in range(NEW_CODES):
            answer = await self.post(carrier, f"/v1/parcels/{pid}/codes", f"code-{pid}-{attempt}")
            if answer.status_code != 201:
                raise Stuck(f"{pid}: no code ({answer.status_code} {answer.text[:200]})")
            typed = str(answer.json()["code"])
            while time.monotonic() < deadline:
                if locker.compartment(code).door is DoorState.OPEN:
                    return
                shown = locker.display

                def answered(shown: object = shown) -> bool:
                    return locker.compartment(code).door is DoorState.OPEN or (
                        locker.display is not shown
                    )

                locker.enter_code(typed)
                self.note(f"code typed at {locker.locker_id}")
                self.requests["keypad"] += 1
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(OPEN_TIMEOUT_S * 2):
                        await locker.wait_until(answered)
                if locker.compartment(code).door is DoorState.OPEN:
                    return
                if locker.display is not shown:  # refused: this code will never open
                    await asyncio.sleep(OPEN_TIMEOUT_S + 1)  # its unlock, if any, expires
                    break
            if locker.compartment(code).door is DoorState.OPEN:
                return
            self.requests["new code"] += 1
        raise Stuck(f"{pid}: no pickup code opened the door")

    # ----- one lifecycle -----

    async def lifecycle(self, n: int) -> None:
        rng = random.Random(self.seed * 100_003 + n)
        carrier = self.site.carriers[n % len(self.site.carriers)]
        pid = f"{carrier.carrier_id.upper()}-{n:05d}"
        locker_id = self.site.lockers[n % len(self.site.lockers)]
        locker = self.site.bank[locker_id]
        booked, completed, reason = False, False, None
        _PARCEL.set(pid)
        try:
            body = {"parcelId": pid, "lockerId": locker_id, "sizeClass": "S"}
            answer = await self.post(carrier, "/v1/parcels", f"book-{pid}", body)
            if answer.status_code != 201:
                reason = f"booking refused: {answer.status_code} {answer.text[:200]}"
                return
            booked = True
            again = await self.post(carrier, "/v1/parcels", f"book-{pid}", body)  # a lost answer
            assert again.status_code == 201 or again is not None
            code = str(answer.json()["compartmentCode"])
            self.note(f"holds {locker_id}/{code}")
            # Given to this parcel before the answer, after the previous holder's last open.
            held = datetime.now(UTC)
            self.holdings.append(
                Holding(parcel_id=pid, locker_id=locker_id, compartment_code=code, since=held)
            )
            if not (
                rng.random() < 0.4 and await self.grant_door(carrier, pid, locker, code, "deposit")
            ):
                await self.open_door(carrier, pid, locker, code, "deposit")
            self.note(f"depositing (door {locker.compartment(code).door.value})")
            locker.deposit(code)
            await self.until_state(carrier, pid, "ready_for_pickup")
            if rng.random() < 0.5:
                await self.code_door(carrier, pid, locker, code)
            else:
                await self.open_door(carrier, pid, locker, code, "pickup")
            self.note(f"taking (door {locker.compartment(code).door.value})")
            locker.take(code)
            await self.until_state(carrier, pid, "picked_up")
            completed = True
        except Stuck as err:
            self.note(f"stuck: {err}")
            self.findings.append(str(err))
        finally:
            self.outcomes.append(
                Outcome(parcel_id=pid, booked=booked, completed=completed, reason=reason)
            )

    async def run(self, parcels: int, concurrency: int, faults_done: asyncio.Event) -> None:
        """At least `parcels` lifecycles, `concurrency` at a time, and new ones for as long as
        faults are still being injected (every fault lands on live traffic)."""
        turn = iter(range(10**9))

        async def worker() -> None:
            while (n := next(turn)) < parcels or not faults_done.is_set():
                await self.lifecycle(n)

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def _transient(answer: httpx.Response) -> bool:
    """Answers a client retries with the same key: the gateway or its database is down or
    still busy with the first request."""
    if answer.status_code >= 500 and answer.status_code != 504:
        return True
    if answer.status_code == 409:
        try:
            return bool(answer.json().get("code") == "IdempotencyConflict")
        except ValueError:
            return True
    return False


def _canonical(answer: httpx.Response) -> str:
    try:
        return json.dumps(answer.json(), sort_keys=True)
    except ValueError:
        return answer.text
