"""Bundles: book several parcels for one recipient at once, and one code for all their doors.

A bundle is booked all or none in one transaction: each parcel through the single booking's
own sequence (`ParcelService.book_in`: same checks, events and webhooks), largest first, each
in a savepoint so that every parcel left without a compartment is named in the one
BundleOverCapacity refusal. A bundle code is an `access_codes` row whose subject is the
bundle's uid; typed at the keypad it opens every compartment whose parcel then awaits the
code's opening (gateway/service/keypad.py), and each door moves its own parcel.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.clock import Clock, utc_now
from gateway.domain.bundles import BUNDLE_PURPOSES, Bundle, allocation_order, code_purpose
from gateway.domain.door import OpenPurpose
from gateway.domain.parcel import Parcel
from gateway.errors import (
    AlreadyExists,
    BundleOverCapacity,
    ConcurrentUpdate,
    FieldIssue,
    IllegalTransition,
    NoCompartmentAvailable,
    NotFound,
    OpenLockerError,
    OperationTimeout,
    Unavailable,
    ValidationFailed,
)
from gateway.service.codes import CodeService
from gateway.service.idempotency import Answered, Idempotent, run_idempotent
from gateway.service.out_of_service import into_out_of_service
from gateway.service.parcels import NewParcel, ParcelService
from gateway.store import Store, UnitOfWork
from gateway.store.access_codes import AccessCode
from gateway.store.bundles import BundleRecord

# Refusals about the whole bundle or the moment, never about one of its parcels: an unknown
# locker, a lost race (the whole booking is retried), an outage.
_ABOUT_THE_BUNDLE = (NotFound, ConcurrentUpdate, Unavailable, OperationTimeout)


@dataclass(frozen=True, slots=True)
class NewBundle:
    """A carrier's bundle booking, validated against the schema: its parcels in order."""

    carrier_id: str
    bundle_id: str
    locker_id: str
    parcels: tuple[NewParcel, ...]
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class IssuedBundleCode:
    """The only moment a bundle code exists in clear: handed to the carrier, never stored."""

    code: str
    purpose: OpenPurpose
    bundle_id: str
    locker_id: str
    parcels: tuple[Parcel, ...]
    expires_at: datetime


