"""A private PostgreSQL cluster in a temp dir on a free port: started, restarted, stopped at will.

The machine's own server (5432) is shared with other work and must never be restarted; a
chaos run that restarts PostgreSQL gets a cluster of its own from Debian's binaries.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from tests.support.mosquitto import free_port

BIN_DIR = Path(os.environ.get("OPENLOCKER_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
# initdb and postgres refuse to run as root: run them as this (existing) system user.
RUN_AS = "postgres"
START_TIMEOUT_S = 60


class PostgresMissing(RuntimeError):
    """The server binaries are not installed (Debian package postgresql-15)."""


def _binary(name: str) -> str:
    path = BIN_DIR / name
    if not path.exists():
        raise PostgresMissing(
            f"{path} is missing: install Debian's postgresql-15 (./scripts/test installs it "
            "when missing) or point OPENLOCKER_TEST_PG_BIN at a PostgreSQL bin directory"
        )
    return str(path)


def require_binaries() -> None:
    """PostgresMissing, with what to do, unless initdb and pg_ctl are installed."""
    _binary("initdb")
    _binary("pg_ctl")


class PostgresCluster:
    """`with PostgresCluster() as pg:` — a trust-auth cluster on `pg.port` until the block ends."""

    def __init__(self, *, workdir: Path | None = None, port: int | None = None) -> None:
        self._own_dir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="openlocker-pg-"))
        self.port = port or free_port()
        self.data = self.workdir / "data"
        self.log_path = self.workdir / "postgres.log"
        self.restarts = 0
        self._running = False

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _as_owner(self, args: list[str], *, timeout: float = START_TIMEOUT_S) -> None:
        command = args
        if os.geteuid() == 0:
            command = ["runuser", "-u", RUN_AS, "--", *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            log = (
                self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
            )
            raise RuntimeError(
                f"{' '.join(args[:2])} failed ({done.returncode}): {done.stderr.strip()}\n{log}"
            )

    def init(self) -> None:
        initdb = _binary("initdb")
        self.workdir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            owner = pwd.getpwnam(RUN_AS)
            os.chown(self.workdir, owner.pw_uid, owner.pw_gid)
        self._as_owner(
            [
                initdb,
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ]
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.workdir}'\n"
                # A test cluster, fast on 2 cores. Its crashes are process crashes (`pg_ctl
                # stop -m immediate`): what was written survives in the OS without fsync. An
                # asynchronous commit is not written when answered, so `off` here loses answered
                # commits in a crash, unless the client asks for `on` in its session, as the
                # gateway does (gateway/store/engine.py; tests/chaos/test_crash_durability.py).
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "max_connections = 200\nshared_buffers = 64MB\n"
            )

    def start(self) -> None:
        self._as_owner(
            [_binary("pg_ctl"), "-D", str(self.data), "-l", str(self.log_path), "-w", "-t",
             str(START_TIMEOUT_S), "start"]
        )  # fmt: skip
        self._running = True

    def stop(self, mode: str = "fast") -> None:
        if self._running:
            self._as_owner([_binary("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])
            self._running = False

    def restart(self, mode: str = "immediate") -> None:
        """Stop (by default as a crash: no checkpoint, every connection cut) and start again."""
        self.stop(mode)
        self.start()
        self.restarts += 1

    def __enter__(self) -> PostgresCluster:
        self.init()
        try:
            self.start()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()

    def cleanup(self) -> None:
        try:
            self.stop("immediate")
        finally:
            if self._own_dir:
                shutil.rmtree(self.workdir, ignore_errors=True)
