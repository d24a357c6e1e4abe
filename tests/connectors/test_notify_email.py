"""The e-mail notifier renders the right message, language and QR, and skips what it must."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from pydantic import ValidationError

from connectors.notify_common import QR_CID, language_candidates
from gateway.sdk.connectors import ConnectorConfigError, EmailMessage, SkipEvent
from tests.connectors.notify_support import (
    CODE,
    EMAIL,
    NAME,
    PERSONAL,
    QR,
    email_notifier,
    event,
    write,
)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a well-formed PNG (signature, IHDR first, CRCs right, IEND last)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    stream = io.BytesIO(data[8:])
    chunks: list[bytes] = []
    size = (0, 0)
    while header := stream.read(8):
        length, kind = struct.unpack(">I4s", header)
        body = stream.read(length)
        (crc,) = struct.unpack(">I", stream.read(4))
        assert zlib.crc32(kind + body) == crc, kind
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
        chunks.append(kind)
    assert chunks[0] == b"IHDR"
    assert chunks[-1] == b"IEND"
    return size


def test_ready_mail_in_the_recipients_language_with_code_and_qr() -> None:
    mail = email_notifier().render(event())

    assert isinstance(mail, EmailMessage)
    assert mail.to == EMAIL
    assert mail.sender == "Parcel Network <parcels@network.example>"
    assert mail.headers["Content-Language"] == "pl"
    assert mail.subject == "Twoja paczka JJD000390007729481234 czeka do odbioru w Centrum 01"
    assert CODE in mail.text
    assert "Kod odbioru" in mail.text
    assert NAME in mail.text
    # The deadline in the locker's own time zone (Warsaw: UTC+1 in March).
    assert "05.03.2026, 12:00" in mail.text
    assert mail.html is not None
    assert f'src="cid:{QR_CID}"' in mail.html
    assert CODE in mail.html
    [(filename, mime_type, png)] = mail.inline
    assert (filename, mime_type) == (QR_CID, "image/png")
    width, height = png_size(png)
    assert width == height > 100


def test_the_qr_encodes_exactly_the_grants_qr_text() -> None:
    import segno

    mail = email_notifier().render(event())
    expected = io.BytesIO()
    segno.make(QR, error="m", micro=False).save(expected, kind="png", scale=6, border=4)
    assert mail.inline[0][2] == expected.getvalue()  # type: ignore[union-attr]


def test_rendering_is_deterministic() -> None:
    notifier = email_notifier()
    assert notifier.render(event()) == notifier.render(event())


@pytest.mark.parametrize(
    ("language", "subject_start"),
    [
        ("pl-PL", "Twoja paczka"),  # region falls back to the language
        ("de", "Ihr Paket"),
        ("en", "Your parcel"),
        ("fr", "Your parcel"),  # no French templates: the default language
        (None, "Your parcel"),
    ],
)
def test_language_choice(language: str | None, subject_start: str) -> None:
    mail = email_notifier().render(event(language=language))
    assert isinstance(mail, EmailMessage)
    assert mail.subject.startswith(subject_start)


def test_default_language_of_the_attachment_applies_when_the_recipient_names_none() -> None:
    mail = email_notifier(default_language="de").render(event(language=None))
    assert isinstance(mail, EmailMessage)
    assert mail.subject.startswith("Ihr Paket")
    assert mail.headers["Content-Language"] == "de"


def test_language_candidates() -> None:
    assert language_candidates("pl-PL", "en") == ["pl-PL", "pl", "en"]
    assert language_candidates(None, "de") == ["de"]
    assert language_candidates("en", "en") == ["en"]


def test_reminder_and_picked_up_messages() -> None:
    notifier = email_notifier()
    reminder = notifier.render(event("parcel.pickup_reminder", language="en"))
    assert isinstance(reminder, EmailMessage)
    assert reminder.subject.startswith("Reminder:")
    assert CODE in reminder.text
    assert "no longer work" in reminder.text
    done = notifier.render(event("parcel.picked_up", language="en", access=False))
    assert isinstance(done, EmailMessage)
    assert "picked up" in done.subject
    assert done.inline == ()


def test_no_qr_without_a_grant() -> None:
    plain = event(access=False)
    mail = email_notifier().render(plain)
    assert isinstance(mail, EmailMessage)
    assert mail.inline == ()
    assert mail.html is not None
    assert "cid:" not in mail.html


def test_html_escapes_what_the_carrier_sent_and_text_keeps_it() -> None:
    mail = email_notifier().render(event(name="<b>Eve</b> & co", language="en"))
    assert isinstance(mail, EmailMessage)
    assert mail.html is not None
    assert "&lt;b&gt;Eve&lt;/b&gt; &amp; co" in mail.html
    assert "<b>Eve</b> & co" in mail.text


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"opt_out": True}, "opted out"),
        ({"recipient": False}, "no recipient"),
        ({"email": None}, "no e-mail address"),
    ],
)
def test_skips_without_personal_data_in_the_reason(changes: dict[str, bool], reason: str) -> None:
    with pytest.raises(SkipEvent) as caught:
        email_notifier().render(event(**changes))  # type: ignore[arg-type]
    assert reason in caught.value.reason
    assert not any(item in caught.value.reason for item in PERSONAL)


def test_event_types_outside_its_events_are_skipped() -> None:
    notifier = email_notifier(events=["parcel.picked_up"])
    with pytest.raises(SkipEvent):
        notifier.render(event())
    assert isinstance(notifier.render(event("parcel.picked_up")), EmailMessage)


# ---- operator templates ---------------------------------------------------------------------


def test_fallback_order_carrier_language_then_carrier_default_then_shipped(tmp_path: Path) -> None:
    write(tmp_path, "acme-post/pl/ready_for_pickup.subject.txt", "ACME PL {{ parcel.id }}")
    write(tmp_path, "acme-post/ready_for_pickup.subject.txt", "ACME default {{ parcel.id }}")
    write(tmp_path, "acme-post/de/ready_for_pickup.txt", "ACME DE body {{ code }}")
    notifier = email_notifier(template_dir=str(tmp_path))

    def subject(**changes: object) -> str:
        mail = notifier.render(event(**changes))  # type: ignore[arg-type]
        assert isinstance(mail, EmailMessage)
        return mail.subject

    assert subject(language="pl") == "ACME PL JJD000390007729481234"  # carrier + language
    assert subject(language="en") == "ACME default JJD000390007729481234"  # carrier default
    # Another carrier gets the shipped templates in its recipient's language.
    assert subject(language="pl", carrier_id="globex").startswith("Twoja paczka")
    # German body from the carrier, the subject from the carrier's default.
    german = notifier.render(event(language="de"))
    assert isinstance(german, EmailMessage)
    assert german.text.strip() == f"ACME DE body {CODE}"
    assert german.subject.startswith("ACME default")
    assert german.headers["Content-Language"] == "de"


def test_a_template_that_does_not_compile_stops_the_start(tmp_path: Path) -> None:
    write(tmp_path, "acme-post/pl/ready_for_pickup.txt", "Kod: {{ code ")
    with pytest.raises(ConnectorConfigError, match=r"ready_for_pickup\.txt:1"):
        email_notifier(template_dir=str(tmp_path))


def test_a_template_with_an_unknown_name_stops_the_start(tmp_path: Path) -> None:
    write(tmp_path, "acme-post/ready_for_pickup.txt", "Hello {{ recipient.email }}")
    with pytest.raises(ConnectorConfigError, match="recipient"):
        email_notifier(template_dir=str(tmp_path))


def test_sandbox_refuses_unsafe_attribute_access(tmp_path: Path) -> None:
    write(tmp_path, "acme-post/ready_for_pickup.txt", "{{ code.__class__.__mro__ }}")
    with pytest.raises(ConnectorConfigError):
        email_notifier(template_dir=str(tmp_path))


def test_an_event_type_without_templates_is_a_config_error() -> None:
    with pytest.raises(ConnectorConfigError, match=r"parcel\.expired"):
        email_notifier(events=["parcel.ready_for_pickup", "parcel.expired"])


def test_operator_templates_may_add_event_types(tmp_path: Path) -> None:
    write(tmp_path, "acme-post/expired.txt", "Parcel {{ parcel.id }} was not collected.")
    notifier = email_notifier(template_dir=str(tmp_path), events=["parcel.expired"])
    mail = notifier.render(event("parcel.expired", access=False))
    assert isinstance(mail, EmailMessage)
    assert mail.text.strip() == "Parcel JJD000390007729481234 was not collected."


def test_template_dir_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConnectorConfigError, match="not a directory"):
        email_notifier(template_dir=str(tmp_path / "missing"))


@pytest.mark.parametrize(
    "smtp",
    [
        {"host": "mail.example", "tls": True, "starttls": True},
        {"host": "mail.example", "password": "secret"},
        {"host": "", "port": 25},
    ],
)
def test_bad_smtp_config_is_refused(smtp: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        email_notifier(smtp=smtp)


def test_password_is_masked() -> None:
    notifier = email_notifier(
        smtp={"host": "mail.example", "username": "u", "password": "hunter22"}
    )
    assert "hunter22" not in repr(notifier.email_config)
