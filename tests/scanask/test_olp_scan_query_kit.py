"""The `olp-scan-query` connector passes the conformance kit (its scan-query checks too),
loaded through its entry point."""

from __future__ import annotations

import json

import pytest

from gateway.sdk.connectors import (
    CarrierScanAnswer,
    MappingError,
    ScanReply,
    ScanVerdict,
    load_connector_class,
)
from gateway.sdk.testing.connectors import ConnectorCase, ConnectorContract

URL = "https://carrier.example/scan-queries"
ANSWERS = [
    (
        ScanReply(200, b'{"decision":"accept","sizeClass":"M"}'),
        CarrierScanAnswer(ScanVerdict.ACCEPT, "M"),
    ),
    (ScanReply(200, b'{"decision":"accept"}'), CarrierScanAnswer(ScanVerdict.ACCEPT)),
    (
        ScanReply(200, b'{"decision":"refuse","why":"wrong locker"}'),
        CarrierScanAnswer(ScanVerdict.REFUSE),
    ),
    (ScanReply(200, b'{"decision":"unknown"}'), CarrierScanAnswer(ScanVerdict.UNKNOWN)),
    (ScanReply(404, b""), CarrierScanAnswer(ScanVerdict.UNKNOWN)),
]


class TestOlpScanQuery(ConnectorContract):
    name = "olp-scan-query"

    @pytest.fixture
    def connector_case(self) -> ConnectorCase:
        return ConnectorCase(
            connector=load_connector_class(self.name),
            configs=[{"url": URL}],
            scan_answers=ANSWERS,
        )


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (b'{"decision":"refuse","sizeClass":"M"}', "/sizeClass"),
        (b'{"decision":"accept","sizeClass":"XXL"}', "/sizeClass"),
        (b'{"decision":"maybe"}', "/decision"),
    ],
)
def test_a_wrong_answer_names_its_member(body: bytes, pointer: str) -> None:
    connector = load_connector_class("olp-scan-query")
    built = connector(config=connector.config_model.model_validate({"url": URL}))
    with pytest.raises(MappingError) as raised:
        built.parse_scan_answer(ScanReply(200, body))
    assert [i.pointer for i in raised.value.issues] == [pointer]


def test_the_request_and_answers_are_the_published_schemas() -> None:
    from gateway.sdk.connectors import ScanQueryView
    from gateway.sdk.schemas import load_schemas

    schemas = load_schemas()
    connector = load_connector_class("olp-scan-query")
    built = connector(config=connector.config_model.model_validate({"url": URL}))
    view = ScanQueryView("q-1", "acme", "WAW-CENTRAL-01", "JJD000390007729481234", "M", "net")
    request = built.render_scan_query(view)
    assert schemas.issues("scan-query-request", json.loads(request.body)) == ()
    for body in ('{"decision":"accept","sizeClass":"M"}', '{"decision":"unknown"}'):
        assert schemas.issues("scan-query-answer", json.loads(body)) == ()
        built.parse_scan_answer(ScanReply(200, body.encode()))
