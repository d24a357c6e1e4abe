"""Managing operators and their API tokens (the CLI, and an operator's own tokens over the API)."""

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
)
from gateway.clock import Clock, utc_now
from gateway.domain.audit import AuditAction
from gateway.domain.operators import Operator, Role, check_operator_id, check_password
from gateway.errors import FieldIssue, NotFound, PermissionDenied, ValidationFailed
from gateway.store import Store
from gateway.store.operators import TokenRecord

# Who acts when the CLI manages operators: whoever holds the host (and the database).
CLI_ACTOR = "operator"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new API token: `secret` is shown once and stored only as a digest."""

    record: TokenRecord
    secret: str


class OperatorService:
    def __init__(
        self, *, store: Store, clock: Clock = utc_now, passwords: PasswordHashing | None = None
    ) -> None:
        self._store = store
        self._clock = clock
        self._passwords = passwords or DEFAULT_HASHING  # `[operators] password_*`

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
            await tx.audit.append(
                AuditAction.OPERATOR_RESET,
                actor=actor,
                subject=operator_id,
                details=details,
            )
            record = await tx.operators.get(operator_id)
        assert record is not None
        return record.operator

    async def disable(self, operator_id: str, *, reason: str, actor: str = CLI_ACTOR) -> Operator:
        """Refuse the operator's sign-ins from now on: sessions end, tokens are revoked."""
        now = self._clock()
        async with self._store.transaction() as tx:
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
        self, token_id: str, *, owner: str | None = None, actor: str = CLI_ACTOR
    ) -> TokenRecord:
        """Revoke a token; with `owner`, only that operator's (another's is reported missing)."""
        now = self._clock()
        async with self._store.transaction() as tx:
            found = await tx.operators.token(token_id)
            if found is None or (owner is not None and found.operator_id != owner):
                raise NotFound(f"no API token {token_id!r}")
            await tx.operators.revoke_token(token_id, now)
            await tx.audit.append(
                AuditAction.OPERATOR_TOKEN_REVOKED,
                actor=actor,
                subject=found.operator_id,
                details={"tokenId": token_id},
            )
            revoked = await tx.operators.token(token_id)
        assert revoked is not None
        return revoked

    async def tokens(self, operator_id: str) -> list[TokenRecord]:
        async with self._store.transaction() as tx:
            return await tx.operators.tokens_of(operator_id)


def _checked(check: Callable[[str], str], value: str, pointer: str) -> None:
    try:
        check(value)
    except ValueError as err:
        raise ValidationFailed(str(err), issues=(FieldIssue(pointer, str(err)),)) from None
