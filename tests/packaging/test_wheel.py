"""The wheel is the product: build it, install it into a fresh venv, run the gateway from it.

One test (about 30 s): the wheel is built from a copy of the sources with this environment's
setuptools, installed with pip into a new venv with nothing but the wheels it declares (packed
from this environment, see wheelhouse.py; no index), and run from outside the source tree:
`openlocker --help`, then `openlocker serve` on a temporary SQLite database with the embedded
MQTT broker, answering HTTP with the spec files it carries as package data.
"""

from __future__ import annotations

import email
import email.message
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.packaging.wheelhouse import build_wheelhouse
from tests.support.mosquitto import free_port

ROOT = Path(__file__).resolve().parents[2]
# What the wheel is built from: the packages, the spec and the build configuration.
SOURCES = (
    "gateway",
    "adapters",
    "connectors",
    "schemas",
    "setup.py",
    "pyproject.toml",
    "README.md",
)
_JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=_JUNK)
        else:
            shutil.copy2(ROOT / name, source / name)
    dist = tmp_path_factory.mktemp("dist")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), "."], cwd=source)
    (built,) = dist.glob("openlocker-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (no pip of its own) with the wheel and its declared dependencies."""
    requires = _metadata(wheel).get_all("Requires-Dist")
    wheelhouse = tmp_path_factory.mktemp("wheelhouse")
    build_wheelhouse(requires or (), wheelhouse)
    target = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", "--without-pip", str(target)])
    python = target / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", str(python)]
    offline = ["--no-index", "--find-links", str(wheelhouse), "--no-compile", "-q"]
    run(
        [*pip, "install", *offline, str(wheel)],
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull},  # only the wheelhouse, no mirror
    )
    return target


def test_the_installed_wheel_runs_the_gateway_with_its_own_spec(
    venv: Path, wheel: Path, tmp_path: Path
) -> None:
    assert _metadata(wheel)["License-Expression"] == "Apache-2.0"  # SPDX, PEP 639
    env = _outside_env(venv)
    purelib = Path(_python(venv, "import sysconfig; print(sysconfig.get_path('purelib'))", env))
    assert not purelib.is_relative_to(ROOT)

    help_text = run([str(venv / "bin" / "openlocker"), "--help"], cwd=tmp_path, env=env)
    assert "serve" in help_text

    found = _python(
        venv, "from gateway.sdk.schemas import default_spec_dir; print(default_spec_dir())", env
    )
    assert Path(found) == purelib / "gateway" / "_schemas" / "v1"

    with _serving(venv, tmp_path, env) as base_url:
        jwks = httpx.get(f"{base_url}/.well-known/jwks.json")
        assert jwks.status_code == 200
        assert jwks.json()["keys"]
        served = httpx.get(f"{base_url}/v1/spec/envelope.json")
        assert served.status_code == 200
        with zipfile.ZipFile(wheel) as archive:
            assert served.content == archive.read("gateway/_schemas/v1/envelope.json")
        assert httpx.get(f"{base_url}/v1/spec/openapi.yaml").content.startswith(b"openapi:")


def _metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(archive.read(name))


def run(command: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"{command[:4]}... failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _python(venv: Path, code: str, env: dict[str, str]) -> str:
    return run([str(venv / "bin" / "python"), "-c", code], cwd=venv, env=env).strip()


def _outside_env(venv: Path) -> dict[str, str]:
    """The environment of a user of the venv: nothing that points into this checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    paths = [p for p in env.get("PATH", "").split(os.pathsep) if not Path(p).is_relative_to(ROOT)]
    env["PATH"] = os.pathsep.join([str(venv / "bin"), *paths])
    env["VIRTUAL_ENV"] = str(venv)
    return env


@contextmanager
def _serving(venv: Path, workdir: Path, env: dict[str, str]) -> Iterator[str]:
    """`openlocker serve` on a fresh SQLite file and an embedded broker, until the block ends."""
    http_port, mqtt_port = free_port(), free_port()
    (workdir / "openlocker.toml").write_text(f"[mqtt]\nembedded_port = {mqtt_port}\n")
    log = (workdir / "serve.log").open("w")
    process = subprocess.Popen(
        [
            str(venv / "bin" / "openlocker"),
            "--config",
            "openlocker.toml",
            "--database-url",
            f"sqlite+aiosqlite:///{workdir / 'gateway.db'}",
            "serve",
            "--http-host",
            "127.0.0.1",
            "--http-port",
            str(http_port),
        ],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{http_port}"
    try:
        _wait_until_up(base_url, process, workdir / "serve.log")
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _wait_until_up(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"openlocker serve exited:\n{log.read_text()}"
        try:
            httpx.get(f"{base_url}/.well-known/jwks.json", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"openlocker serve did not answer within 60 s:\n{log.read_text()}")
