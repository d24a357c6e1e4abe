"""Query on scan over the MQTT binding: schemas/v1/olp-scan-parcel[-result].json."""

from __future__ import annotations

from pydantic import Field, model_validator

from gateway.domain.enums import SizeClass
from gateway.domain.scan import ScanDecision, ScanRefusal
from gateway.wire.base import WireModel

# common.json#/$defs/ParcelId (its S10 check digit is the schema's format check).
PARCEL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"


class ScanParcelPayload(WireModel):
    """olp-scan-parcel.json: the parcel id a courier scanned, and the size chosen, if any."""

    parcel_id: str = Field(alias="parcelId", pattern=PARCEL_ID_PATTERN)
    size_class: SizeClass | None = Field(default=None, alias="sizeClass")


class ScanParcelResultPayload(WireModel):
    """olp-scan-parcel-result.json: Accepted into a compartment, or Refused with a reason."""

    parcel_id: str = Field(alias="parcelId")
    decision: ScanDecision
    compartment_code: str | None = Field(default=None, alias="compartmentCode")
    unadvised: bool | None = None
    reason: ScanRefusal | None = None

    @model_validator(mode="after")
    def _members_of_the_decision(self) -> ScanParcelResultPayload:
        # The schema says this with if/then/else; repeated so a built answer obeys too.
        if self.decision is ScanDecision.ACCEPTED:
            if self.compartment_code is None or self.unadvised is None or self.reason:
                raise ValueError("Accepted carries compartmentCode and unadvised, no reason")
        elif self.reason is None or self.compartment_code is not None or self.unadvised is not None:
            raise ValueError("Refused carries a reason only")
        return self
