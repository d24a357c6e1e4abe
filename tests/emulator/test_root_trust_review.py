"""A forged SetKeySet whose text is not valid Unicode is refused like any forgery (found by the
session-5 security review): it used to escape as UnicodeEncodeError, so the locker answered
nothing, counted no refusal, and the gateway could not audit it."""

from __future__ import annotations

import json

import pytest
from locker_emulator.root_trust import RootKey, SignatureRefused, verify_key_set

from tests.support.grants import TestIssuer, TestRoot

LOCKER = "EMU-001"


@pytest.mark.parametrize("member", ["issuer", "keys"])
def test_a_lone_surrogate_in_the_signed_members_is_a_security_refusal(member: str) -> None:
    root = TestRoot()
    payload = root.sign(TestIssuer(issuer="net").key_set(3), LOCKER)
    # As the locker decodes it from MQTT: JSON allows the escape, UTF-8 cannot encode it.
    text = json.dumps(payload).replace('"net"', '"net\\ud800"')
    if member == "keys":
        text = json.dumps({**payload, "keys": [{**payload["keys"][0], "kid": "k\ud800"}]})
    forged = json.loads(text)
    with pytest.raises(SignatureRefused, match="Unicode"):
        verify_key_set(RootKey.from_jwk(root.jwk), forged, LOCKER)
