"""The locker's QR scanner: a presented grant is checked on the spot and opens its door, or not.

Works with or without the broker: the check is local, and the door's events go to the outbox,
which is sent in order once the gateway is reachable again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from locker_emulator import physics
from locker_emulator.grants import Grant, GrantRefused, epoch
from locker_emulator.locker_state import LockerModel, event_payload, monotonic
from locker_emulator.messages import check_text, format_ts

logger = logging.getLogger("locker_emulator.locker")
_OPENED = (physics.UnlockOutcome.UNLOCKED, physics.UnlockOutcome.ALREADY_OPEN)


@dataclass(frozen=True, slots=True)
class GrantVerdict:
    """What the scanner decided: refused with a reason, or accepted with the unlock's outcome."""

    accepted: bool
    message: str
    reason: str | None = None
    compartment_code: str | None = None
    act: str | None = None
    jti: str | None = None
    outcome: str | None = None
    # Every door a bundle grant opened (a one-door grant: its compartment).
    compartment_codes: tuple[str, ...] = ()

    @property
    def opened(self) -> bool:
        return self.outcome in {str(o) for o in _OPENED}

    def to_json(self) -> dict[str, Any]:
        """The control API's answer."""
        body: dict[str, Any] = {"accepted": self.accepted, "opened": self.opened}
        body["message"] = self.message
        if self.reason is not None:
            body["reason"] = self.reason
        if self.accepted:
            body |= {"compartmentCode": self.compartment_code, "act": self.act, "jti": self.jti}
            # Every door a bundle grant tried (a one-door grant: its compartment).
            body["compartmentCodes"] = list(self.compartment_codes or (self.compartment_code,))
            body["outcome"] = self.outcome
        return body


def present_grant(model: LockerModel, token: object) -> GrantVerdict:
    """Check `token` on the locker alone; open its compartment when it passes."""
    now = model.now()
    try:
        grant = model.grants.check(
            token, locker_id=model.locker_id, compartments=model.compartments, now=epoch(now)
        )
    except GrantRefused as err:
        logger.warning("%s: grant refused (%s): %s", model.locker_id, err.reason, err.message)
        model.display = {
            "message": "CodeRejected",
            "text": f"Grant refused: {err.message}"[:200],
            "at": format_ts(now),
        }
        model.record("scanned", "grant", None, f"refused: {err.reason}: {err.message}")
        return GrantVerdict(accepted=False, message=err.message, reason=str(err.reason))
    doors = grant.doors or (grant.cmp,)
    outcomes = [_open_door(model, grant, code) for code in doors]
    opened = any(outcome in _OPENED for outcome in outcomes)
    if opened:
        # Used only once a door really opened: a stuck lock leaves the grant for another try.
        model.grants.mark_used(grant, epoch(now))
    model.queue_state()
    texts = [
        f"Compartment {code} is open"
        if outcome in _OPENED
        else f"Compartment {code} did not open ({outcome})"
        for code, outcome in zip(doors, outcomes, strict=True)
    ]
    text = "; ".join(texts)
    model.display = {"message": "Info", "text": text[:200], "at": format_ts(now)}
    if grant.chk is not None and opened:
        # The grant asks for an age/identity check: the screen says so with the opening.
        shown = f"{check_text(grant.chk)}. {text}"[:200]
        model.display |= {"text": shown, "pickupCheck": grant.chk}
    for code, outcome in zip(doors, outcomes, strict=True):
        note = f"accepted: {grant.act} {code} jti {grant.jti}: {outcome}"
        model.record("scanned", "grant", None, note)
        logger.info(
            "%s: grant %s for %s %s: %s", model.locker_id, grant.jti, grant.act, code, outcome
        )
    return GrantVerdict(
        accepted=True,
        message=text,
        compartment_code=grant.cmp,
        act=str(grant.act),
        jti=grant.jti,
        outcome=str(outcomes[0]),
        compartment_codes=doors,
    )


def _open_door(model: LockerModel, grant: Grant, code: str) -> physics.UnlockOutcome | None:
    """Unlock one door of the grant; its events queued at once, DoorOpened naming the grant."""
    comp = model.compartment(code)
    transition = physics.unlock(comp, now=monotonic())
    model.compartments[comp.code] = transition.compartment
    model.purposes[comp.code] = str(grant.act)
    # Queued now, before anyone can shut the door: DoorOpened (naming the grant) comes first.
    for event in transition.events:
        action, payload = event_payload(event)
        if isinstance(event, physics.DoorOpened):
            payload["grant"] = grant.report()
        model.queue_event(action, payload)
    return transition.outcome
