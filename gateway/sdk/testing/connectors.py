"""ConnectorContract: the conformance suite every carrier connector passes, without a network.

Subclass it in a test module (`class TestMyConnector(ConnectorContract)`) and give it a
`connector_case` fixture returning a `ConnectorCase`: the connector class, one or more valid
configs as an operator writes them, and (for inbound pre-advice) sample bodies of the
carrier's own shipment JSON. Every check renders the SDK's sample events
(`gateway.sdk.connectors.samples`), one of each OLP event type, through every config.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from pydantic import ValidationError

from gateway.sdk.connectors import (
    Capability,
    CarrierScanAnswer,
    Connector,
    ConnectorConfig,
    ConnectorConfigError,
    ConnectorEvent,
    EmailMessage,
    HttpRequest,
    InboundRequest,
    MappingError,
    MqttPublish,
    ScanQueryView,
    ScanReply,
    SkipEvent,
)
from gateway.sdk.connectors.samples import sample_events
from gateway.sdk.testing.connector_checks import (
    GARBAGE,
    IoDuringRender,
    fail_if,
    forbid_io,
    refusal,
    secret_like,
    secret_values,
    shape,
    status_view,
    texts,
    without_each_member,
)

__all__ = ["ConnectorCase", "ConnectorContract", "IoDuringRender", "forbid_io"]

T = TypeVar("T")
A = TypeVar("A")
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_METHODS = {
    Capability.OUTBOUND_EVENTS: "render",
    Capability.RECIPIENT_NOTIFICATIONS: "render",
    Capability.INBOUND_PREADVICE: "parse_inbound",
    Capability.STATUS_PULL: "render_status",
    Capability.SCAN_QUERY: "render_scan_query",
}
_RENDERS = {Capability.OUTBOUND_EVENTS, Capability.RECIPIENT_NOTIFICATIONS}


@dataclass(frozen=True)
class ConnectorCase:
    """What a connector's test module hands the kit."""

    connector: type[Connector]
    configs: Sequence[Mapping[str, Any]]
    """Valid configs as an operator writes them (dicts, before validation); at least one."""
    inbound: Sequence[InboundRequest] = ()
    """Sample pre-advice requests that must parse (needed for INBOUND_PREADVICE)."""
    inbound_configs: Sequence[Mapping[str, Any]] | None = None
    """The configs that take pre-advice, if not all of them (a mapping may be optional)."""
    events: Sequence[ConnectorEvent] = field(default_factory=tuple)
    """Events to render besides the SDK's samples of every type."""
    scan_answers: Sequence[tuple[ScanReply, CarrierScanAnswer]] = ()
    """Carrier answers to scan queries and what they must parse to (for SCAN_QUERY)."""


# ---- helpers ---------------------------------------------------------------------------------


def _build(case: ConnectorCase, config: Mapping[str, Any]) -> Connector:
    model = case.connector.config_model.model_validate(dict(config))
    return case.connector(config=model)


def _connectors(case: ConnectorCase) -> list[Connector]:
    assert case.configs, "the ConnectorCase needs at least one valid config"
    return [_build(case, config) for config in case.configs]


def _inbound_connectors(case: ConnectorCase) -> list[Connector]:
    configs = case.configs if case.inbound_configs is None else case.inbound_configs
    assert configs, "the ConnectorCase needs at least one config that takes pre-advice"
    return [_build(case, config) for config in configs]


def _events(case: ConnectorCase, *, recipient: bool = True) -> list[ConnectorEvent]:
    return [*sample_events(recipient=recipient), *case.events]


def _declares(case: ConnectorCase, *capabilities: Capability) -> bool:
    return bool(case.connector.capabilities & set(capabilities))


def _overrides(kind: type[Connector], method: str) -> bool:
    return getattr(kind, method) is not getattr(Connector, method)


def _need(case: ConnectorCase, *capabilities: Capability) -> None:
    if not _declares(case, *capabilities):
        pytest.skip(f"the connector declares none of {sorted(c.value for c in capabilities)}")
    method = _METHODS[capabilities[0]]
    if not _overrides(case.connector, method):
        pytest.skip(f"{method} is not implemented (the declarations check fails for it)")