class BundleService:
    def __init__(
        self, *, store: Store, parcels: ParcelService, codes: CodeService, clock: Clock = utc_now
    ) -> None:
        self._store = store
        self._parcels = parcels
        self._codes = codes
        self._clock = clock

    async def create(self, cmd: NewBundle, idem: Idempotent[Bundle]) -> Answered[Bundle]:
        """Book every parcel of the bundle or none; a replay of the key answers the first."""
        _check_bundle(cmd)

        async def work(tx: UnitOfWork, now: datetime) -> Bundle:
            return await self._book(tx, cmd, now)

        return await run_idempotent(
            self._store, self._clock, cmd.carrier_id, idem, work, subject="bundle"
        )

    async def get(self, carrier_id: str, bundle_id: str) -> Bundle:
        async with self._store.transaction() as tx:
            return await _read(tx, await _own(tx, carrier_id, bundle_id))

    async def issue_code(
        self, carrier_id: str, bundle_id: str, purpose: OpenPurpose | None = None
    ) -> IssuedBundleCode:
        """One code for every door of the bundle awaiting `purpose` (default: the deposit while
        a parcel waits for it, else the pickup). Replaces the bundle's older unused code of
        that purpose, like a parcel's code; valid until the earliest of those parcels'
        deadlines."""
        async with self._store.transaction() as tx:
            record = await _own(tx, carrier_id, bundle_id)
            # Two codes asked at once: the second retires the first (PostgreSQL), not both
            # left working.
            await tx.bundles.lock(record.uid)
            bundle = await _read(tx, record)
            wanted, doors = doors_awaiting(bundle, purpose)
            expires = min(_deadline(p, wanted, self._clock()) for p in doors)
            await tx.codes.revoke(bundle.uid, wanted)
            code = await self._codes.add_in(
                tx,
                locker_id=bundle.locker_id,
                subject_uid=bundle.uid,
                purpose=wanted,
                expires=expires,
                actor=f"carrier:{carrier_id}",
                details={"bundleId": bundle.bundle_id},
            )
        return IssuedBundleCode(code, wanted, bundle.bundle_id, bundle.locker_id, doors, expires)

    async def _book(self, tx: UnitOfWork, cmd: NewBundle, now: datetime) -> Bundle:
        if await tx.bundles.get(cmd.carrier_id, cmd.bundle_id) is not None:
            raise AlreadyExists(
                f"bundle {cmd.bundle_id!r} exists already", details={"pointer": "/bundleId"}
            )
        try:
            # Undone whole when a parcel is left out, so the refusal can say what is free.
            async with tx.savepoint():
                booked = await self._book_each(tx, cmd, now)
        except _LeftOut as short:
            raise await _over_capacity(tx, cmd, short.indexes, short.fitted) from None
        record = BundleRecord(
            uid=str(uuid.uuid4()),
            carrier_id=cmd.carrier_id,
            bundle_id=cmd.bundle_id,
            locker_id=cmd.locker_id,
            reference=cmd.reference,
            created_at=now,
            parcel_uids=tuple(booked[i].uid for i in range(len(cmd.parcels))),
        )
        if not await tx.bundles.insert(record):
            # Another request booked this bundle id since the check above.
            raise AlreadyExists(f"bundle {cmd.bundle_id!r} exists already")
        return record.with_parcels([booked[i] for i in range(len(cmd.parcels))])

    async def _book_each(self, tx: UnitOfWork, cmd: NewBundle, now: datetime) -> dict[int, Parcel]:
        """Each parcel through the single booking, largest first; _LeftOut names the parcels
        no free compartment took (after trying every one)."""
        booked: dict[int, Parcel] = {}
        left_out: list[int] = []
        for i in allocation_order([p.need for p in cmd.parcels]):
            try:
                async with tx.savepoint():
                    booked[i] = await self._parcels.book_in(tx, cmd.parcels[i], now)
            except NoCompartmentAvailable:
                left_out.append(i)
            except _ABOUT_THE_BUNDLE:
                raise
            except OpenLockerError as err:
                # About this parcel (AlreadyExists, a bad S10 id...): point into the bundle.
                inside = tuple(
                    FieldIssue(f"/parcels/{i}{issue.pointer}", issue.detail) for issue in err.issues
                )
                err.issues = inside or (FieldIssue(f"/parcels/{i}", err.description),)
                raise
        if left_out:
            raise _LeftOut(sorted(left_out), len(booked))
        return booked


class _LeftOut(Exception):
    """Some parcels of a bundle found no compartment: the booking is undone and refused."""

    def __init__(self, indexes: list[int], fitted: int) -> None:
        super().__init__(f"{len(indexes)} parcels left out")
        self.indexes = indexes
        self.fitted = fitted


@dataclass(frozen=True, slots=True)
class BundleDoors:
    """What a redeemed bundle code opens now, and the deposits it leaves shut."""

    doors: tuple[Parcel, ...] = ()
    # Deposits into a compartment out of service: nothing goes in there (as for a parcel code).
    out_of_service: tuple[Parcel, ...] = ()


async def bundle_doors(tx: UnitOfWork, code: AccessCode) -> BundleDoors:
    """The parcels a redeemed bundle code opens now: those of its bundle awaiting the code's
    opening, at the code's locker; for a deposit, not into a compartment out of service.
    Empty when `code` is not a bundle's (its subject is a parcel) or nothing awaits it."""
    record = await tx.bundles.get_by_uid(code.parcel_uid)
    if record is None or record.locker_id != code.locker_id:
        return BundleDoors()
    bundle = await _read(tx, record)
    doors = bundle.awaiting(code.purpose)
    if code.purpose is not OpenPurpose.DEPOSIT:
        return BundleDoors(doors)
    usable, disabled = [], []
    for parcel in doors:
        assert parcel.compartment_code is not None  # `awaiting` keeps only those
        if await into_out_of_service(tx, parcel, code.purpose):
            disabled.append(parcel)
        else:
            usable.append(parcel)
    return BundleDoors(tuple(usable), tuple(disabled))


