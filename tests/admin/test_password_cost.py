"""argon2id's cost is a setting with OWASP's minimum as a floor; a hash made at another cost
still verifies and is stored again at the configured one on its next sign-in."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.auth.operator_secrets import PasswordHashing
from gateway.domain.operators import OWASP_FLOOR, Argon2Cost, Operator, Role
from gateway.settings import Settings
from tests.admin.conftest import CHEAP, PASSWORD, AdminSite, problem

OLD = Argon2Cost(time_cost=2, memory_cost=16, parallelism=1)


def operators(**values: object) -> Settings:
    return Settings(database_url="sqlite+aiosqlite://", operators=values)


def test_the_default_cost_is_above_owasps_minimum() -> None:
    cost = operators().operators.password_cost
    assert cost == Argon2Cost()  # RFC 9106's second profile: t=3, 64 MiB, p=4
    assert not cost.below(OWASP_FLOOR)
    assert (OWASP_FLOOR.time_cost, OWASP_FLOOR.memory_cost) == (2, 19 * 1024)


@pytest.mark.parametrize(
    "values",
    [
        {"password_time_cost": 1},
        {"password_memory_cost": 19 * 1024 - 1},
        {"password_time_cost": 1, "password_memory_cost": 8, "password_parallelism": 1},
    ],
)
def test_a_cost_below_owasps_minimum_is_refused(values: dict[str, int]) -> None:
    with pytest.raises(ValidationError, match="below OWASP's minimum"):
        operators(**values)
    allowed = operators(**values, password_cost_below_owasp_for_tests=True)
    assert allowed.operators.password_cost.below(OWASP_FLOOR)


def test_too_little_memory_for_the_lanes_is_refused_even_for_tests() -> None:
    with pytest.raises(ValidationError, match="8 KiB a lane"):
        operators(
            password_memory_cost=16,
            password_parallelism=4,
            password_cost_below_owasp_for_tests=True,
        )


async def stored_hash(site: AdminSite, operator_id: str) -> str:
    async with site.gateway.store.transaction() as tx:
        record = await tx.operators.get(operator_id)
    assert record is not None
    return record.password_hash


async def test_a_hash_at_an_old_cost_verifies_and_is_rehashed_at_sign_in(
    admin_site: AdminSite,
) -> None:
    old_hash = PasswordHashing(cost=OLD).hash(PASSWORD)
    async with admin_site.gateway.store.transaction() as tx:
        await tx.operators.add(Operator("olga", "Olga", Role.VIEWER, admin_site.clock()), old_hash)
    # A wrong password leaves the hash alone (nothing to hash it from).
    problem(await (await admin_site.desk()).login("olga", "not the password"), 401, "SecurityError")
    assert await stored_hash(admin_site, "olga") == old_hash

    first = await admin_site.desk()
    assert (await first.login("olga")).status_code == 200
    new_hash = await stored_hash(admin_site, "olga")
    assert new_hash != old_hash
    assert f"m={CHEAP.memory_cost},t={CHEAP.time_cost},p={CHEAP.parallelism}$" in new_hash
    assert not PasswordHashing(cost=CHEAP).needs_rehash(new_hash)
    # Not a password change: the session the rehash came with goes on, and the same
    # password signs in against the new hash.
    assert (await first.get("/v1/admin/session")).status_code == 200
    second = await admin_site.desk()
    assert (await second.login("olga")).status_code == 200
    assert await stored_hash(admin_site, "olga") == new_hash
