"""Access grants, network key rotation and the keys CLI."""
