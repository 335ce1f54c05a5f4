"""The result type shared by both pricing kernels (numpy and C)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Final, TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.float64]
ReasonArray: TypeAlias = npt.NDArray[np.int8]


@dataclass(frozen=True, slots=True)
class OptionGreeks:
    """Prices and Greeks of a batch of European options, one element per option.

    All fields have the broadcast shape of the inputs and are read-only. Where ``reason`` is
    not ``Reason.OK`` every float field of that element is NaN.

    Attributes
    ----------
    price : present value of the option.
    delta : dV/dS (BSM, spot) or dV/dF (Black-76, forward).
    gamma : d2V/dS2 (BSM) or d2V/dF2 (Black-76).
    vega_per_volpt : dV/dsigma / 100, the change for one vol point.
    theta_per_day : -dV/dT / 365, the change for one calendar day passing
        (BSM holds S, r, q; Black-76 holds F, r).
    rho_per_pct : dV/dr / 100 (BSM holds S and q; Black-76 holds F, so it is -T V / 100).
    vanna_per_volpt : d2V/dS dsigma / 100 (d2V/dF dsigma for Black-76), the change of delta
        for one vol point.
    volga_per_volpt : d2V/dsigma2 / 1e4, the change of ``vega_per_volpt`` for one vol point.
    reason : int8 codes of :class:`vixshield.pricing.reasons.Reason`, 0 (``OK``) when valid.
    """

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega_per_volpt: FloatArray
    theta_per_day: FloatArray
    rho_per_pct: FloatArray
    vanna_per_volpt: FloatArray
    volga_per_volpt: FloatArray
    reason: ReasonArray

    @classmethod
    def from_arrays(cls, arrays: Sequence[FloatArray], reason: ReasonArray) -> OptionGreeks:
        """Build from the eight float arrays in :data:`GREEK_FIELDS` order and the reasons."""
        if len(arrays) != len(GREEK_FIELDS):
            raise ValueError(f"need {len(GREEK_FIELDS)} arrays, got {len(arrays)}")
        price, delta, gamma, vega, theta, rho, vanna, volga = arrays
        return cls(price, delta, gamma, vega, theta, rho, vanna, volga, reason)


GREEK_FIELDS: Final = tuple(f.name for f in fields(OptionGreeks) if f.name != "reason")
"""The output arrays of :class:`OptionGreeks`, price first, in their documented order."""
