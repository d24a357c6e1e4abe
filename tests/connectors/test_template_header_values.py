"""A rendered header value the HTTP client cannot send is a mapping error, not a retry loop."""

from __future__ import annotations

import httpx
import pytest

from gateway.sdk.connectors import MappingError
from gateway.sdk.connectors.samples import sample_event
from tests.connectors.test_template import build


@pytest.mark.parametrize(
    "reference",
    ["Zamówienie 17", "a\x0bb", "a\x7fb", "a\x00b"],
    ids=["non-ascii", "vertical-tab", "delete", "nul"],
)
def test_a_header_value_httpx_cannot_send_is_a_mapping_error(reference: str) -> None:
    connector = build(headers={"X-Ref": "{{ parcel.reference }}"})
    event = sample_event("parcel.picked_up")
    parcel = event.parcel.model_copy(update={"reference": reference})
    with pytest.raises(MappingError, match=r"headers\.X-Ref: a control or non-ASCII") as caught:
        connector.render(event.model_copy(update={"parcel": parcel}))
    assert reference not in caught.value.description


def test_httpx_indeed_refuses_a_non_ascii_header_value() -> None:
    # Why the check exists: the transport would fail on every attempt until the row is dead.
    with pytest.raises(UnicodeEncodeError):
        httpx.Request("POST", "https://carrier.example/", headers={"X-Ref": "Zamówienie"})


def test_printable_ascii_and_tabs_pass() -> None:
    connector = build(headers={"X-Ref": "{{ parcel.reference }}"})
    event = sample_event("parcel.picked_up")
    parcel = event.parcel.model_copy(update={"reference": "order\t17 (A/B) ~ok"})
    request = connector.render(event.model_copy(update={"parcel": parcel}))
    assert request.headers["X-Ref"] == "order\t17 (A/B) ~ok"
