"""Shared parts of the recipient notifiers (e-mail, SMS): templates, context, SMS length."""

from connectors.notify_common.context import QR_CID, format_deadline, qr_png, template_context
from connectors.notify_common.notifier import (
    DEFAULT_EVENTS,
    PICKED_UP,
    READY,
    REMINDER,
    Notifier,
    NotifierConfig,
    Rendered,
)
from connectors.notify_common.sms_length import SmsSize, sms_size
from connectors.notify_common.templates import TemplateBook, language_candidates

__all__ = [
    "DEFAULT_EVENTS",
    "PICKED_UP",
    "QR_CID",
    "READY",
    "REMINDER",
    "Notifier",
    "NotifierConfig",
    "Rendered",
    "SmsSize",
    "TemplateBook",
    "format_deadline",
    "language_candidates",
    "qr_png",
    "sms_size",
    "template_context",
]
