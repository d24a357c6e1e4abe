"""The real gateway of tests/http (and its webhook receiver) for the pre-check and holds."""

from tests.http.conftest import site
from tests.webhooks.conftest import hooks, receiver

__all__ = ["hooks", "receiver", "site"]
