"""Delivery vocabulary shared by the outbox and the engine: row targets, attachment sources."""

from __future__ import annotations

from enum import StrEnum


class TargetKind(StrEnum):
    """What an outbox row's `target_id` names; stored in the outbox, so never rename one."""

    WEBHOOK = "webhook"  # a carrier's webhook subscription (the OLP webhook format)
    CONNECTOR = "connector"  # an operator's connector attachment


class AttachmentSource(StrEnum):
    """Who made a connector attachment: the settings file (upserted at start-up) or the CLI."""

    CONFIG = "config"
    CLI = "cli"
