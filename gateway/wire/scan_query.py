"""Query on scan asked of a carrier: schemas/v1/scan-query-request.json, -answer.json."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from gateway.domain.enums import SizeClass
from gateway.wire.base import WireModel
from gateway.wire.olp_scan import PARCEL_ID_PATTERN


class ScanQueryRequestOut(WireModel):
    """scan-query-request.json: what the gateway asks the carrier about a scanned parcel."""

    query_id: str = Field(alias="queryId", min_length=1, max_length=64)
    carrier_id: str = Field(alias="carrierId")
    locker_id: str = Field(alias="lockerId")
    parcel_id: str = Field(alias="parcelId", pattern=PARCEL_ID_PATTERN)
    size_class: SizeClass | None = Field(default=None, alias="sizeClass")
    network_id: str | None = Field(default=None, alias="networkId")


class ScanQueryAnswerIn(WireModel):
    """scan-query-answer.json: the carrier's accept (with a size), refuse or unknown."""

    decision: Literal["accept", "refuse", "unknown"]
    size_class: SizeClass | None = Field(default=None, alias="sizeClass")

    @model_validator(mode="after")
    def _size_only_with_accept(self) -> ScanQueryAnswerIn:
        if self.size_class is not None and self.decision != "accept":
            raise ValueError("a size class only with accept")
        return self
