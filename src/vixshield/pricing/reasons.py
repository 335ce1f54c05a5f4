"""Per-element reason codes for the vectorised pricing and implied-volatility kernels.

A chain is priced as a whole: one bad quote must never raise in the middle of it. Each
output element carries a code; ``OK`` (0) means the number is valid, anything else means
the element is NaN and says why.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
import numpy.typing as npt


class Reason(IntEnum):
    """Why an element of a vectorised result is NaN (``OK`` when it is not)."""

    OK = 0
    NAN_INPUT = 1  # an input was NaN or infinite
    NONPOSITIVE_UNDERLYING = 2  # spot or forward <= 0
    NONPOSITIVE_STRIKE = 3  # strike <= 0
    NONPOSITIVE_TIME = 4  # time to expiry <= 0 (at or past settlement)
    NONPOSITIVE_VOL = 5  # volatility <= 0
    BELOW_INTRINSIC = 6  # price at or below the lower no-arbitrage bound (discounted intrinsic)
    ABOVE_UPPER_BOUND = 7  # price at or above the upper bound (discounted forward / strike)
    NONPOSITIVE_PRICE = 8  # option price <= 0 given for implied volatility
    NO_CONVERGENCE = 9  # the solver did not reach its tolerance (should never happen)
    BAD_RIGHT = 10  # option right is neither call nor put
    NOT_GIVEN = 11  # the input this output needs was not given (an implied vol with no premium)


def describe(codes: npt.ArrayLike) -> dict[str, int]:
    """Count the reason codes in ``codes``: ``{"OK": 995, "BELOW_INTRINSIC": 5}``."""
    arr = np.asarray(codes, dtype=np.int8).ravel()
    values, counts = np.unique(arr, return_counts=True)
    return {Reason(int(v)).name: int(c) for v, c in zip(values, counts, strict=True)}
