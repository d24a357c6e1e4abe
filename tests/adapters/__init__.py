"""Adapter tests: each built-in adapter under the conformance kit, and the kit itself."""
