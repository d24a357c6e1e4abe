"""The `modbus` adapter: lockers behind a generic Modbus lock controller (Modbus TCP or RTU)."""

from adapters.modbus.adapter import ModbusAdapter
from adapters.modbus.config import ModbusConfig

__all__ = ["ModbusAdapter", "ModbusConfig"]
