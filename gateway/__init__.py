"""OpenLocker gateway: the Open Locker Protocol (OLP) v1 reference implementation."""

__version__ = "0.1.0"
OLP_VERSION = "1.0"
