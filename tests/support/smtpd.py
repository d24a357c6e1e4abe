"""A real SMTP server for tests (aiosmtpd on a free port) that keeps what it receives.

Replies can be scripted: `server.fail_next("451 4.3.0 Try again later")` answers the next
DATA with that line instead of accepting the message; `refuse_next_rcpt` does so at RCPT TO.
Extra keyword arguments go to aiosmtpd (`ssl_context`, `tls_context`, `require_starttls`,
`authenticator`, `auth_required`...).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage


@dataclass
class CollectingHandler:
    """aiosmtpd handler: stores accepted messages, or answers a scripted failure."""

    received: list[Received] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    rcpt_failures: list[str] = field(default_factory=list)
    attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.arrived = threading.Condition(self.lock)

    async def handle_RCPT(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        with self.lock:
            if self.rcpt_failures:
                return self.rcpt_failures.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        with self.lock:
            self.attempts += 1
            if self.failures:
                return self.failures.pop(0)
            raw = envelope.original_content or b""
            parsed = email.message_from_bytes(raw, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            self.received.append(
                Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), parsed)
            )
            self.arrived.notify_all()
        return "250 2.0.0 Message accepted for delivery"


class _FreePortController(Controller):
    """Binds port 0 and learns the port before aiosmtpd's own start-up probe connects."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: CollectingHandler

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    @property
    def attempts(self) -> int:
        with self.handler.lock:
            return self.handler.attempts

    def fail_next(self, *replies: str) -> None:
        """Answer the next DATA commands with these replies instead of accepting."""
        with self.handler.lock:
            self.handler.failures.extend(replies)

    def refuse_next_rcpt(self, *replies: str) -> None:
        """Answer the next RCPT TO commands with these replies."""
        with self.handler.lock:
            self.handler.rcpt_failures.extend(replies)


@contextmanager
def smtp_server(**kwargs: Any) -> Iterator[SmtpServer]:
    """`with smtp_server() as server:` a started aiosmtpd on 127.0.0.1, stopped afterwards."""
    handler = CollectingHandler()
    controller = _FreePortController(handler, hostname="127.0.0.1", port=0, **kwargs)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", controller.port, handler)
    finally:
        controller.stop()
