"""Sites for focused reproductions of chaos findings: the end-to-end one (a real gateway in
this process) and the emulator's own (a fake gateway that sends raw commands)."""

from tests.e2e.conftest import site
from tests.emulator.conftest import bank, broker, gateway, spec, spec_check

__all__ = ["bank", "broker", "gateway", "site", "spec", "spec_check"]
