"""A web page per emulated locker (keypad, scanner, live doors, faults): deliver by clicking."""

from locker_emulator.kiosk.routes import Kiosk

__all__ = ["Kiosk"]
