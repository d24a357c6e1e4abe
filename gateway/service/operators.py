"""Managing operators and their API tokens: the CLI, admins over the admin API and console
(one-time passwords, roles, disabling; never leaving the network without an enabled admin),
and an operator's own tokens and password."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from gateway.auth.operator_secrets import (
    DEFAULT_HASHING,
    PasswordHashing,
    digest,
    new_api_token,
    verify_password,
)
from gateway.clock import Clock, utc_now
from gateway.domain import one_time_passwords
from gateway.domain.audit import AuditAction
from gateway.domain.operators import (
    LoginPolicy,
    Operator,
    Role,
    check_operator_id,
    check_password,
)
from gateway.errors import (
    FieldIssue,
    IllegalTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from gateway.store import Store
from gateway.store.operators import TokenRecord

# Who acts when the CLI manages operators: whoever holds the host (and the database).
CLI_ACTOR = "operator"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new API token: `secret` is shown once and stored only as a digest."""

    record: TokenRecord
    secret: str


@dataclass(frozen=True, slots=True)
class OneTimePassword:
    """A password an admin set for `operator`: shown once, good for one sign-in that must set
    the operator's own, until `expires_at`."""

    operator: Operator
    password: str
    expires_at: datetime
    sessions_ended: int = 0
    tokens_revoked: int = 0


