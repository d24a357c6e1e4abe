"""A TCP proxy in this event loop that can cut, stall and slow the network it carries.

Put between lockers and their broker: `partition()` drops every connection and refuses new
ones (the locker sees its link die), `stall()` keeps connections up but forwards nothing (a
black hole: only keepalives notice), `latency_s` delays every chunk in both directions.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from types import TracebackType

CHUNK = 65536


class FaultyLink:
    """`async with FaultyLink(upstream_port=...) as link:` forwards 127.0.0.1:link.port."""

    def __init__(self, *, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self._upstream = (upstream_host, upstream_port)
        self.port = 0
        self.latency_s = 0.0
        self.connections = 0  # accepted since start
        self.dropped = 0  # connections cut by partition()
        self._refusing = False
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    async def __aenter__(self) -> FaultyLink:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
        self._cut_all()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    # ----- the faults -----

    def partition(self) -> None:
        """Cut every connection now and refuse new ones until heal()."""
        self._refusing = True
        self.dropped += len(self._writers) // 2
        self._cut_all()

    def stall(self) -> None:
        """Forward nothing (connections stay open) until heal()."""
        self._flowing.clear()

    def heal(self) -> None:
        self._refusing = False
        self._flowing.set()

    def _cut_all(self) -> None:
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._writers.clear()

    # ----- forwarding -----

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusing:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.transport.abort()  # the broker is down: the locker sees a refused link
            return
        self.connections += 1
        self._writers |= {writer, up_writer}

        def closer(*writers: asyncio.StreamWriter) -> Callable[[], None]:
            def close() -> None:
                for one in writers:
                    self._writers.discard(one)
                    with contextlib.suppress(Exception):
                        one.transport.abort()

            return close

        close = closer(writer, up_writer)
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink, close))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, close: Callable[[], None]
    ) -> None:
        try:
            while data := await source.read(CHUNK):
                await self._flowing.wait()
                if self.latency_s > 0:
                    await asyncio.sleep(self.latency_s)
                sink.write(data)
                await sink.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            close()
