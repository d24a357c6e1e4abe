"""The real gateway of tests/http for returns without a label."""

from tests.http.conftest import site

__all__ = ["site"]
