"""The conformance kit can fail: broken adapters fail the checks written for their bugs.

Each case writes a small test module that runs the whole AdapterContract against the in-memory
board (tests/adapters/memory.py) and runs it with pytester under pytest-asyncio's strict mode,
as a vendor's project would: a correct adapter passes every check, each broken one fails
exactly the checks its bug breaks.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

TEST_MODULE = """
import pytest_asyncio

from gateway.sdk.testing import AdapterContract
from tests.adapters import memory


class TestUnderKit(AdapterContract):
    @pytest_asyncio.fixture
    async def rig(self):
        return memory.MemoryRig(adapter_class=memory.{adapter})
"""
LOST_REPLY = "test_lost_reply_is_proven_or_a_timeout_and_never_retried"
DISCONNECT = "test_disconnect_is_an_sdk_error_and_reconnect_works_again"
PENDING_AT_EXIT = "test_exit_fails_a_pending_call_promptly"
ORDER = "test_events_of_a_locker_come_in_order_with_unique_ids"
DEADLINE = "test_a_deadline_already_past_is_refused_without_unlocking"
LEAK = "test_exit_leaves_no_task_running"
REENTRANT = "test_an_open_asked_for_while_an_event_is_handled_completes"
DECLARATIONS = "test_declares_name_features_and_a_strict_config_model"
PLAIN = ("-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function")


def run_contract(pytester: pytest.Pytester, adapter: str) -> tuple[set[str], int]:
    """The names of the failed checks, and how many passed."""
    pytester.makepyfile(test_under_kit=TEST_MODULE.format(adapter=adapter))
    # Strict mode, as a vendor's project may have; short waits, the board answers at once.
    recorder = pytester.inline_run(
        "-p",
        "no:cacheprovider",
        "-o",
        "asyncio_mode=strict",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
        "--openlocker-timeout-scale=0.3",
    )
    passed, skipped, failed = recorder.listoutcomes()
    assert not skipped, [r.nodeid for r in skipped]
    return {r.nodeid.split("::")[-1].split("[")[0] for r in failed}, len(passed)


def test_a_correct_adapter_passes_every_check(pytester: pytest.Pytester) -> None:
    failed, passed = run_contract(pytester, "MemoryAdapter")
    assert failed == set()
    assert passed >= 14


@pytest.mark.parametrize(
    ("adapter", "caught_by"),
    [
        ("RetryingAdapter", {LOST_REPLY}),
        ("ForeignErrorAdapter", {LOST_REPLY, DISCONNECT, PENDING_AT_EXIT}),
        ("LateOpenedAdapter", {ORDER}),
        ("LaneBypassAdapter", {ORDER}),
        ("InlineHandOverAdapter", {REENTRANT}),
        ("DeadlineBlindAdapter", {DEADLINE}),
        ("LeakyAdapter", {LEAK}),
        ("FlagWithoutMethodAdapter", {DECLARATIONS}),
    ],
)
def test_a_broken_adapter_fails_the_check_for_its_bug(
    pytester: pytest.Pytester, adapter: str, caught_by: set[str]
) -> None:
    failed, _ = run_contract(pytester, adapter)
    assert failed == caught_by


def test_the_plugin_is_inert_in_a_session_that_does_not_use_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_nothing_to_do_with_lockers():\n    assert True\n")
    pytester.inline_run(*PLAIN).assertoutcome(passed=1)


def test_a_bad_timeout_scale_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_nothing():\n    assert True\n")
    result = pytester.runpytest(*PLAIN, "--openlocker-timeout-scale=0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--openlocker-timeout-scale must be between*"])
