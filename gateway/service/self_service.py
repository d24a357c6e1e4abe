"""Recipient self-service: through a signed, short-lived link a recipient extends the hold
once, asks for a new pickup code, or asks for the parcel to be sent to another locker.

The carrier asks for the link (`POST /v1/parcels/{id}/self-service-link`) and sends it to its
recipient in its own message; the link's token names one parcel and nothing else. What the
recipient did is written on the parcel (`recipientRequests`, shown in the carrier's record);
an extension is a real EXTEND transition (event `parcel.ready_for_pickup`, details
`{"by": "recipient"}`), so carriers' webhooks and notifiers see it like their own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar

from gateway.clock import Clock, utc_now
from gateway.domain.door import OpenPurpose
from gateway.domain.enums import Direction, ParcelAction, ParcelState
from gateway.domain.hold_policy import DAY, recipient_deadline
from gateway.domain.locker import Locker
from gateway.domain.parcel import Parcel
from gateway.domain.self_service import MAX_RECIPIENT_CODES
from gateway.errors import (
    AuthenticationFailed,
    ConcurrentUpdate,
    FieldIssue,
    IllegalTransition,
    NotFound,
    ValidationFailed,
)
from gateway.service.codes import CodeService, IssuedCode
from gateway.service.parcels import ParcelService
from gateway.store import Store, UnitOfWork
from gateway.tokens.network_keys import NetworkKeys
from gateway.tokens.recipient_links import RecipientClaims, sign_recipient_token, verify

__all__ = ["RecipientLink", "SelfService", "SelfServiceView"]

T = TypeVar("T")
MAX_ATTEMPTS = 5
# States in which a recipient is still waiting for the parcel (a link can be issued).
WAITING = frozenset({ParcelState.ANNOUNCED, ParcelState.RESERVED, ParcelState.READY_FOR_PICKUP})


@dataclass(frozen=True, slots=True)
class RecipientLink:
    token: str
    expires_at: datetime
    parcel: Parcel


@dataclass(frozen=True, slots=True)
class SelfServiceView:
    """One parcel as its recipient sees it, and what the recipient may still do."""

    parcel: Parcel
    locker: Locker | None
    link_expires_at: datetime
    extension_days: int  # the most days an extension may add now; 0: none possible
    codes_left: int  # fresh pickup codes the recipient may still ask for
    can_redirect: bool


class SelfService:
    def __init__(
        self,
        *,
        store: Store,
        parcels: ParcelService,
        codes: CodeService,
        keys: NetworkKeys,
        network_id: str,
        link_ttl: timedelta,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._parcels = parcels
        self._codes = codes
        self._keys = keys
        self._network_id = network_id
        self._link_ttl = link_ttl
        self._clock = clock

    # ---- the carrier's side ------------------------------------------------------------

    async def issue_link(self, carrier_id: str, parcel_id: str) -> RecipientLink:
        """A self-service token for one of the carrier's last-mile parcels still waiting."""
        async with self._store.transaction() as tx:
            parcel = await tx.parcels.get(carrier_id, parcel_id)
        if parcel is None:
            raise NotFound(f"no parcel {parcel_id!r}")
        if parcel.direction is not Direction.LAST_MILE or parcel.state not in WAITING:
            raise IllegalTransition(
                f"a {parcel.direction} parcel that is {parcel.state} has no recipient waiting",
                details={"state": str(parcel.state), "reason": "no_recipient_waiting"},
            )
        now = self._clock()
        await self._keys.refresh()
        signer = self._keys.signing_key()
        expires = now + self._link_ttl
        claims = RecipientClaims(self._network_id, parcel.uid, now, expires)
        token = sign_recipient_token(claims, kid=signer.kid, key=signer.key)
        return RecipientLink(token, expires, parcel)

    # ---- the recipient's side ----------------------------------------------------------

    async def view(self, token: str) -> SelfServiceView:
        claims = await self._claims(token)
        async with self._store.transaction() as tx:
            parcel = await _parcel(tx, claims.parcel_uid)
            locker = await tx.lockers.get(parcel.locker_id)
        return self._view(parcel, locker, claims)

    async def extend(self, token: str, days: int | None) -> SelfServiceView:
        """Move the pickup deadline `days` later (None: as far as the policy allows), once."""
        claims = await self._claims(token)

        async def work(tx: UnitOfWork, now: datetime) -> Parcel:
            parcel = await _parcel(tx, claims.parcel_uid, for_update=True)
            if parcel.state is not ParcelState.READY_FOR_PICKUP:
                raise IllegalTransition(
                    f"a parcel that is {parcel.state} cannot be extended",
                    details={"state": str(parcel.state), "reason": "not_waiting_in_locker"},
                )
            try:
                until = recipient_deadline(
                    parcel.hold,
                    parcel.pickup_until,
                    extended_before=parcel.recipient_requests.extended_at is not None,
                    days=days,
                    now=now,
                )
            except ValueError as err:
                raise ValidationFailed(str(err), issues=(FieldIssue("/days", str(err)),)) from None
            added = (until - parcel.pickup_until) // DAY if parcel.pickup_until else 0
            asked = replace(
                parcel,
                recipient_requests=replace(parcel.recipient_requests, extended_at=now),
            )
            return await self._parcels.apply_in(
                tx,
                asked,
                ParcelAction.EXTEND,
                pickup_until=until,
                details={"by": "recipient", "days": added},
            )

        await self._retrying(work)
        return await self.view(token)

    async def new_code(self, token: str) -> tuple[IssuedCode, SelfServiceView]:
        """A fresh pickup code (older unused ones stop working), at most a few per parcel."""
        claims = await self._claims(token)

        async def work(tx: UnitOfWork, now: datetime) -> Parcel:
            parcel = await _parcel(tx, claims.parcel_uid, for_update=True)
            if parcel.state is not ParcelState.READY_FOR_PICKUP:
                raise IllegalTransition(
                    f"a parcel that is {parcel.state} has no pickup code to renew",
                    details={"state": str(parcel.state), "reason": "not_waiting_in_locker"},
                )
            used = parcel.recipient_requests.codes_issued
            if used >= MAX_RECIPIENT_CODES:
                raise IllegalTransition(
                    f"a recipient may ask for {MAX_RECIPIENT_CODES} new codes per parcel; "
                    "ask the carrier",
                    details={"reason": "code_limit_reached", "limit": MAX_RECIPIENT_CODES},
                )
            counted = replace(parcel.recipient_requests, codes_issued=used + 1)
            return await tx.parcels.update(parcel, replace(parcel, recipient_requests=counted))

        parcel = await self._retrying(work)
        # Counted first: a code whose issue fails afterwards (the parcel was picked up in
        # between) still counts, which errs on the side of fewer codes in circulation.
        code = await self._codes.issue(
            parcel.carrier_id,
            parcel.parcel_id,
            purpose_required=OpenPurpose.PICKUP,
            actor=f"recipient:{parcel.uid}",
        )
        return code, await self.view(token)

    async def request_redirect(self, token: str, locker_id: str) -> SelfServiceView:
        """Record the recipient's wish to collect at `locker_id`; the carrier redirects."""
        claims = await self._claims(token)

        async def work(tx: UnitOfWork, now: datetime) -> Parcel:
            parcel = await _parcel(tx, claims.parcel_uid, for_update=True)
            if parcel.state not in WAITING:
                raise IllegalTransition(
                    f"a parcel that is {parcel.state} can no longer be redirected",
                    details={"state": str(parcel.state), "reason": "not_waiting"},
                )
            if parcel.recipient_requests.redirect_locker_id is not None:
                raise IllegalTransition(
                    "a redirect was asked for already",
                    details={
                        "reason": "already_requested",
                        "lockerId": parcel.recipient_requests.redirect_locker_id,
                    },
                )
            pointer = (FieldIssue("/lockerId", "another locker of this network"),)
            if locker_id == parcel.locker_id:
                raise ValidationFailed("the parcel is at this locker already", issues=pointer)
            if await tx.lockers.get(locker_id) is None:
                raise NotFound(f"no locker {locker_id!r}", details={"pointer": "/lockerId"})
            asked = replace(
                parcel.recipient_requests,
                redirect_locker_id=locker_id,
                redirect_requested_at=now,
            )
            return await tx.parcels.update(parcel, replace(parcel, recipient_requests=asked))

        await self._retrying(work)
        return await self.view(token)

    # ---- shared ------------------------------------------------------------------------

    async def _claims(self, token: str) -> RecipientClaims:
        now = self._clock()
        try:
            return verify(
                token, keys=self._keys.verification_keys(), issuer=self._network_id, now=now
            )
        except AuthenticationFailed as err:
            # Another instance may have rotated the keys since this one last looked.
            if err.details.get("reason") != "unknown_kid" or not await self._keys.refresh():
                raise
        return verify(token, keys=self._keys.verification_keys(), issuer=self._network_id, now=now)

    def _view(
        self, parcel: Parcel, locker: Locker | None, claims: RecipientClaims
    ) -> SelfServiceView:
        requests = parcel.recipient_requests
        ready = parcel.state is ParcelState.READY_FOR_PICKUP
        extension = 0
        if ready and parcel.hold is not None and requests.extended_at is None:
            extension = parcel.hold.extension // DAY
        return SelfServiceView(
            parcel=parcel,
            locker=locker,
            link_expires_at=claims.expires_at,
            extension_days=extension,
            codes_left=max(0, MAX_RECIPIENT_CODES - requests.codes_issued) if ready else 0,
            can_redirect=parcel.state in WAITING and requests.redirect_locker_id is None,
        )

    async def _retrying(self, work: Callable[[UnitOfWork, datetime], Awaitable[T]]) -> T:
        for _ in range(MAX_ATTEMPTS):
            try:
                async with self._store.transaction() as tx:
                    return await work(tx, self._clock())
            except ConcurrentUpdate:
                continue
        raise ConcurrentUpdate("too much contention on this parcel; retry later")


async def _parcel(tx: UnitOfWork, uid: str, *, for_update: bool = False) -> Parcel:
    parcel = await tx.parcels.get_by_uid(uid, for_update=for_update)
    if parcel is None:
        raise NotFound("the parcel of this link no longer exists")
    return parcel
