"""A bus protocol in front of emulated boards that spoils their next replies, as a bad line does.

`Spoiler(boards)` is what the emulator's TcpBus talks to: requests reach the real boards
untouched (a lock really releases), and each reply comes back through the next planned spoil:
garbage before it or instead of it, cut short, a bad checksum, split into two writes, a reply to
another request, or nothing at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

Spoil = Callable[[bytes], list[bytes]]


class Boards(Protocol):
    def feed(self, data: bytes) -> Sequence[bytes]: ...


class Spoiler:
    def __init__(self, boards: Boards) -> None:
        self.boards = boards
        self.plan: list[tuple[str, Spoil]] = []
        self.spoiled: list[str] = []

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        for reply in self.boards.feed(data):
            if self.plan:
                name, spoil = self.plan.pop(0)
                self.spoiled.append(name)
                out.extend(chunk for chunk in spoil(reply) if chunk)
            else:
                out.append(reply)
        return out
