"""Shared wire shapes: parcel dimensions and compartment inside dimensions (common.json)."""

from __future__ import annotations

from gateway.domain.sizes import Dimensions
from gateway.wire.base import WireModel


class DimensionsMm(WireModel):
    """Outside dimensions of a parcel in millimetres; length maps to the domain's depth."""

    length: int
    width: int
    height: int

    def to_domain(self) -> Dimensions:
        return Dimensions(width_mm=self.width, height_mm=self.height, depth_mm=self.length)

    @classmethod
    def from_domain(cls, dims: Dimensions) -> DimensionsMm:
        return cls(length=dims.depth_mm, width=dims.width_mm, height=dims.height_mm)


class InsideMm(WireModel):
    """Inside dimensions of a compartment in millimetres."""

    width: int
    height: int
    depth: int

    @classmethod
    def from_domain(cls, dims: Dimensions) -> InsideMm:
        return cls(width=dims.width_mm, height=dims.height_mm, depth=dims.depth_mm)
