"""The pytest plugin (entry point `pytest11`) that makes the conformance kit available.

pytest loads this module in every session of every project where OpenLocker is installed, so
it stays inert: it imports nothing of the gateway at load time, adds one command-line option
and a few fixtures that only tests of `AdapterContract` or `ConnectorContract` ask for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from gateway.sdk.testing.host import RecordingHost
    from gateway.sdk.testing.session import Conformance

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the kit needs it, other sessions must not break
    pytest_asyncio = None  # type: ignore[assignment]

TIMEOUT_SCALE_OPTION = "--openlocker-timeout-scale"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("openlocker-conformance", "OpenLocker adapter conformance kit")
    group.addoption(
        TIMEOUT_SCALE_OPTION,
        type=float,
        default=None,
        metavar="FACTOR",
        help="Multiply the conformance kit's waits (events, deadlines) by FACTOR, e.g. 3 for "
        "slow real hardware. Default 1.",
    )


def pytest_configure(config: pytest.Config) -> None:
    timeout_scale(config)  # a bad value is a usage error at start-up, not in the tenth test


def timeout_scale(config: pytest.Config) -> float:
    """The factor from the command line; 1 when not given. Bad values are a usage error."""
    value: Any = config.getoption(TIMEOUT_SCALE_OPTION, default=None)
    if value is None:
        return 1.0
    scale = float(value)
    if not 0.1 <= scale <= 100:
        raise pytest.UsageError(f"{TIMEOUT_SCALE_OPTION} must be between 0.1 and 100, not {value}")
    return scale


@pytest.fixture
def connector_no_io() -> Iterator[list[str]]:
    """The test's body may not open sockets or start processes (connectors map, never send).

    Yields the list of blocked attempts; see `gateway.sdk.testing.connectors.forbid_io`.
    """
    from gateway.sdk.testing.connectors import forbid_io

    with forbid_io() as seen:
        yield seen


@pytest.fixture
def conformance_host() -> RecordingHost:
    """The recording AdapterHost the contract suite hands to `rig.make_adapter`."""
    from gateway.sdk.testing.host import RecordingHost

    return RecordingHost()


if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def conformance(
        request: pytest.FixtureRequest, rig: Any, conformance_host: RecordingHost
    ) -> AsyncIterator[Conformance]:
        """The adapter of `rig`, entered and ready, with its events read in the background."""
        from gateway.sdk.testing.session import open_conformance

        async with open_conformance(
            rig, conformance_host, scale=timeout_scale(request.config)
        ) as running:
            yield running
