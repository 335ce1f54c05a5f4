"""Input conversion shared by the vectorised kernels (numpy and C)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vixshield.errors import InvalidInputError


def as_float(name: str, value: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``value`` as a float64 array; a non-numeric value raises naming the argument."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{name} must be a float or an array of floats, got {value!r}"
        ) from exc
