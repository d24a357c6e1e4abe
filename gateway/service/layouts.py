"""Locker layout files (YAML or JSON): the operator's description of a locker and its doors."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gateway.domain.compartment import Compartment
from gateway.domain.enums import SizeClass
from gateway.domain.locker import Location, Locker
from gateway.domain.requirements import TemperatureClass
from gateway.domain.sizes import STANDARD_SIZES, Dimensions
from gateway.errors import FieldIssue, ValidationFailed

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class InsideMm(_Strict):
    width: int = Field(gt=0, le=3000)
    height: int = Field(gt=0, le=3000)
    depth: int = Field(gt=0, le=3000)


class CompartmentLayout(_Strict):
    code: str = Field(pattern=ID_PATTERN)
    size_class: SizeClass = Field(alias="sizeClass")
    inside_mm: InsideMm | None = Field(default=None, alias="insideMm")
    max_weight_g: int | None = Field(default=None, alias="maxWeightG", gt=0)
    # Delivery requirements: what the door keeps its contents at, and the height of its floor
    # above the ground (absent: unknown, so never offered as an accessible compartment).
    temperature_class: TemperatureClass = Field(
        default=TemperatureClass.AMBIENT, alias="temperatureClass"
    )
    floor_mm: int | None = Field(default=None, alias="floorMm", ge=0, le=3000)


class BankLayout(_Strict):
    """A run of identical compartments: prefix B, count 3 gives B01, B02, B03."""

    prefix: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,16}$")
    count: int = Field(gt=0, le=500)
    size_class: SizeClass = Field(alias="sizeClass")
    temperature_class: TemperatureClass = Field(
        default=TemperatureClass.AMBIENT, alias="temperatureClass"
    )


class LocationLayout(_Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    address: str | None = Field(default=None, max_length=200)


class LockerLayout(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=120)
    location: LocationLayout
    adapter: str = Field(default="olp", pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    features: list[str] = Field(default_factory=list)
    compartments: list[CompartmentLayout] = Field(default_factory=list)
    banks: list[BankLayout] = Field(default_factory=list)

    @model_validator(mode="after")
    def _doors_unique(self) -> LockerLayout:
        codes = [c.code for c in self.all_compartments()]
        if not codes:
            raise ValueError("a locker needs at least one compartment")
        if len(codes) != len(set(codes)):
            raise ValueError("compartment codes must be unique within a locker")
        return self

    def all_compartments(self) -> list[CompartmentLayout]:
        expanded = [
            CompartmentLayout(
                code=f"{bank.prefix}{i:02d}",
                size_class=bank.size_class,
                temperature_class=bank.temperature_class,
            )
            for bank in self.banks
            for i in range(1, bank.count + 1)
        ]
        return [*self.compartments, *expanded]

    def to_domain(self) -> tuple[Locker, list[Compartment]]:
        locker = Locker(
            id=self.id,
            name=self.name,
            location=Location(self.location.lat, self.location.lon, self.location.address),
            adapter=self.adapter,
            features=frozenset(self.features),
        )
        doors = []
        for c in self.all_compartments():
            spec = STANDARD_SIZES[c.size_class]
            inside = (
                Dimensions(c.inside_mm.width, c.inside_mm.height, c.inside_mm.depth)
                if c.inside_mm
                else spec.inside
            )
            doors.append(
                Compartment(
                    locker_id=self.id,
                    code=c.code,
                    size_class=c.size_class,
                    inside=inside,
                    max_weight_g=c.max_weight_g or spec.max_weight_g,
                    temperature=c.temperature_class,
                    floor_mm=c.floor_mm,
                )
            )
        return locker, doors


def parse_layout(text: str) -> LockerLayout:
    """Parse a YAML (or JSON, a subset of YAML) layout; errors name the offending field."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ValidationFailed(f"layout is not valid YAML/JSON: {err}") from err
    try:
        return LockerLayout.model_validate(data)
    except ValidationError as err:
        issues = tuple(
            FieldIssue("/" + "/".join(str(p) for p in e["loc"]), e["msg"]) for e in err.errors()
        )
        raise ValidationFailed("invalid locker layout", issues=issues) from err
