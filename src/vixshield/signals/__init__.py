"""Signals: the METHOD section 3 indicators and the regime classifier built on them."""

from vixshield.signals.indicators import IndicatorParams, compute_indicators, indicator_snapshot

__all__ = ["IndicatorParams", "compute_indicators", "indicator_snapshot"]
