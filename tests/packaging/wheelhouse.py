"""A wheelhouse of the distributions this environment already has, without any download.

`pip install --no-index --find-links` a wheel into a fresh venv needs every dependency as a wheel.
Fetching them would make the packaging test slow and dependent on a registry; instead each
installed distribution of the requirement closure is packed back into the wheel it was installed
from: its files as its RECORD lists them, its own `.dist-info`, and a RECORD made anew. pip then
resolves the new wheel's declared dependencies against exactly these, so a missing or wrong
`Requires-Dist` still fails the install.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path, PurePosixPath

from packaging.requirements import Requirement
from packaging.tags import sys_tags
from packaging.utils import canonicalize_name

# Written by the installer, not part of the wheel (RECORD is written anew below).
_INSTALLER_FILES = {"INSTALLER", "REQUESTED", "RECORD", "direct_url.json"}


def requirement_closure(requirements: Iterable[str]) -> list[metadata.Distribution]:
    """The installed distributions `requirements` need, with the extras they ask for."""
    found: dict[str, tuple[metadata.Distribution, set[str]]] = {}
    todo = [r for r in map(Requirement, requirements) if _applies(r, extras=())]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        dist, extras = found.get(name) or (metadata.distribution(req.name), set())
        new_extras = set(req.extras) - extras
        if name in found and not new_extras:
            continue
        extras |= new_extras
        found[name] = (dist, extras)
        todo.extend(r for r in map(Requirement, dist.requires or ()) if _applies(r, extras))
    return [dist for dist, _ in found.values()]


def _applies(req: Requirement, extras: Iterable[str]) -> bool:
    """Whether this platform needs `req` when the extras `extras` are asked for."""
    envs = [{"extra": extra} for extra in ("", *extras)]
    return req.marker is None or any(req.marker.evaluate(env) for env in envs)


def repack(dist: metadata.Distribution, into: Path) -> Path:
    """Pack an installed distribution back into a wheel in `into`; returns the wheel's path."""
    files = [f for f in dist.files or () if _belongs_in_wheel(f)]
    dist_info = next(f.parts[0] for f in files if f.parts[0].endswith(".dist-info"))
    name, version = re.sub(r"[-_.]+", "_", dist.metadata["Name"]), dist.version.replace("-", "_")
    wheel = into / f"{name}-{version}-{_tag(dist)}.whl"
    record: list[str] = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as archive:
        for file in files:
            content = Path(str(file.locate())).read_bytes()
            archive.writestr(str(PurePosixPath(*file.parts)), content)
            digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
            record.append(f"{PurePosixPath(*file.parts)},sha256={digest.decode()},{len(content)}")
        record.append(f"{dist_info}/RECORD,,")
        archive.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return wheel


def build_wheelhouse(requirements: Iterable[str], into: Path) -> list[Path]:
    into.mkdir(parents=True, exist_ok=True)
    return [repack(dist, into) for dist in requirement_closure(requirements)]


def _belongs_in_wheel(file: metadata.PackagePath) -> bool:
    parts = file.parts
    if parts[0] == ".." or "__pycache__" in parts:  # console scripts: pip makes them anew
        return False
    return not (parts[0].endswith(".dist-info") and parts[-1] in _INSTALLER_FILES)


def _tag(dist: metadata.Distribution) -> str:
    """The first of the distribution's wheel tags this interpreter supports."""
    supported = {str(t) for t in sys_tags()}
    tags: list[str] = re.findall(r"^Tag: (\S+)$", dist.read_text("WHEEL") or "", re.MULTILINE)
    return next(t for t in tags if t in supported)
