"""Shared wire shapes: parcel dimensions and compartment inside dimensions (common.json), and
the size a request asks for (`sizeClass` or `dimensionsMm`, with `weightG`)."""

from __future__ import annotations

from pydantic import Field, model_validator

from gateway.domain.enums import SizeClass
from gateway.domain.sizes import Dimensions, SizeRequirement
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


class SizedIn(WireModel):
    """A request naming the room it needs: a size class, or the parcel's dimensions, and an
    optional weight (holds, bundle parcels, returns). `size_requirement()` carries no delivery
    requirement."""

    size_class: SizeClass | None = Field(default=None, alias="sizeClass")
    dimensions_mm: DimensionsMm | None = Field(default=None, alias="dimensionsMm")
    weight_g: int | None = Field(default=None, alias="weightG")

    @model_validator(mode="after")
    def _needs_a_size(self) -> SizedIn:
        # The schemas say the same; repeated so a model built in code cannot break it either.
        if self.size_class is None and self.dimensions_mm is None:
            raise ValueError("needs one of: sizeClass, dimensionsMm")
        return self

    def size_requirement(self) -> SizeRequirement:
        dims = None if self.dimensions_mm is None else self.dimensions_mm.to_domain()
        return SizeRequirement(size_class=self.size_class, dimensions=dims, weight_g=self.weight_g)
