"""A code typed at a locker's keypad: decided in the event's transaction, answered after it.

`decide` runs inside the pipeline's transaction (attempt limits, the code, the audit entry,
with the journal mark and inbox entry of the CodeEntered). `answer` runs after the commit: it
opens the door through Unlocks, or tells the person at the keypad why not.
"""

from __future__ import annotations

import inspect
import logging
from datetime import timedelta

from gateway.clock import Clock, utc_now
from gateway.domain.audit import AuditAction
from gateway.domain.door import OpenOutcome, OpenPurpose
from gateway.domain.keypad import KeypadPolicy
from gateway.errors import OpenLockerError, OperationTimeout
from gateway.observability.metrics import Metrics
from gateway.sdk import AdapterFeatures, CodeEntered, SupportsDisplay
from gateway.service.adapters import AdapterDirectory
from gateway.service.bundle_doors import open_doors
from gateway.service.codes import CodeService
from gateway.service.courier_sessions import CourierSessions, RoundDoor
from gateway.service.keypad import KeypadOutcome, KeypadVerdict, try_code
from gateway.service.locker_clocks import LockerClocks
from gateway.service.returns import bind_scanned_label
from gateway.service.unlocks import Unlocks
from gateway.store import Store, UnitOfWork

log = logging.getLogger(__name__)
# A display message is feedback for a person waiting at the keypad: late is useless.
DISPLAY_DEADLINE = timedelta(seconds=2)
# What the keypad shows for a deposit into a compartment out of its temperature range that
# could not be moved to another (gateway/service/alarmed_doors.py).
ALARMED_TEXT = (
    "Compartment out of its temperature range: nothing goes in. "
    "The code stays valid; try again once the compartment is back in range."
)


