"""SMTP transport: submits a notifier's `EmailMessage` with aiosmtplib, one session per message.

A reply 4xx is worth a retry; 5xx is final (the dead letters at once). No usable reply at all
(refused, timeout, TLS failure) is retried. Addresses, names and message text are personal
data: they never reach a log line or an `Outcome` error, which name the server's reply code
and enhanced status code (RFC 3463) only.

The MIME layout is text and HTML as `multipart/alternative`, with each `inline` part (the
pickup QR) attached to the HTML in `multipart/related` under `Content-ID: <file name>`, so the
HTML refers to it as `cid:<file name>`. Without HTML, inline parts become attachments.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from email.message import EmailMessage as MimeMessage
from email.message import MIMEPart
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, parseaddr
from types import TracebackType

import aiosmtplib

from gateway.delivery.auth.errors import AuthConfigError
from gateway.delivery.auth.secrets import is_secret_reference, resolve_secret
from gateway.delivery.routes import Route
from gateway.delivery.transports.base import Outcome
from gateway.sdk.connectors import EmailMessage, Outbound, SmtpSpec

__all__ = ["SmtpTransport", "build_mime"]

log = logging.getLogger(__name__)

# Headers the transport writes itself; a connector's copy of them is ignored.
_OWN_HEADERS = frozenset({"from", "to", "cc", "bcc", "subject", "message-id", "date"})
_ENHANCED = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")


def build_mime(message: EmailMessage, *, message_id: str, event_id: str) -> MimeMessage:
    """The MIME message for `message` (ValueError for a header that would break the message)."""
    mime = MimeMessage(policy=SMTP_POLICY)
    mime["From"] = message.sender
    mime["To"] = message.to
    mime["Subject"] = message.subject
    mime["Date"] = formatdate(usegmt=True)
    mime["Message-ID"] = message_id
    # The id receivers and support staff correlate on; every attempt of one event shares it.
    mime["X-OpenLocker-Event-Id"] = event_id
    mime.set_content(message.text)
    if message.html is None:
        for filename, mime_type, data in message.inline:
            main, sub = _split_type(mime_type)
            mime.add_attachment(data, maintype=main, subtype=sub, filename=filename)
        return _with_headers(mime, message)
    mime.add_alternative(message.html, subtype="html")
    parts = list(mime.iter_parts())  # [text, html], as add_alternative leaves them
    html_part = parts[-1] if parts else None
    if not isinstance(html_part, MIMEPart):
        raise ValueError("the HTML part was not built")
    for filename, mime_type, data in message.inline:
        main, sub = _split_type(mime_type)
        html_part.add_related(
            data,
            maintype=main,
            subtype=sub,
            cid=f"<{filename}>",
            filename=filename,
            disposition="inline",
        )
    return _with_headers(mime, message)


def _with_headers(mime: MimeMessage, message: EmailMessage) -> MimeMessage:
    # Last: setting the content drops Content-* headers (Content-Language among them).
    for name, value in message.headers.items():
        if name.lower() not in _OWN_HEADERS:
            mime[name] = value
    return mime


class SmtpTransport:
    """`async with SmtpTransport() as smtp:` then `await smtp.send(email, route, ...)`.

    No connection is kept between messages: notifications are few and far between, and a
    fresh session never inherits a half-broken one. `tls_context` overrides the default
    certificate checks (a private CA in tests or on premises).
    """

    def __init__(
        self,
        *,
        message_id_domain: str = "openlocker.invalid",
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._domain = message_id_domain
        self._tls_context = tls_context

    async def __aenter__(self) -> SmtpTransport:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def send(
        self, outbound: Outbound, route: Route, *, event_id: str, attempt: int
    ) -> Outcome:
        """Submit one message, bounded by the route's timeout; never raises."""
        if not isinstance(outbound, EmailMessage):
            return Outcome(ok=False, error="the SMTP transport sends e-mail only", permanent=True)
        try:
            # A fresh Message-ID per attempt: a retried notification may carry a new code, and
            # a receiver that dedupes on Message-ID must not drop it for the stale one.
            mime = build_mime(
                outbound, message_id=f"<{event_id}.{attempt}@{self._domain}>", event_id=event_id
            )
            envelope_from = parseaddr(outbound.sender)[1]
        except Exception as err:  # a header that would break the message, a bad MIME type
            return Outcome(
                ok=False, error=f"message cannot be built: {type(err).__name__}", permanent=True
            )
        try:
            password = _password(outbound.smtp)
        except AuthConfigError as err:
            return Outcome(ok=False, error=err.description)
        outcome = await self._submit(outbound, mime, envelope_from, password, route)
        log.debug(
            "smtp %s:%d event %s attempt %d: %s",
            outbound.smtp.host,
            outbound.smtp.port,
            event_id,
            attempt,
            "sent" if outcome.ok else outcome.error,
        )
        return outcome

    async def _submit(
        self,
        outbound: EmailMessage,
        mime: MimeMessage,
        envelope_from: str,
        password: str | None,
        route: Route,
    ) -> Outcome:
        spec = outbound.smtp
        try:
            async with asyncio.timeout(route.policy.timeout_s):
                await aiosmtplib.send(
                    mime,
                    sender=envelope_from,
                    recipients=[outbound.to],
                    hostname=spec.host,
                    port=spec.port,
                    username=spec.username,
                    password=password,
                    use_tls=spec.use_tls,
                    # True insists on STARTTLS; False never tries (not even opportunistically).
                    start_tls=spec.starttls and not spec.use_tls,
                    timeout=spec.timeout_s,
                    tls_context=self._tls_context,
                )
        except aiosmtplib.SMTPRecipientsRefused as err:
            codes = [refused.code for refused in err.recipients] or [550]
            return _reply(max(codes), " ".join(r.message for r in err.recipients), "recipient")
        except aiosmtplib.SMTPResponseException as err:
            return _reply(err.code, err.message, _stage(err))
        except aiosmtplib.SMTPNotSupported:
            return Outcome(
                ok=False,
                error="the server does not offer what the config requires (STARTTLS or AUTH)",
            )
        except aiosmtplib.SMTPException as err:
            # No reply to judge (disconnected, timed out, no STARTTLS offered): retry. The
            # library's own words, with anything that looks like an address masked.
            return Outcome(ok=False, error=f"no SMTP reply: {type(err).__name__}: {_mask(err)}")
        except (OSError, TimeoutError) as err:
            # Refused, reset, timed out or a TLS failure.
            return Outcome(ok=False, error=f"no SMTP reply: {type(err).__name__}")
        except Exception as err:  # the contract: a send never raises
            return Outcome(ok=False, error=f"SMTP submission failed: {type(err).__name__}")
        return Outcome(ok=True, status=250)


