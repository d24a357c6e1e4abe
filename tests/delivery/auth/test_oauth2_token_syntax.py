"""A token endpoint's access_token that no header can carry is refused, and never shown."""

from __future__ import annotations

import httpx
import pytest
import respx

from gateway.delivery.auth import AuthFailed
from tests.delivery.auth.test_oauth2 import TOKEN_URL, bearer, mock, plugin, token

__all__ = ["mock"]


@pytest.mark.parametrize("value", ["tok\nsecret-rest", "tok\x0bsecret-rest", "tøk-secret-rest"])
async def test_an_access_token_a_header_cannot_carry_is_refused(
    mock: respx.MockRouter, client: httpx.AsyncClient, value: str
) -> None:
    mock.post(TOKEN_URL).mock(return_value=token(value, expires_in=3600))
    with pytest.raises(AuthFailed, match="outside %x20-7E") as caught:
        await bearer(plugin(), client)
    assert "secret-rest" not in str(caught.value)


async def test_a_token_with_spaces_and_symbols_is_fine(
    mock: respx.MockRouter, client: httpx.AsyncClient
) -> None:
    mock.post(TOKEN_URL).mock(return_value=token("a.b-c_d~e+f/g= ~!", expires_in=3600))
    assert await bearer(plugin(), client) == "Bearer a.b-c_d~e+f/g= ~!"
