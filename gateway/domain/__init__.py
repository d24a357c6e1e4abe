"""The pure domain: lockers, compartments, parcels and their state machines. No I/O here."""
