"""VixShield: SPX iron condors with an Adaptive Layered VIX Hedge."""

__version__ = "0.1.0"
