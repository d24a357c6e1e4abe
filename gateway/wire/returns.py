"""Wire models of returns without a label (return.json and its requests)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from gateway.domain.enums import ParcelState
from gateway.domain.parcel import Parcel
from gateway.domain.returns import LabelSource, Return, ReturnState, return_state
from gateway.wire.base import UtcDateTime, WireModel
from gateway.wire.common import SizedIn


class CreateReturnIn(SizedIn):
    locker_id: str = Field(alias="lockerId")
    reference: str
    valid_for_seconds: int | None = Field(default=None, alias="validForSeconds")

    def valid_for(self) -> timedelta | None:
        """None: the default (gateway/service/returns.py DEFAULT_VALID_FOR)."""
        seconds = self.valid_for_seconds
        return None if seconds is None else timedelta(seconds=seconds)


class BindReturnLabelIn(WireModel):
    label: str


class IssueReturnCodeIn(WireModel):
    pass


class ReturnOut(WireModel):
    return_id: str = Field(alias="returnId")
    reference: str
    locker_id: str = Field(alias="lockerId")
    state: ReturnState
    parcel_id: str = Field(alias="parcelId")
    parcel_state: ParcelState = Field(alias="parcelState")
    compartment_code: str | None = Field(alias="compartmentCode")
    label: str | None
    label_source: LabelSource | None = Field(alias="labelSource")
    label_bound_at: UtcDateTime | None = Field(alias="labelBoundAt")
    dropoff_until: UtcDateTime | None = Field(alias="dropoffUntil")
    created_at: UtcDateTime = Field(alias="createdAt")
    # Only in the answers that issue them (create, /code): shown in clear once.
    code: str | None = None
    code_expires_at: UtcDateTime | None = Field(default=None, alias="codeExpiresAt")
    qr: str | None = None
    qr_expires_at: UtcDateTime | None = Field(default=None, alias="qrExpiresAt")


def return_to_wire(ret: Return, parcel: Parcel) -> ReturnOut:
    return ReturnOut(
        return_id=ret.id,
        reference=ret.reference,
        locker_id=ret.locker_id,
        state=return_state(parcel.state),
        parcel_id=parcel.parcel_id,
        parcel_state=parcel.state,
        compartment_code=parcel.compartment_code,
        label=ret.label,
        label_source=ret.label_source,
        label_bound_at=ret.label_bound_at,
        # The parcel keeps its old deadline after a cancel or expiry: shown while it holds.
        dropoff_until=parcel.reserved_until
        if parcel.state is ParcelState.DROPOFF_ANNOUNCED
        else None,
        created_at=ret.created_at,
    )
