"""A private Mosquitto per test: its own free port and data dir, stoppable and restartable."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None
    )
    if found is None:
        raise RuntimeError("mosquitto is not installed; ./scripts/test installs it")
    return found


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerTls:
    """The broker's side of TLS: its CA, certificate and key; mutual TLS when required."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    require_certificate: bool = False

    def conf(self) -> str:
        return (
            f"cafile {self.ca_file}\n"
            f"certfile {self.cert_file}\n"
            f"keyfile {self.key_file}\n"
            f"require_certificate {'true' if self.require_certificate else 'false'}\n"
        )


class Mosquitto:
    """`with Mosquitto(tmp_path) as broker:` — a broker on `broker.port` until the block ends.

    Persistence is on, so QoS 1 messages queued for persistent sessions survive `restart()`,
    as they would on a production broker. By default anyone may connect without TLS; a
    `password_file` turns anonymous access off, an `acl_file` confines users, `tls` makes the
    one listener TLS-only (`broker.url` is then mqtts://).
    """

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        extra_conf: str = "",
        password_file: Path | None = None,
        acl_file: Path | None = None,
        tls: BrokerTls | None = None,
    ) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.extra_conf = extra_conf
        self.password_file = password_file
        self.acl_file = acl_file
        self.tls = tls
        self._process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "mosquitto.log"

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    def _access_conf(self) -> str:
        lines = [f"allow_anonymous {'false' if self.password_file else 'true'}"]
        if self.password_file is not None:
            lines.append(f"password_file {self.password_file}")
        if self.acl_file is not None:
            lines.append(f"acl_file {self.acl_file}")
        if os.geteuid() == 0:
            # Started as root, Mosquitto drops to the `mosquitto` user, which can neither read
            # our 0600 password and ACL files nor write its log and persistence files into
            # our temporary folders (restart() would then lose queued messages): stay root.
            lines.append("user root")
        return "\n".join(lines) + "\n" + (self.tls.conf() if self.tls else "")

    def _write_conf(self) -> Path:
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            f"{self._access_conf()}"
            "persistence true\n"
            f"persistence_location {data}/\n"
            "autosave_interval 1\n"
            # Low-latency request/response, as a production broker for lockers should be set.
            "set_tcp_nodelay true\n"
            f"log_dest file {self.log_path}\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            f"{self.extra_conf}"
        )
        return conf

    def start(self) -> None:
        conf = self._write_conf()
        self._process = subprocess.Popen(
            [mosquitto_binary(), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"mosquitto exited at start; see {self.log_path}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port} within 10 s")

    def stop(self) -> None:
        """Graceful stop: Mosquitto saves its persistence file on SIGTERM."""
        if self._process is None:
            return
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def kill(self) -> None:
        """Crash: no goodbye to clients, nothing saved since the last autosave."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def reload(self) -> None:
        """SIGHUP: Mosquitto re-reads its password and ACL files (new or rotated users)."""
        if self._process is not None:
            self._process.send_signal(signal.SIGHUP)

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill()
