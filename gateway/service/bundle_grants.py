"""Bundle grants: one signed grant for every door of a bundle, and its doors when they open.

Issuing records one `grants` row per door, keyed `<jti>/<compartment>` (`door_jti`), with
that door's parcel: each door is redeemed on its own when the locker reports it opened (a
DoorOpened whose grant names the bundle grant's `jti` and the bundle's uid as `sub`), so the
door session, the parcel's move and the single use per door work exactly as for a one-door
grant (gateway/service/grant_doors.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from gateway.clock import Clock, utc_now
from gateway.domain.audit import AuditAction
from gateway.domain.door import OpenPurpose
from gateway.domain.grants import ACTION_FOR_PURPOSE
from gateway.domain.parcel import Parcel
from gateway.errors import IllegalTransition, ValidationFailed
from gateway.sdk import DoorOpened, GrantUse
from gateway.service.bundles import doors_awaiting, own_bundle
from gateway.service.out_of_service import refuse_into_out_of_service
from gateway.store import GrantRecord, Store, UnitOfWork
from gateway.tokens.bundle_grants import (
    BundleGrantClaims,
    BundleGrantTooLarge,
    door_jti,
    encode_bundle_grant,
)
from gateway.tokens.grants import new_jti, qr_payload
from gateway.tokens.network_keys import NetworkKeys


@dataclass(frozen=True, slots=True)
class IssuedBundleGrant:
    """A bundle grant as handed to the carrier; the token itself is never stored."""

    token: str
    qr: str
    purpose: OpenPurpose
    bundle_id: str
    locker_id: str
    parcels: tuple[Parcel, ...]
    not_before: datetime
    expires_at: datetime
    kid: str
    jti: str


class BundleGrants:
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

    async def issue(
        self, carrier_id: str, bundle_id: str, purpose: OpenPurpose | None = None
    ) -> IssuedBundleGrant:
        """One grant for every door of the bundle awaiting `purpose` (default as for a bundle
        code), valid until the earliest of those parcels' deadlines or the network's maximum
        grant lifetime. Like a parcel's grant, asking again does not revoke earlier ones."""
        now = self._clock()
        async with self._store.transaction() as tx:
            bundle = await own_bundle(tx, carrier_id, bundle_id)
            wanted, doors = doors_awaiting(bundle, purpose)
            for parcel in doors:
                await refuse_into_out_of_service(tx, parcel, wanted)
            not_before = now.replace(microsecond=0)
            # NumericDate has whole seconds; exp is rounded down, never past a deadline.
            limit = now + self._max_lifetime
            deadlines = [_deadline(p, wanted) or limit for p in doors]
            expires = min([limit, *deadlines]).replace(microsecond=0)
            if expires <= not_before:
                raise IllegalTransition(
                    f"the bundle's deadline for {wanted} has passed",
                    details={"deadline": expires.isoformat()},
                )
            await self._keys.sync(tx)
            signer = self._keys.signing_key()
            claims = BundleGrantClaims(
                iss=self._keys.issuer,
                aud=bundle.locker_id,
                sub=bundle.uid,
                cmps=tuple(p.compartment_code or "" for p in doors),
                act=ACTION_FOR_PURPOSE[wanted],
                nbf=not_before,
                exp=expires,
                iat=not_before,
                jti=new_jti(),
            )
            try:
                token = encode_bundle_grant(claims, kid=signer.kid, key=signer.key)
            except BundleGrantTooLarge as err:
                raise ValidationFailed(
                    f"{err}: ask for a bundle code, or for each parcel's own grant",
                    details={"doors": len(doors)},
                ) from err
            for parcel in doors:
                assert parcel.compartment_code is not None  # `awaiting` keeps only those
                await tx.grants.add(
                    GrantRecord(
                        jti=door_jti(claims.jti, parcel.compartment_code),
                        parcel_uid=parcel.uid,
                        locker_id=bundle.locker_id,
                        compartment_code=parcel.compartment_code,
                        action=wanted,
                        kid=signer.kid,
                        not_before=not_before,
                        expires_at=expires,
                        issued_at=now,
                    )
                )
            # What the grant binds, never the token: the log must not hold a bearer credential.
            await tx.audit.append(
                AuditAction.GRANT_ISSUED,
                actor=f"carrier:{carrier_id}",
                subject=bundle.uid,
                details={
                    "jti": claims.jti,
                    "locker": claims.aud,
                    "cmps": list(claims.cmps),
                    "act": claims.act.value,
                    "exp": expires.isoformat(),
                    "kid": signer.kid,
                    "bundleId": bundle.bundle_id,
                },
            )
        return IssuedBundleGrant(
            token=token,
            qr=qr_payload(token),
            purpose=wanted,
            bundle_id=bundle.bundle_id,
            locker_id=bundle.locker_id,
            parcels=doors,
            not_before=not_before,
            expires_at=expires,
            kid=signer.kid,
            jti=claims.jti,
        )


async def bundle_grant_door(
    tx: UnitOfWork, event: DoorOpened, grant: GrantUse
) -> tuple[GrantRecord | None, GrantUse]:
    """A door opened for a bundle grant: that door's own record, and the grant use as if the
    locker had named the door's parcel (`sub` is the bundle's uid in a bundle grant). (None,
    `grant`) when no bundle grant of that jti covers this door of this bundle."""
    record = await tx.grants.get(door_jti(grant.jti, event.compartment_code))
    if record is None:
        return None, grant
    bundle = await tx.bundles.get_by_uid(grant.parcel_uid)
    if bundle is None or record.parcel_uid not in bundle.parcel_uids:
        # Reported with another `sub` than the bundle's: the parcel check refuses it.
        return record, grant
    return record, replace(grant, parcel_uid=record.parcel_uid)


def _deadline(parcel: Parcel, purpose: OpenPurpose) -> datetime | None:
    if purpose is OpenPurpose.DEPOSIT:
        return parcel.reserved_until
    if purpose is OpenPurpose.PICKUP:
        return parcel.pickup_until
    return None
