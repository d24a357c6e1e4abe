"""The `openlocker-emulator` command: run a bank of lockers, its control API, maybe a scenario."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from locker_emulator import fleet
from locker_emulator.bank import EmulatorBank
from locker_emulator.boards.modbus_serve import add_modbus_command, serve_modbus
from locker_emulator.boards.serve import add_kerong_command, serve_kerong
from locker_emulator.faults import FaultError, FaultFlag, parse_fault_flag
from locker_emulator.layout import PRESETS, LayoutError, LockerConfig, load_layout, preset_lockers
from locker_emulator.olp_client import Timing
from locker_emulator.root_trust import RootKey
from locker_emulator.scenario import ScenarioError, Step, load_scenario, run_scenario
from locker_emulator.spec import SPEC_DIR_ENV, OutgoingCheck, ReplyCheck, Spec, SpecError
from locker_emulator.transport import MqttVersion, TlsOptions


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openlocker-emulator", description="Virtual parcel lockers speaking OLP v1 over MQTT."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add_kerong_command(commands)
    add_modbus_command(commands)
    run = commands.add_parser("run", help="run a bank of emulated lockers until Ctrl-C")
    run.add_argument(
        "--mqtt-url", default="mqtt://127.0.0.1:1883", help="broker, mqtt:// or mqtts://"
    )
    run.add_argument("--mqtt-version", choices=[v.value for v in MqttVersion], default="5")
    run.add_argument("--mqtt-password", default=None, help="password of every locker's MQTT user")
    run.add_argument(
        "--mqtt-secrets",
        type=Path,
        help="file of LOCKER_ID:PASSWORD lines (as `openlocker mqtt passwd --secrets-out` writes)",
    )
    run.add_argument("--mqtt-ca", type=Path, help="PEM CA of the broker's certificate (mqtts://)")
    run.add_argument("--mqtt-cert", type=Path, help="PEM client certificate (mutual TLS)")
    run.add_argument("--mqtt-key", type=Path, help="PEM key of the client certificate")
    run.add_argument(
        "--mqtt-tls-insecure",
        action="store_true",
        help="skip the broker's host name check (the chain is still verified)",
    )
    run.add_argument(
        "--lockers",
        "--count",
        dest="lockers",
        type=int,
        default=3,
        help="how many lockers (with a preset layout); thousands run fine in one process",
    )
    run.add_argument(
        "--layout",
        "--preset",
        dest="layout",
        default="standard",
        help=f"a preset ({', '.join(PRESETS)}) or a YAML/JSON layout file",
    )
    run.add_argument(
        "--reconnect-jitter",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="spread each reconnect over this window (a fleet after a broker restart)",
    )
    run.add_argument(
        "--check-outgoing",
        choices=OutgoingCheck.MODES,
        default="every",
        help="validate every message a locker sends, or the first of each action (fleets)",
    )
    run.add_argument(
        "--check-replies",
        choices=ReplyCheck.MODES,
        default="every",
        help="validate every reply the gateway sends a locker, or the first of each action "
        "in full and the rest's routing members only (fleets)",
    )
    run.add_argument(
        "--report-every",
        type=float,
        default=None,
        metavar="SECONDS",
        help="print a `fleet {json}` line of counts and process cost this often",
    )
    run.add_argument("--id-prefix", default="EMU", help="locker ids are PREFIX-001, PREFIX-002...")
    run.add_argument("--control-host", default="127.0.0.1")
    run.add_argument("--control-port", type=int, default=8090, help="0 picks a free port")
    run.add_argument("--no-control", action="store_true", help="do not serve the control API")
    run.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="LOCKER[/COMPARTMENT]:NAME[=VALUE]",
        help="inject a fault, e.g. EMU-001:offline=30, EMU-001:slow_replies=2, EMU-002/A01:jammed",
    )
    run.add_argument(
        "--scenario", type=Path, help="run this scenario file, then exit with its result"
    )
    run.add_argument("--keep-running", action="store_true", help="keep serving after the scenario")
    run.add_argument(
        "--spec-dir", type=Path, help=f"the schemas/v1 folder (default: ${SPEC_DIR_ENV})"
    )
    run.add_argument(
        "--root-key",
        type=Path,
        help="JSON file: the network root key's public JWK every locker pins (the output of "
        "`openlocker keys root`); without it no locker installs a key set",
    )
    run.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def _root_key(path: Path | None) -> dict[str, Any] | None:
    """The pinned root key's public JWK, from the last JSON line of the file."""
    if path is None:
        return None
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    jwk = json.loads(lines[-1]) if lines else None
    if not isinstance(jwk, dict):
        raise ValueError(f"{path}: expected the root key's public JWK (a JSON object)")
    RootKey.from_jwk(jwk)  # refuses anything but an Ed25519 public key, before any locker runs
    return jwk


