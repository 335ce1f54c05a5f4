"""What the decision core says for one day: order intents and hedge actions, each with reasons.

Every stage of :func:`vixshield.engine.run_day` returns values from this module; nothing here
decides anything. An order intent is what a trader would key in: the action, the legs with
signed quantities, a limit price at the mid, and the reasons. A refusal (a rule declining to
trade) is also a value, so the signal can say why nothing happened.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from vixshield.domain._pickle import reduce_frozen
from vixshield.domain.positions import Structure
from vixshield.errors import InvalidInputError


class Action(StrEnum):
    """What an order intent does."""

    OPEN = "open"
    CLOSE = "close"
    ROLL = "roll"  # close ``closes`` and open ``structure`` as one ticket
    RESIZE = "resize"  # close part of an open structure
    HOLD = "hold"  # an explicit "do nothing" with its reason


class Layer(StrEnum):
    """Which part of the method produced an intent."""

    CORE = "core"  # the 45-DTE iron condor (METHOD 5)
    LADDER = "ladder"  # the time-shifted short-dated layer (METHOD 6)
    HEDGE = "hedge"  # the Adaptive Layered VIX Hedge (METHOD 8)
    RISK = "risk"  # book-level overrides: delta band, crowding (METHOD 5, 7)


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """One ticket: open, close, roll or resize a structure, at a limit, with reasons.

    ``structure`` holds the legs to trade with signed quantities (as they would be held after
    an ``OPEN``); ``limit_price`` is the net price per unit of the ticket at the mids, positive
    for a credit received. ``closes`` names the open structure(s) a close, roll or resize acts
    on.
    """

    action: Action
    layer: Layer
    structure: Structure | None
    limit_price: float | None
    reasons: tuple[str, ...]
    closes: tuple[str, ...] = ()
    quantity_change: int | None = None

    def __post_init__(self) -> None:
        if not self.reasons:
            raise InvalidInputError("an order intent needs at least one reason")
        object.__setattr__(self, "reasons", tuple(self.reasons))
        object.__setattr__(self, "closes", tuple(self.closes))
        if self.limit_price is not None and not math.isfinite(self.limit_price):
            raise InvalidInputError(f"limit price must be finite, got {self.limit_price!r}")
        if self.action is Action.OPEN and self.structure is None:
            raise InvalidInputError("an OPEN intent needs the structure to open")

    def to_json(self) -> dict[str, Any]:
        legs = []
        if self.structure is not None:
            legs = [
                {
                    "contract": leg.contract.label(),
                    "root": leg.contract.root,
                    "expiry": leg.contract.expiry.isoformat(),
                    "strike": leg.contract.strike,
                    "right": leg.contract.right.value,
                    "quantity": leg.quantity,
                    "price": leg.price,
                }
                for leg in self.structure.legs
            ]
        return {
            "action": self.action.value,
            "layer": self.layer.value,
            "structure": None if self.structure is None else self.structure.name,
            "legs": legs,
            "limit_price": self.limit_price,
            "closes": list(self.closes),
            "quantity_change": self.quantity_change,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True, slots=True)
class Refusal:
    """A rule that considered acting and declined, with why (shown in the signal)."""

    layer: Layer
    what: str
    reasons: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"layer": self.layer.value, "what": self.what, "reasons": list(self.reasons)}


@dataclass(frozen=True, slots=True)
class DayDecision:
    """Everything the daily signal reports for one session (METHOD 10)."""

    session: date
    as_of: datetime
    regime: str | None
    regime_drivers: tuple[str, ...]
    indicators: Mapping[str, Any]
    orders: tuple[OrderIntent, ...]
    refusals: tuple[Refusal, ...] = ()
    book: Mapping[str, Any] = field(default_factory=dict)
    scenarios: tuple[Mapping[str, Any], ...] = ()
    notes: tuple[str, ...] = ()
    config_fingerprint: str = ""

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return reduce_frozen(self)  # its read-only mappings do not pickle

    def __post_init__(self) -> None:
        if self.as_of.tzinfo is None:
            raise InvalidInputError("a decision's as_of must be timezone-aware")
        for name in ("regime_drivers", "orders", "refusals", "scenarios", "notes"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "indicators", MappingProxyType(dict(self.indicators)))
        object.__setattr__(self, "book", MappingProxyType(dict(self.book)))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types, stable key order: the same inputs give the same text."""
        return {
            "session": self.session.isoformat(),
            "as_of": self.as_of.isoformat(),
            "regime": self.regime,
            "regime_drivers": list(self.regime_drivers),
            "indicators": dict(self.indicators),
            "orders": [o.to_json() for o in self.orders],
            "refusals": [r.to_json() for r in self.refusals],
            "book": dict(self.book),
            "scenarios": [dict(s) for s in self.scenarios],
            "notes": list(self.notes),
            "config_fingerprint": self.config_fingerprint,
        }
