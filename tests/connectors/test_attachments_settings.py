"""Attachments in the settings file and the environment, and the gateway refusing bad ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.app import Gateway
from gateway.delivery.routes import TargetKind
from gateway.sdk.connectors import ConnectorConfigError
from gateway.settings import Settings, load_settings
from gateway.store import CarrierRecord, Store

SECRET = "whsec-literal-never-printed"
TOML = """
network_id = "test-net"

[[connectors]]
id = "acme-epcis"
carrier = "acme"
connector = "epcis"
events = ["parcel.ready_for_pickup"]
config = { url = "https://acme.example/epcis" }
auth = { type = "api-key", header = "X-Api-Key", value = "env:ACME_EPCIS_KEY" }
delivery = { timeout_s = 5, max_attempts = 3 }

[[connectors]]
id = "acme-ce"
carrier = "acme"
connector = "cloudevents"
active = false

[connectors.config]
url = "https://acme.example/ce"
"""


def test_connectors_come_from_toml_tables(tmp_path: Path) -> None:
    path = tmp_path / "openlocker.toml"
    path.write_text(TOML)

    settings = load_settings(path)

    first, second = settings.connectors
    assert (first.id, first.carrier, first.connector) == ("acme-epcis", "acme", "epcis")
    assert first.config == {"url": "https://acme.example/epcis"}
    assert first.auth == {"type": "api-key", "header": "X-Api-Key", "value": "env:ACME_EPCIS_KEY"}
    assert first.delivery == {"timeout_s": 5, "max_attempts": 3}
    assert first.events == ["parcel.ready_for_pickup"]
    assert (second.active, second.auth, second.events) == (False, None, None)


def test_connectors_come_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    attachments = [
        {
            "id": "globex-sw",
            "carrier": "globex",
            "connector": "standard-webhooks",
            "config": {"url": "https://globex.example/hooks"},
            "auth": {"type": "standard-webhooks-v1", "secret": SECRET},
        }
    ]
    monkeypatch.setenv("OPENLOCKER_CONNECTORS", json.dumps(attachments))

    (only,) = load_settings().connectors

    assert only.id == "globex-sw"
    assert only.auth == {"type": "standard-webhooks-v1", "secret": SECRET}
    # Config and auth may hold literal secrets: never in the settings' repr.
    assert SECRET not in repr(load_settings())


def test_the_environment_overrides_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "openlocker.toml"
    path.write_text(TOML)
    monkeypatch.setenv("OPENLOCKER_CONNECTORS", "[]")
    assert load_settings(path).connectors == []


@pytest.mark.parametrize(
    ("attachments", "problem"),
    [
        ([{"id": "a", "carrier": "c"}], "connector"),
        ([{"id": "a b", "carrier": "c", "connector": "epcis"}], "id"),
        ([{"id": "a", "carrier": "c", "connector": "epcis", "confg": {}}], "confg"),
        (
            [{"id": "a", "carrier": "c", "connector": "x"}] * 2,
            "connector attachment id 'a' is used twice",
        ),
    ],
)
def test_malformed_tables_are_refused_by_the_settings(
    attachments: list[dict[str, object]], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        Settings(connectors=attachments)


async def _with_carrier(database_url: str) -> None:
    async with Store.connect(database_url) as store:
        await store.migrate()
        async with store.transaction() as tx:
            await tx.carriers.add(CarrierRecord("acme", "ACME", {"keys": []}, datetime.now(UTC)))


def _settings(database_url: str, path: Path) -> Settings:
    return load_settings(
        path,
        database_url=database_url,
        http_port=0,
        embedded_mqtt_port=0,
        housekeeping_interval_s=3600,
    )


async def test_the_gateway_builds_its_attachments_before_serving(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _with_carrier(database_url)
    monkeypatch.setenv("ACME_EPCIS_KEY", "k-123456")
    path = tmp_path / "openlocker.toml"
    path.write_text(TOML)

    async with Gateway(settings=_settings(database_url, path)) as gateway:
        route = await gateway.connectors.routes.route(TargetKind.CONNECTOR, "acme-epcis")
        assert route is not None
        assert route.policy.max_attempts == 3
        assert await gateway.connectors.routes.route(TargetKind.CONNECTOR, "acme-ce") is None


async def test_the_gateway_refuses_to_start_with_a_bad_attachment(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _with_carrier(database_url)
    monkeypatch.delenv("ACME_EPCIS_KEY", raising=False)
    path = tmp_path / "openlocker.toml"
    path.write_text(TOML.replace('"https://acme.example/epcis"', '"not a url"'))

    gateway = Gateway(settings=_settings(database_url, path))
    with pytest.raises(ConnectorConfigError) as caught:
        async with gateway:
            pytest.fail("the gateway started")
    text = str(caught.value)
    assert "connectors[acme-epcis].config" in text
    assert (
        "connectors[acme-epcis].auth.value: environment variable ACME_EPCIS_KEY is not set" in text
    )
    assert gateway.port is None  # never served


async def test_the_readme_example_attachment_builds(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the README promises an operator must work as written (paths from the project root).
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = readme.split("```toml\n[[connectors]]", 1)[1].split("```", 1)[0]
    await _with_carrier(database_url)
    monkeypatch.setenv("ACME_CLIENT_SECRET", "s3cr3t-from-env")
    monkeypatch.chdir(Path(__file__).parents[2])
    path = tmp_path / "openlocker.toml"
    path.write_text('network_id = "test-net"\n\n[[connectors]]' + block)

    async with Gateway(settings=_settings(database_url, path)) as gateway:
        route = await gateway.connectors.routes.route(TargetKind.CONNECTOR, "acme-track")
        assert route is not None
        assert route.connector.name == "template"
        assert route.policy.rate_per_s == 20
