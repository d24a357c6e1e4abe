"""The whole-site rig of tests/e2e (private Mosquitto, real gateway, emulator), reused."""

from tests.e2e.conftest import site

__all__ = ["site"]
