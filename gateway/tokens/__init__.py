"""Tokens and trust: network signing keys, access codes (PINs), and later offline grants."""
