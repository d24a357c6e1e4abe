"""Operators: roles, session expiry and login attempt limits — pure rules, no I/O."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from gateway.domain.backoff import backoff_s

# Operator ids are login names: short, printable, no spaces, safe in an audit actor.
OPERATOR_ID = re.compile(r"^[a-z0-9][a-z0-9_.@-]{0,63}$")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # argon2 would hash more, but a megabyte password is an attack


@dataclass(frozen=True, slots=True)
class Argon2Cost:
    """argon2id's cost parameters (`[operators] password_*`). The defaults are RFC 9106's
    second recommended profile (t=3, m=64 MiB, p=4), argon2-cffi's own defaults: ~50 ms a
    hash on a server core, well above OWASP's minimum (`OWASP_FLOOR`)."""

    time_cost: int = 3
    memory_cost: int = 64 * 1024  # KiB
    parallelism: int = 4

    def below(self, floor: Argon2Cost) -> bool:
        return self.time_cost < floor.time_cost or self.memory_cost < floor.memory_cost


# OWASP Password Storage Cheat Sheet's minimum for argon2id: 19 MiB, 2 iterations, 1 lane.
OWASP_FLOOR = Argon2Cost(time_cost=2, memory_cost=19 * 1024, parallelism=1)


class Role(StrEnum):
    """What an operator may do; each role includes the ones below it."""

    VIEWER = "viewer"  # reads everything an operator sees
    OPERATOR = "operator"  # + acts on lockers, compartments, parcels, deliveries, keypads
    ADMIN = "admin"  # + manages operators (CLI) — reserved for what only an admin may do

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, required: Role) -> bool:
        return self.rank >= required.rank


_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


def check_operator_id(operator_id: str) -> str:
    if not OPERATOR_ID.match(operator_id):
        raise ValueError(
            "an operator id is 1..64 lower-case letters, digits, '_', '.', '@' or '-', "
            "starting with a letter or digit"
        )
    return operator_id


def check_password(password: str) -> str:
    """A password an operator may set: long enough to resist guessing without a token."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ValueError(
            f"a password needs {MIN_PASSWORD_LENGTH}..{MAX_PASSWORD_LENGTH} characters"
        )
    return password


@dataclass(frozen=True, slots=True)
class Operator:
    id: str
    name: str
    role: Role
    created_at: datetime
    disabled_at: datetime | None = None
    # Set while the password is a one-time one an admin set (gateway/domain/one_time_passwords):
    # it signs in until then, and the session may do nothing but set the operator's own.
    one_time_password_until: datetime | None = None

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    @property
    def must_change_password(self) -> bool:
        return self.one_time_password_until is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionPolicy:
    """A session ends after `idle` without a request, and `absolute` after login regardless."""

    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)

    def expiry(self, created_at: datetime, last_seen_at: datetime) -> datetime:
        """When a session created and last used at these times stops being accepted."""
        return min(last_seen_at + self.idle, created_at + self.absolute)


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginPolicy:
    """`max_failures` wrong passwords within `window` lock the key (an account or a client
    address) for `lockout_base`, doubling with each lockout in a row up to `lockout_cap`.
    Counted per account (a slow guesser of one password from many addresses) and per client
    address (one address trying many accounts, each below its own limit)."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    lockout_base: timedelta = timedelta(minutes=1)
    lockout_cap: timedelta = timedelta(hours=1)

    def backoff(self, lockout: int) -> timedelta:
        # No jitter: the person at the login form is told how long to wait.
        seconds = backoff_s(
            max(lockout, 1),
            base_s=self.lockout_base.total_seconds(),
            cap_s=max(self.lockout_cap, self.lockout_base).total_seconds(),
            rand=None,
        )
        return timedelta(seconds=seconds)


# An IPv6 client is given a /64 at least (RFC 6177): it can pick any address in it at will.
IPV6_CLIENT_PREFIX = 64


def address_key(client: str) -> str:
    """The login counter's key for a client address: the address itself for IPv4 (and for
    what is not an address, e.g. "unknown"), its /64 for IPv6, or a client rotating through
    its own /64 would get a fresh limit with every address."""
    try:
        ip = ipaddress.ip_address(client)
    except ValueError:
        return f"address:{client}"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        # A dual-stack socket's view of an IPv4 client: its /64 (::/64) would put every
        # IPv4 client under one limit, which one of them could lock for all.
        ip = ip.ipv4_mapped
    if ip.version == 6:
        network = ipaddress.ip_network(f"{ip}/{IPV6_CLIENT_PREFIX}", strict=False)
        return f"address:{network}"
    return f"address:{ip}"


@dataclass(frozen=True, slots=True)
class LoginCounter:
    """Failed logins of one key ("account:<id>", "address:<ipv4>" or "address:<ipv6>/64",
    see `address_key`), shared through the DB."""

    key: str
    failures: int = 0
    window_started_at: datetime | None = None
    lockouts: int = 0
    locked_until: datetime | None = None

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def failed(self, now: datetime, policy: LoginPolicy) -> LoginCounter:
        """Count a failure at `now`; past the limit the key is locked (see `locked_until`)."""
        counter = self
        if counter.window_started_at is None or now - counter.window_started_at >= policy.window:
            counter = replace(counter, failures=0, window_started_at=now)
        counter = replace(counter, failures=counter.failures + 1)
        if counter.failures < policy.max_failures:
            return counter
        number = counter.lockouts + 1
        return replace(
            counter,
            failures=0,
            window_started_at=None,
            lockouts=number,
            locked_until=now + policy.backoff(number),
        )

    def refused(self) -> LoginCounter:
        """One more sign-in refused by the lock. While locked no window runs (`failed` starts a
        new one after the lock), so `failures` counts these refusals: only the first of a lock
        is audited, the count is reported once the lock is over (`refused_by_last_lock`)."""
        return replace(self, failures=self.failures + 1)

    def refused_by_last_lock(self, now: datetime) -> int:
        """How many sign-ins the lock now over refused (0: none, or still locked)."""
        over = self.locked_until is not None and now >= self.locked_until
        return self.failures if over and self.window_started_at is None else 0

    def succeeded(self) -> LoginCounter:
        """The right password: the window and the back-off start afresh."""
        return LoginCounter(self.key)

    def forgiven(
        self, started_lock: datetime | None, now: datetime, policy: LoginPolicy
    ) -> LoginCounter:
        """Take back the failure counted in advance for an attempt that proved right (and the
        lock it started), keeping every other failure: a client address is not reset by a
        right password, or signing in to one's own account would wipe a spray of guesses."""
        if started_lock is not None and self.locked_until == started_lock:
            return replace(
                self,
                failures=policy.max_failures - 1,
                window_started_at=now,
                lockouts=max(0, self.lockouts - 1),
                locked_until=None,
            )
        return replace(self, failures=max(0, self.failures - 1))
