"""The connector kit can fail: broken connectors fail exactly the checks written for their bugs.

One test module runs the whole ConnectorContract over the correct toy connector and over each
broken variant of tests/connectors/kit_toys.py (one test class each), in one pytester run, as a
connector author's project would run it.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

pytest_plugins = ["pytester"]

HEADER = """
import importlib

import pytest

from gateway.sdk.connectors import InboundRequest
from gateway.sdk.testing.connectors import ConnectorCase, ConnectorContract

# Not `from tests.connectors import kit_toys`: pytester drops the modules of each run, and the
# package would keep handing out the first run's module (with the first run's SDK classes).
kit_toys = importlib.import_module("tests.connectors.kit_toys")


def case(connector):
    body = kit_toys.json.dumps(kit_toys.SAMPLE_SHIPMENT).encode()
    return ConnectorCase(
        connector=connector,
        configs=[{}, {"url": "https://other.example/x", "events": ["parcel.picked_up"]}],
        inbound=[InboundRequest(body=body, content_type="application/json")],
    )
"""
CLASS = """

class Test{connector}(ConnectorContract):
    @pytest.fixture
    def connector_case(self):
        return case(kit_toys.{connector})
"""
DECLARATIONS = "test_declares_name_capabilities_and_a_config_model"
CONFIGS = "test_valid_configs_build_and_extra_keys_are_refused"
SECRETS = "test_secrets_are_masked"
SHAPE = "test_render_returns_an_sdk_outbound_or_an_sdk_error"
DETERMINISTIC = "test_render_is_deterministic"
NO_IO = "test_render_does_no_io"
EVENT_ID = "test_render_carries_the_event_id"
ANNOUNCEMENT = "test_parse_inbound_gives_a_valid_announcement"
GARBAGE = "test_parse_inbound_refuses_garbage_with_a_pointer"
STATUS = "test_render_status_is_json_and_deterministic"
SCAN = "test_scan_query_renders_a_request_and_parses_answers"
EVERY_CHECK = {
    DECLARATIONS, CONFIGS, SECRETS, SHAPE, DETERMINISTIC, NO_IO, EVENT_ID, ANNOUNCEMENT, GARBAGE,
    STATUS, SCAN,
}  # fmt: skip
CAUGHT_BY = {
    "ToyConnector": set(),  # correct: passes everything
    "RandomIdConnector": {DETERMINISTIC},
    "NetworkConnector": {NO_IO},
    "NoEventIdConnector": {EVENT_ID},
    "RecipientBlindConnector": {SHAPE},
    "DictRenderingConnector": {SHAPE},
    "LenientConfigConnector": {CONFIGS},
    "PlainPasswordConnector": {SECRETS},
    "PreadviceWithoutParseConnector": {DECLARATIONS},
    "UnnamedConnector": {DECLARATIONS},
    "GarbageTolerantConnector": {GARBAGE},
    "CrashingParserConnector": {GARBAGE},
    "InvalidAnnouncementConnector": {ANNOUNCEMENT},
    "CrashingScanAnswerConnector": {SCAN},
}
PLAIN = ("-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function")


def test_each_connector_fails_exactly_the_checks_for_its_bug(pytester: pytest.Pytester) -> None:
    module = HEADER + "".join(CLASS.format(connector=name) for name in CAUGHT_BY)
    pytester.makepyfile(test_under_kit=module)

    passed, skipped, failed = pytester.inline_run(*PLAIN).listoutcomes()

    outcomes: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for kind, reports in (("passed", passed), ("skipped", skipped), ("failed", failed)):
        for report in reports:
            _, cls, check = report.nodeid.split("::")
            outcomes[cls.removeprefix("Test")][kind].add(check)
    assert {name: outcomes[name]["failed"] for name in CAUGHT_BY} == CAUGHT_BY
    # The correct connector runs every check; only the half-made one skips (inbound checks).
    assert outcomes["ToyConnector"]["passed"] == EVERY_CHECK
    assert {name for name, o in outcomes.items() if o["skipped"]} == {
        "PreadviceWithoutParseConnector"
    }


def test_the_failure_says_which_config_and_event(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_under_kit=HEADER + CLASS.format(connector="NoEventIdConnector"))
    result = pytester.runpytest(*PLAIN, "-k", EVENT_ID)
    result.stdout.fnmatch_lines(["*configs[[]0[]] parcel.announced: eventId * is in no header*"])


def test_forbid_io_blocks_sockets_only_inside_the_block() -> None:
    import socket

    from gateway.sdk.testing.connectors import IoDuringRender, forbid_io

    with forbid_io() as seen, pytest.raises(IoDuringRender):
        socket.socket()
    assert seen == ["socket.__new__"]
    with socket.socket():
        pass
