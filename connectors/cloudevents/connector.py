"""The `cloudevents` connector: OLP parcel events as CloudEvents 1.0 over HTTP or MQTT.

Attributes: `id` = eventId (what receivers dedupe on), `source` = a URI naming the network,
`type` = `<type_prefix>.<OLP type>`, `subject` = parcelId, `time` = occurredAt, JSON `data`.
HTTP uses the CloudEvents SDK's binding as is; MQTT follows the MQTT protocol binding 1.0.2
(binary mode: data as payload, `datacontenttype` as the MQTT 5 Content Type, every other
attribute as a User Property of the same name; structured mode: the JSON event format).
"""

from __future__ import annotations

from typing import Any, ClassVar

from cloudevents.core.bindings.http import to_binary, to_structured
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from connectors.cloudevents.config import (
    TOPIC_FIELDS,
    CloudEventsConfig,
    ContentMode,
    TransportKind,
    template_fields,
)
from connectors.standard_webhooks.connector import payload_data
from gateway.sdk.connectors import (
    BrokerSpec,
    Capability,
    Connector,
    ConnectorConfig,
    ConnectorConfigError,
    ConnectorEvent,
    HttpRequest,
    MappingError,
    MqttPublish,
)

__all__ = ["CloudEventsConnector"]

DATA_CONTENT_TYPE = "application/json"
_FORMAT = JSONFormat()
# Characters an MQTT topic level must not get from a substituted value.
_TOPIC_UNSAFE = frozenset("/+#\0")


class CloudEventsConnector(Connector):
    """Renders each event as one CloudEvent: an HTTP POST or an MQTT PUBLISH."""

    name: ClassVar[str] = "cloudevents"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.OUTBOUND_EVENTS})
    config_model: ClassVar[type[ConnectorConfig]] = CloudEventsConfig

    def __init__(self, *, config: ConnectorConfig) -> None:
        if not isinstance(config, CloudEventsConfig):
            raise ConnectorConfigError(f"{self.name}: expected a CloudEventsConfig")
        super().__init__(config=config)
        config.validate_whole()
        self.settings = config
        # One spec for every render: the MQTT transport keeps one connection per spec.
        self.broker: BrokerSpec | None = None
        self._topic_fields: set[str] = set()
        if config.transport is TransportKind.MQTT and config.broker is not None:
            self.broker = config.broker.spec()
            self._topic_fields = template_fields("topic", config.topic, TOPIC_FIELDS)

    def render(self, event: ConnectorEvent) -> HttpRequest | MqttPublish:
        data = payload_data(event)
        cloud_event = self._cloud_event(event, data)
        if self.settings.transport is TransportKind.HTTP:
            return self._http(cloud_event)
        return self._mqtt(event, cloud_event, data)

    def attributes(self, event: ConnectorEvent) -> dict[str, Any]:
        """The context attributes (time as the aware datetime the SDK expects)."""
        ids = _ids(event)
        return {
            "specversion": "1.0",
            "id": event.event_id,
            "source": self.settings.source.format_map(ids),
            "type": f"{self.settings.type_prefix}.{event.type}",
            "subject": event.parcel.parcel_id,
            "time": event.occurred_at,
            "datacontenttype": DATA_CONTENT_TYPE,
        }

    def _cloud_event(self, event: ConnectorEvent, data: dict[str, Any]) -> CloudEvent:
        try:
            return CloudEvent(self.attributes(event), data)
        except BaseCloudEventException as err:
            raise MappingError(f"not a valid CloudEvent: {err}", pointer="") from err

    def _http(self, cloud_event: CloudEvent) -> HttpRequest:
        assert self.settings.url is not None  # validate_whole() made sure
        if self.settings.mode is ContentMode.BINARY:
            message = to_binary(cloud_event, _FORMAT)
        else:
            message = to_structured(cloud_event, _FORMAT)
        headers = {**self.settings.headers, **message.headers}
        return HttpRequest(url=self.settings.url, body=message.body, headers=headers)

    def _mqtt(
        self, event: ConnectorEvent, cloud_event: CloudEvent, data: dict[str, Any]
    ) -> MqttPublish:
        assert self.broker is not None  # validate_whole() made sure
        topic = self._topic(event)
        if self.settings.mode is ContentMode.STRUCTURED:
            # MQTT 3.1.1 has no Content Type: the JSON event format is implied there.
            content_type = _FORMAT.get_content_type() if self.broker.protocol == 5 else None
            return MqttPublish(
                broker=self.broker,
                topic=topic,
                payload=_FORMAT.write(cloud_event),
                qos=self.settings.qos,
                content_type=content_type,
            )
        properties = {
            name: _canonical(name, value, data)
            for name, value in cloud_event.get_attributes().items()
            if name != "datacontenttype" and value is not None
        }
        return MqttPublish(
            broker=self.broker,
            topic=topic,
            payload=_FORMAT.write_data(data, DATA_CONTENT_TYPE),
            qos=self.settings.qos,
            content_type=DATA_CONTENT_TYPE,
            user_properties=properties,
        )

    def _topic(self, event: ConnectorEvent) -> str:
        ids = _ids(event)
        for name, value in ids.items():
            if name in self._topic_fields and _TOPIC_UNSAFE.intersection(value):
                raise MappingError(
                    f"{name} cannot be part of an MQTT topic (it contains '/', '+' or '#')",
                    pointer=_POINTERS[name],
                )
        return self.settings.topic.format_map(ids)


_POINTERS = {
    "networkId": "/networkId",
    "carrierId": "/carrierId",
    "parcelId": "/parcel/parcelId",
    "lockerId": "/parcel/lockerId",
    "type": "/type",
    "eventId": "/eventId",
}


def _ids(event: ConnectorEvent) -> dict[str, str]:
    return {
        "networkId": event.network_id,
        "carrierId": event.carrier_id,
        "parcelId": event.parcel.parcel_id,
        "lockerId": event.parcel.locker_id,
        "type": event.type,
        "eventId": event.event_id,
    }


def _canonical(name: str, value: Any, data: dict[str, Any]) -> str:
    """An attribute's canonical string; `time` as RFC 3339, exactly as in the data."""
    if name == "time":
        occurred: str = data["occurredAt"]
        return occurred
    return str(value)
