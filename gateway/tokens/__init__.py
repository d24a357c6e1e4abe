"""Tokens and trust: network signing keys, offline access grants, and access codes (PINs)."""
