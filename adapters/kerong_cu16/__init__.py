"""The `kerong-cu16` adapter: Kerong KR-CU16-style RS-485 lock boards."""

from adapters.kerong_cu16.adapter import KerongCu16Adapter
from adapters.kerong_cu16.config import KerongCu16Config, KerongLocker, Wiring

__all__ = ["KerongCu16Adapter", "KerongCu16Config", "KerongLocker", "Wiring"]
