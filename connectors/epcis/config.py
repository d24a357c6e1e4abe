"""The `epcis` connector's config: endpoint, identifier templates, action mode, extensions.

Templates are checked at construction: known placeholders only, the identifying one present,
and the result (with every value percent-encoded) an absolute URI, as EPCIS requires of
identifiers, read points and business locations.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal
from urllib.parse import quote, urlsplit

from pydantic import Field

from gateway.sdk.connectors import (
    OLP_EVENT_TYPES,
    ConnectorConfig,
    ConnectorConfigError,
    template_placeholders,
)

__all__ = [
    "LOCATION_FIELDS",
    "PARCEL_FIELDS",
    "ActionMode",
    "EpcisConfig",
    "UriTemplate",
]

NAME = "epcis"
PARCEL_FIELDS = frozenset({"networkId", "carrierId", "parcelId"})
LOCATION_FIELDS = frozenset({"networkId", "lockerId"})
# RFC 3986: a scheme, then only unreserved, reserved and "%" characters.
_ABSOLUTE_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+$")
# Ids the gateway itself mints: it alone creates and retires them, hence "auto" below.
OPENLOCKER_URN = "urn:openlocker:"


class ActionMode(StrEnum):
    """How `action` is chosen: see docs/connectors/epcis.md."""

    AUTO = "auto"  # lifecycle for urn:openlocker: parcel ids, observe for anything else
    OBSERVE = "observe"  # OBSERVE always: the id belongs to the carrier's own EPCIS world
    LIFECYCLE = "lifecycle"  # ADD on a parcel's first event, DELETE on a terminal one


class UriTemplate:
    """A `{placeholder}` template whose values are percent-encoded into an absolute URI."""

    def __init__(
        self, *, field: str, template: str, allowed: frozenset[str], required: str
    ) -> None:
        self.field = field
        self.template = template
        names = _placeholders(field, template, allowed)
        if required not in names:
            raise ConnectorConfigError(
                f"{NAME}: {field}: must contain {{{required}}}, or every event names one thing"
            )
        self.names = frozenset(names)
        example = self.render({name: "Example-1.a_b:c" for name in self.names})
        if not _ABSOLUTE_URI.match(example):
            raise ConnectorConfigError(
                f"{NAME}: {field}: {template!r} does not give an absolute URI "
                f"(scheme:rest, no spaces), e.g. {example!r}"
            )

    def render(self, values: dict[str, str]) -> str:
        # Encode everything but unreserved characters: an id with ":" must not split a URN.
        return self.template.format_map({k: quote(values[k], safe="") for k in self.names})


class EpcisConfig(ConnectorConfig):
    """EPCIS 2.0 JSON-LD documents, one ObjectEvent each, POSTed to the carrier."""

    url: str
    """The carrier's endpoint (http or https); with `capture`, its EPCIS 2.0 REST base URL."""
    capture: bool = False
    """POST to `{url}/capture`, the EPCIS 2.0 REST capture interface."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Static extra headers (credentials belong in the attachment's auth plugin)."""
    content_type: Literal["application/ld+json", "application/json"] = "application/ld+json"
    parcel_uri: str = "urn:openlocker:{networkId}:parcel:{carrierId}:{parcelId}"
    """The parcel's identifier in `epcList`: any absolute URI; {networkId} {carrierId}
    {parcelId}. A GS1 Digital Link for an SSCC: `https://id.gs1.org/00/{parcelId}`."""
    location_uri: str = "urn:openlocker:{networkId}:locker:{lockerId}"
    """readPoint and bizLocation: {networkId} {lockerId}. An SGLN:
    `urn:epc:id:sgln:4012345.00001.{lockerId}`."""
    action_mode: ActionMode = ActionMode.AUTO
    olp_extensions: bool = True
    """Add the `olp:` extension members (event type, sequence, compartment...) and their
    @context prefix; switch off for a receiver that refuses unknown extensions."""

    def validate_whole(self) -> tuple[UriTemplate, UriTemplate]:
        """The compiled templates; ConnectorConfigError naming the field for anything wrong."""
        _check_url(self.url, capture=self.capture)
        for key, value in self.headers.items():
            if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", key) or not re.fullmatch(
                r"[\t\x20-\x7e]*", value
            ):
                raise ConnectorConfigError(f"{NAME}: headers: bad header {key!r}")
            if key.lower() == "content-type":
                raise ConnectorConfigError(f"{NAME}: headers: set content_type instead")
        for event_type in self.events or ():
            if event_type not in OLP_EVENT_TYPES:
                raise ConnectorConfigError(
                    f"{NAME}: events: unknown OLP event type {event_type!r} "
                    f"(known: {', '.join(OLP_EVENT_TYPES)})"
                )
        parcel = UriTemplate(
            field="parcel_uri", template=self.parcel_uri, allowed=PARCEL_FIELDS, required="parcelId"
        )
        location = UriTemplate(
            field="location_uri",
            template=self.location_uri,
            allowed=LOCATION_FIELDS,
            required="lockerId",
        )
        return parcel, location

    def lifecycle(self) -> bool:
        """Whether ADD/DELETE are used (see ActionMode)."""
        if self.action_mode is ActionMode.AUTO:
            return self.parcel_uri.startswith(OPENLOCKER_URN)
        return self.action_mode is ActionMode.LIFECYCLE

    def endpoint(self) -> str:
        return self.url.rstrip("/") + "/capture" if self.capture else self.url


def _placeholders(field: str, template: str, allowed: frozenset[str]) -> set[str]:
    return template_placeholders(f"{NAME}: {field}", template, allowed)


def _check_url(url: str, *, capture: bool) -> None:
    try:
        parts = urlsplit(url)
        _ = parts.port  # a bad port raises ValueError
    except ValueError as err:
        raise ConnectorConfigError(f"{NAME}: url: not a valid URL ({err})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectorConfigError(f"{NAME}: url: expected http(s)://host[:port]/path")
    if parts.username or parts.password:
        raise ConnectorConfigError(f"{NAME}: url: put credentials in the attachment's auth")
    if parts.fragment:
        raise ConnectorConfigError(f"{NAME}: url: no #fragment")
    if capture and parts.query:
        raise ConnectorConfigError(f"{NAME}: url: with capture, the base URL takes no ?query")