class KeypadEntry:
    def __init__(
        self,
        *,
        store: Store,
        codes: CodeService,
        unlocks: Unlocks,
        adapters: AdapterDirectory,
        policy: KeypadPolicy | None = None,
        clock: Clock = utc_now,
        metrics: Metrics | None = None,
        clocks: LockerClocks | None = None,
        rounds: CourierSessions | None = None,
    ) -> None:
        self._metrics = metrics or Metrics()
        # Courier sessions' codes are tried where a parcel code is not found.
        self._rounds = rounds or CourierSessions(store=store, codes=codes, clock=clock)
        self.clocks = clocks or LockerClocks()
        self._store = store
        self._codes = codes
        self._unlocks = unlocks
        self._adapters = adapters
        self._policy = policy or KeypadPolicy()
        self._clock = clock

    async def decide(self, tx: UnitOfWork, event: CodeEntered) -> KeypadOutcome:
        age = self.clocks.age(event.locker_id, event.at, self._clock())
        if age > self._policy.entry_max_age:
            # Typed long ago (a journal replayed after an outage): a door opening now opens
            # for nobody. The code is not looked up, so not used up, and no failure counts.
            await tx.audit.append(
                AuditAction.CODE_TRIED,
                actor=f"locker:{event.locker_id}",
                subject=event.locker_id,
                details={"result": KeypadVerdict.STALE.value, "ageS": round(age.total_seconds())},
            )
            log.warning(
                "locker %s: keypad entry %s typed %.0f s ago (limit %.0f s) refused as stale",
                event.locker_id,
                event.event_id,
                age.total_seconds(),
                self._policy.entry_max_age.total_seconds(),
            )
            return KeypadOutcome(KeypadVerdict.STALE)
        entry = await try_code(
            tx,
            codes=self._codes,
            policy=self._policy,
            locker_id=event.locker_id,
            typed=event.code,
            rounds=self._rounds,
        )
        code, parcel = entry.code, entry.parcel
        if (
            event.label is not None
            and entry.verdict is KeypadVerdict.ACCEPTED
            and code is not None
            and code.purpose is OpenPurpose.DROPOFF
            and parcel is not None
        ):
            # A return announced without a label: the label scanned with its code names it.
            await bind_scanned_label(tx, parcel, event.label, self._clock())
        return entry

    async def answer(self, event: CodeEntered, entry: KeypadOutcome) -> None:
        """Open the door for an accepted code, else say why on the display. Never raises for
        the locker's failures: the entry is decided and committed, there is nothing to retry."""
        self._metrics.keypad(entry.verdict.value, lockout=entry.lockout is not None)
        if entry.lockout is not None:
            # The SecurityEvent: this log line, the keypad.lockout audit entry (what
            # `openlocker audit show --action keypad.lockout` lists) and the locker's display.
            log.warning(
                "SecurityEvent: keypad of locker %s locked until %s (lockout %d in a row)",
                event.locker_id,
                entry.lockout.until.isoformat(),
                entry.lockout.number,
            )
        if entry.round is not None:
            await self._open_round_door(event, entry.round)
            return
        if entry.bundle and entry.code is not None:
            # A bundle's code: all its doors; given back only if none can have opened.
            actor = f"locker:{event.locker_id}"
            doors = await open_doors(self._unlocks, entry.bundle, entry.code.purpose, actor=actor)
            if not doors.spent:
                await self._give_back(entry.code.id)
            return
        code, parcel = entry.code, entry.parcel
        if entry.verdict is KeypadVerdict.COMPARTMENT_ALARMED:
            log.warning(
                "locker %s: a deposit code refused: its compartment is out of its temperature "
                "range and no other free compartment meets the parcel's requirements",
                event.locker_id,
            )
            await self._show(event.locker_id, "Info", text=ALARMED_TEXT)
            return
        if entry.verdict is not KeypadVerdict.ACCEPTED or code is None or parcel is None:
            log.warning("locker %s: code %s", event.locker_id, entry.verdict)
            locked = entry.verdict is KeypadVerdict.LOCKED_OUT or entry.lockout is not None
            await self._show(event.locker_id, "LockedOut" if locked else "CodeRejected")
            return
        try:
            result = await self._unlocks.open_for(
                parcel, code.purpose, actor=f"locker:{event.locker_id}"
            )
        except OperationTimeout as err:
            # No answer is not "shut": the locker may have opened the door and lost its reply.
            # Given back, the code would open the door a second time; the carrier can issue a
            # new one, a second open for one code cannot be undone.
            log.warning(
                "locker %s: no answer to the unlock for an accepted code (%s); the code stays used",
                event.locker_id,
                err,
            )
            return
        except OpenLockerError as err:
            log.warning(
                "locker %s: door for an accepted code did not open: %s", event.locker_id, err
            )
            await self._give_back(code.id)
            return
        if result.outcome not in (OpenOutcome.UNLOCKED, OpenOutcome.ALREADY_OPEN):
            await self._give_back(code.id)

    async def _open_round_door(self, event: CodeEntered, door: RoundDoor) -> None:
        """A courier session's code: open the next door of its round; a door that did not
        open is offered again by the next entry. Nothing left: the keypad says Welcome."""
        parcel, purpose = door.parcel, door.purpose
        if parcel is None or purpose is None:
            log.info(
                "locker %s: courier session %s has no door left", event.locker_id, door.session.id
            )
            await self._show(event.locker_id, "Welcome")
            return
        actor = f"locker:{event.locker_id}"
        try:
            result = await self._unlocks.open_for(parcel, purpose, actor=actor)
        except OperationTimeout as err:
            # As for a parcel code: the door may have opened; the session's door stays taken.
            log.warning(
                "locker %s: no answer to the unlock for courier session %s (%s)",
                event.locker_id,
                door.session.id,
                err,
            )
            return
        except OpenLockerError as err:
            log.warning(
                "locker %s: door of courier session %s did not open: %s",
                event.locker_id,
                door.session.id,
                err,
            )
            await self._give_back_round(door.session.id, parcel.uid)
            return
        if result.outcome not in (OpenOutcome.UNLOCKED, OpenOutcome.ALREADY_OPEN):
            await self._give_back_round(door.session.id, parcel.uid)

    async def _give_back_round(self, session_id: str, parcel_uid: str) -> None:
        try:
            await self._rounds.give_back(session_id, parcel_uid)
        except OpenLockerError as err:
            log.error(
                "courier session %s: door not given back after a failed open: %s", session_id, err
            )

    async def _show(self, locker_id: str, message: str, *, text: str | None = None) -> None:
        """Tell the person at the keypad, where the locker has a display; best effort. `text`
        goes with Info, to adapters whose `display` takes it (else CodeRejected is shown)."""
        try:
            adapter = await self._adapters.for_locker(locker_id)
            if AdapterFeatures.DISPLAY not in adapter.features or not isinstance(
                adapter, SupportsDisplay
            ):
                return
            deadline = self._clock() + DISPLAY_DEADLINE
            if text is None:
                await adapter.display(locker_id, message, deadline)
            elif "text" in inspect.signature(adapter.display).parameters:
                await adapter.display(locker_id, message, deadline, text=text)
            else:
                await adapter.display(locker_id, "CodeRejected", deadline)
        except OpenLockerError as err:
            log.info("locker %s did not show %s: %s", locker_id, message, err)

    async def _give_back(self, code_id: int) -> None:
        """The door did not open: the code stays usable for the next try."""
        try:
            async with self._store.transaction() as tx:
                await tx.codes.restore(code_id)
        except OpenLockerError as err:
            log.error(
                "access code %d could not be given back after a failed open: %s", code_id, err
            )
