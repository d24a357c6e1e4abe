"""`openlocker-emulator kerong`: serve chained Kerong boards on one TCP port, with control API."""

from __future__ import annotations

import argparse
from typing import Any

from locker_emulator.boards.control import BoardBus
from locker_emulator.boards.kerong import MAX_BOARDS, KerongBoards, KerongQuirk
from locker_emulator.boards.lock_bank import LockBank
from locker_emulator.boards.run_bus import add_control_arguments, run_until_stopped
from locker_emulator.boards.tcp_bus import TcpBus


def add_kerong_command(commands: Any) -> None:
    """Register the `kerong` subcommand on the CLI's subparsers."""
    kerong = commands.add_parser(
        "kerong", help="serve emulated Kerong KR-CU16 boards as a serial bus over TCP"
    )
    kerong.add_argument("--host", default="127.0.0.1", help="address of the bus's TCP server")
    kerong.add_argument("--port", type=int, default=4001, help="TCP port of the bus; 0: free")
    kerong.add_argument(
        "--boards", type=int, default=1, help=f"boards chained on the bus, 1-{MAX_BOARDS}"
    )
    kerong.add_argument(
        "--quirk",
        choices=[q.value for q in KerongQuirk],
        help="emulate a firmware quirk (for adapters' lenient mode)",
    )
    add_control_arguments(kerong)


async def serve_kerong(args: argparse.Namespace) -> int:
    """Run the bus (and the control API) until SIGINT/SIGTERM."""
    if not 1 <= args.boards <= MAX_BOARDS:
        raise ValueError(f"--boards must be 1-{MAX_BOARDS}, not {args.boards}")
    bank = LockBank(boards=args.boards)
    quirk = KerongQuirk(args.quirk) if args.quirk else None
    async with TcpBus(
        handler=KerongBoards(bank=bank, quirk=quirk), host=args.host, port=args.port, name="kerong"
    ) as bus:
        print(f"kerong bus with {args.boards} board(s) on {bus.url}", flush=True)
        await run_until_stopped(
            args, BoardBus(name="kerong", protocol="kerong", bank=bank, bus=bus)
        )
    return 0
