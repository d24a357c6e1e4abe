"""The locker side over a real database with its real faults (shared with tests/pipeline)."""

from tests.pipeline.conftest import faults, rig

__all__ = ["faults", "rig"]
