"""The long form of the MQTT and serial fuzz suite (issue 12): many more examples, then figures.

    .venv/bin/python -m bench.fuzz_mqtt_serial --scale 20

runs tests/fuzz/mqtt and tests/fuzz/serial with every hypothesis test's example count
multiplied by `--scale` (the suite runs them at 1: ~40 s), against the same real parts (a
private Mosquitto, the gateway on SQLite, the emulated locker; the emulated Kerong and Modbus
RTU boards on a TCP serial bus), and prints what was fuzzed: messages and frames by kind,
outcomes, drops counted by reason, crashes (lane handler errors, MQTT session restarts: 0, or
the run fails). Exits with pytest's status: non-zero when any property broke.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITES = ("tests/fuzz/mqtt", "tests/fuzz/serial")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=20, help="examples x this (default 20)")
    parser.add_argument("pytest_args", nargs="*", help="passed on to pytest (e.g. -k kerong)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        figures = Path(workdir) / "figures.json"
        env = {
            **os.environ,
            "OPENLOCKER_FUZZ_SCALE": str(args.scale),
            "OPENLOCKER_FUZZ_FIGURES": str(figures),
        }
        command = [sys.executable, "-m", "pytest", "-n0", "-q", "-p", "no:cacheprovider"]
        started = time.monotonic()
        result = subprocess.run([*command, *SUITES, *args.pytest_args], cwd=ROOT, env=env)
        elapsed = time.monotonic() - started
        tables = json.loads(figures.read_text()) if figures.exists() else {}
    print_figures(tables, scale=args.scale, elapsed=elapsed, status=result.returncode)
    return result.returncode


def print_figures(
    tables: dict[str, dict[str, int]], *, scale: int, elapsed: float, status: int
) -> None:
    print(f"\nMQTT and serial fuzzing, examples x{scale}, {elapsed:.0f} s, pytest status {status}")
    for name, counts in tables.items():
        total = sum(counts.values())
        print(f"\n{name} (total {total})")
        for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"  {n:>8}  {key}")
    crashes = sum(
        n for name, counts in tables.items() if "crashes" in name for n in counts.values()
    )
    print(f"\ncrashes: {crashes} (and no traceback or ERROR line: each test asserts it)")


if __name__ == "__main__":
    sys.exit(main())
