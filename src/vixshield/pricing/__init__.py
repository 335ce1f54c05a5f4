"""Vectorised option pricing: Black-Scholes-Merton and Black-76 with Greeks, reason codes."""

from __future__ import annotations

from vixshield.pricing.black import (
    OptionGreeks,
    black76_greeks,
    black76_price,
    black_forward_price,
    bsm_greeks,
    bsm_price,
)
from vixshield.pricing.reasons import Reason, describe

__all__ = [
    "OptionGreeks",
    "Reason",
    "black76_greeks",
    "black76_price",
    "black_forward_price",
    "bsm_greeks",
    "bsm_price",
    "describe",
]
