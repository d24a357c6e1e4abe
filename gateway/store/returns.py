"""Returns without a label, and the one write that gives their parcel its label as id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import RowMapping, select, update
from sqlalchemy.exc import IntegrityError

from gateway.domain.parcel import Parcel
from gateway.domain.returns import LabelSource, Return
from gateway.errors import AlreadyExists, ConcurrentUpdate
from gateway.store._sql import Repository, insert_if_absent
from gateway.store.tables import parcels as p
from gateway.store.tables import returns as t


class ReturnRepository(Repository):
    async def add(self, ret: Return) -> None:
        """Store a new return (AlreadyExists if the carrier used its reference before)."""
        values = {
            "id": ret.id,
            "carrier_id": ret.carrier_id,
            "locker_id": ret.locker_id,
            "parcel_uid": ret.parcel_uid,
            "reference": ret.reference,
            "label": None,
            "label_source": None,
            "label_bound_at": None,
            "created_at": ret.created_at,
        }
        if not await insert_if_absent(self._conn, t, values):
            existing = await self.by_reference(ret.carrier_id, ret.reference)
            raise AlreadyExists(
                f"a return with reference {ret.reference!r} exists already: "
                f"{existing.id if existing else 'announced at the same moment'}",
                details={
                    "pointer": "/reference",
                    "returnId": existing.id if existing else None,
                },
            )

    async def get(self, carrier_id: str, return_id: str) -> Return | None:
        """The carrier's own return; another carrier's reads as missing."""
        stmt = select(t).where(t.c.id == return_id, t.c.carrier_id == carrier_id)
        row = (await self._conn.execute(stmt)).mappings().first()
        return None if row is None else _return(row)

    async def by_reference(self, carrier_id: str, reference: str) -> Return | None:
        stmt = select(t).where(t.c.carrier_id == carrier_id, t.c.reference == reference)
        row = (await self._conn.execute(stmt)).mappings().first()
        return None if row is None else _return(row)

    async def by_parcel(self, parcel_uid: str) -> Return | None:
        stmt = select(t).where(t.c.parcel_uid == parcel_uid)
        row = (await self._conn.execute(stmt)).mappings().first()
        return None if row is None else _return(row)

    async def bind_label(
        self, ret: Return, parcel: Parcel, label: str, source: LabelSource, at: datetime
    ) -> Return:
        """Record the label and make it the parcel's id, both unless changed meanwhile.

        The parcel's id is otherwise fixed at insert (ParcelRepository.update refuses to
        change it): a return's is the one that is bound later, once."""
        taken = select(p.c.uid).where(p.c.carrier_id == parcel.carrier_id, p.c.parcel_id == label)
        if (await self._conn.execute(taken)).first() is not None:
            raise AlreadyExists(
                f"parcel {label} exists already; a label names one parcel",
                details={"pointer": "/label", "parcelId": label},
            )
        # One savepoint for both writes: a lost race undoes both and leaves the caller's
        # transaction usable (PostgreSQL aborts a transaction on a failed statement).
        try:
            async with self._conn.begin_nested():
                bound = await self._conn.execute(
                    update(t)
                    .where(t.c.id == ret.id, t.c.label.is_(None))
                    .values(label=label, label_source=source.value, label_bound_at=at)
                )
                renamed = await self._conn.execute(
                    update(p)
                    .where(p.c.uid == parcel.uid, p.c.version == parcel.version)
                    .values(parcel_id=label, version=parcel.version + 1, updated_at=at)
                )
                if bound.rowcount != 1 or renamed.rowcount != 1:
                    raise ConcurrentUpdate(f"return {ret.id} changed meanwhile; read it again")
        except IntegrityError:
            # Another parcel took the label between the check above and the rename.
            raise AlreadyExists(
                f"parcel {label} exists already; a label names one parcel",
                details={"pointer": "/label", "parcelId": label},
            ) from None
        return ret.bound(label, source, at)


def _return(row: RowMapping) -> Return:
    source = row["label_source"]
    return Return(
        id=row["id"],
        carrier_id=row["carrier_id"],
        locker_id=row["locker_id"],
        parcel_uid=row["parcel_uid"],
        reference=row["reference"],
        created_at=row["created_at"],
        label=row["label"],
        label_source=None if source is None else LabelSource(source),
        label_bound_at=row["label_bound_at"],
    )
