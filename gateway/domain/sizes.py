"""Size classes map to inside dimensions; a parcel fits a box if it fits in some orientation."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.domain.enums import SizeClass
from gateway.domain.requirements import NO_REQUIREMENTS, DeliveryRequirements


@dataclass(frozen=True, slots=True)
class Dimensions:
    """Millimetres. For a compartment: inside width, height, depth. For a parcel: any order."""

    width_mm: int
    height_mm: int
    depth_mm: int

    def __post_init__(self) -> None:
        if min(self.width_mm, self.height_mm, self.depth_mm) <= 0:
            raise ValueError("dimensions must be positive millimetres")

    def sorted(self) -> tuple[int, int, int]:
        a, b, c = sorted((self.width_mm, self.height_mm, self.depth_mm))
        return a, b, c

    def fits_inside(self, box: Dimensions) -> bool:
        """True if this item fits the box, rotated as needed (axis-aligned)."""
        return all(item <= room for item, room in zip(self.sorted(), box.sorted(), strict=True))

    @property
    def volume_mm3(self) -> int:
        return self.width_mm * self.height_mm * self.depth_mm


@dataclass(frozen=True, slots=True)
class SizeSpec:
    """The network-wide definition of one size class."""

    size_class: SizeClass
    inside: Dimensions
    max_weight_g: int


# Inside dimensions (width x height x depth) of the common European locker grid; a layout
# file may give a compartment its own measured dimensions instead.
STANDARD_SIZES: dict[SizeClass, SizeSpec] = {
    SizeClass.XS: SizeSpec(SizeClass.XS, Dimensions(380, 80, 640), 5_000),
    SizeClass.S: SizeSpec(SizeClass.S, Dimensions(380, 190, 640), 10_000),
    SizeClass.M: SizeSpec(SizeClass.M, Dimensions(380, 410, 640), 20_000),
    SizeClass.L: SizeSpec(SizeClass.L, Dimensions(500, 600, 640), 25_000),
    SizeClass.XL: SizeSpec(SizeClass.XL, Dimensions(600, 800, 640), 30_000),
}


@dataclass(frozen=True, slots=True)
class SizeRequirement:
    """What a booking asks for: a size class, or the parcel's dimensions and weight."""

    size_class: SizeClass | None = None
    dimensions: Dimensions | None = None
    weight_g: int | None = None
    # Delivery requirements (domain/requirements.py): which compartments qualify besides room.
    requirements: DeliveryRequirements = NO_REQUIREMENTS

    def __post_init__(self) -> None:
        if self.size_class is None and self.dimensions is None:
            raise ValueError("a booking needs a size class or parcel dimensions")
        if self.weight_g is not None and self.weight_g <= 0:
            raise ValueError("weight must be positive grams")

    def accepts(self, size_class: SizeClass, inside: Dimensions, max_weight_g: int) -> bool:
        """Whether a compartment of this class and inside size can take the parcel."""
        if self.size_class is not None and size_class.rank < self.size_class.rank:
            return False
        if self.dimensions is not None and not self.dimensions.fits_inside(inside):
            return False
        return self.weight_g is None or self.weight_g <= max_weight_g
