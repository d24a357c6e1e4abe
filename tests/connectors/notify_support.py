"""Builders for the notifier tests: sample events with chosen recipients and credentials."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectors.email import EmailNotifier
from connectors.sms import SmsNotifier
from gateway.sdk.connectors import AccessInfo, ConnectorEvent, Recipient
from gateway.sdk.connectors.samples import sample_event

NAME = "Zofia Żółkiewska"
EMAIL = "zofia.recipient@example.org"
PHONE = "+48601234567"
PERSONAL = (NAME, EMAIL, PHONE, "Żółkiewska", "zofia.recipient", "601234567")
CODE = "73519042"
QR = "OLPG1:eyJhbGciOiJFZERTQSJ9.e30.c2lnbmF0dXJl"


def event(
    event_type: str = "parcel.ready_for_pickup",
    *,
    language: str | None = "pl",
    opt_out: bool = False,
    email: str | None = EMAIL,
    phone: str | None = PHONE,
    name: str | None = NAME,
    recipient: bool = True,
    access: bool = True,
    carrier_id: str = "acme-post",
) -> ConnectorEvent:
    base = sample_event(event_type, carrier_id=carrier_id)
    who = (
        Recipient(name=name, email=email, phone=phone, language=language, opt_out=opt_out)
        if recipient
        else None
    )
    credential = AccessInfo(code=CODE, qr=QR, grant=QR.removeprefix("OLPG1:")) if access else None
    return base.model_copy(update={"recipient": who, "access": credential})


def email_notifier(**config: Any) -> EmailNotifier:
    values: dict[str, Any] = {
        "smtp": {"host": "127.0.0.1", "port": 2525, "starttls": False},
        "from_address": "parcels@network.example",
        "from_name": "Parcel Network",
    } | config
    return EmailNotifier(config=EmailNotifier.config_model.model_validate(values))


def sms_notifier(**config: Any) -> SmsNotifier:
    values: dict[str, Any] = {"url": "https://sms.example/api/send", "sender": "PARCELS"} | config
    return SmsNotifier(config=SmsNotifier.config_model.model_validate(values))


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
