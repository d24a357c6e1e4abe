"""Hold-time policy rules (pure): layering, reminder times, the recipient's one extension,
and the self-service link's token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.domain.errors import IllegalParcelTransition
from gateway.domain.hold_policy import (
    AppliedHold,
    HoldPolicy,
    HoldSource,
    PolicyScope,
    recipient_deadline,
    resolve,
    settings_hold,
)
from gateway.errors import AuthenticationFailed
from gateway.tokens.recipient_links import RecipientClaims, sign_recipient_token, verify

H = timedelta(hours=1)
D = timedelta(days=1)
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
BASE = settings_hold(72 * H, 24 * H, 2 * D)


def test_each_value_comes_from_the_most_specific_scope_that_sets_it() -> None:
    applied = resolve(
        BASE,
        [
            (PolicyScope.NETWORK, HoldPolicy(hold_days=5, extension_days=1)),
            (PolicyScope.CARRIER, HoldPolicy(reminder_hours=(4, 48))),
            (PolicyScope.LOCKER, HoldPolicy(hold_days=2)),
        ],
    )
    assert applied.pickup_window == 2 * D
    assert applied.window_from is HoldSource.LOCKER
    assert applied.reminders == (48 * H, 4 * H)  # longest first
    assert applied.reminders_from is HoldSource.CARRIER
    assert applied.extension == 1 * D
    assert applied.extension_from is HoldSource.NETWORK


def test_without_policies_the_settings_apply_and_a_booking_window_wins() -> None:
    assert resolve(BASE, [(PolicyScope.LOCKER, None)]) == BASE
    assert BASE.window_from is HoldSource.SETTINGS
    chosen = resolve(BASE, [(PolicyScope.LOCKER, HoldPolicy(hold_days=2))], requested_window=5 * H)
    assert (chosen.pickup_window, chosen.window_from) == (5 * H, HoldSource.REQUEST)
    assert settings_hold(72 * H, timedelta(0), D).reminders == ()


def test_reminders_fall_strictly_between_now_and_the_deadline() -> None:
    hold = AppliedHold(72 * H, (48 * H, 24 * H, 4 * H), 2 * D)
    deadline = NOW + 72 * H
    assert hold.next_reminder(deadline, NOW) == deadline - 48 * H
    assert hold.next_reminder(deadline, deadline - 48 * H) == deadline - 24 * H
    assert hold.next_reminder(deadline, deadline - 4 * H) is None
    short = NOW + 20 * H  # a window shorter than two of the leads gets only the third
    assert hold.next_reminder(short, NOW) == short - 4 * H


def test_a_recipient_extends_once_within_the_limit() -> None:
    hold = AppliedHold(72 * H, (), 3 * D)
    until = NOW + 10 * H
    assert (
        recipient_deadline(hold, until, extended_before=False, days=None, now=NOW) == until + 3 * D
    )
    assert recipient_deadline(hold, until, extended_before=False, days=1, now=NOW) == until + D
    with pytest.raises(ValueError, match=r"1\.\.3"):
        recipient_deadline(hold, until, extended_before=False, days=4, now=NOW)
    with pytest.raises(IllegalParcelTransition) as once:
        recipient_deadline(hold, until, extended_before=True, days=1, now=NOW)
    assert once.value.details["reason"] == "already_extended"
    none = AppliedHold(72 * H, (), timedelta(0))
    with pytest.raises(IllegalParcelTransition) as refused:
        recipient_deadline(none, until, extended_before=False, days=1, now=NOW)
    assert refused.value.details["reason"] == "extension_not_allowed"
    with pytest.raises(IllegalParcelTransition) as late:
        recipient_deadline(hold, NOW - H, extended_before=False, days=1, now=NOW)
    assert late.value.details["reason"] == "window_ended"


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"hold_days": 0}, "holdDays"),
        ({"hold_days": 31}, "holdDays"),
        ({"reminder_hours": (24, 24)}, "each once"),
        ({"reminder_hours": (0,)}, "reminderHours must be"),
        ({"reminder_hours": (1, 2, 3, 4, 5, 6)}, "at most 5"),
        ({"extension_days": 15}, "extensionDays"),
    ],
)
def test_impossible_policies_are_refused(policy: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HoldPolicy(**policy)  # type: ignore[arg-type]


def test_applied_policy_survives_its_json_round_trip() -> None:
    hold = resolve(BASE, [(PolicyScope.CARRIER, HoldPolicy(reminder_hours=(6,)))])
    assert AppliedHold.from_json(hold.to_json()) == hold


KEY = Ed25519PrivateKey.generate()
KEYS = {"k1": KEY.public_key()}


def token(**changes: object) -> str:
    claims = RecipientClaims("net", "uid-1", NOW, NOW + 24 * H)
    return sign_recipient_token(claims, kid=str(changes.get("kid", "k1")), key=KEY)


def reason(text: str, *, issuer: str = "net", now: datetime = NOW) -> str:
    with pytest.raises(AuthenticationFailed) as refused:
        verify(text, keys=KEYS, issuer=issuer, now=now)
    return str(refused.value.details["reason"])


def test_a_link_token_verifies_and_names_its_parcel_only() -> None:
    claims = verify(token(), keys=KEYS, issuer="net", now=NOW + H)
    assert (claims.parcel_uid, claims.expires_at) == ("uid-1", NOW + 24 * H)


def test_a_link_token_is_refused_for_every_broken_check() -> None:
    good = token()
    head, body, sig = good.split(".")
    assert reason(good, now=NOW + 24 * H) == "expired"
    assert reason(good, issuer="other-net") == "wrong_issuer"
    assert reason(token(kid="k9")) == "unknown_kid"
    assert reason(f"{head}.{body}.{sig[:-4]}AAAA") == "bad_signature"
    assert reason("not a token") == "malformed"
    assert reason(good + "." + sig) == "malformed"
    # An access grant's header (another typ) with this signature: refused before any key.
    grant_head = "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIiwidHlwIjoib2xwLWdyYW50K2p3dCJ9"
    assert reason(f"{grant_head}.{body}.{sig}") == "bad_type"
    none_head = "eyJhbGciOiJub25lIiwidHlwIjoib2xwLXJlY2lwaWVudCtqd3QifQ"
    assert reason(f"{none_head}.{body}.{sig}") == "bad_algorithm"