def doors_awaiting(
    bundle: Bundle, purpose: OpenPurpose | None
) -> tuple[OpenPurpose, tuple[Parcel, ...]]:
    """The opening a bundle code or grant is for (`purpose`, or by default the deposit while a
    parcel waits for it, else the pickup) and the bundle's doors awaiting it;
    IllegalTransition when no parcel of the bundle awaits it."""
    wanted = purpose or code_purpose(p.state for p in bundle.parcels)
    doors = bundle.awaiting(wanted) if wanted in BUNDLE_PURPOSES else ()
    if wanted is None or not doors:
        raise IllegalTransition(
            f"no parcel of bundle {bundle.bundle_id!r} awaits "
            + (f"a {wanted} opening" if wanted else "a deposit or a pickup"),
            details={"state": str(bundle.state)},
        )
    return wanted, doors


async def own_bundle(tx: UnitOfWork, carrier_id: str, bundle_id: str) -> Bundle:
    """The carrier's own bundle with its parcels as they are in `tx`; NotFound otherwise."""
    return await _read(tx, await _own(tx, carrier_id, bundle_id))


def _check_bundle(cmd: NewBundle) -> None:
    seen: dict[str, int] = {}
    for i, parcel in enumerate(cmd.parcels):
        if parcel.parcel_id in seen:
            raise ValidationFailed(
                f"parcel {parcel.parcel_id!r} appears twice in the bundle",
                issues=(
                    FieldIssue(
                        f"/parcels/{i}/parcelId",
                        f"the same id as /parcels/{seen[parcel.parcel_id]}",
                    ),
                ),
            )
        seen[parcel.parcel_id] = i


async def _over_capacity(
    tx: UnitOfWork, cmd: NewBundle, left_out: Sequence[int], fitted: int
) -> OpenLockerError:
    """The refusal of a bundle the locker cannot take whole (only now: is the locker known?)."""
    if await tx.lockers.get(cmd.locker_id) is None:
        return NotFound(f"no locker {cmd.locker_id!r}", details={"pointer": "/lockerId"})
    names = ", ".join(cmd.parcels[i].parcel_id for i in left_out)
    free: dict[str, int] = {}
    for entry in (await tx.lockers.availability([cmd.locker_id])).get(cmd.locker_id, []):
        free[entry.size_class.value] = free.get(entry.size_class.value, 0) + entry.available
    now_free = ", ".join(f"{size} {count}" for size, count in free.items())
    return BundleOverCapacity(
        f"locker {cmd.locker_id} cannot take bundle {cmd.bundle_id!r} now: "
        f"{fitted} of its {len(cmd.parcels)} parcels fit, no free compartment is left for "
        f"{names}; nothing was booked (free compartments now: {now_free})",
        issues=tuple(
            FieldIssue(
                f"/parcels/{i}",
                f"no free compartment takes this parcel ({_need(cmd.parcels[i])}) "
                "besides those the others take",
            )
            for i in left_out
        ),
        details={"parcels": len(cmd.parcels), "fitting": fitted},
    )


async def _own(tx: UnitOfWork, carrier_id: str, bundle_id: str) -> BundleRecord:
    """The carrier's own bundle; another carrier's is reported as missing so ids do not leak."""
    record = await tx.bundles.get(carrier_id, bundle_id)
    if record is None:
        raise NotFound(f"no bundle {bundle_id!r}")
    return record


async def _read(tx: UnitOfWork, record: BundleRecord) -> Bundle:
    parcels = []
    for uid in record.parcel_uids:
        parcel = await tx.parcels.get_by_uid(uid)
        if parcel is None:  # pragma: no cover - parcels are never deleted
            raise NotFound(f"bundle {record.bundle_id!r} names a parcel that does not exist")
        parcels.append(parcel)
    return record.with_parcels(parcels)


def _need(parcel: NewParcel) -> str:
    """What the parcel asked for, in the carrier's terms."""
    need = parcel.need
    parts = []
    if need.size_class is not None:
        parts.append(f"size {need.size_class.value} or larger")
    if need.dimensions is not None:
        d = need.dimensions
        parts.append(f"{d.width_mm}x{d.height_mm}x{d.depth_mm} mm")
    if need.weight_g is not None:
        parts.append(f"{need.weight_g} g")
    return ", ".join(parts)


def _deadline(parcel: Parcel, purpose: OpenPurpose, now: datetime) -> datetime:
    """The parcel's own deadline for the opening (as `CodeService` sets a parcel's code)."""
    if purpose is OpenPurpose.DEPOSIT and parcel.reserved_until is not None:
        return parcel.reserved_until
    if purpose is OpenPurpose.PICKUP and parcel.pickup_until is not None:
        return parcel.pickup_until
    return now + timedelta(days=7)
