"""One root error and specific subclasses that say what happened and what to do.

Expected outcomes (a price outside the no-arbitrage bounds inside a chain, a risk limit
refusing a trade) are values with reasons, not exceptions. Exceptions are for input a
caller must fix.
"""

from __future__ import annotations


class VixShieldError(Exception):
    """Root of every error VixShield raises on purpose."""


class InvalidInputError(VixShieldError, ValueError):
    """An argument is outside its domain (negative strike, NaN volatility, ...).

    The message names the argument, the value and what would be accepted.
    """


class CalendarError(VixShieldError, ValueError):
    """A date is outside the calendar's range or is not what the caller said it is."""


class DataError(VixShieldError, ValueError):
    """A data file or row is malformed; the message names the file, row, field and value."""


class JournalError(VixShieldError):
    """The journal refused a write (a second run of a day, a change to history) or is unusable."""
