"""The `openlocker-emulator modbus` command and the Modbus controller's control routes."""

from __future__ import annotations

import asyncio
import sys

import aiohttp
import pytest
from locker_emulator.boards.modbus_frames import tcp_frame

POLL_DOORS = bytes.fromhex("02 0000 0004")  # read discrete inputs 0-3


async def ask(writer: asyncio.StreamWriter, reader: asyncio.StreamReader, frame: bytes) -> bytes:
    writer.write(frame)
    await writer.drain()
    async with asyncio.timeout(5):
        header = await reader.readexactly(6)
        rest = await reader.readexactly(int.from_bytes(header[4:6], "big"))
    return header + rest


async def test_cli_serves_a_controller_with_its_control_api() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "locker_emulator",
        "modbus",
        "--port",
        "0",
        "--framing",
        "tcp",
        "--locks",
        "4",
        "--units",
        "3",
        "--control-port",
        "0",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):
            first = (await process.stdout.readline()).decode()
            second = (await process.stdout.readline()).decode()
        assert "unit(s) 3" in first
        host, port = first.split()[-1].removeprefix("tcp://").rsplit(":", 1)
        control = second.split()[-1]
        reader, writer = await asyncio.open_connection(host, int(port))
        # All four doors closed: bits 0-3 set.
        reply = await ask(writer, reader, tcp_frame(1, 3, POLL_DOORS))
        assert reply == tcp_frame(1, 3, bytes.fromhex("02 01 0f"))
        async with aiohttp.ClientSession(base_url=control) as http:
            async with http.put("/buses/modbus/modbus", json={"exception": 6}) as response:
                assert response.status == 200
                assert (await response.json())["exception"] == 6
            reply = await ask(writer, reader, tcp_frame(2, 3, POLL_DOORS))
            assert reply == tcp_frame(2, 3, bytes.fromhex("82 06"))  # busy
            async with http.put("/buses/modbus/modbus", json={"exception": None}) as response:
                assert response.status == 200
            # Fire lock 2, then shut it with an item, through the generic bus routes.
            await ask(writer, reader, tcp_frame(3, 3, bytes.fromhex("05 0001 ff00")))
            close = "/buses/modbus/boards/3/locks/2/close"
            async with http.post(close, json={"item_inside": True}) as response:
                assert response.status == 200
                assert (await response.json())["item_present"] is True
            reply = await ask(writer, reader, tcp_frame(4, 3, bytes.fromhex("02 03e8 0004")))
            assert reply == tcp_frame(4, 3, bytes.fromhex("02 01 02"))  # item behind lock 2
            for bad in ({"exception": 99}, {"lose_write_replies": -1}, {"nonsense": 1}, [1]):
                async with http.put("/buses/modbus/modbus", json=bad) as response:
                    assert response.status == 400
                    assert (await response.json())["error"]["code"] == "BadRequest"
            async with http.get("/buses/nope/modbus") as response:
                assert response.status == 404
            async with http.get("/buses/modbus/modbus") as response:
                shown = await response.json()
            assert shown["framing"] == "tcp"
            assert shown["exceptions"] == 1
        writer.close()
    finally:
        process.terminate()
        await process.wait()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--units", "0"], b"--units must be 1-247"),
        (["--units", "a,b"], b"comma-separated numbers"),
        (["--locks", "0"], b"locks_per_board must be at least 1"),
    ],
)
async def test_cli_refuses_bad_settings(args: list[str], message: bytes) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "locker_emulator",
        "modbus",
        "--port",
        "0",
        "--no-control",
        *args,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    assert process.returncode == 2
    assert message in err