def _reply(code: int, message: str, stage: str) -> Outcome:
    """An SMTP reply as an Outcome: the code and enhanced code, never the server's free text
    (it often quotes the address it refused)."""
    enhanced = _ENHANCED.search(message or "")
    text = f"SMTP {code}{' ' + enhanced.group(1) if enhanced else ''} at {stage}"
    if 400 <= code < 500:
        return Outcome(ok=False, status=code, error=text)
    if 500 <= code < 600:
        return Outcome(ok=False, status=code, error=text, permanent=True)
    return Outcome(ok=False, status=code, error=f"unexpected {text}")


def _mask(err: Exception) -> str:
    text = " ".join("<address>" if "@" in word else word for word in str(err).split())
    return text[:160]


def _stage(err: aiosmtplib.SMTPResponseException) -> str:
    if isinstance(err, aiosmtplib.SMTPAuthenticationError):
        return "AUTH"
    if isinstance(err, aiosmtplib.SMTPSenderRefused):
        return "MAIL FROM"
    if isinstance(err, aiosmtplib.SMTPRecipientRefused):
        return "RCPT TO"
    if isinstance(err, aiosmtplib.SMTPDataError):
        return "DATA"
    if isinstance(err, aiosmtplib.SMTPConnectResponseError | aiosmtplib.SMTPHeloError):
        return "greeting"
    return "session"


def _password(spec: SmtpSpec) -> str | None:
    """The password, an `env:`/`file:` reference resolved if the route builder left one."""
    if spec.password is None:
        return None
    if is_secret_reference(spec.password):
        return resolve_secret(spec.password, field="smtp.password").get_secret_value()
    return spec.password.get_secret_value()


def _split_type(mime_type: str) -> tuple[str, str]:
    main, _, sub = mime_type.partition("/")
    if not main or not sub:
        raise ValueError(f"not a MIME type: {mime_type!r}")
    return main, sub