def _attempt(call: Callable[[A], T], arg: A) -> T | SkipEvent | MappingError | BaseException:
    """The result, or the exception it raised (returned, so the checks can say which)."""
    try:
        return call(arg)
    except (SkipEvent, MappingError) as expected:
        return expected
    except Exception as foreign:  # the kit reports it; it must not crash the check
        return foreign


@functools.cache
def _announcement_issues() -> Callable[[object], tuple[Any, ...]]:
    from gateway.sdk.schemas import load_schemas

    schemas = load_schemas()
    return lambda body: schemas.issues("create-parcel-request", body)


# ---- the contract ----------------------------------------------------------------------------


class ConnectorContract:
    """The contract checks; a connector's test module provides the `connector_case` fixture."""

    def test_declares_name_capabilities_and_a_config_model(
        self, connector_case: ConnectorCase
    ) -> None:
        kind = connector_case.connector
        assert isinstance(kind, type), "`connector` must be the Connector class"
        assert issubclass(kind, Connector), f"{kind.__name__} does not subclass Connector"
        name = getattr(kind, "name", None)
        assert isinstance(name, str), "`name` must be the entry-point name, a str"
        assert NAME.match(name), f"`name` {name!r} is not a lower-case entry-point name"
        caps = getattr(kind, "capabilities", None)
        assert isinstance(caps, frozenset), "`capabilities` must be a frozenset of Capability"
        assert caps, "a connector must declare at least one capability"
        assert all(isinstance(c, Capability) for c in caps), f"not Capability members: {caps}"
        assert issubclass(kind.config_model, ConnectorConfig), (
            "config_model must subclass ConnectorConfig"
        )
        assert "events" in kind.config_model.model_fields, "config_model must keep `events`"
        # A declared capability whose method is missing would fail at the first delivery.
        for capability in sorted(caps):
            method = _METHODS[capability]
            assert _overrides(kind, method), (
                f"{name} declares {capability.value} but does not implement {method}()"
            )

    def test_valid_configs_build_and_extra_keys_are_refused(
        self, connector_case: ConnectorCase
    ) -> None:
        model = connector_case.connector.config_model
        for index, config in enumerate(connector_case.configs):
            try:
                _build(connector_case, config)
            except (ValidationError, ConnectorConfigError) as err:
                raise AssertionError(f"configs[{index}] is refused: {err}") from err
            # A misspelt key must stop the gateway at start-up, not be ignored.
            with pytest.raises(ValidationError):
                model.model_validate({**config, "no_such_setting_xyz": 1})

    def test_secrets_are_masked(self, connector_case: ConnectorCase) -> None:
        problems: list[str] = []
        for index, config in enumerate(connector_case.configs):
            connector = _build(connector_case, config)
            model = connector.config
            shown = f"{model!r} {model} {model.model_dump_json()} {connector!r}"
            for where, value in secret_like(model):
                if value in shown:
                    problems.append(f"configs[{index}].{where} shows in repr: make it SecretStr")
            for value in secret_values(model):
                if value in shown:
                    problems.append(f"configs[{index}]: a SecretStr value shows in repr")
        fail_if(problems, "secrets in clear text")

    def test_render_returns_an_sdk_outbound_or_an_sdk_error(
        self, connector_case: ConnectorCase
    ) -> None:
        _need(connector_case, *_RENDERS)
        problems: list[str] = []
        rendered = 0
        for index, connector in enumerate(_connectors(connector_case)):
            # Optional members absent (no recipient, no locker): a mapping must cope.
            sparse = [e.model_copy(update={"locker": None}) for e in _events(connector_case)]
            sparse += _events(connector_case, recipient=False)
            for event in [*_events(connector_case), *sparse]:
                if not connector.wants(event.type):
                    continue
                result = _attempt(connector.render, event)
                where = f"configs[{index}] {event.type}"
                if isinstance(result, HttpRequest | MqttPublish | EmailMessage):
                    rendered += 1
                    problems.extend(f"{where}: {p}" for p in shape(result))
                elif isinstance(result, BaseException):
                    if not isinstance(result, SkipEvent | MappingError):
                        kind = type(result).__name__
                        problems.append(
                            f"{where}: raised {kind}: {result} (only SkipEvent or "
                            "MappingError may leave render)"
                        )
                else:
                    problems.append(f"{where}: returned {type(result).__name__}, not an Outbound")
        fail_if(problems, "render broke its contract")
        assert rendered, "no sample event was rendered by any config (all skipped or refused)"

    def test_render_is_deterministic(self, connector_case: ConnectorCase) -> None:
        _need(connector_case, *_RENDERS)
        problems: list[str] = []
        for index, config in enumerate(connector_case.configs):
            first, second = _build(connector_case, config), _build(connector_case, config)
            for event in _events(connector_case):
                if not first.wants(event.type):
                    continue
                before = event.model_dump(mode="json")
                once = _attempt(first.render, event)
                twice = _attempt(first.render, event)
                fresh = _attempt(second.render, event)
                where = f"configs[{index}] {event.type}"
                if event.model_dump(mode="json") != before:
                    problems.append(f"{where}: render changed the event it was given")
                if isinstance(once, BaseException):
                    if type(once) is not type(twice) or str(once) != str(twice):
                        problems.append(f"{where}: raised {once!r}, then {twice!r}")
                elif once != twice or once != fresh:
                    problems.append(f"{where}: two renders differ (a retry must send the same)")
        fail_if(problems, "render is not deterministic")

    def test_render_does_no_io(self, connector_case: ConnectorCase) -> None:
        _need(connector_case, *_RENDERS)
        problems: list[str] = []
        for index, config in enumerate(connector_case.configs):
            connector = _build(connector_case, config)
            for event in _events(connector_case):
                if not connector.wants(event.type):
                    continue
                with forbid_io() as seen:
                    _attempt(connector.render, event)
                if seen:
                    problems.append(
                        f"configs[{index}] {event.type}: {', '.join(sorted(set(seen)))}"
                    )
        fail_if(problems, "render reached outside the process")

    def test_render_carries_the_event_id(self, connector_case: ConnectorCase) -> None:
        _need(connector_case, *_RENDERS)
        problems: list[str] = []
        for index, connector in enumerate(_connectors(connector_case)):
            for event in _events(connector_case):
                if not connector.wants(event.type):
                    continue
                result = _attempt(connector.render, event)
                # An e-mail gets X-OpenLocker-Event-Id from the SMTP transport itself.
                if isinstance(result, BaseException | EmailMessage):
                    continue
                if not any(event.event_id in text for text in texts(result)):
                    problems.append(
                        f"configs[{index}] {event.type}: eventId {event.event_id} is in no "
                        "header and not in the body (receivers dedupe on it)"
                    )
        fail_if(problems, "renders without the event id")

    def test_parse_inbound_gives_a_valid_announcement(self, connector_case: ConnectorCase) -> None:
        _need(connector_case, Capability.INBOUND_PREADVICE)
        assert connector_case.inbound, "INBOUND_PREADVICE needs sample `inbound` requests"
        problems: list[str] = []
        issues_of = _announcement_issues()
        for index, connector in enumerate(_inbound_connectors(connector_case)):
            for number, request in enumerate(connector_case.inbound):
                where = f"configs[{index}] inbound[{number}]"
                with forbid_io() as seen:
                    result = _attempt(connector.parse_inbound, request)
                if seen:
                    problems.append(f"{where}: I/O while parsing: {', '.join(sorted(set(seen)))}")
                if isinstance(result, BaseException):
                    problems.append(
                        f"{where}: a valid sample raised {type(result).__name__}: {result}"
                    )
                    continue
                if not isinstance(result, dict):
                    problems.append(f"{where}: returned {type(result).__name__}, not a dict")
                    continue
                for issue in issues_of(result):
                    problems.append(f"{where}: announcement {issue.pointer or '/'} {issue.detail}")
                if result != _attempt(connector.parse_inbound, request):
                    problems.append(f"{where}: two parses of the same body differ")
        fail_if(problems, "parse_inbound broke its contract")

    def test_parse_inbound_refuses_garbage_with_a_pointer(
        self, connector_case: ConnectorCase
    ) -> None:
        _need(connector_case, Capability.INBOUND_PREADVICE)
        problems: list[str] = []
        for index, connector in enumerate(_inbound_connectors(connector_case)):
            for body in GARBAGE:
                request = InboundRequest(body=body, content_type="application/json")
                result = _attempt(connector.parse_inbound, request)
                where = f"configs[{index}] body {body[:40]!r}"
                problems.extend(refusal(where, result, named=False))
            # One member missing at a time: either still an announcement, or the member named.
            for number, sample in enumerate(connector_case.inbound):
                for key, trimmed in without_each_member(sample):
                    request = InboundRequest(trimmed, sample.content_type, sample.headers)
                    result = _attempt(connector.parse_inbound, request)
                    where = f"configs[{index}] inbound[{number}] without {key!r}"
                    if not isinstance(result, dict):
                        problems.extend(refusal(where, result, named=True))
        fail_if(problems, "parse_inbound mishandled bad input")

    def test_render_status_is_json_and_deterministic(self, connector_case: ConnectorCase) -> None:
        _need(connector_case, Capability.STATUS_PULL)
        problems: list[str] = []
        for index, connector in enumerate(_connectors(connector_case)):
            for event in _events(connector_case):
                view = status_view(event)
                where = f"configs[{index}] {event.parcel.state}"
                with forbid_io() as seen:
                    result = _attempt(connector.render_status, view)
                if seen:
                    problems.append(f"{where}: I/O while mapping: {', '.join(sorted(set(seen)))}")
                if isinstance(result, SkipEvent | MappingError):
                    continue
                if not isinstance(result, dict):
                    problems.append(f"{where}: returned {type(result).__name__}, not a dict")
                    continue
                try:
                    json.dumps(result)
                except (TypeError, ValueError) as err:
                    problems.append(f"{where}: not JSON-serialisable: {err}")
                if result != _attempt(connector.render_status, view):
                    problems.append(f"{where}: two answers differ")
        fail_if(problems, "render_status broke its contract")

    def test_scan_query_renders_a_request_and_parses_answers(
        self, connector_case: ConnectorCase
    ) -> None:
        _need(connector_case, Capability.SCAN_QUERY)
        assert _overrides(connector_case.connector, "parse_scan_answer"), (
            "a scan-query connector implements parse_scan_answer()"
        )
        problems: list[str] = []
        views = [
            ScanQueryView("q-1", "acme", "WAW-CENTRAL-01", "JJD000390007729481234", "M", "net"),
            ScanQueryView("q-2", "acme", "WAW-CENTRAL-01", "RR123456785PL"),
        ]
        for index, connector in enumerate(_connectors(connector_case)):
            for view in views:
                where = f"configs[{index}] {view.query_id}"
                with forbid_io() as seen:
                    result = _attempt(connector.render_scan_query, view)
                if seen:
                    problems.append(f"{where}: I/O while mapping: {', '.join(sorted(set(seen)))}")
                if not isinstance(result, HttpRequest):
                    problems.append(f"{where}: returned {type(result).__name__}, not HttpRequest")
                elif result != _attempt(connector.render_scan_query, view):
                    problems.append(f"{where}: two renders differ")
            for number, (reply, expected) in enumerate(connector_case.scan_answers):
                got = _attempt(connector.parse_scan_answer, reply)
                if got != expected:
                    problems.append(f"configs[{index}] scan_answers[{number}]: {got!r}")
            # What a carrier's proxy or a bug may send: an answer or MappingError, nothing else.
            for body in (
                *GARBAGE,
                b"[]",
                b"{}",
                b'{"decision": 7}',
                b'{"decision": "accept", "sizeClass": "XXL"}',
            ):
                for status in (200, 500):
                    got = _attempt(connector.parse_scan_answer, ScanReply(status, body))
                    if not isinstance(got, CarrierScanAnswer | MappingError):
                        problems.append(
                            f"configs[{index}] HTTP {status} {body[:20]!r}: raised {got!r}"
                        )
        fail_if(problems, "the scan query broke its contract")
