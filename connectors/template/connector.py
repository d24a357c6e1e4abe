"""The `template` connector: a carrier's HTTP API and status vocabulary as config, not code."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from gateway.sdk.connectors import (
    OLP_EVENT_TYPES,
    Announcement,
    Capability,
    Connector,
    ConnectorConfig,
    ConnectorConfigError,
    ConnectorEvent,
    HttpRequest,
    InboundRequest,
    MappingError,
    ParcelStatusView,
    SkipEvent,
)
from gateway.sdk.connectors.samples import sample_event

from .config import CarrierStatus, TemplateConfig, UnmappedPolicy
from .inbound import InboundMapper
from .rendering import CompiledTemplate, compile_template, parse_json

__all__ = ["TemplateConnector"]

# What an HTTP header value may hold as httpx sends it: tab, space and visible ASCII.
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")


class TemplateConnector(Connector):
    """Renders each event through the config's templates, mapped onto the carrier's statuses.

    Construction compiles every template, checks the status table names only OLP event types
    and renders a sample event of every mapped type, so a broken mapping stops the start-up.
    """

    name: ClassVar[str] = "template"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.OUTBOUND_EVENTS, Capability.INBOUND_PREADVICE, Capability.STATUS_PULL}
    )
    config_model: ClassVar[type[ConnectorConfig]] = TemplateConfig

    def __init__(self, *, config: ConnectorConfig) -> None:
        if not isinstance(config, TemplateConfig):
            raise ConnectorConfigError("the template connector needs a TemplateConfig")
        super().__init__(config=config)
        self.settings = config
        _check_event_types("statuses", config.statuses)
        _check_event_types("events", config.events or [])
        if config.url is None and config.inbound is None and not config.statuses:
            raise ConnectorConfigError(
                "url, inbound or statuses: configure at least one of sending events, "
                "taking pre-advice or answering status pulls"
            )
        self._url: CompiledTemplate | None = None
        self._body: CompiledTemplate | None = None
        self._headers: dict[str, CompiledTemplate] = {}
        if config.url is not None:
            if config.body is None:
                raise ConnectorConfigError("body: a url needs a body template")
            if not config.statuses:
                raise ConnectorConfigError("statuses: a url needs at least one mapped event type")
            self._url = compile_template(config.url, "/url", url=True)
            self._body = compile_template(config.body, "/body")
            self._headers = {
                name: compile_template(value, f"/headers/{name}")
                for name, value in config.headers.items()
            }
        self._status_body = (
            compile_template(config.status_body, "/status_body") if config.status_body else None
        )
        self._inbound = InboundMapper(config.inbound) if config.inbound else None
        self._dry_run()

    # ---- outbound ------------------------------------------------------------------------

    def wants(self, event_type: str) -> bool:
        return self._url is not None and super().wants(event_type)

    def render(self, event: ConnectorEvent) -> HttpRequest:
        return self._request(event, explain=False)

    def _request(self, event: ConnectorEvent, *, explain: bool) -> HttpRequest:
        if self._url is None or self._body is None:
            raise SkipEvent("this attachment sends no events (no url configured)")
        status = self.settings.statuses.get(event.type)
        if status is None:
            if self.settings.unmapped is UnmappedPolicy.ERROR:
                raise MappingError(
                    f"statuses: no carrier status for {event.type!r}", pointer="/type"
                )
            raise SkipEvent(f"the status table has no entry for {event.type}")
        context = _event_context(event, status)
        url = self._url.render(context, explain=explain)
        headers = {"Content-Type": self.settings.content_type}
        for name, template in self._headers.items():
            value = template.render(context, explain=explain)
            if "\r" in value or "\n" in value:
                raise MappingError(f"headers.{name}: a line break", pointer=template.where)
            if not _HEADER_VALUE.fullmatch(value):
                # httpx sends header values as ASCII and h11 refuses control characters: every
                # attempt would fail in the transport, so the row is a dead letter at once.
                raise MappingError(
                    f"headers.{name}: a control or non-ASCII character, which a header "
                    "cannot carry (percent-encode it in the template, e.g. |urlencode)",
                    pointer=template.where,
                )
            headers[name] = value
        body = self._body.render(context, explain=explain)
        if self.settings.is_json:
            parse_json(body, self._body.where)
        return HttpRequest(
            url=url, body=body.encode(), method=self.settings.method.value, headers=headers
        )

    # ---- inbound -------------------------------------------------------------------------

    def parse_inbound(self, request: InboundRequest) -> Announcement:
        if self._inbound is None:
            raise NotImplementedError("this template attachment has no inbound mapping")
        return self._inbound.parse(request)

    def render_status(self, view: ParcelStatusView) -> dict[str, Any]:
        """The parcel in the carrier's words: its latest mapped status and the mapped history.

        Events the table does not map are left out, so "the current status" is the last one
        the carrier has a word for (None before the first).
        """
        return self._status(view, explain=False)

    def _status(self, view: ParcelStatusView, *, explain: bool) -> dict[str, Any]:
        history = []
        for event in view.events:
            mapped = self.settings.statuses.get(str(event.get("type")))
            if mapped is not None:
                history.append({"at": event.get("at"), **mapped.as_context()})
        current = history[-1] if history else None
        parcel = dict(view.parcel)
        if self._status_body is not None:
            context = {"parcel": parcel, "status": current, "history": history}
            text = self._status_body.render(context, explain=explain)
            answer = parse_json(text, self._status_body.where)
            if not isinstance(answer, dict):
                raise MappingError("status_body must render a JSON object", pointer="/status_body")
            return answer
        return {
            "parcelId": parcel.get("parcelId"),
            "status": None if current is None else current["code"],
            "statusText": None if current is None else current["text"],
            "updatedAt": parcel.get("updatedAt"),
            "history": [
                {"status": h["code"], "statusText": h["text"], "at": h["at"]} for h in history
            ],
        }

    # ---- start-up checks -----------------------------------------------------------------

    def _dry_run(self) -> None:
        """Render a sample of every mapped type: a template that cannot fails now."""
        for event_type in self.settings.statuses:
            if self._url is None:
                break
            try:
                request = self._request(sample_event(event_type), explain=True)
            except MappingError as err:
                raise ConnectorConfigError(
                    f"statuses.{event_type}: a sample {event_type} event does not render: "
                    f"{err.description}"
                ) from err
            target = urlsplit(request.url)
            if target.scheme not in ("http", "https") or not target.netloc:
                raise ConnectorConfigError("url: must render an absolute http(s) URL")
        if self._status_body is not None:
            sample = sample_event(next(iter(self.settings.statuses), OLP_EVENT_TYPES[0]))
            view = ParcelStatusView(
                parcel=sample.parcel.model_dump(mode="json"),
                events=(sample.event.model_dump(mode="json"),),
            )
            try:
                self._status(view, explain=True)
            except MappingError as err:
                raise ConnectorConfigError(
                    f"status_body: a sample status does not render: {err.description}"
                ) from err


def _check_event_types(where: str, names: Mapping[str, Any] | list[str]) -> None:
    unknown = sorted(set(names) - set(OLP_EVENT_TYPES))
    if unknown:
        verb = "is not an OLP event type" if len(unknown) == 1 else "are not OLP event types"
        raise ConnectorConfigError(
            f"{where}: {', '.join(unknown)} {verb} (known: {', '.join(OLP_EVENT_TYPES)})"
        )


def _event_context(event: ConnectorEvent, status: CarrierStatus) -> dict[str, Any]:
    """What templates see. The recipient and the pickup code stay out: they are for the
    network's notifiers only, and a carrier's API has them from the carrier already."""
    data = event.model_dump(mode="json", by_alias=True, exclude={"access", "recipient"})
    return {
        "event": data,
        "parcel": data["parcel"],
        "transition": data["event"],
        "locker": data.get("locker"),
        "status": status.as_context(),
    }
