"""Start-up and per-message cost of the OLP v1 JSON Schemas (load, compile, validate).

Start-up is measured in fresh interpreters (the schemas are cached per process): the time a
gateway with the OLP adapter spends making its `Spec` and its `OlpCodec`, next to the raw limit
of reading and parsing the same JSON files. Per message: `OlpCodec.decode` of real example
envelopes and `Spec.validate` of a request body, next to `json.loads` of the same bytes.
Usage: python -m bench.schemas [--runs 5] [--messages 2000]
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import subprocess
import sys
from pathlib import Path

from bench.support import per_call_us
from gateway.sdk.olp import OlpCodec
from gateway.spec import DEFAULT_SPEC_DIR, Spec

_STARTUP = """
import time
t0 = time.perf_counter()
from gateway.spec import Spec
from gateway.sdk.olp import OlpCodec
t1 = time.perf_counter()
Spec.load()
OlpCodec.load()
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""

_RAW = """
import json, time
from pathlib import Path
t0 = time.perf_counter()
for path in sorted(Path({dir!r}).glob("*.json")):
    json.loads(path.read_bytes())
print(time.perf_counter() - t0)
"""

EXAMPLES = (
    "olp-message-door-opened/b07",
    "olp-message-heartbeat/heartbeat",
    "olp-message-state/snapshot",
)


def _fresh(code: str) -> list[float]:
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return [float(x) for x in out.split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()

    imports, loads = zip(*(_fresh(_STARTUP) for _ in range(args.runs)), strict=True)
    raw = [_fresh(_RAW.format(dir=str(DEFAULT_SPEC_DIR)))[0] for _ in range(args.runs)]
    print(f"start-up, median of {args.runs} fresh interpreters:")
    print(f"  import gateway.spec + gateway.sdk.olp   {statistics.median(imports) * 1e3:7.1f} ms")
    print(f"  Spec.load() + OlpCodec.load()           {statistics.median(loads) * 1e3:7.1f} ms")
    print(f"  raw limit: read + json.loads every file {statistics.median(raw) * 1e3:7.1f} ms")

    codec, spec = OlpCodec.load(), Spec.load()
    print(f"per message, best of 3 x {args.messages}:")
    for example in EXAMPLES:
        body = (Path(DEFAULT_SPEC_DIR) / "examples" / f"{example}.json").read_bytes()
        raw_us = per_call_us(functools.partial(json.loads, body), args.messages)
        decode_us = per_call_us(functools.partial(codec.decode, body), args.messages)
        name = example.split("/")[0]
        print(f"  OlpCodec.decode {name:<28} {decode_us:7.1f} µs (json.loads {raw_us:.1f} µs)")
    request = json.loads(
        (Path(DEFAULT_SPEC_DIR) / "examples/create-parcel-request/with-recipient.json").read_bytes()
    )
    us = per_call_us(lambda: spec.validate("create-parcel-request", request), args.messages)
    print(f"  Spec.validate create-parcel-request          {us:7.1f} µs")


if __name__ == "__main__":
    main()
