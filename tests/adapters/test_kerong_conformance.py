"""The kerong-cu16 adapter passes the SDK's conformance suite against emulated Kerong boards."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.sdk.testing import AdapterContract
from tests.adapters.kerong_rig import KerongRig


class TestKerongCu16(AdapterContract):
    @pytest.fixture
    async def rig(self) -> AsyncIterator[KerongRig]:
        async with KerongRig() as rig:
            yield rig
