"""Per-message CPU of the OLP adapter's typed edge, next to the raw limit of the same bytes.

For real example messages (the Boot path first: a boot storm pays it once per locker):
`json.loads` (the raw limit), `OlpCodec.decode` (the dict path: envelope schema, then the
message schema), `OlpCodec.decode_message` (the typed edge the adapter uses: the message schema
once, then its pydantic model), and pydantic alone (`model_validate_json`, what a model-only
check would cost). Then building and encoding the Boot result the adapter sends back.
Usage: python -m bench.olp_decode [--messages 2000]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from functools import partial

from bench.support import per_call_us
from gateway.sdk.olp import OlpCodec
from gateway.sdk.olp_messages import BootResultPayload, MessageKind, message_model
from gateway.spec import DEFAULT_SPEC_DIR

EXAMPLES = (
    "olp-message-boot/boot",
    "olp-message-heartbeat/heartbeat",
    "olp-message-door-closed/deposited",
    "olp-message-state/snapshot",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()
    n = args.messages
    codec = OlpCodec.load()
    print(f"CPU per message (process time), best of 3 x {n}:")
    print(f"  {'message':<26} {'json.loads':>10} {'decode':>9} {'typed':>9} {'pydantic':>9}")
    for example in EXAMPLES:
        matches = sorted((DEFAULT_SPEC_DIR / "examples" / example.split("/")[0]).glob("*.json"))
        path = DEFAULT_SPEC_DIR / "examples" / f"{example}.json"
        raw = (path if path.exists() else matches[0]).read_bytes()
        data = json.loads(raw)
        model = message_model(MessageKind(data["kind"]), data["action"])
        assert model is not None
        raw_us = per_call_us(partial(json.loads, raw), n, clock=time.process_time)
        dict_us = per_call_us(partial(codec.decode, raw), n, clock=time.process_time)
        typed_us = per_call_us(partial(codec.decode_message, raw), n, clock=time.process_time)
        model_us = per_call_us(partial(model.model_validate_json, raw), n, clock=time.process_time)
        name = example.split("/")[0].removeprefix("olp-message-")
        print(f"  {name:<26} {raw_us:8.1f}µs {dict_us:7.1f}µs {typed_us:7.1f}µs {model_us:7.1f}µs")

    boot = codec.decode_message(
        (DEFAULT_SPEC_DIR / "examples/olp-message-boot/boot.json").read_bytes()
    )
    now = datetime.now(UTC)

    def reply() -> bytes:
        payload = BootResultPayload(
            status="Accepted", heartbeat_interval_seconds=60, current_time=now
        )
        return codec.encode(codec.result(boot, payload, src="gw:bench", seq=1))

    raw_reply = reply()
    dumps_us = per_call_us(
        lambda: json.dumps(json.loads(raw_reply)).encode(), n, clock=time.process_time
    )
    print(
        f"  Boot result build+encode   {per_call_us(reply, n, clock=time.process_time):7.1f}µs "
        f"(json.dumps of the same body {dumps_us:.1f}µs)"
    )


if __name__ == "__main__":
    main()
