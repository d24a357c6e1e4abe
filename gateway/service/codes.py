"""Keypad codes for a parcel's next door opening: issued on demand, redeemed once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.clock import Clock, utc_now
from gateway.domain.audit import AuditAction
from gateway.domain.door import PURPOSE_FOR_STATE, OpenPurpose
from gateway.domain.parcel import Parcel
from gateway.errors import ConcurrentUpdate, IllegalTransition, NotFound
from gateway.store import Store, UnitOfWork
from gateway.store.access_codes import AccessCode
from gateway.tokens.custody import sealed_secret
from gateway.tokens.pins import looks_like_pin, new_pin, pin_hash
from gateway.tokens.sealing import Keyring, ephemeral_keyring

PIN_KEY_NAME = "pin-hash-key"  # the name of the secret in gateway_secrets, not the secret
COLLECT_CODE_TTL = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class IssuedCode:
    """The only moment a code exists in clear: handed to the carrier, never stored."""

    code: str
    purpose: OpenPurpose
    locker_id: str
    expires_at: datetime


class CodeService:
    def __init__(
        self, *, store: Store, clock: Clock = utc_now, keyring: Keyring | None = None
    ) -> None:
        """`keyring` seals the PIN-hash key at rest (without one, tests: a process-only KEK)."""
        self._store = store
        self._clock = clock
        self._keyring = keyring or ephemeral_keyring()
        self._secret: bytes | None = None

    def now(self) -> datetime:
        return self._clock()

    async def _key(self, tx: UnitOfWork) -> bytes:
        if self._secret is None:
            # Sealed under the KEK: whoever reads the database alone cannot test PINs offline.
            self._secret = await sealed_secret(
                tx, self._keyring, PIN_KEY_NAME, lambda: secrets.token_bytes(32)
            )
        return self._secret

    async def issue(
        self,
        carrier_id: str,
        parcel_id: str,
        *,
        purpose_required: OpenPurpose | None = None,
        actor: str | None = None,
        replace: bool = True,
    ) -> IssuedCode:
        """A fresh code for the door opening the parcel's state calls for; replaces older
        unused codes of that purpose, so re-asking is safe and only the last code works.

        `purpose_required`: IllegalTransition unless the state calls for that opening (a
        recipient's notifier must never be handed a courier's collect code). `actor` is
        the audit trail's (default: the carrier). `replace=False` keeps the older codes
        working: a notifier's, since each message it (or a second notifier) sent must open.
        """
        async with self._store.transaction() as tx:
            # Row-locked when replacing: two codes asked at once must not both stay valid
            # (each retiring only the codes committed before it, on PostgreSQL).
            parcel = await tx.parcels.get(carrier_id, parcel_id, for_update=replace)
            if parcel is None:
                raise NotFound(f"no parcel {parcel_id!r}")
            purpose = PURPOSE_FOR_STATE.get(parcel.state)
            if purpose is None or parcel.compartment_code is None:
                raise IllegalTransition(
                    f"a parcel that is {parcel.state} has no door to open",
                    details={"state": str(parcel.state)},
                )
            if purpose_required is not None and purpose is not purpose_required:
                raise IllegalTransition(
                    f"a parcel that is {parcel.state} has no {purpose_required} opening",
                    details={"state": str(parcel.state)},
                )
            if replace:
                await tx.codes.revoke(parcel.uid, purpose)
            expires = self._expiry(parcel, purpose)
            code = await self.add_in(
                tx,
                locker_id=parcel.locker_id,
                subject_uid=parcel.uid,
                purpose=purpose,
                expires=expires,
                actor=actor or f"carrier:{carrier_id}",
            )
            return IssuedCode(code, purpose, parcel.locker_id, expires)

    async def add_in(
        self,
        tx: UnitOfWork,
        *,
        locker_id: str,
        subject_uid: str,
        purpose: OpenPurpose,
        expires: datetime,
        actor: str,
        details: dict[str, str] | None = None,
    ) -> str:
        """A new code in clear, stored hashed for `subject_uid` (a parcel's uid, or a
        bundle's: gateway/service/bundles.py) and audited, inside the caller's transaction."""
        key = await self._key(tx)
        for _ in range(10):
            code = new_pin()
            stored = await tx.codes.add(
                locker_id=locker_id,
                parcel_uid=subject_uid,
                purpose=purpose,
                code_hash=pin_hash(key, locker_id, code),
                expires_at=expires,
            )
            if stored:
                await tx.audit.append(
                    AuditAction.CODE_ISSUED,
                    actor=actor,
                    subject=subject_uid,
                    details={
                        "purpose": purpose.value,
                        "lockerId": locker_id,
                        "expiresAt": expires.isoformat(),
                        **(details or {}),
                    },
                )
                return code
        raise ConcurrentUpdate("could not find an unused code; retry")

    async def digest(self, tx: UnitOfWork, locker_id: str, code: str) -> str:
        """The keyed hash of `code` at `locker_id` as stored (courier sessions keep theirs so)."""
        return pin_hash(await self._key(tx), locker_id, code)

    async def redeem(self, tx: UnitOfWork, locker_id: str, code: str) -> AccessCode | None:
        """Use a code entered at `locker_id`; None if wrong, used, expired or another locker's."""
        if not looks_like_pin(code):
            # Lockers may send 4 digits and up (OLP allows short codes); ours never are.
            return None
        key = await self._key(tx)
        return await tx.codes.redeem(locker_id, pin_hash(key, locker_id, code), self._clock())

    def _expiry(self, parcel: Parcel, purpose: OpenPurpose) -> datetime:
        now = self._clock()
        if purpose in (OpenPurpose.DEPOSIT, OpenPurpose.DROPOFF) and parcel.reserved_until:
            return parcel.reserved_until
        if purpose is OpenPurpose.PICKUP and parcel.pickup_until:
            return parcel.pickup_until
        return now + COLLECT_CODE_TTL
