"""Backtests: the same decision core over history, fills and costs, results and metrics.

Modules: ``costs`` (fees and Cboe strategy-based margin), ``fills`` (the fill model),
``portfolio`` (positions, cash, marks), ``metrics`` (pure performance statistics over an
equity curve, a trade ledger and dated cash flows).
"""