def _secrets(path: Path | None) -> dict[str, str]:
    """LOCKER_ID:PASSWORD per line; blank lines and # comments are skipped."""
    if path is None:
        return {}
    secrets: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        user, sep, password = line.partition(":")
        if not sep or not user or not password:
            raise ValueError(f"{path}:{number}: expected LOCKER_ID:PASSWORD")
        secrets[user] = password
    return secrets


def _tls(args: argparse.Namespace) -> TlsOptions | None:
    files = (args.mqtt_ca, args.mqtt_cert, args.mqtt_key)
    if not any(files) and not args.mqtt_tls_insecure:
        return None
    return TlsOptions(
        ca_file=args.mqtt_ca,
        cert_file=args.mqtt_cert,
        key_file=args.mqtt_key,
        insecure=args.mqtt_tls_insecure,
    )


def _lockers(args: argparse.Namespace) -> list[LockerConfig]:
    if args.layout in PRESETS:
        return preset_lockers(args.lockers, args.layout, id_prefix=args.id_prefix)
    return load_layout(Path(args.layout))


async def _report_forever(bank: EmulatorBank, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        print(f"fleet {fleet.report(bank.models()).json()}", flush=True)


async def _serve(
    bank: EmulatorBank,
    steps: list[Step] | None,
    keep_running: bool,
    report_every: float | None = None,
) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    if report_every is not None:
        # The process before any locker exists: what the fleet's memory is measured against.
        print(f"fleet {fleet.report([]).json()}", flush=True)
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(bank)
        if report_every is not None:
            print(f"fleet {fleet.report(bank.models()).json()}", flush=True)
            reporter = loop.create_task(_report_forever(bank, report_every), name="fleet-report")
            stack.callback(reporter.cancel)
        ids = ", ".join(bank.lockers) if len(bank) <= 20 else f"{len(bank)} lockers"
        print(f"lockers {ids} -> {bank.broker} (MQTT {bank.mqtt_version})", flush=True)
        if bank.control_url:
            print(f"control API listening on {bank.control_url}", flush=True)
            print(f"kiosk pages at {bank.control_url}/kiosk", flush=True)
        status = 0
        if steps is not None:
            passed = await run_scenario(
                bank.lockers, steps, out=lambda line: print(line, flush=True)
            )
            status = 0 if passed else 1
            if not keep_running:
                return status
        await stop.wait()
        print("stopping", flush=True)
        return status


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `openlocker-emulator`."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    if args.command == "kerong":
        try:
            return asyncio.run(serve_kerong(args))
        except (ValueError, OSError) as err:
            print(f"openlocker-emulator: {err}", file=sys.stderr)
            return 2
    if args.command == "modbus":
        try:
            return asyncio.run(serve_modbus(args))
        except (ValueError, OSError) as err:
            print(f"openlocker-emulator: {err}", file=sys.stderr)
            return 2
    try:
        flags: list[FaultFlag] = [parse_fault_flag(text) for text in args.fault]
        steps = load_scenario(args.scenario) if args.scenario else None
        bank = EmulatorBank(
            mqtt_url=args.mqtt_url,
            lockers=_lockers(args),
            mqtt_version=args.mqtt_version,
            # Loaded before the bank starts, so a fleet report's base memory includes it.
            spec=Spec.load(args.spec_dir),
            faults=flags,
            password=args.mqtt_password,
            passwords=_secrets(args.mqtt_secrets),
            tls=_tls(args),
            control_host=args.control_host,
            control_port=None if args.no_control else args.control_port,
            timing=Timing(reconnect_jitter=args.reconnect_jitter),
            check_outgoing=args.check_outgoing,
            check_replies=args.check_replies,
            root_key=_root_key(args.root_key),
        )
        return asyncio.run(_serve(bank, steps, args.keep_running, args.report_every))
    except (FaultError, LayoutError, ScenarioError, SpecError, ValueError, OSError) as err:
        print(f"openlocker-emulator: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