class OperatorService:
    def __init__(
        self,
        *,
        store: Store,
        clock: Clock = utc_now,
        passwords: PasswordHashing | None = None,
        logins: LoginPolicy | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._passwords = passwords or DEFAULT_HASHING  # `[operators] password_*`
        # Wrong current passwords at a password change count against the account's sign-in
        # limit: a stolen session cannot guess the password at request rate.
        self._logins = logins or LoginPolicy()

    async def add(
        self, operator_id: str, *, name: str, role: Role, password: str, actor: str = CLI_ACTOR
    ) -> Operator:
        _checked(check_operator_id, operator_id, "/id")
        _checked(check_password, password, "/password")
        operator = Operator(operator_id, name or operator_id, role, self._clock())
        password_hash = await asyncio.to_thread(self._passwords.hash, password)  # CPU-heavy
        async with self._store.transaction() as tx:
            await tx.operators.add(operator, password_hash)
            await tx.audit.append(
                AuditAction.OPERATOR_CREATED,
                actor=actor,
                subject=operator_id,
                details={"role": role.value},
            )
        return operator

    async def reset(
        self,
        operator_id: str,
        *,
        password: str | None = None,
        role: Role | None = None,
        enable: bool = False,
        actor: str = CLI_ACTOR,
        reason: str | None = None,
    ) -> Operator:
        """A new password (every session ends), a new role, or a disabled operator back."""
        if password is not None:
            _checked(check_password, password, "/password")
        password_hash = (
            None if password is None else await asyncio.to_thread(self._passwords.hash, password)
        )
        now = self._clock()
        async with self._store.transaction() as tx:
            if await tx.operators.get(operator_id) is None:
                raise NotFound(f"no operator {operator_id!r}")
            details: dict[str, object] = {}
            if password_hash is not None:
                await tx.operators.set_password(operator_id, password_hash, now)
                details["sessionsEnded"] = await tx.operators.end_sessions_of(operator_id)
                details["password"] = True
            if role is not None:
                await tx.operators.set_role(operator_id, role, now)
                details["role"] = role.value
            if enable:
                await tx.operators.set_disabled(operator_id, None, now)
                details["enabled"] = True
            if reason is not None:
                details["reason"] = reason
            await tx.audit.append(
                AuditAction.OPERATOR_RESET,
                actor=actor,
                subject=operator_id,
                details=details,
            )
            record = await tx.operators.get(operator_id)
        assert record is not None
        return record.operator

    async def disable(
        self,
        operator_id: str,
        *,
        reason: str,
        actor: str = CLI_ACTOR,
        keep_an_admin: bool = False,
    ) -> Operator:
        """Refuse the operator's sign-ins from now on: sessions end, tokens are revoked.

        `keep_an_admin` (the admin API and console): refused if no other enabled admin would
        be left. The CLI may (whoever holds the database can make an admin again)."""
        now = self._clock()
        async with self._store.transaction() as tx:
            if keep_an_admin:
                _keeps_an_admin(await tx.operators.active_admins(), operator_id, "disable")
            if not await tx.operators.set_disabled(operator_id, now, now):
                raise NotFound(f"no operator {operator_id!r}")
            ended = await tx.operators.end_sessions_of(operator_id)
            revoked = await tx.operators.revoke_tokens_of(operator_id, now)
            await tx.audit.append(
                AuditAction.OPERATOR_DISABLED,
                actor=actor,
                subject=operator_id,
                details={"reason": reason, "sessionsEnded": ended, "tokensRevoked": revoked},
            )
            record = await tx.operators.get(operator_id)
        assert record is not None
        return record.operator

    # ---- what admins do over the admin API and the console -------------------------------

    async def add_with_one_time_password(
        self, operator_id: str, *, name: str, role: Role, reason: str, actor: str
    ) -> OneTimePassword:
        """A new operator whose first sign-in must set their own password (see
        gateway/domain/one_time_passwords): the admin never chooses, or knows, it."""
        _checked(check_operator_id, operator_id, "/id")
        now = self._clock()
        password, stored, until = await self._one_time(now)
        operator = Operator(operator_id, name or operator_id, role, now)
        async with self._store.transaction() as tx:
            await tx.operators.add(operator, stored)
            await tx.audit.append(
                AuditAction.OPERATOR_CREATED,
                actor=actor,
                subject=operator_id,
                details={"role": role.value, "reason": reason, "oneTimePasswordUntil": _iso(until)},
            )
            record = await tx.operators.get(operator_id)
        assert record is not None
        return OneTimePassword(record.operator, password, until)

    async def reset_to_one_time_password(
        self, operator_id: str, *, reason: str, actor: str, revoke_tokens: bool = False
    ) -> OneTimePassword:
        """A forgotten password replaced by a one-time one: every session ends; with
        `revoke_tokens` (a suspected compromise) every API token too."""
        now = self._clock()
        password, stored, until = await self._one_time(now)
        async with self._store.transaction() as tx:
            if not await tx.operators.set_password(operator_id, stored, now):
                raise NotFound(f"no operator {operator_id!r}")
            ended = await tx.operators.end_sessions_of(operator_id)
            revoked = await tx.operators.revoke_tokens_of(operator_id, now) if revoke_tokens else 0
            await tx.audit.append(
                AuditAction.OPERATOR_RESET,
                actor=actor,
                subject=operator_id,
                details={
                    "password": "one-time",
                    "oneTimePasswordUntil": _iso(until),
                    "reason": reason,
                    "sessionsEnded": ended,
                    "tokensRevoked": revoked,
                },
            )
            record = await tx.operators.get(operator_id)
        assert record is not None
        return OneTimePassword(record.operator, password, until, ended, revoked)

    async def enable(self, operator_id: str, *, reason: str, actor: str) -> Operator:
        """A disabled operator back (their tokens stay revoked: new ones are made anew)."""
        now = self._clock()
        async with self._store.transaction() as tx:
            if not await tx.operators.set_disabled(operator_id, None, now):
                raise NotFound(f"no operator {operator_id!r}")
            await tx.audit.append(
                AuditAction.OPERATOR_RESET,
                actor=actor,
                subject=operator_id,
                details={"enabled": True, "reason": reason},
            )
            record = await tx.operators.get(operator_id)
        assert record is not None
        return record.operator

    async def change_role(
        self, operator_id: str, role: Role, *, reason: str, actor: str
    ) -> Operator:
        """A new role, at once for sessions (read on every request) and tokens (capped by it);
        refused if it would leave no enabled admin."""
        now = self._clock()
        async with self._store.transaction() as tx:
            # The admins' rows first (locked in id order, as a disable does): an admin being
            # demoted is among them, so the row is read below under that lock.
            admins = await tx.operators.active_admins()
            found = await tx.operators.get(operator_id)
            if found is None:
                raise NotFound(f"no operator {operator_id!r}")
            before = found.operator.role
            if before is Role.ADMIN and role is not Role.ADMIN:
                _keeps_an_admin(admins, operator_id, "demote")
            await tx.operators.set_role(operator_id, role, now)
            await tx.audit.append(
                AuditAction.OPERATOR_RESET,
                actor=actor,
                subject=operator_id,
                details={"role": role.value, "previousRole": before.value, "reason": reason},
            )
            record = await tx.operators.get(operator_id)
        assert record is not None
        return record.operator

    # ---- what an operator does for themself -------------------------------------------

    async def change_own_password(
        self, operator_id: str, *, current: str, new: str, session_hash: str | None
    ) -> Operator:
        """The operator's own new password, the current one proved first. Their other
        sessions end (the one at hand, `session_hash`, carries on); a one-time password ends.

        A wrong current password counts against the account's sign-in limit (the same counter
        as the sign-in form): with a stolen session one cannot guess the password faster."""
        _checked(check_password, new, "/newPassword")
        if new == current:
            raise ValidationFailed(
                "the new password must differ from the current one",
                issues=(FieldIssue("/newPassword", "same as the current password"),),
            )
        now = self._clock()
        key = f"account:{operator_id}"
        async with self._store.transaction() as tx:
            counter = await tx.operators.claim_counter(key)
            if counter.locked(now) and counter.locked_until is not None:
                await tx.operators.save_counter(counter.refused())
                raise PermissionDenied(
                    "too many wrong passwords for this account; try again after "
                    f"{counter.locked_until.isoformat(timespec='seconds')}",
                    details={"lockedUntil": counter.locked_until.isoformat()},
                )
            # Counted before the (slow) check, taken back once it proved right: concurrent
            # guesses are counted one by one, as at sign-in.
            await tx.operators.save_counter(counter.failed(now, self._logins))
            record = await tx.operators.get(operator_id)
        stored = record.password_hash if record is not None else None
        good = await verify_password(stored, current) and record is not None
        # A lapsed one-time password proves nothing here either, as at sign-in: else anyone
        # who found it later, with a token of the operator (kept through the reset, perhaps
        # viewer-scoped), would choose the password and sign in with the operator's role.
        lapsed = good and one_time_passwords.expired(stored, now)
        if not good or lapsed or record is None:
            why = "one-time password expired" if lapsed else "wrong current password"
            async with self._store.transaction() as tx:
                await tx.audit.append(
                    AuditAction.OPERATOR_LOGIN_FAILED,
                    actor=f"operator:{operator_id}",
                    subject=operator_id,
                    details={"reason": f"password-change: {why}"},
                )
            if lapsed:
                raise PermissionDenied("the one-time password has expired: an admin issues another")
            raise PermissionDenied("the current password is wrong")
        password_hash = await asyncio.to_thread(self._passwords.hash, new)
        async with self._store.transaction() as tx:
            again = await tx.operators.get(operator_id, for_update=True)
            if again is None or again.password_hash != stored or not again.operator.active:
                # Reset or disabled by an admin meanwhile: theirs is the last word.
                raise PermissionDenied(
                    "the password was changed or the operator disabled meanwhile"
                )
            counter = await tx.operators.claim_counter(key)
            await tx.operators.save_counter(counter.succeeded())
            await tx.operators.set_password(operator_id, password_hash, now)
            ended = await tx.operators.end_sessions_of(operator_id, keep=session_hash)
            await tx.audit.append(
                AuditAction.OPERATOR_RESET,
                actor=f"operator:{operator_id}",
                subject=operator_id,
                details={
                    "password": "own",
                    "wasOneTime": again.operator.must_change_password,
                    "sessionsEnded": ended,
                },
            )
            record = await tx.operators.get(operator_id)
        assert record is not None
        return record.operator

    async def get(self, operator_id: str) -> Operator:
        async with self._store.transaction() as tx:
            found = await tx.operators.get(operator_id)
        if found is None:
            raise NotFound(f"no operator {operator_id!r}")
        return found.operator

    async def _one_time(self, now: datetime) -> tuple[str, str, datetime]:
        """(the password, its marked hash, its deadline)."""
        password = one_time_passwords.new_one_time_password()
        # Whole seconds: the stored mark keeps no more, and the answer must say the same.
        until = (now + one_time_passwords.ONE_TIME_VALIDITY).replace(microsecond=0)
        phc = await asyncio.to_thread(self._passwords.hash, password)  # CPU-heavy
        return password, one_time_passwords.mark(phc, until), until

    async def all(self) -> list[Operator]:
        async with self._store.transaction() as tx:
            return await tx.operators.list()

    async def create_token(
        self,
        operator_id: str,
        *,
        name: str,
        role: Role | None = None,
        expires_at: datetime | None = None,
        actor: str = CLI_ACTOR,
    ) -> IssuedToken:
        """A personal API token with a role no higher than the operator's (default: equal)."""
        now = self._clock()
        if expires_at is not None and expires_at <= now:
            raise ValidationFailed(
                "a token's expiry must lie in the future",
                issues=(FieldIssue("/expiresAt", "must be later than now"),),
            )
        token_id, secret = new_api_token()
        async with self._store.transaction() as tx:
            found = await tx.operators.get(operator_id)
            if found is None:
                raise NotFound(f"no operator {operator_id!r}")
            operator = found.operator
            if not operator.active:
                raise PermissionDenied(f"operator {operator_id} is disabled")
            role = role or operator.role
            if not operator.role.allows(role):
                raise PermissionDenied(
                    f"a token's role cannot exceed its operator's ({operator.role})",
                    details={"role": role.value, "operatorRole": operator.role.value},
                )
            record = TokenRecord(token_id, operator_id, name, role, now, expires_at, None, None)
            await tx.operators.add_token(record, digest(secret))
            await tx.audit.append(
                AuditAction.OPERATOR_TOKEN_CREATED,
                actor=actor,
                subject=operator_id,
                details={"tokenId": token_id, "name": name, "role": role.value},
            )
        return IssuedToken(record, secret)

    async def revoke_token(
        self,
        token_id: str,
        *,
        owner: str | None = None,
        actor: str = CLI_ACTOR,
        reason: str | None = None,
    ) -> TokenRecord:
        """Revoke a token; with `owner`, only that operator's (another's is reported missing)."""
        now = self._clock()
        async with self._store.transaction() as tx:
            found = await tx.operators.token(token_id)
            if found is None or (owner is not None and found.operator_id != owner):
                raise NotFound(f"no API token {token_id!r}")
            await tx.operators.revoke_token(token_id, now)
            details: dict[str, object] = {"tokenId": token_id}
            if reason is not None:
                details["reason"] = reason
            await tx.audit.append(
                AuditAction.OPERATOR_TOKEN_REVOKED,
                actor=actor,
                subject=found.operator_id,
                details=details,
            )
            revoked = await tx.operators.token(token_id)
        assert revoked is not None
        return revoked

    async def tokens(self, operator_id: str) -> list[TokenRecord]:
        async with self._store.transaction() as tx:
            return await tx.operators.tokens_of(operator_id)


def _keeps_an_admin(admins: list[str], operator_id: str, what: str) -> None:
    """Refuse to disable or demote the last enabled admin (`admins`: the enabled ones, read
    under lock): nobody could manage operators over HTTP any more (only the CLI on the
    database's host could make one again)."""
    if admins == [operator_id]:
        raise IllegalTransition(
            f"cannot {what} {operator_id}: the last enabled admin (make another admin first)",
            details={"lastAdmin": operator_id},
        )


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def _checked(check: Callable[[str], str], value: str, pointer: str) -> None:
    try:
        check(value)
    except ValueError as err:
        raise ValidationFailed(str(err), issues=(FieldIssue(pointer, str(err)),)) from None
