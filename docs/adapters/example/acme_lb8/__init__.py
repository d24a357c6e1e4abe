"""OpenLocker adapter for the ACME LB-8 lock board (a fictional board, the guide's example)."""

from acme_lb8.adapter import AcmeLb8Adapter
from acme_lb8.config import AcmeLb8Config

__all__ = ["AcmeLb8Adapter", "AcmeLb8Config"]
