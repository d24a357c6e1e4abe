"""Tests of the published spec (schemas/v1), its loader and the wire models."""
