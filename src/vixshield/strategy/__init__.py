"""Strategy: construction, structure analytics, management, book risk and sizing.

* :mod:`vixshield.strategy.condor`: iron condors and broken-wing butterflies from any canonical
  chain, returning a :class:`~vixshield.strategy.condor.Candidate` or a
  :class:`~vixshield.strategy.condor.Refusal` with reasons.
* :mod:`vixshield.strategy.analytics`: credit, max loss, break-evens, margin, probabilities,
  expected value, Greeks, P&L curves and the plot, for any single-expiry structure.
* :mod:`vixshield.strategy.management`: profit target, stop, time exit, tested-side and
  crowding rules as pure functions returning decisions with reasons.
* :mod:`vixshield.strategy.book`, :mod:`vixshield.strategy.scenarios`: book Greeks, the delta
  band and scenario tables.
* :mod:`vixshield.strategy.sizing`: whole-contract sizing from the risk budget (METHOD §9).
"""
