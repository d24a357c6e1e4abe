"""Returns without a label: announce one (a drop-off code and QR), bind its label, read it.

A return is a first-mile parcel whose id is the return id until the label is bound: by the
locker (its scanner reads the label the sender sticks on, sent with the drop-off code) or by
the carrier's courier later. The drop-off itself is the first-mile one (`parcel.dropped_off`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.clock import Clock, utc_now
from gateway.domain.door import OpenPurpose
from gateway.domain.enums import Direction
from gateway.domain.parcel import Parcel
from gateway.domain.returns import LABEL_BINDABLE, LabelSource, Return, new_return_id
from gateway.domain.s10 import looks_like_s10, s10_problem
from gateway.domain.sizes import SizeRequirement
from gateway.errors import (
    AlreadyExists,
    FieldIssue,
    IllegalTransition,
    NotFound,
    OpenLockerError,
    ValidationFailed,
)
from gateway.service.codes import CodeService
from gateway.service.grants import GrantService
from gateway.service.parcels import NewParcel, ParcelService
from gateway.store import Store, UnitOfWork

log = logging.getLogger(__name__)

# How long a sender may take to drop a return off, unless the shop says: a week.
DEFAULT_VALID_FOR = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class NewReturn:
    carrier_id: str
    locker_id: str
    reference: str
    need: SizeRequirement
    valid_for: timedelta | None = None


@dataclass(frozen=True, slots=True)
class DropoffAccess:
    """What opens the door for the sender, in clear this once: a keypad code and a QR."""

    code: str
    code_expires_at: datetime
    qr: str | None = None  # a drop-off grant's QR text; None if none could be signed
    qr_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReturnView:
    ret: Return
    parcel: Parcel
    access: DropoffAccess | None = None


class ReturnService:
    def __init__(
        self,
        *,
        store: Store,
        parcels: ParcelService,
        codes: CodeService,
        grants: GrantService | None = None,
        clock: Clock = utc_now,
    ) -> None:
        """`grants`: signs the QR's drop-off grant (without it the answer has the code only)."""
        self._store = store
        self._parcels = parcels
        self._codes = codes
        self._grants = grants
        self._clock = clock

    async def announce(self, cmd: NewReturn) -> ReturnView:
        """Book a compartment for the return's drop-off and hand out its code and QR.

        A repeated reference is refused (AlreadyExists naming the return): the carrier's
        retry finds the return and asks for a new code, so one return never holds two
        compartments."""
        async with self._store.transaction() as tx:
            now = self._clock()
            existing = await tx.returns.by_reference(cmd.carrier_id, cmd.reference)
            if existing is not None:
                raise AlreadyExists(
                    f"a return with reference {cmd.reference!r} exists already: {existing.id}",
                    details={"pointer": "/reference", "returnId": existing.id},
                )
            return_id = new_return_id()
            parcel = await self._parcels.book_in(
                tx,
                NewParcel(
                    carrier_id=cmd.carrier_id,
                    parcel_id=return_id,
                    locker_id=cmd.locker_id,
                    need=cmd.need,
                    direction=Direction.FIRST_MILE,
                    reservation_ttl=cmd.valid_for or DEFAULT_VALID_FOR,
                    reference=cmd.reference,
                ),
                now,
            )
            ret = Return(
                id=return_id,
                carrier_id=cmd.carrier_id,
                locker_id=cmd.locker_id,
                parcel_uid=parcel.uid,
                reference=cmd.reference,
                created_at=now,
            )
            await tx.returns.add(ret)
            code, expires = await self._new_code(tx, ret, parcel)
        access = await self._with_qr(ret, DropoffAccess(code=code, code_expires_at=expires))
        return ReturnView(ret, parcel, access)

    async def get(self, carrier_id: str, return_id: str) -> ReturnView:
        async with self._store.transaction() as tx:
            ret, parcel = await _own(tx, carrier_id, return_id)
        return ReturnView(ret, parcel)

    async def new_access(self, carrier_id: str, return_id: str) -> ReturnView:
        """A fresh code (the older unused one stops working) and QR, until the drop-off."""
        async with self._store.transaction() as tx:
            ret, parcel = await _own(tx, carrier_id, return_id)
            await tx.codes.revoke(parcel.uid, OpenPurpose.DROPOFF)
            code, expires = await self._new_code(tx, ret, parcel)
        access = await self._with_qr(ret, DropoffAccess(code=code, code_expires_at=expires))
        return ReturnView(ret, parcel, access)

    async def bind_by_courier(self, carrier_id: str, return_id: str, label: str) -> ReturnView:
        """The courier scanned the label of a return the locker could not label; binding
        the same label again answers as before, another one is refused."""
        check_label(label, "/label")
        async with self._store.transaction() as tx:
            ret, parcel = await _own(tx, carrier_id, return_id, for_update=True)
            if ret.label == label:
                return ReturnView(ret, parcel)
            bound = await _bind(tx, ret, parcel, label, LabelSource.COURIER, self._clock())
            fresh = await tx.parcels.get_by_uid(parcel.uid)
        assert fresh is not None  # renamed in this transaction
        return ReturnView(bound, fresh)

    async def _new_code(self, tx: UnitOfWork, ret: Return, parcel: Parcel) -> tuple[str, datetime]:
        if parcel.reserved_until is None or parcel.compartment_code is None:
            raise IllegalTransition(
                f"return {ret.id} is {parcel.state}: there is no drop-off to open a door for",
                details={"state": str(parcel.state)},
            )
        code = await self._codes.add_in(
            tx,
            locker_id=parcel.locker_id,
            subject_uid=parcel.uid,
            purpose=OpenPurpose.DROPOFF,
            expires=parcel.reserved_until,
            actor=f"carrier:{ret.carrier_id}",
            details={"returnId": ret.id},
        )
        return code, parcel.reserved_until

    async def _with_qr(self, ret: Return, access: DropoffAccess) -> DropoffAccess:
        """Add a drop-off grant's QR; after the commit, so a grant failure spoils nothing."""
        if self._grants is None:
            return access
        try:
            grant = await self._grants.issue(
                ret.carrier_id, ret.parcel_id, purpose_required=OpenPurpose.DROPOFF
            )
        except OpenLockerError as err:
            log.warning("return %s: no QR grant signed (%s); the code alone opens", ret.id, err)
            return access
        return DropoffAccess(
            code=access.code,
            code_expires_at=access.code_expires_at,
            qr=grant.qr,
            qr_expires_at=grant.expires_at,
        )


