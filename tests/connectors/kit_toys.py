"""A small correct connector and broken variants of it, each with one bug the kit must catch."""

from __future__ import annotations

import json
import socket
import uuid
from typing import Any, ClassVar

from pydantic import ConfigDict, SecretStr

from gateway.sdk.connectors import (
    Announcement,
    Capability,
    CarrierScanAnswer,
    Connector,
    ConnectorConfig,
    ConnectorEvent,
    HttpRequest,
    InboundRequest,
    MappingError,
    Outbound,
    ParcelStatusView,
    ScanQueryView,
    ScanReply,
    ScanVerdict,
    SkipEvent,
)

ALL = frozenset(
    {
        Capability.OUTBOUND_EVENTS,
        Capability.INBOUND_PREADVICE,
        Capability.STATUS_PULL,
        Capability.SCAN_QUERY,
    }
)
SAMPLE_SHIPMENT = {"shipment": "JJD0001", "pickupPoint": "WAW-01", "size": "M", "note": "x"}


class ToyConfig(ConnectorConfig):
    url: str = "https://carrier.example/events"
    token: SecretStr = SecretStr("toy-token-value")


class ToyConnector(Connector):
    name: ClassVar[str] = "toy"
    capabilities: ClassVar[frozenset[Capability]] = ALL
    config_model: ClassVar[type[ConnectorConfig]] = ToyConfig

    def render(self, event: ConnectorEvent) -> Outbound:
        if event.type == "parcel.reservation_expired":
            raise SkipEvent("the carrier has no code for it")
        body = {"id": event.event_id, "status": event.type, "parcel": event.parcel.parcel_id}
        if event.locker is not None:
            body["at"] = event.locker.locker_id
        return HttpRequest(
            url=self._url(),
            body=json.dumps(body, sort_keys=True).encode(),
            headers={"Content-Type": "application/json", "X-Event-Id": event.event_id},
        )

    def parse_inbound(self, request: InboundRequest) -> Announcement:
        try:
            body = json.loads(request.body)
        except ValueError as err:
            raise MappingError("the body is not JSON", pointer="") from err
        if not isinstance(body, dict):
            raise MappingError("the body must be a JSON object", pointer="")
        for key in ("shipment", "pickupPoint", "size"):
            if not isinstance(body.get(key), str):
                raise MappingError(f"{key} is missing or not a string", pointer=f"/{key}")
        if body["size"] not in {"S", "M", "L"}:
            raise MappingError("size must be S, M or L", pointer="/size")
        return {
            "parcelId": body["shipment"],
            "lockerId": body["pickupPoint"],
            "sizeClass": body["size"],
        }

    def render_status(self, view: ParcelStatusView) -> dict[str, Any]:
        return {"shipment": view.parcel["parcelId"], "status": str(view.parcel["state"]).upper()}

    def render_scan_query(self, query: ScanQueryView) -> HttpRequest:
        body = {"shipment": query.parcel_id, "point": query.locker_id}
        return HttpRequest(url=self._url(), body=json.dumps(body, sort_keys=True).encode())

    def parse_scan_answer(self, reply: ScanReply) -> CarrierScanAnswer:
        try:
            return CarrierScanAnswer(ScanVerdict(json.loads(reply.body)["verdict"]))
        except (ValueError, TypeError, KeyError) as err:
            raise MappingError("no verdict", pointer="/verdict") from err

    def _url(self) -> str:
        config = self.config
        assert isinstance(config, ToyConfig)
        return config.url


class RandomIdConnector(ToyConnector):
    """A fresh request id per render: a retry is not the same request."""

    def render(self, event: ConnectorEvent) -> Outbound:
        request = super().render(event)
        assert isinstance(request, HttpRequest)
        headers = {**request.headers, "X-Request-Id": str(uuid.uuid4())}
        return HttpRequest(url=request.url, body=request.body, headers=headers)


class NetworkConnector(ToyConnector):
    """Looks something up while rendering."""

    def render(self, event: ConnectorEvent) -> Outbound:
        try:
            with socket.socket():
                pass
        except Exception:  # noqa: S110 - swallowing it is the bug the kit must still see
            pass
        return super().render(event)


class NoEventIdConnector(ToyConnector):
    def render(self, event: ConnectorEvent) -> Outbound:
        request = super().render(event)
        assert isinstance(request, HttpRequest)
        body = {k: v for k, v in json.loads(request.body).items() if k != "id"}
        return HttpRequest(url=request.url, body=json.dumps(body).encode())


class RecipientBlindConnector(ToyConnector):
    """Assumes the locker is always there: AttributeError for a sparse event."""

    def render(self, event: ConnectorEvent) -> Outbound:
        name = event.locker.locker_id  # type: ignore[union-attr]
        request = super().render(event)
        assert isinstance(request, HttpRequest)
        return HttpRequest(
            url=f"{request.url}?at={name}", body=request.body, headers=request.headers
        )


class DictRenderingConnector(ToyConnector):
    def render(self, event: ConnectorEvent) -> Outbound:
        return {"id": event.event_id}  # type: ignore[return-value]


class LenientConfig(ToyConfig):
    model_config = ConfigDict(extra="ignore", frozen=True)


class LenientConfigConnector(ToyConnector):
    config_model: ClassVar[type[ConnectorConfig]] = LenientConfig


class PlainPasswordConfig(ConnectorConfig):
    url: str = "https://carrier.example/events"
    password: str = "hunter2-plain"


class PlainPasswordConnector(ToyConnector):
    config_model: ClassVar[type[ConnectorConfig]] = PlainPasswordConfig

    def _url(self) -> str:
        return "https://carrier.example/events"


class PreadviceWithoutParseConnector(Connector):
    """Declares inbound pre-advice and forgets to implement it."""

    name: ClassVar[str] = "toy-half"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.OUTBOUND_EVENTS, Capability.INBOUND_PREADVICE}
    )
    render = ToyConnector.render
    _url = ToyConnector._url
    config_model: ClassVar[type[ConnectorConfig]] = ToyConfig


class GarbageTolerantConnector(ToyConnector):
    """Turns anything into an announcement with made-up defaults."""

    def parse_inbound(self, request: InboundRequest) -> Announcement:
        try:
            return super().parse_inbound(request)
        except MappingError:
            return {"parcelId": "UNKNOWN", "lockerId": "UNKNOWN", "sizeClass": "M"}


class CrashingParserConnector(ToyConnector):
    """Indexes the body without checking it: KeyError, TypeError, JSONDecodeError escape."""

    def parse_inbound(self, request: InboundRequest) -> Announcement:
        body = json.loads(request.body)
        return {
            "parcelId": body["shipment"],
            "lockerId": body["pickupPoint"],
            "sizeClass": body["size"],
        }


class InvalidAnnouncementConnector(ToyConnector):
    """Forgets the locker: its announcement does not match create-parcel-request.json."""

    def parse_inbound(self, request: InboundRequest) -> Announcement:
        announcement = super().parse_inbound(request)
        return {k: v for k, v in announcement.items() if k != "lockerId"}


class UnnamedConnector(ToyConnector):
    name: ClassVar[str] = "Toy Connector!"


class CrashingScanAnswerConnector(ToyConnector):
    """Reads the carrier's scan answer without checking it: JSONDecodeError, KeyError escape."""

    def parse_scan_answer(self, reply: ScanReply) -> CarrierScanAnswer:
        return CarrierScanAnswer(ScanVerdict(json.loads(reply.body)["verdict"]))
