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
    KEY_SET_REFUSED = "keyset.refused"  # a locker refused a SetKeySet's signature (SPEC §9)
    ROOT_KEY_CREATED = "rootkey.created"  # details.endorsedBy: the root it replaces, if any
    SECRETS_SEALED = "secrets.sealed"  # values found in clear, sealed under the KEK
    SECRETS_REWRAPPED = "secrets.rewrapped"  # `openlocker keys rewrap`: sealed anew
    KEYPAD_LOCKOUT = "keypad.lockout"
    KEYPAD_CLEARED = "keypad.cleared"  # an operator ended a lockout: details.reason says why
    # A gateway's recovery pass finished or reconciled what a crash left in flight
    # (gateway/service/recovery.py): details.what, details.outcome.
    RECOVERED = "recovery.reconciled"
    DELIVERY_TARGET_DISABLED = "delivery.target_disabled"  # a receiver answered 410 Gone
    # A locker flooded its lane on a gateway instance (gateway/service/lane_overloads.py):
    # started, and ended with details.refused (messages refused) and details.seconds.
    LOCKER_OVERLOADED = "locker.overloaded"
    LOCKER_OVERLOAD_ENDED = "locker.overload_ended"
    # Operators (gateway/auth/operator_sessions.py, gateway/service/operators.py) and what
    # they do through the admin API (gateway/service/admin_actions.py): who, what and why.
    OPERATOR_CREATED = "operator.created"
    OPERATOR_RESET = "operator.reset"  # a new password, role, or re-enabled
    OPERATOR_DISABLED = "operator.disabled"
    OPERATOR_LOGIN = "operator.login"
    OPERATOR_LOGIN_FAILED = "operator.login_failed"
    OPERATOR_LOGOUT = "operator.logout"
    # An operator's personal API token (the secret itself is never audited).
    OPERATOR_TOKEN_CREATED = "operator.token_created"  # noqa: S105 - an action name
    OPERATOR_TOKEN_REVOKED = "operator.token_revoked"  # noqa: S105 - an action name
    ADMIN_ACTION = "admin.action"  # details: {"what": ..., "reason": ..., ...}
    # A courier's round at a locker (gateway/service/courier_sessions.py); never the code.
    COURIER_SESSION_OPENED = "courier_session.opened"
    COURIER_SESSION_CODE = "courier_session.code_issued"
    COURIER_SESSION_CLOSED = "courier_session.closed"
    # Query on scan (gateway/service/scan_queries.py): a parcel id scanned at a locker and the
    # gateway's answer (details: parcelId, decision, reason or compartmentCode, unadvised).
    PARCEL_SCANNED = "parcel.scanned"
