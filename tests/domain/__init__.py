"""Tests of the pure domain: state machines, sizes, S10 ids and lockers."""
