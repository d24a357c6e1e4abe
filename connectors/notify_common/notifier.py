"""What the e-mail and SMS notifiers share: config, the recipient check and template lookup."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from connectors.notify_common.context import sample_context, template_context
from connectors.notify_common.templates import Found, TemplateBook, language_candidates
from gateway.sdk.connectors import (
    Capability,
    Connector,
    ConnectorConfig,
    ConnectorConfigError,
    ConnectorEvent,
    MappingError,
    Recipient,
    SkipEvent,
)

__all__ = [
    "DEFAULT_EVENTS",
    "PICKED_UP",
    "READY",
    "REMINDER",
    "Notifier",
    "NotifierConfig",
    "Rendered",
]

READY = "parcel.ready_for_pickup"
REMINDER = "parcel.pickup_reminder"
PICKED_UP = "parcel.picked_up"
DEFAULT_EVENTS = (READY, REMINDER, PICKED_UP)


class NotifierConfig(ConnectorConfig):
    """Settings every notifier has."""

    events: list[str] | None = Field(default_factory=lambda: list(DEFAULT_EVENTS))
    """Event types to notify about; each needs a template (shipped: the three defaults)."""
    template_dir: Path | None = None
    """Operator templates: `<dir>/<carrierId>/<lang>/<file>` and `<dir>/<carrierId>/<file>`."""
    default_language: str = Field(default="en", pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    """Used when the recipient names no language, or one we have no template for."""


class Rendered:
    """The templates of one message, rendered, and the language they were written in."""

    def __init__(self, parts: dict[str, str], language: str) -> None:
        self.parts = parts
        self.language = language


class Notifier(Connector):
    """Base of the notifiers: subclasses say which contact they need and which files."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.OUTBOUND_EVENTS, Capability.RECIPIENT_NOTIFICATIONS}
    )
    config_model: ClassVar[type[ConnectorConfig]] = NotifierConfig
    # Per message: file suffixes, the first is required (the others are optional).
    parts: ClassVar[tuple[str, ...]]

    def __init__(self, *, config: ConnectorConfig) -> None:
        super().__init__(config=config)
        if not isinstance(config, self.config_model) or not isinstance(config, NotifierConfig):
            raise ConnectorConfigError(
                f"{self.name}: config must be a {self.config_model.__name__}"
            )
        self.notifier_config = config
        self.book = TemplateBook(template_dir=config.template_dir, sample=sample_context())
        for event_type in config.events or ():
            required = f"{_kind(event_type)}.{self.parts[0]}"
            if not self.book.has(required):
                raise ConnectorConfigError(
                    f"{self.name}: no template {required!r} for event type {event_type!r}",
                    details={"pointer": "/events"},
                )

    def recipient(self, event: ConnectorEvent) -> Recipient:
        """The recipient, or SkipEvent: opted out or not given. Reasons carry no personal data."""
        recipient = event.recipient
        if recipient is None:
            raise SkipEvent("the carrier gave no recipient for this parcel")
        if recipient.opt_out:
            raise SkipEvent("the recipient opted out of notifications")
        return recipient

    def render_parts(self, event: ConnectorEvent, recipient: Recipient) -> Rendered:
        """Every part of this event's message, in the best language there are templates for."""
        if not self.wants(event.type):
            raise SkipEvent(f"{event.type} is not among this notifier's events")
        kind = _kind(event.type)
        languages = language_candidates(recipient.language, self.notifier_config.default_language)
        main = self.book.find(f"{kind}.{self.parts[0]}", event.carrier_id, languages)
        if main is None:
            raise SkipEvent(f"no {self.name} template for event type {event.type}")
        language = main.language or languages[0]
        # The other parts in the main part's language first, so one message stays one language.
        ordered = list(dict.fromkeys([language, *languages]))
        rendered = {self.parts[0]: self._render(main, event, language)}
        for suffix in self.parts[1:]:
            found = self.book.find(f"{kind}.{suffix}", event.carrier_id, ordered)
            if found is not None:
                rendered[suffix] = self._render(found, event, language)
        return Rendered(rendered, language)

    @staticmethod
    def _render(found: Found, event: ConnectorEvent, language: str) -> str:
        html = found.path.suffix == ".html"
        context: dict[str, Any] = template_context(event, language, html=html)
        try:
            return found.template.render(context).strip()
        except Exception as err:  # a sandbox violation or an undefined name at send time
            # The template's name, not its output: the output may hold personal data.
            raise MappingError(
                f"template {found.path.name} failed: {type(err).__name__}", pointer="/template"
            ) from err


def _kind(event_type: str) -> str:
    """`parcel.ready_for_pickup` -> `ready_for_pickup`: the stem of the template files."""
    return event_type.removeprefix("parcel.")
