"""The HTTP fuzzer's own environment and one run of it against a gateway (tests and bench).

Schemathesis (pinned in requirements.txt beside this file) requires jsonschema-rs < 0.61, and
the gateway requires >= 0.61 (its ECMA-262 `.` in patterns): one environment cannot hold both,
so the fuzzer gets a virtual environment of its own, `.venv/fuzz-http`, made on first use and
again whenever requirements.txt changes. It is a black-box client: `driver.py` runs there.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from tests.support.carriers import TestCarrier

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
REQUIREMENTS = HERE / "requirements.txt"
DRIVER = HERE / "driver.py"
VENV = Path(os.environ.get("OPENLOCKER_FUZZ_VENV", ROOT / ".venv" / "fuzz-http"))
INSTALL_TIMEOUT_S = 600


def fuzzer_python() -> Path:
    """The fuzzer environment's interpreter, made (under a lock: xdist workers race) if needed."""
    python = VENV / "bin" / "python"
    stamp = VENV / ".installed"
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.parent / ".fuzz-http.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        wanted = REQUIREMENTS.read_text()
        if python.exists() and stamp.exists() and stamp.read_text() == wanted:
            return python
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
        subprocess.run(
            [
                python,
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "-r",
                REQUIREMENTS,
            ],
            check=True,
            timeout=INSTALL_TIMEOUT_S,
        )
        stamp.write_text(wanted)
    return python


@dataclass(frozen=True, kw_only=True)
class FuzzReport:
    """The driver's JSON report (see driver.Report.as_json)."""

    data: dict[str, Any]

    @property
    def cases(self) -> int:
        return int(self.data["cases"])

    @property
    def operations(self) -> int:
        return int(self.data["operations"])

    @property
    def failures(self) -> list[dict[str, Any]]:
        return list(self.data["failures"])

    def summary(self) -> str:
        """The figures, then each distinct failure with its first example."""
        lines = [
            f"operations {self.operations}, cases {self.cases}"
            f" (anonymous {self.data['anonymous']}), statuses {self.data['statuses']}",
            f"distinct failures {len(self.failures)}"
            f" ({sum(f['count'] for f in self.failures)} cases)",
        ]
        for failure in self.failures:
            lines.append(
                f"- {failure['operation']} [{failure['mode']}] {failure['check']}"
                f" status {failure['status']} x{failure['count']}"
            )
        for failure in self.failures:
            lines += ["", f"== {failure['operation']} {failure['check']}", failure["example"]]
        return "\n".join(lines)


async def fuzz(
    base_url: str,
    carrier: TestCarrier,
    *,
    examples: int,
    seed: int = 0,
    known: dict[str, list[str]] | None = None,
    strict_positive: bool = False,
    only: str = "",
    timeout_s: float = 1800,
) -> FuzzReport:
    """Run the driver against `base_url` as `carrier`; the gateway keeps serving meanwhile."""
    python = await asyncio.to_thread(fuzzer_python)
    pem = carrier.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with tempfile.NamedTemporaryFile(suffix=".pem") as key_file:
        key_file.write(pem)
        key_file.flush()
        args = [
            str(DRIVER),
            "--base-url",
            base_url,
            "--carrier-id",
            carrier.carrier_id,
            "--audience",
            carrier.audience,
            "--key-pem",
            key_file.name,
            "--kid",
            carrier.kid,
            "--alg",
            carrier.alg,
            "--examples",
            str(examples),
            "--seed",
            str(seed),
        ]
        args += [f"--known={name}={','.join(ids)}" for name, ids in (known or {}).items()]
        if strict_positive:
            args.append("--strict-positive")
        if only:
            args.append(f"--only={only}")
        process = await asyncio.create_subprocess_exec(
            python, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), timeout_s)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
    if process.returncode != 0:
        sys.stderr.write(err.decode(errors="replace"))
        raise RuntimeError(f"the fuzz driver exited {process.returncode}: {err[-2000:]!r}")
    return FuzzReport(data=json.loads(out))
