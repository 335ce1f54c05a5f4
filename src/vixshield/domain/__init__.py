"""Immutable domain values: market snapshots (more to come: contracts, structures, decisions)."""
