"""E-mail notifications: ready for pickup (code and QR), reminder, picked-up confirmation.

Renders an `EmailMessage`; the delivery engine's SMTP transport submits it. Nothing here
talks to a server, and nothing here logs: the message carries personal data.
"""

from __future__ import annotations

from email.utils import formataddr
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from connectors.notify_common import QR_CID, Notifier, NotifierConfig, qr_png
from gateway.sdk.connectors import (
    ConnectorConfig,
    ConnectorEvent,
    EmailMessage,
    Outbound,
    SkipEvent,
    SmtpSpec,
)

__all__ = ["EmailConfig", "EmailNotifier", "SmtpConfig"]

_ADDRESS = r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$"


class SmtpConfig(BaseModel):
    """The submission server. `password` may be an `env:NAME` or `file:/path` reference."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    """Upgrade with STARTTLS and refuse to go on without it (port 587)."""
    tls: bool = False
    """Implicit TLS from the first byte (port 465); excludes `starttls`."""
    timeout_s: float = Field(default=10.0, gt=0, le=300)

    @model_validator(mode="after")
    def _one_tls_mode(self) -> SmtpConfig:
        if self.tls and self.starttls:
            raise ValueError("choose one of tls (implicit, port 465) and starttls (port 587)")
        if self.password is not None and self.username is None:
            raise ValueError("a password needs a username")
        return self

    def spec(self) -> SmtpSpec:
        return SmtpSpec(
            host=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            starttls=self.starttls,
            use_tls=self.tls,
            timeout_s=self.timeout_s,
        )


class EmailConfig(NotifierConfig):
    smtp: SmtpConfig
    from_address: str = Field(pattern=_ADDRESS, max_length=254)
    from_name: str | None = Field(default=None, max_length=100)
    reply_to: str | None = Field(default=None, pattern=_ADDRESS, max_length=254)


class EmailNotifier(Notifier):
    name: ClassVar[str] = "email"
    config_model: ClassVar[type[ConnectorConfig]] = EmailConfig
    parts: ClassVar[tuple[str, ...]] = ("txt", "subject.txt", "html")

    def __init__(self, *, config: ConnectorConfig) -> None:
        super().__init__(config=config)
        assert isinstance(config, EmailConfig)  # checked by Notifier against config_model
        self.email_config = config
        self._smtp = config.smtp.spec()

    def render(self, event: ConnectorEvent) -> Outbound:
        recipient = self.recipient(event)
        if not recipient.email:
            raise SkipEvent("the carrier gave no e-mail address for this recipient")
        rendered = self.render_parts(event, recipient)
        html = rendered.parts.get("html")
        qr = event.access.qr if event.access else None
        inline: tuple[tuple[str, str, bytes], ...] = ()
        if html is not None and qr and f"cid:{QR_CID}" in html:
            inline = ((QR_CID, "image/png", qr_png(qr)),)
        headers = {
            "Content-Language": rendered.language,
            # RFC 3834: an automatic message; well-behaved auto-responders stay quiet.
            "Auto-Submitted": "auto-generated",
        }
        if self.email_config.reply_to:
            headers["Reply-To"] = self.email_config.reply_to
        return EmailMessage(
            smtp=self._smtp,
            sender=self._sender(),
            to=recipient.email,
            # A subject is one line, whatever the template did.
            subject=" ".join(rendered.parts.get("subject.txt", event.type).split()),
            text=rendered.parts["txt"] + "\n",
            html=html,
            inline=inline,
            headers=headers,
        )

    def _sender(self) -> str:
        name = self.email_config.from_name
        address = self.email_config.from_address
        return formataddr((name, address)) if name else address
