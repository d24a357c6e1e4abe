"""The security-relevant actions the audit trail records (see gateway/store/audit.py)."""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    """What happened; the wire value is stored in the audit log, so never rename one."""

    GRANT_ISSUED = "grant.issued"
    GRANT_REDEEMED = "grant.redeemed"
    GRANT_REFUSED = "grant.refused"
    CODE_ISSUED = "code.issued"
    CODE_TRIED = "code.tried"
    DOOR_OPENED = "door.opened"
    KEY_CREATED = "key.created"
    KEY_RETIRED = "key.retired"
    KEY_SET_PUSHED = "keyset.pushed"
    KEY_SET_AHEAD = "keyset.ahead"  # a locker reported a version above the network's
    KEYPAD_LOCKOUT = "keypad.lockout"
    DELIVERY_TARGET_DISABLED = "delivery.target_disabled"  # a receiver answered 410 Gone
