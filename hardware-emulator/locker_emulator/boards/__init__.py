"""Emulated RS-485 lock-control boards, served as serial buses over TCP."""

from locker_emulator.boards.kerong import KerongBoards, KerongQuirk
from locker_emulator.boards.lock_bank import LockBank, LockBankError, LockState
from locker_emulator.boards.tcp_bus import (
    BusFaultError,
    BusFaults,
    BusProtocol,
    TcpBus,
    bus_faults_json,
    update_bus_faults,
)

__all__ = [
    "BusFaultError",
    "BusFaults",
    "BusProtocol",
    "KerongBoards",
    "KerongQuirk",
    "LockBank",
    "LockBankError",
    "LockState",
    "TcpBus",
    "bus_faults_json",
    "update_bus_faults",
]