async def bind_scanned_label(
    tx: UnitOfWork, parcel: Parcel, label: str, now: datetime
) -> Return | None:
    """Bind the label a locker scanned with a drop-off code, in the keypad's transaction.

    Never refuses the drop-off (the sender stands at the locker): a label that cannot be
    bound (not a return, labelled already, malformed, another parcel's) is logged and left
    for the courier; None then."""
    ret = await tx.returns.by_parcel(parcel.uid)
    if ret is None or ret.label is not None:
        log.info("locker %s: label %s ignored: not an unlabelled return", parcel.locker_id, label)
        return None
    try:
        check_label(label, "/payload/label")
        return await _bind(tx, ret, parcel, label, LabelSource.LOCKER, now)
    except OpenLockerError as err:
        log.warning(
            "return %s: label scanned at locker %s not bound (%s); the courier binds it",
            ret.id,
            parcel.locker_id,
            err,
        )
        return None


def check_label(label: str, pointer: str) -> None:
    """A label is a parcel id: an S10-shaped one must carry a valid check digit."""
    problem = s10_problem(label) if looks_like_s10(label) else None
    if problem:
        raise ValidationFailed(
            f"label claims to be a UPU S10 id but {problem}",
            issues=(FieldIssue(pointer, problem),),
        )


async def _bind(
    tx: UnitOfWork, ret: Return, parcel: Parcel, label: str, source: LabelSource, at: datetime
) -> Return:
    if ret.label is not None:
        raise AlreadyExists(
            f"return {ret.id} is labelled {ret.label} already; a return has one label",
            details={"pointer": "/label", "label": ret.label},
        )
    if parcel.state not in LABEL_BINDABLE:
        raise IllegalTransition(
            f"return {ret.id} is {parcel.state}: a label is bound before its collection",
            details={"state": str(parcel.state)},
        )
    return await tx.returns.bind_label(ret, parcel, label, source, at)


async def _own(
    tx: UnitOfWork, carrier_id: str, return_id: str, *, for_update: bool = False
) -> tuple[Return, Parcel]:
    ret = await tx.returns.get(carrier_id, return_id)
    if ret is None:
        raise NotFound(f"no return {return_id!r}")
    parcel = await tx.parcels.get_by_uid(ret.parcel_uid, for_update=for_update)
    if parcel is None:
        raise NotFound(f"no return {return_id!r}")
    return ret, parcel
