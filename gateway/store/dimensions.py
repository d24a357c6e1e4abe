"""A parcel's outside dimensions in a row: the `length_mm`, `width_mm`, `height_mm` columns.

A parcel's dimensionsMm are length x width x height; `Dimensions` keeps them as
depth x width x height, the way a compartment is measured from the door. All three columns
are NULL when the booking named a size class only. Used by the parcels and holds tables.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping

from gateway.domain.sizes import Dimensions


def dimension_columns(dims: Dimensions | None) -> dict[str, Any]:
    """The three columns' values for `dims` (all None without dimensions)."""
    return {
        "length_mm": dims.depth_mm if dims else None,
        "width_mm": dims.width_mm if dims else None,
        "height_mm": dims.height_mm if dims else None,
    }


def dimensions_of(row: RowMapping) -> Dimensions | None:
    """The dimensions a row holds; None if it holds none."""
    if row["length_mm"] is None:
        return None
    return Dimensions(
        width_mm=row["width_mm"], height_mm=row["height_mm"], depth_mm=row["length_mm"]
    )
