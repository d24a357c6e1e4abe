"""`openlocker --config old.toml serve` with a settings file of before the grouping."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path

import httpx
import pytest

from gateway.cli import main
from tests.settings.support import write
from tests.support.mosquitto import free_port

COMMAND = [sys.executable, "-c", "import sys; from gateway.cli import main; sys.exit(main())"]


def old_file(tmp_path: Path) -> Path:
    return write(
        tmp_path / "old.toml",
        f"""
network_id = "old-net"
database_url = "sqlite+aiosqlite:///{tmp_path / "gw.db"}"
http_port = 0
embedded_mqtt_port = {free_port()}
housekeeping_interval_s = 3600
webhook_timeout_s = 5
""",
    )


async def test_the_gateway_serves_from_an_old_file(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        *COMMAND,
        "--config",
        str(old_file(tmp_path)),
        "serve",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        found = re.search(r"network 'old-net' on (http://\S+)", line.decode())
        assert found, line
        async with httpx.AsyncClient() as client:
            spec = await client.get(f"{found.group(1)}/v1/spec/openapi.yaml")
        assert spec.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    log = err.decode()
    # One line per flat key, each naming its grouped form.
    assert log.count("is deprecated") == 5
    assert "`[webhooks] timeout = 5` / `OPENLOCKER_WEBHOOKS__TIMEOUT=5`" in log
    assert "`[http] port = 0`" in log


def test_a_clash_in_the_file_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = old_file(tmp_path)
    path.write_text(path.read_text() + "[webhooks]\ntimeout = 7\n")
    assert main(["--config", str(path), "migrate"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: settings (")
    assert "`webhook_timeout_s = 5` and `webhooks.timeout` disagree" in err
    assert "`[webhooks] timeout = 5` / `OPENLOCKER_WEBHOOKS__TIMEOUT=5`" in err
