"""The `olp` adapter: lockers that speak the Open Locker Protocol natively over MQTT."""

from adapters.olp.adapter import OlpAdapter
from adapters.olp.config import OlpConfig

__all__ = ["OlpAdapter", "OlpConfig"]
