"""The grant's published form (olp-grant.json, SPEC.md §11) matches the code."""

from __future__ import annotations

from gateway.domain.door import OpenPurpose
from gateway.spec import DEFAULT_SPEC_DIR, Spec
from gateway.tokens.grants import (
    ACTION_FOR_PURPOSE,
    GRANT_TYPE,
    QR_PREFIX,
    GrantAction,
    GrantRefusal,
)

SECTION = (
    (DEFAULT_SPEC_DIR / "SPEC.md").read_text(encoding="utf-8").split("## 11. Access grants")[1]
)


def test_actions_match_the_schema() -> None:
    schema = Spec.load(None).schema("olp-grant")
    assert schema["$defs"]["GrantAction"]["enum"] == [a.value for a in GrantAction]
    header = schema["$defs"]["GrantHeader"]["properties"]
    assert header["typ"] == {"const": GRANT_TYPE}
    assert header["alg"] == {"const": "EdDSA"}


def test_every_purpose_but_service_has_an_action() -> None:
    assert set(ACTION_FOR_PURPOSE) == set(OpenPurpose) - {OpenPurpose.SERVICE}
    assert {a.value for a in ACTION_FOR_PURPOSE.values()} == {a.value for a in GrantAction}


def test_spec_names_every_refusal_reason_and_the_qr_prefix() -> None:
    for reason in GrantRefusal:
        assert f"`{reason.value}`" in SECTION, reason
    assert f"`{QR_PREFIX}`" in SECTION
