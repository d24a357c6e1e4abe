"""The template connector renders what its config says, and refuses a bad config at start-up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.template import TemplateConfig, TemplateConnector
from gateway.sdk.connectors import (
    OLP_EVENT_TYPES,
    Capability,
    ConnectorConfigError,
    ConnectorEvent,
    HttpRequest,
    MappingError,
    ParcelStatusView,
    SkipEvent,
    load_connector_class,
)
from gateway.sdk.connectors.samples import sample_event

URL = "https://api.carrier.example/shipments/{{ parcel.parcelId }}/events"
BODY = """{
  "shipment": {{ parcel.parcelId | tojson }},
  "status": {{ status.code | tojson }},
  "text": {{ status.text | tojson }},
  "at": {{ event.occurredAt | tojson }},
  "locker": {{ parcel.lockerId | tojson }}
}"""
# One carrier code per OLP type, so that every type has a distinct, checkable answer.
EVERY_TYPE = {t: {"code": t.removeprefix("parcel.").upper(), "text": t} for t in OLP_EVENT_TYPES}


def build(**config: Any) -> TemplateConnector:
    defaults: dict[str, Any] = {"url": URL, "body": BODY, "statuses": EVERY_TYPE}
    return TemplateConnector(config=TemplateConfig.model_validate(defaults | config))


def with_parcel_id(event: ConnectorEvent, parcel_id: str) -> ConnectorEvent:
    parcel = event.parcel.model_copy(update={"parcel_id": parcel_id})
    return event.model_copy(update={"parcel": parcel})


def test_registered_under_its_entry_point() -> None:
    assert load_connector_class("template") is TemplateConnector
    assert TemplateConnector.capabilities == {
        Capability.OUTBOUND_EVENTS,
        Capability.INBOUND_PREADVICE,
        Capability.STATUS_PULL,
    }


@pytest.mark.parametrize("event_type", OLP_EVENT_TYPES)
def test_every_mapped_type_renders_its_carrier_status(event_type: str) -> None:
    event = sample_event(event_type)
    request = build().render(event)
    assert isinstance(request, HttpRequest)
    assert request.method == "POST"
    assert request.url == f"https://api.carrier.example/shipments/{event.parcel.parcel_id}/events"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {
        "shipment": event.parcel.parcel_id,
        "status": EVERY_TYPE[event_type]["code"],
        "text": event_type,
        "at": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "locker": event.parcel.locker_id,
    }


def test_rendering_is_deterministic() -> None:
    connector = build()
    event = sample_event("parcel.picked_up")
    assert connector.render(event) == connector.render(event)


def test_method_and_header_templates() -> None:
    connector = build(
        method="PUT",
        headers={"X-Event-Id": "{{ event.eventId }}", "X-Carrier-Status": "{{ status.code }}"},
        content_type="application/vnd.carrier.event+json",
    )
    event = sample_event("parcel.ready_for_pickup")
    request = connector.render(event)
    assert request.method == "PUT"
    assert request.headers == {
        "Content-Type": "application/vnd.carrier.event+json",
        "X-Event-Id": event.event_id,
        "X-Carrier-Status": "READY_FOR_PICKUP",
    }


def test_status_extra_members_reach_the_template() -> None:
    statuses = {"parcel.expired": {"code": "EMH", "extra": {"reason": {"code": 21}}}}
    body = '{"code": {{ status.code | tojson }}, "reason": {{ status.reason | tojson }}}'
    request = build(statuses=statuses, body=body).render(sample_event("parcel.expired"))
    assert json.loads(request.body) == {"code": "EMH", "reason": {"code": 21}}


@pytest.mark.parametrize(
    ("parcel_id", "segment"),
    [
        ("AB-12.3:4_5", "AB-12.3%3A4_5"),
        ("a/../../admin?x=1#f", "a%2F..%2F..%2Fadmin%3Fx%3D1%23f"),
        ("zażółć 1", "za%C5%BC%C3%B3%C5%82%C4%87%201"),
    ],
)
def test_url_values_are_percent_encoded(parcel_id: str, segment: str) -> None:
    event = with_parcel_id(sample_event("parcel.picked_up"), parcel_id)
    request = build().render(event)
    assert request.url == f"https://api.carrier.example/shipments/{segment}/events"


def test_json_special_characters_stay_valid_json() -> None:
    event = with_parcel_id(sample_event("parcel.picked_up"), 'quote " back \\ <tag> &')
    assert json.loads(build().render(event).body)["shipment"] == 'quote " back \\ <tag> &'


def test_body_that_is_not_json_is_a_mapping_error() -> None:
    # Fine for the sample, broken for an id with a quote: caught at render, not sent.
    connector = build(body='{"shipment": "{{ parcel.parcelId }}"}')
    event = with_parcel_id(sample_event("parcel.picked_up"), 'a"b')
    with pytest.raises(MappingError, match="not valid JSON") as caught:
        connector.render(event)
    assert caught.value.issues[0].pointer == "/body"
    assert 'a"b' not in caught.value.description


def test_a_non_json_content_type_is_sent_as_rendered() -> None:
    connector = build(content_type="text/plain", body="{{ parcel.parcelId }} {{ status.code }}")
    request = connector.render(sample_event("parcel.picked_up"))
    assert request.body == b"JJD000390007729481234 PICKED_UP"


def test_unmapped_types_are_skipped_by_default() -> None:
    connector = build(statuses={"parcel.picked_up": "delivered"})
    with pytest.raises(SkipEvent, match=r"parcel\.announced"):
        connector.render(sample_event("parcel.announced"))
    assert json.loads(connector.render(sample_event("parcel.picked_up")).body)["status"] == (
        "delivered"
    )


def test_unmapped_types_are_errors_when_the_policy_says_so() -> None:
    connector = build(statuses={"parcel.picked_up": "delivered"}, unmapped="error")
    with pytest.raises(MappingError, match=r"parcel\.announced") as caught:
        connector.render(sample_event("parcel.announced"))
    assert caught.value.issues[0].pointer == "/type"


def test_a_runtime_template_failure_does_not_leak_values() -> None:
    # Jinja names an unknown key by its value; at send time that value may be personal data.
    connector = build(body='{"n": {{ {"order 4711": 1}[parcel.reference] }}}')
    event = sample_event("parcel.picked_up")
    parcel = event.parcel.model_copy(update={"reference": "Ada Secret"})
    with pytest.raises(MappingError, match="/body: the template failed") as caught:
        connector.render(event.model_copy(update={"parcel": parcel}))
    assert "Ada Secret" not in str(caught.value)
    assert all("Ada Secret" not in issue.detail for issue in caught.value.issues)


def test_the_sandbox_refuses_unsafe_access_at_start_up() -> None:
    with pytest.raises(ConnectorConfigError, match="unsafe"):
        build(body='{"n": "{{ parcel.parcelId.__class__ }}"}')


@pytest.mark.parametrize("name", ["recipient", "access"])
def test_recipient_data_and_pickup_codes_are_not_in_the_context(name: str) -> None:
    with pytest.raises(ConnectorConfigError, match=f"/body: .*{name}"):
        build(body=f'{{"x": {{{{ event.{name} | tojson }}}}}}')
    with pytest.raises(ConnectorConfigError, match=f"/body: .*{name}"):
        build(body=f'{{"x": {{{{ {name} | tojson }}}}}}')


def test_header_values_cannot_inject_lines() -> None:
    connector = build(headers={"X-Ref": "{{ parcel.reference }}"})
    event = sample_event("parcel.picked_up")
    parcel = event.parcel.model_copy(update={"reference": "a\r\nX-Evil: 1"})
    with pytest.raises(MappingError, match="line break"):
        connector.render(event.model_copy(update={"parcel": parcel}))


def test_the_events_filter_and_an_inbound_only_attachment() -> None:
    assert build(events=["parcel.picked_up"]).wants("parcel.picked_up")
    assert not build(events=["parcel.picked_up"]).wants("parcel.expired")
    inbound_only = TemplateConnector(
        config=TemplateConfig.model_validate(
            {
                "inbound": {
                    "fields": {
                        "parcelId": {"pointer": "/id"},
                        "lockerId": {"pointer": "/locker"},
                        "sizeClass": {"value": "M"},
                    }
                }
            }
        )
    )
    assert not inbound_only.wants("parcel.picked_up")
    with pytest.raises(SkipEvent):
        inbound_only.render(sample_event("parcel.picked_up"))


# ---- status pull -------------------------------------------------------------------------


def view(*types: str) -> ParcelStatusView:
    events = [sample_event(t, seq=i + 1) for i, t in enumerate(types)]
    return ParcelStatusView(
        parcel=events[-1].parcel.model_dump(mode="json"),
        events=tuple(e.event.model_dump(mode="json") for e in events),
    )


def test_status_pull_answers_the_latest_mapped_status() -> None:
    statuses = {
        "parcel.ready_for_pickup": {"code": "EDH", "text": "At the point"},
        "parcel.picked_up": "EMI",
    }
    answer = build(statuses=statuses).render_status(
        view("parcel.announced", "parcel.reserved", "parcel.ready_for_pickup", "parcel.picked_up")
    )
    assert answer["parcelId"] == "JJD000390007729481234"
    assert (answer["status"], answer["statusText"]) == ("EMI", None)
    assert [h["status"] for h in answer["history"]] == ["EDH", "EMI"]
    assert answer["history"][0]["statusText"] == "At the point"


def test_status_pull_before_any_mapped_event() -> None:
    answer = build(statuses={"parcel.picked_up": "EMI"}).render_status(view("parcel.announced"))
    assert answer["status"] is None
    assert answer["history"] == []


def test_status_pull_through_a_status_body_template() -> None:
    status_body = (
        '{"item": {{ parcel.parcelId | tojson }}, "code": {{ status.code | tojson }},'
        ' "n": {{ history | length }}}'
    )
    connector = build(
        statuses={"parcel.reserved": "R", "parcel.ready_for_pickup": "P"}, status_body=status_body
    )
    answer = connector.render_status(
        view("parcel.announced", "parcel.reserved", "parcel.ready_for_pickup")
    )
    assert answer == {"item": "JJD000390007729481234", "code": "P", "n": 2}


# ---- bad config: every mistake stops the start-up with a message naming the setting ------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"body": '{"a": {{ parcel.parcelId | tojson }'},
            r"^.*/body: the template does not compile",
        ),
        ({"url": "https://x.example/{% if %}"}, r"/url: the template does not compile"),
        ({"headers": {"X-A": "{{ }}"}}, r"/headers/X-A: the template does not compile"),
        ({"status_body": "{{ ( }}"}, r"/status_body: the template does not compile"),
        (
            {"statuses": {"parcel.delivered": "D", "parcel.picked_up": "P"}},
            r"statuses: parcel\.delivered is not an OLP event type \(known: parcel\.announced",
        ),
        ({"events": ["parcel.lost"]}, r"events: parcel\.lost is not an OLP event type"),
        (
            {
                "body": '{"a": {{ parcel.noSuchMember | tojson }}}',
                "statuses": {"parcel.expired": "X"},
            },
            r"statuses\.parcel\.expired: a sample parcel\.expired event does not render: "
            r"/body: .*noSuchMember",
        ),
        (
            {"body": '{"a": {{ status.code }}}', "statuses": {"parcel.expired": "X"}},
            r"statuses\.parcel\.expired: .*/body: the rendered text is not valid JSON",
        ),
        ({"url": "{{ parcel.parcelId }}/events"}, r"url: must render an absolute http\(s\) URL"),
        ({"body": None}, r"body: a url needs a body template"),
        ({"statuses": {}}, r"statuses: a url needs at least one mapped event type"),
        ({"status_body": "[1, 2]"}, r"status_body: .*must render a JSON object"),
        ({"url": None, "statuses": {}}, r"configure at least one of"),
    ],
)
def test_bad_config_fails_at_construction(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConnectorConfigError, match=message):
        build(**config)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"unmapped": "drop"}, "unmapped"),
        ({"method": "GET"}, "method"),
        ({"headers": {"Content-Type": "text/plain"}}, "set by the gateway"),
        ({"headers": {"Bad Name": "x"}}, "not a valid HTTP header name"),
        ({"statuses": {"parcel.expired": {"code": ""}}}, "code"),
        ({"statuses": {"parcel.expired": {"code": "X", "extra": {"code": 1}}}}, "redefine code"),
        ({"statuses": {"parcel.expired": {"code": "X", "colour": "red"}}}, "colour"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_config_values_are_refused_by_the_model(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        build(**config)


# ---- mapping files -----------------------------------------------------------------------


def test_a_mapping_file_in_toml_and_yaml(tmp_path: Path) -> None:
    toml = tmp_path / "carrier.toml"
    toml.write_text(
        f"body = '''{BODY}'''\n[statuses]\n\"parcel.picked_up\" = \"delivered\"\n", encoding="utf-8"
    )
    yaml_file = tmp_path / "carrier.yaml"
    yaml_file.write_text(
        "body: |\n"
        + "".join(f"  {line}\n" for line in BODY.splitlines())
        + "statuses:\n  parcel.picked_up: delivered\n",
        encoding="utf-8",
    )
    for path in (toml, yaml_file):
        connector = TemplateConnector(
            config=TemplateConfig.model_validate({"mapping_file": str(path), "url": URL})
        )
        body = json.loads(connector.render(sample_event("parcel.picked_up")).body)
        assert body["status"] == "delivered", path


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.toml", "statuses = {", r"mapping file .*broken\.toml is not valid TOML"),
        ("broken.yaml", "statuses: [\n", r"mapping file .*broken\.yaml is not valid YAML"),
        ("list.yaml", "- 1\n- 2\n", r"must hold a table of settings"),
        ("carrier.json", "{}", r"use a \.toml, \.yaml or \.yml file"),
        ("nested.toml", 'mapping_file = "other.toml"', r"must not name another mapping_file"),
        ("both.toml", f"url = '{URL}'", r"both set url; set each key in one place"),
        ("typo.toml", "statusses = {}", r"statusses"),
    ],
)
def test_a_broken_mapping_file_is_refused(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValidationError, match=message):
        TemplateConfig.model_validate({"mapping_file": str(path), "url": URL})


def test_a_missing_mapping_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"mapping file .*nowhere\.toml cannot be read"):
        TemplateConfig.model_validate({"mapping_file": str(tmp_path / "nowhere.toml")})
