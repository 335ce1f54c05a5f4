"""One trading day's market state, as the decision code sees it.

Every number carries a ``modelled`` flag: ``False`` for a published value (a loaded file),
``True`` for a model output (the VX fallback curve, the embedded default market, a model
chain). The flag is the only way decision code can tell real from model data, and every
snapshot can list what in it was modelled (:meth:`MarketSnapshot.modelled_fields`).

Values check themselves at construction: prices finite and positive, ``low <= high``,
curve ranks increasing. A snapshot never holds data stamped after its ``as_of`` instant.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

from vixshield.domain._pickle import reduce_frozen
from vixshield.errors import InvalidInputError


def _positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0.0):
        raise InvalidInputError(f"{name} must be a finite number > 0, got {value!r}")


@dataclass(frozen=True, slots=True)
class Datum:
    """A published or modelled number."""

    value: float
    modelled: bool = False


@dataclass(frozen=True, slots=True)
class Bar:
    """A daily OHLC bar in index points; ``open``/``high``/``low`` are NaN in close-only data."""

    open: float
    high: float
    low: float
    close: float
    modelled: bool = False

    def __post_init__(self) -> None:
        _positive("close", self.close)
        if math.isfinite(self.high) and math.isfinite(self.low) and self.low > self.high:
            raise InvalidInputError(f"bar low {self.low} is above high {self.high}")


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """One VX futures contract on the curve (rank 1 is the nearest unexpired contract)."""

    rank: int
    expiry: date
    dte: int
    t_years: float
    settle: float
    modelled: bool = False


@dataclass(frozen=True, slots=True)
class Breadth:
    """NYSE advancing, declining and unchanged issues."""

    advances: int
    declines: int
    unchanged: int
    modelled: bool = False


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """The market at the close of ``session``, stamped ``as_of`` (timezone-aware).

    Attributes
    ----------
    spx
        S&P 500 daily bar.
    indices
        Cboe indices present that day, by lower-case name (``vix``, ``vix9d``, ``vix3m``,
        ``vix6m``, ``vvix``, ``skew``); absent names had no value that day.
    vx_curve
        VX1.. by rank; empty when there are neither futures nor a model input.
    breadth
        NYSE breadth, or None (the method must work without it).
    rate
        Short rate as a decimal per year, or None.
    trading_days_to
        Sessions from this one to the next scheduled event of each kind (``fomc``, ``cpi``,
        ``ppi``): 0 on the event day; absent when none is known ahead.
    """

    session: date
    as_of: datetime
    spx: Bar
    indices: Mapping[str, Datum] = field(default_factory=dict)
    vx_curve: tuple[CurvePoint, ...] = ()
    breadth: Breadth | None = None
    rate: Datum | None = None
    trading_days_to: Mapping[str, int] = field(default_factory=dict)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return reduce_frozen(self)  # its read-only mappings do not pickle

    def __post_init__(self) -> None:
        if self.as_of.tzinfo is None:
            raise InvalidInputError(f"snapshot as_of must be timezone-aware, got {self.as_of!r}")
        ranks = [p.rank for p in self.vx_curve]
        if ranks != sorted(set(ranks)):
            raise InvalidInputError(f"VX curve ranks must be increasing and unique, got {ranks}")
        for name, datum in self.indices.items():
            _positive(name, datum.value)
        # Read-only views: a snapshot is a value, and a decision must not be able to edit it.
        object.__setattr__(self, "indices", MappingProxyType(dict(self.indices)))
        object.__setattr__(self, "trading_days_to", MappingProxyType(dict(self.trading_days_to)))

    def index(self, name: str) -> float | None:
        """The named index level, or None when absent that day."""
        datum = self.indices.get(name)
        return None if datum is None else datum.value

    def modelled_fields(self) -> tuple[str, ...]:
        """Names of the data in this snapshot that come from a model, not a published file."""
        out: list[str] = []
        if self.spx.modelled:
            out.append("spx")
        out += [name for name, d in sorted(self.indices.items()) if d.modelled]
        out += [f"vx{p.rank}" for p in self.vx_curve if p.modelled]
        if self.breadth is not None and self.breadth.modelled:
            out.append("breadth")
        if self.rate is not None and self.rate.modelled:
            out.append("rate")
        return tuple(out)
