"""Access grants for a parcel's next door opening: signed by the network, recorded, used once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.clock import Clock, utc_now
from gateway.domain.audit import AuditAction
from gateway.domain.door import PURPOSE_FOR_STATE, OpenPurpose
from gateway.domain.parcel import Parcel
from gateway.errors import IllegalTransition, NotFound
from gateway.service.out_of_service import refuse_into_out_of_service
from gateway.store import GrantRecord, Store
from gateway.tokens.grants import (
    ACTION_FOR_PURPOSE,
    GrantAction,
    GrantClaims,
    encode_grant,
    new_jti,
    qr_payload,
)
from gateway.tokens.network_keys import NetworkKeys


@dataclass(frozen=True, slots=True)
class IssuedGrant:
    """A grant as handed to the carrier; the token itself is never stored."""

    token: str
    qr: str
    action: GrantAction
    locker_id: str
    compartment_code: str
    not_before: datetime
    expires_at: datetime
    kid: str
    jti: str


class GrantService:
    def __init__(
        self,
        *,
        store: Store,
        keys: NetworkKeys,
        max_lifetime: timedelta,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._keys = keys
        self._max_lifetime = max_lifetime
        self._clock = clock

    @property
    def max_lifetime(self) -> timedelta:
        """The network's longest grant validity (`[tokens] grant_max_lifetime`)."""
        return self._max_lifetime

    async def issue(
        self,
        carrier_id: str,
        parcel_id: str,
        *,
        purpose_required: OpenPurpose | None = None,
        actor: str | None = None,
    ) -> IssuedGrant:
        """A grant for the door opening the parcel's state calls for.

        `purpose_required` and `actor` as for `CodeService.issue`.

        Unlike a PIN, asking again does not revoke earlier grants: a locker offline cannot
        learn of a revocation, so each grant is bounded by its own short window instead.
        """
        now = self._clock()
        async with self._store.transaction() as tx:
            parcel = await tx.parcels.get(carrier_id, parcel_id)
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
            await refuse_into_out_of_service(tx, parcel, purpose)
            # NumericDate has whole seconds; exp is rounded down, never past the deadline.
            not_before = now.replace(microsecond=0)
            expires = self._expiry(parcel, purpose, now).replace(microsecond=0)
            if expires <= not_before:
                raise IllegalTransition(
                    f"the parcel's deadline for {purpose} has passed",
                    details={"state": str(parcel.state), "deadline": expires.isoformat()},
                )
            # Another instance may have just retired the key this one would sign with.
            await self._keys.sync(tx)
            signer = self._keys.signing_key()
            claims = GrantClaims(
                iss=self._keys.issuer,
                aud=parcel.locker_id,
                sub=parcel.uid,
                cmp=parcel.compartment_code,
                act=ACTION_FOR_PURPOSE[purpose],
                nbf=not_before,
                exp=expires,
                iat=not_before,
                jti=new_jti(),
                # The locker's screen asks for the check before a pickup (SPEC: requirements).
                chk=parcel.need.requirements.pickup_check
                if purpose is OpenPurpose.PICKUP
                else None,
            )
            token = encode_grant(claims, kid=signer.kid, key=signer.key)
            await tx.grants.add(
                GrantRecord(
                    jti=claims.jti,
                    parcel_uid=parcel.uid,
                    locker_id=parcel.locker_id,
                    compartment_code=claims.cmp,
                    action=purpose,
                    kid=signer.kid,
                    not_before=claims.nbf,
                    expires_at=claims.exp,
                    issued_at=now,
                )
            )
            # What the grant binds, never the token: the log must not hold a bearer credential.
            await tx.audit.append(
                AuditAction.GRANT_ISSUED,
                actor=actor or f"carrier:{carrier_id}",
                subject=parcel.uid,
                details={
                    "jti": claims.jti,
                    "locker": claims.aud,
                    "cmp": claims.cmp,
                    "act": claims.act.value,
                    "exp": claims.exp.isoformat(),
                    "kid": signer.kid,
                },
            )
        return IssuedGrant(
            token=token,
            qr=qr_payload(token),
            action=claims.act,
            locker_id=claims.aud,
            compartment_code=claims.cmp,
            not_before=claims.nbf,
            expires_at=claims.exp,
            kid=signer.kid,
            jti=claims.jti,
        )

    def _expiry(self, parcel: Parcel, purpose: OpenPurpose, now: datetime) -> datetime:
        """The parcel's own deadline for this opening, never later than the max lifetime."""
        limit = now + self._max_lifetime
        deadline: datetime | None = None
        if purpose in (OpenPurpose.DEPOSIT, OpenPurpose.DROPOFF):
            deadline = parcel.reserved_until
        elif purpose is OpenPurpose.PICKUP:
            deadline = parcel.pickup_until
        return limit if deadline is None else min(limit, deadline)
