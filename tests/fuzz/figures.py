"""What the MQTT and serial fuzz tests did, counted, for the long form to print.

Each test adds to named tables (`count("mqtt-e2e", "reply")`); with OPENLOCKER_FUZZ_FIGURES set
to a path the tables are written there as JSON when the test process exits, and
bench/fuzz_mqtt_serial.py prints them. Without it nothing is written.
"""

from __future__ import annotations

import atexit
import json
import os
from collections import Counter, defaultdict
from pathlib import Path

_TABLES: defaultdict[str, Counter[str]] = defaultdict(Counter)
_TARGET = os.environ.get("OPENLOCKER_FUZZ_FIGURES")


def count(table: str, key: str, n: int = 1) -> None:
    _TABLES[table][key] += n


def merge(table: str, counts: dict[str, int]) -> None:
    for key, n in counts.items():
        _TABLES[table][key] += n


def _dump() -> None:
    if _TARGET:
        tables = {name: dict(sorted(c.items())) for name, c in sorted(_TABLES.items())}
        Path(_TARGET).write_text(json.dumps(tables, indent=2))


atexit.register(_dump)
