"""The pytest plugin (entry point `pytest11`) that makes the conformance kit available."""

from __future__ import annotations
