"""Which lockers a bank emulates and their compartments: presets, or a YAML/JSON layout file."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SIZE_CLASSES = ("XS", "S", "M", "L", "XL")
TEMPERATURE_CLASSES = ("ambient", "chilled", "frozen")
# Compartment mixes per preset, smallest first; codes run A01, A02... in this order.
PRESETS: Mapping[str, Sequence[tuple[str, int]]] = {
    "small": (("S", 1), ("M", 1), ("L", 1)),
    "standard": (("XS", 2), ("S", 4), ("M", 4), ("L", 2), ("XL", 1)),
}
DEFAULT_FEATURES = ("keypad", "display", "item-sensor", "offline-grants")
_LOCKER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")


_BANK = frozenset({"prefix", "count", "sizeClass"})

# Members of the gateway's site layout that concern the network, not the controller.
_SITE_ONLY = frozenset({"name", "location", "adapter"})


class LayoutError(ValueError):
    """A layout file or preset that cannot describe a bank of lockers."""


@dataclass(frozen=True, slots=True)
class CompartmentConfig:
    """One compartment as built: code, size class, optional measured inside, item sensor or not."""

    code: str
    size_class: str
    inside_mm: tuple[int, int, int] | None = None  # width, height, depth
    has_sensor: bool = True
    temperature_class: str = "ambient"  # ambient, chilled or frozen (a thermometer if cold)


@dataclass(frozen=True, slots=True)
class LockerConfig:
    """One emulated locker: its id (= MQTT username), what it says at Boot, its compartments."""

    locker_id: str
    compartments: tuple[CompartmentConfig, ...]
    vendor: str = "OpenLocker"
    model: str = "Emulator"
    firmware: str = "emu-0.1.0"
    serial_number: str | None = None
    features: tuple[str, ...] = DEFAULT_FEATURES
    password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not _LOCKER_ID.fullmatch(self.locker_id):
            raise LayoutError(f"locker id {self.locker_id!r} is not a valid OLP LockerId")
        codes = [c.code for c in self.compartments]
        if not codes:
            raise LayoutError(f"locker {self.locker_id} has no compartments")
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise LayoutError(f"locker {self.locker_id}: duplicate compartment(s) {duplicates}")
        for comp in self.compartments:
            if not _CODE.fullmatch(comp.code):
                raise LayoutError(f"locker {self.locker_id}: bad compartment code {comp.code!r}")
            if comp.size_class not in SIZE_CLASSES:
                raise LayoutError(
                    f"locker {self.locker_id}/{comp.code}: size class {comp.size_class!r} "
                    f"is not one of {', '.join(SIZE_CLASSES)}"
                )


def preset_compartments(preset: str) -> tuple[CompartmentConfig, ...]:
    """The compartments of a preset (`small`, `standard`)."""
    try:
        mix = PRESETS[preset]
    except KeyError:
        raise LayoutError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}") from None
    sizes = [size for size, count in mix for _ in range(count)]
    return tuple(CompartmentConfig(f"A{n:02d}", size) for n, size in enumerate(sizes, start=1))


def preset_lockers(
    count: int, preset: str = "standard", *, id_prefix: str = "EMU"
) -> list[LockerConfig]:
    """`count` identical lockers EMU-001, EMU-002..."""
    if count < 1:
        raise LayoutError("a bank needs at least one locker")
    compartments = preset_compartments(preset)
    return [LockerConfig(f"{id_prefix}-{n:03d}", compartments) for n in range(1, count + 1)]


def _compartment(locker_id: str, raw: object) -> CompartmentConfig:
    if not isinstance(raw, Mapping):
        raise LayoutError(
            f"locker {locker_id}: each compartment is a mapping with code and sizeClass"
        )
    # maxWeightG: the gateway's (a site layout, see load_layout); the hardware does not weigh.
    # floorMm: the gateway's too (where the door is, for accessible bookings).
    known = {"code", "sizeClass", "insideMm", "sensor", "maxWeightG", "floorMm", "temperatureClass"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise LayoutError(f"locker {locker_id}: unknown compartment member(s) {unknown}")
    inside = raw.get("insideMm")
    dims: tuple[int, int, int] | None = None
    if inside is not None:
        try:
            dims = (int(inside["width"]), int(inside["height"]), int(inside["depth"]))
        except (TypeError, KeyError, ValueError):
            raise LayoutError(
                f"locker {locker_id}: insideMm needs integer width, height and depth"
            ) from None
    sensor = raw.get("sensor", True)
    if not isinstance(sensor, bool):
        raise LayoutError(f"locker {locker_id}: sensor is true or false")
    return CompartmentConfig(
        str(raw.get("code", "")),
        str(raw.get("sizeClass", "")),
        dims,
        sensor,
        _temperature_class(locker_id, raw.get("temperatureClass", "ambient")),
    )


def _temperature_class(locker_id: str, raw: object) -> str:
    if raw not in TEMPERATURE_CLASSES:
        raise LayoutError(
            f"locker {locker_id}: temperatureClass {raw!r} is not one of "
            f"{', '.join(TEMPERATURE_CLASSES)}"
        )
    return str(raw)


def _banks(locker_id: str, raw: object) -> tuple[CompartmentConfig, ...]:
    """`banks: [{prefix: S, count: 3, sizeClass: S}]` gives S01, S02, S03, as the gateway's
    site layout spells a run of identical compartments."""
    if not isinstance(raw, list):
        raise LayoutError(f"locker {locker_id}: banks is a list")
    doors: list[CompartmentConfig] = []
    for bank in raw:
        if not isinstance(bank, Mapping) or not (
            _BANK <= set(bank) <= _BANK | {"temperatureClass"}
        ):
            raise LayoutError(
                f"locker {locker_id}: a bank has prefix, count, sizeClass (and temperatureClass)"
            )
        count = bank["count"]
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise LayoutError(f"locker {locker_id}: a bank's count is a whole number >= 1")
        doors += [
            CompartmentConfig(
                f"{bank['prefix']}{n:02d}",
                str(bank["sizeClass"]),
                temperature_class=_temperature_class(
                    locker_id, bank.get("temperatureClass", "ambient")
                ),
            )
            for n in range(1, count + 1)
        ]
    return tuple(doors)


def _locker(raw: object, *, site: bool = False) -> LockerConfig:
    if not isinstance(raw, Mapping) or "id" not in raw:
        raise LayoutError("each entry of `lockers` is a mapping with at least an `id`")
    locker_id = str(raw["id"])
    known = {"id", "vendor", "model", "firmware", "serialNumber", "features", "password"}
    unknown = sorted(set(raw) - known - {"preset", "compartments", "banks"} - _SITE_ONLY)
    if unknown or (not site and _SITE_ONLY & set(raw)):
        raise LayoutError(f"locker {locker_id}: unknown member(s) {unknown or sorted(raw)}")
    if "compartments" in raw or "banks" in raw:
        entries = raw.get("compartments", [])
        if not isinstance(entries, list):
            raise LayoutError(f"locker {locker_id}: compartments is a list")
        compartments = tuple(_compartment(locker_id, entry) for entry in entries)
        compartments += _banks(locker_id, raw.get("banks", []))
    else:
        compartments = preset_compartments(str(raw.get("preset", "standard")))
    if site:
        # The site layout's `features` list what the network shows carriers (keypad, qr), not
        # what the controller announces at Boot: the emulator keeps its own.
        raw = {key: value for key, value in raw.items() if key != "features"}
    extra: dict[str, Any] = {}
    for key, attr in (("vendor", "vendor"), ("model", "model"), ("firmware", "firmware")):
        if key in raw:
            extra[attr] = str(raw[key])
    if "serialNumber" in raw:
        extra["serial_number"] = str(raw["serialNumber"])
    if "password" in raw:
        extra["password"] = str(raw["password"])
    if "features" in raw:
        if not isinstance(raw["features"], list):
            raise LayoutError(f"locker {locker_id}: features is a list of strings")
        extra["features"] = tuple(str(f) for f in raw["features"])
    return LockerConfig(locker_id, compartments, **extra)


def load_layout(path: Path) -> list[LockerConfig]:
    """Read a layout file (YAML, or JSON which YAML also reads): `{lockers: [{id, ...}]}`, or
    the gateway's site layout of one locker (`{id, name, location, compartments, banks}`, what
    `openlocker locker add` provisions), so that one file describes a site for both."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise LayoutError(f"cannot read layout {path}: {err}") from err
    if isinstance(document, Mapping) and "lockers" not in document and "id" in document:
        return [_locker(document, site=True)]
    if not isinstance(document, Mapping) or not isinstance(document.get("lockers"), list):
        raise LayoutError(f"{path}: expected a mapping with a `lockers` list, or a site layout")
    lockers = [_locker(entry) for entry in document["lockers"]]
    ids = [locker.locker_id for locker in lockers]
    if not ids or len(set(ids)) != len(ids):
        raise LayoutError(f"{path}: locker ids must be present and unique")
    return lockers
