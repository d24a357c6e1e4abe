"""What a notification template sees: the parcel, the locker, the deadline and the credential.

The context holds the recipient's name only (never the address or phone number: a template
has no business printing them), and is built from the event alone, so a retry renders the
same message.
"""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import segno

from gateway.sdk.connectors import ConnectorEvent

__all__ = ["QR_CID", "format_deadline", "qr_png", "sample_context", "template_context"]

QR_CID = "pickup-qr.png"  # the inline image's file name and Content-ID, `cid:` in the HTML

# Numeric dates: no locale data needed, and unambiguous in each language's own order.
_DATE_FORMATS = {
    "en": "%d %b %Y, %H:%M",
    "pl": "%d.%m.%Y, %H:%M",
    "de": "%d.%m.%Y, %H:%M Uhr",
}
_DEFAULT_DATE_FORMAT = "%Y-%m-%d %H:%M"


def qr_png(text: str) -> bytes:
    """The pickup QR as PNG; error correction M survives a scuffed phone screen."""
    buffer = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buffer, kind="png", scale=6, border=4)
    return buffer.getvalue()


def format_deadline(at: datetime | None, timezone: str | None, language: str) -> str:
    """`at` in the locker's own time zone (UTC when unknown), written the language's way."""
    if at is None:
        return ""
    zone: ZoneInfo | None = None
    if timezone:
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            zone = None
    local = at.astimezone(zone or UTC)
    fmt = _DATE_FORMATS.get(language.split("-", 1)[0], _DEFAULT_DATE_FORMAT)
    return f"{local.strftime(fmt)} {'' if zone else 'UTC'}".strip()


def template_context(event: ConnectorEvent, language: str, *, html: bool) -> dict[str, Any]:
    parcel = event.parcel
    locker = event.locker
    access = event.access
    timezone = locker.timezone if locker else None
    code = access.code if access else None
    qr_text = access.qr if access else None
    data_uri = None
    if html and qr_text:
        data_uri = "data:image/png;base64," + base64.b64encode(qr_png(qr_text)).decode()
    return {
        "event_type": event.type,
        "carrier_id": event.carrier_id,
        "language": language,
        "recipient_name": event.recipient.name if event.recipient else None,
        "parcel": {
            "id": parcel.parcel_id,
            "reference": parcel.reference,
            "compartment": parcel.compartment_code,
            "pickup_until": parcel.pickup_until.isoformat() if parcel.pickup_until else None,
        },
        "locker": {
            "id": parcel.locker_id,
            "name": (locker.name if locker else None) or parcel.locker_id,
            "address": locker.address if locker else None,
        },
        "deadline": format_deadline(parcel.pickup_until, timezone, language),
        "code": code,
        "has_qr": qr_text is not None,
        "qr_text": qr_text,
        "qr_cid": QR_CID,
        "qr_data_uri": data_uri,
    }


def sample_context() -> dict[str, Any]:
    """Every name a template may use, filled, for the dry run at start-up."""
    return {
        "event_type": "parcel.ready_for_pickup",
        "carrier_id": "carrier",
        "language": "en",
        "recipient_name": "Sample Recipient",
        "parcel": {
            "id": "PARCEL-1",
            "reference": "REF-1",
            "compartment": "A01",
            "pickup_until": "2030-01-01T12:00:00+00:00",
        },
        "locker": {"id": "LOCKER-1", "name": "Sample Locker", "address": "1 Sample Street"},
        "deadline": "01 Jan 2030, 12:00 UTC",
        "code": "12345678",
        "has_qr": True,
        "qr_text": "OLPG1:sample",
        "qr_cid": QR_CID,
        "qr_data_uri": "data:image/png;base64,",
    }
