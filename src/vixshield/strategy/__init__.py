"""Strategy: condor and broken-wing-butterfly construction, structure analytics, management.

* :mod:`vixshield.strategy.condor`: builders from any canonical chain, returning a
  :class:`~vixshield.strategy.condor.Candidate` or a :class:`~vixshield.strategy.condor.Refusal`.
* :mod:`vixshield.strategy.analytics`: credit, max loss, break-evens, margin, probabilities,
  expected value, Greeks, P&L curves and the plot, for any single-expiry structure.
* :mod:`vixshield.strategy.management`: profit target, stop, time exit, tested-side and
  crowding rules as pure functions returning decisions with reasons.
"""
