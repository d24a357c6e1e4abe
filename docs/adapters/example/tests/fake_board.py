"""A fake LB-8 board: a TCP server speaking the LB-8 line protocol, with faults for the rig."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from types import TracebackType
from typing import Self


@dataclass(slots=True)
class FakeDoor:
    open: bool = False
    full: bool = False
    jammed: bool = False
    unlocks: int = 0


class FakeBoard:
    """`async with FakeBoard(doors=8) as board:` — listens on 127.0.0.1:`board.port`."""

    def __init__(self, *, doors: int) -> None:
        self.doors = {n: FakeDoor() for n in range(1, doors + 1)}
        self.port = 0
        self.lose_replies = 0
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> Self:
        await self.power_on()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.power_off()

    async def power_on(self) -> None:
        """Listen (on the same port as before, after a power_off)."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def power_off(self) -> None:
        """Stop listening and drop every connection, as a board losing power does."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for client in list(self._clients):
            client.close()
        if server is not None:
            await server.wait_closed()

    def close_door(self, door: int, *, full: bool) -> None:
        state = self.doors[door]
        assert state.open, f"door {door} is not open"
        state.open, state.full = False, full
        self._push(f"* DOOR {door} CLOSED {'FULL' if full else 'EMPTY'}")

    def force_open(self, door: int) -> None:
        """Someone forces the door open: no unlock, but the sensor sees it."""
        self.doors[door].open = True
        self._push(f"* DOOR {door} OPEN")

    def _push(self, line: str) -> None:
        for client in self._clients:
            client.write(f"{line}\n".encode())

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        try:
            while line := await reader.readline():
                answer = self._execute(line.decode().split())
                if answer is not None:
                    writer.write(f"{answer}\n".encode())
                    await writer.drain()
        except ConnectionError:
            pass
        finally:
            self._clients.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _execute(self, words: list[str]) -> str | None:
        if len(words) != 3 or not words[0].isdigit() or not words[2].isdigit():
            return "0 ERR SYNTAX"
        request_id, verb, door = words[0], words[1], int(words[2])
        state = self.doors.get(door)
        if state is None:
            return f"{request_id} ERR NODOOR"
        if verb == "READ":
            return f"{request_id} OK {'OPEN' if state.open else 'CLOSED'} " + (
                "FULL" if state.full else "EMPTY"
            )
        if verb != "OPEN":
            return f"{request_id} ERR VERB"
        if state.jammed:
            answer = f"{request_id} OK JAMMED"
        else:
            state.unlocks += 1
            if not state.open:
                state.open = True
                self._push(f"* DOOR {door} OPEN")
            answer = f"{request_id} OK OPENED"
        if self.lose_replies:
            self.lose_replies -= 1
            return None
        return answer
