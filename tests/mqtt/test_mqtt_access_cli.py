"""`openlocker mqtt passwd | acl`: Mosquitto-compatible hashes, idempotent files, kept secrets."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.mqtt.credentials import (
    LOCKER_RULES,
    PasswordFile,
    hash_password,
    render_acl,
    verify_password,
)
from tests.support.requirements import missing

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture
def needs_mosquitto_passwd() -> None:
    """Mosquitto's own tool checks our password file (a missing tool fails, see
    tests/support/requirements.py; `./scripts/test` installs Mosquitto)."""
    if shutil.which("mosquitto_passwd") is None:
        missing("mosquitto_passwd", "mosquitto_passwd is not installed")


def _db(tmp_path: Path) -> list[str]:
    return ["--database-url", f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"]


def _printed(out: str) -> dict[str, str]:
    return dict(line.split(":", 1) for line in out.splitlines() if line)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("needs_mosquitto_passwd")
def test_hashes_match_mosquitto_passwd_both_ways(tmp_path: Path) -> None:
    file = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", file, "MOSQ-1", "s3cret"], check=True)
    theirs = PasswordFile.read(file).hash_of("MOSQ-1")
    assert theirs is not None
    assert theirs.startswith("$7$101$")
    assert verify_password("s3cret", theirs)
    assert not verify_password("s3cret!", theirs)

    # Their tool edits our file and keeps our line as we wrote it.
    ours = hash_password("our-password")
    passwords = PasswordFile.read(file)
    passwords.set("OURS-1", ours)
    file.write_text(passwords.render())
    subprocess.run(["mosquitto_passwd", "-b", file, "MOSQ-2", "other"], check=True)
    again = PasswordFile.read(file)
    assert again.users() == ["MOSQ-1", "OURS-1", "MOSQ-2"]
    assert again.hash_of("OURS-1") == ours
    assert verify_password("our-password", ours)


def test_hash_is_salted_and_rejects_foreign_formats() -> None:
    first, second = hash_password("same"), hash_password("same")
    assert first != second
    assert verify_password("same", first)
    assert verify_password("same", second)
    with pytest.raises(ValueError, match=r"\$7\$"):
        verify_password("x", "$6$salt$hash")


def test_passwd_issues_once_keeps_others_and_rotates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "mosquitto" / "passwd"
    file.parent.mkdir()
    file.write_text("# operator's comment\nmonitor:$7$101$c2FsdA==$a2V5\n")
    args = [*_db(tmp_path), "mqtt", "passwd", "--file", str(file)]

    assert main([*args, "--gateway-user", "gw-1", "LOCK-A", "LOCK-B"]) == 0
    first = _printed(capsys.readouterr().out)
    assert set(first) == {"gw-1", "LOCK-A", "LOCK-B"}
    assert _mode(file) == 0o600
    passwords = PasswordFile.read(file)
    assert passwords.users() == ["monitor", "gw-1", "LOCK-A", "LOCK-B"]
    assert file.read_text().startswith("# operator's comment\nmonitor:$7$101$c2FsdA==$a2V5\n")
    for user, password in first.items():
        hashed = passwords.hash_of(user)
        assert hashed is not None
        assert verify_password(password, hashed)
    # The clear passwords are nowhere on disk.
    assert not any(pw in file.read_text() for pw in first.values())

    # Again: nothing changes for users that have a line; a new locker gets one.
    before = file.read_text()
    assert main([*args, "LOCK-A", "LOCK-C"]) == 0
    out, err = capsys.readouterr()
    assert set(_printed(out)) == {"LOCK-C"}
    assert "unchanged (use --rotate to replace): LOCK-A" in err
    assert file.read_text().startswith(before)

    # --rotate replaces LOCK-A's password and nothing else.
    assert main([*args, "--rotate", "LOCK-A"]) == 0
    rotated = _printed(capsys.readouterr().out)["LOCK-A"]
    after = PasswordFile.read(file)
    hashed_a = after.hash_of("LOCK-A")
    assert hashed_a is not None
    assert verify_password(rotated, hashed_a)
    assert not verify_password(first["LOCK-A"], hashed_a)
    assert after.hash_of("LOCK-B") == passwords.hash_of("LOCK-B")
    assert after.hash_of("monitor") == "$7$101$c2FsdA==$a2V5"


def test_passwd_writes_secrets_to_a_private_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file, secrets = tmp_path / "passwd", tmp_path / "secrets"
    base = [*_db(tmp_path), "mqtt", "passwd", "--file", str(file), "--secrets-out", str(secrets)]
    assert main([*base, "LOCK-A"]) == 0
    assert main([*base, "LOCK-B"]) == 0
    out = capsys.readouterr().out
    assert "1 new password(s) written to" in out
    assert ":" not in out.replace(str(secrets), "")  # no password on the terminal
    assert _mode(secrets) == 0o600
    kept = _printed(secrets.read_text())
    assert set(kept) == {"LOCK-A", "LOCK-B"}
    for user, password in kept.items():
        hashed = PasswordFile.read(file).hash_of(user)
        assert hashed is not None
        assert verify_password(password, hashed)


def test_passwd_all_takes_the_olp_lockers_of_the_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*_db(tmp_path), "locker", "add", str(FIXTURES / "waw-central.yaml")]) == 0
    file = tmp_path / "passwd"
    assert main([*_db(tmp_path), "mqtt", "passwd", "--file", str(file), "--all"]) == 0
    assert set(_printed(capsys.readouterr().out.split("\n", 1)[1])) == {"WAW-CENTRAL-01"}
    assert PasswordFile.read(file).users() == ["WAW-CENTRAL-01"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["LOCK/A"], "MQTT user name 'LOCK/A'"),
        (["--gateway-user", "gw+1"], "MQTT user name 'gw+1'"),
        ([], "name at least one LOCKER_ID"),
    ],
)
def test_passwd_refuses_bad_names_and_leaves_the_file_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    file = tmp_path / "passwd"
    file.write_text("LOCK-A:$7$101$c2FsdA==$a2V5\n")
    assert main([*_db(tmp_path), "mqtt", "passwd", "--file", str(file), *argv]) == 2
    assert message in capsys.readouterr().err
    assert file.read_text() == "LOCK-A:$7$101$c2FsdA==$a2V5\n"


def test_acl_confines_every_locker_with_one_set_of_patterns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "acl"
    argv = [*_db(tmp_path), "mqtt", "acl", "--file", str(file)]
    assert main([*argv, "--gateway-user", "gw-1", "--gateway-user", "gw-2"]) == 0
    assert "gw-1, gw-2" in capsys.readouterr().out
    text = file.read_text()
    assert text == render_acl(["gw-1", "gw-2"])
    patterns = [line for line in text.splitlines() if line.startswith("pattern ")]
    assert patterns == [f"pattern {access} {topic}" for access, topic in LOCKER_RULES]
    assert all("%u" in line for line in patterns)
    # Lockers get no `topic` rule and no wildcard over other lockers' subtrees.
    assert not any(line.startswith("pattern") and "olp/v1/+/" in line for line in patterns)
    assert text.count("\nuser ") == 2
    # Re-running writes the same file.
    assert main([*argv, "--gateway-user", "gw-1", "--gateway-user", "gw-2"]) == 0
    assert file.read_text() == text


def test_acl_needs_a_gateway_user(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "acl"
    assert main([*_db(tmp_path), "mqtt", "acl", "--file", str(file)]) == 2
    assert "--gateway-user" in capsys.readouterr().err
    assert not file.exists()


def test_acl_takes_the_gateway_user_from_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENLOCKER_MQTT_USERNAME", "openlocker")
    file = tmp_path / "acl"
    assert main([*_db(tmp_path), "mqtt", "acl", "--file", str(file)]) == 0
    assert file.read_text() == render_acl(["openlocker"])
    assert _mode(file) == 0o644


def test_an_unusable_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    assert main([*_db(tmp_path), "mqtt", "passwd", "--file", str(folder), "LOCK-A"]) == 2
    assert f"error: {folder}: Is a directory" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_a_rewritten_password_file_keeps_its_owner(tmp_path: Path) -> None:
    file = tmp_path / "passwd"
    file.write_text("")
    os.chown(file, 65534, 65534)  # as an operator does: `chown mosquitto` so the broker reads it
    assert main([*_db(tmp_path), "mqtt", "passwd", "--file", str(file), "LOCK-A"]) == 0
    assert (file.stat().st_uid, file.stat().st_gid) == (65534, 65534)
    assert _mode(file) == 0o600
    assert PasswordFile.read(file).users() == ["LOCK-A"]
