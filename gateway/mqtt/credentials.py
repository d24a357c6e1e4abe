"""Mosquitto credentials: `$7$` password hashes, the password file, the ACL confining lockers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gateway.mqtt.topics import ROOT

# Mosquitto 2's `mosquitto_passwd` default: PBKDF2-HMAC-SHA512, 101 rounds, a 12-byte salt,
# a 64-byte key. The rounds stay at the broker's default because Mosquitto re-derives the key
# on every CONNECT; the passwords we generate are random 192-bit tokens, so a slow hash would
# add nothing against guessing them.
PBKDF2_ITERATIONS = 101
SALT_BYTES = 12
_KEY_BYTES = 64
# A Mosquitto user name that may stand in for %u in an ACL pattern: the topic-level shape of a
# locker id (no `/`, `+`, `#`, and no `:`, the password file's separator).
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_username(name: str) -> str:
    """The name itself, or ValueError: it becomes a topic level and a password-file key."""
    if not _USERNAME.fullmatch(name):
        raise ValueError(
            f"MQTT user name {name!r}: 1-64 letters, digits, '_', '.', '-', starting with a "
            "letter or digit"
        )
    return name


def new_password() -> str:
    """A random password: 192 bits, URL-safe, no `:` (safe in the password and secrets files)."""
    return secrets.token_urlsafe(24)


def hash_password(
    password: str, *, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS
) -> str:
    """The Mosquitto 2 `$7$iterations$salt$key` hash of `password` (base64 with padding)."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, _KEY_BYTES)
    return f"$7${iterations}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, hashed: str) -> bool:
    """Whether `password` matches a `$7$` hash; ValueError for any other format."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[0] or parts[1] != "7" or not parts[2].isdigit():
        raise ValueError("not a Mosquitto $7$ (PBKDF2-SHA512) password hash")
    salt, key = base64.b64decode(parts[3]), base64.b64decode(parts[4])
    derived = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(parts[2]), len(key))
    return hmac.compare_digest(derived, key)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


@dataclass
class PasswordFile:
    """A Mosquitto password file, `user:hash` per line; other lines are kept as they are."""

    lines: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> PasswordFile:
        return cls(lines=text.splitlines())

    @classmethod
    def read(cls, path: Path) -> PasswordFile:
        """The file at `path`, or an empty one if there is none yet."""
        try:
            return cls.parse(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()

    def users(self) -> list[str]:
        return [user for user, _ in self._entries()]

    def hash_of(self, user: str) -> str | None:
        return dict(self._entries()).get(user)

    def set(self, user: str, hashed: str) -> None:
        """Replace `user`'s line in place, or append one."""
        line = f"{check_username(user)}:{hashed}"
        for index, raw in enumerate(self.lines):
            if _user_of(raw) == user:
                self.lines[index] = line
                return
        self.lines.append(line)

    def remove(self, user: str) -> bool:
        before = len(self.lines)
        self.lines = [raw for raw in self.lines if _user_of(raw) != user]
        return len(self.lines) != before

    def render(self) -> str:
        return "".join(f"{line}\n" for line in self.lines)

    def _entries(self) -> list[tuple[str, str]]:
        entries = []
        for raw in self.lines:
            user = _user_of(raw)
            if user is not None:
                entries.append((user, raw.split(":", 1)[1]))
        return entries


def _user_of(line: str) -> str | None:
    if not line or line.startswith("#") or ":" not in line:
        return None
    return line.split(":", 1)[0]


def issue_passwords(
    passwords: PasswordFile, users: Iterable[str], *, rotate: bool
) -> dict[str, str]:
    """Give every user without a line (all of them with `rotate`) a new password.

    Returns only the new clear passwords, by user; their hashes are set in `passwords`.
    """
    issued: dict[str, str] = {}
    for user in users:
        check_username(user)
        if user in issued or (not rotate and passwords.hash_of(user) is not None):
            continue
        issued[user] = new_password()
        passwords.set(user, hash_password(issued[user]))
    return issued


def write_atomic(path: Path, text: str, *, mode: int = 0o600) -> None:
    """Replace `path` atomically (temp file in the same folder, then rename), mode 0600 by default.

    A reader (the broker on SIGHUP) sees the old file or the new one, never half of one; the
    content is never readable by others, not even for a moment; and a file that exists keeps
    its owner and group (the broker's own user must still be able to read it).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        owner: tuple[int, int] | None = (path.stat().st_uid, path.stat().st_gid)
    except FileNotFoundError:
        owner = None
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        if owner is not None and owner != (os.geteuid(), os.getegid()):
            os.fchown(fd, *owner)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def merge_secrets(path: Path, issued: Mapping[str, str]) -> None:
    """Add or replace `user:password` lines in a secrets file, which stays mode 0600."""
    known: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            user, sep, password = line.partition(":")
            if sep:
                known[user] = password
    known.update(issued)
    write_atomic(path, "".join(f"{user}:{pw}\n" for user, pw in sorted(known.items())))


# What a locker may do, as Mosquitto `pattern` rules: `%u` is the client's user name, so these
# seven lines serve every locker, and a new locker needs only its password line. It writes its
# presence, state, events and calls, and its replies to a gateway instance's commands; it reads
# the commands sent to it and the replies to its calls. Nothing else, not even another locker's
# retained status.
LOCKER_RULES: tuple[tuple[str, str], ...] = (
    ("write", f"{ROOT}/%u/status"),
    ("write", f"{ROOT}/%u/state"),
    ("write", f"{ROOT}/%u/evt/#"),
    ("write", f"{ROOT}/%u/req/#"),
    ("write", f"{ROOT}/_gw/+/res/%u"),
    ("read", f"{ROOT}/%u/cmd/#"),
    ("read", f"{ROOT}/%u/res"),
)
# What a gateway instance does (gateway/mqtt/topics.py: gateway_subscriptions, command,
# locker_reply): it reads what lockers publish, including replies to any instance's commands
# (instances may be renamed; the user is not tied to one), and writes commands and replies.
GATEWAY_RULES: tuple[tuple[str, str], ...] = (
    ("read", f"{ROOT}/+/status"),
    ("read", f"{ROOT}/+/state"),
    ("read", f"{ROOT}/+/evt/#"),
    ("read", f"{ROOT}/+/req/#"),
    ("read", f"{ROOT}/_gw/+/res/+"),
    ("write", f"{ROOT}/+/cmd/#"),
    ("write", f"{ROOT}/+/res"),
)


def render_acl(gateway_users: Sequence[str]) -> str:
    """The whole Mosquitto ACL file for OLP v1: gateway users by name, every other user a locker."""
    if not gateway_users:
        raise ValueError("the ACL needs at least one gateway user")
    out = [
        "# OpenLocker OLP v1 ACL, written by `openlocker mqtt acl`; regenerate rather than edit.",
        "# Mosquitto denies everything no rule allows.",
        "",
        "# Every user (each locker's user name is its locker id) in its own subtree only.",
    ]
    out += [f"pattern {access} {topic}" for access, topic in LOCKER_RULES]
    for user in dict.fromkeys(gateway_users):
        out += ["", f"# Gateway user {check_username(user)}.", f"user {user}"]
        out += [f"topic {access} {topic}" for access, topic in GATEWAY_RULES]
    return "\n".join(out) + "\n"
