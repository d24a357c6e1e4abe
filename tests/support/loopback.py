"""The tests' receivers listen on loopback, which the delivery engine refuses by default (SSRF).

Every gateway built in a test (and every gateway process it starts, which inherits the
environment) gets loopback allowed through `[webhooks] allow_private_targets`; transports built
directly get `LOOPBACK`. The SSRF tests (tests/delivery/test_ssrf.py) build their own, stricter.
"""

from __future__ import annotations

import json
import os
from ipaddress import IPv4Network, IPv6Network

__all__ = ["ALLOW_ENV", "LOOPBACK", "allow_loopback_targets"]

LOOPBACK: tuple[IPv4Network | IPv6Network, ...] = (
    IPv4Network("127.0.0.0/8"),
    IPv6Network("::1/128"),
)
ALLOW_ENV = "OPENLOCKER_WEBHOOKS__ALLOW_PRIVATE_TARGETS"


def allow_loopback_targets() -> None:
    """Allow loopback targets for every Settings built from now on (unless the variable is
    already set, e.g. by a test run that wants the production default)."""
    os.environ.setdefault(ALLOW_ENV, json.dumps([str(net) for net in LOOPBACK]))
