"""Backtests: the same decision core over history, fills and costs, results and metrics.

Modules: ``costs`` (fees and Cboe strategy-based margin), ``fills`` (the fill model),
``portfolio`` (positions, cash, index units, marks), ``metrics`` (pure performance statistics
over an equity curve, a trade ledger and dated cash flows), ``runner`` (the session walk
through :func:`vixshield.engine.run_day`), ``baselines`` (the method and its comparisons:
unhedged, static 4/4/2, VXTH-style, buy-and-hold), ``cboe`` (the Cboe PUT, BXM, CNDR, BFLY and
VXTH rules and the comparison with the published levels), ``suite`` (every strategy at every
fill fraction in worker processes) and ``sweep`` (grid/random search, Ray, walk-forward).
"""
