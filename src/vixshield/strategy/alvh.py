r"""The Adaptive Layered VIX Hedge, ALVH (METHOD §8): score, tranches, monetising, discipline.

Three layers of long VIX calls or call spreads, each with a budget that is a share of the
condor book's total max loss :math:`L` (the texts' "4/4/2"; :class:`HedgeParams`):

========== ===================== ============ ============================= =========
layer      instrument            DTE window   strike                        budget
========== ===================== ============ ============================= =========
``short``  VIX call              20-45 (30)   ~30 delta, or VX1 x 1.2       4% of L
``medium`` VIX call spread       90-120 (105) long ~30 delta, short ~10     4% of L
``long``   VIX call              150-180      ~25 delta                     2% of L
========== ===================== ============ ============================= =========

Everything is a pure function of its inputs (no clock, no I/O); :func:`hedge_decision` is the
single entry point and returns order intents and refusals, each with its reasons.

Hedge score (:func:`hedge_score`)
---------------------------------
Six triggers, each live or not with a reason; the score is the number of live triggers capped
at ``max_score`` [4]:

1. ``term_toward_backwardation``: the VX term slope fell by more than the indicator threshold
   over 5 sessions (METHOD §3, "steepening toward backwardation");
2. ``vix_macd_turning_up``: the VIX MACD histogram turns up (and is positive) after a
   compression;
3. ``ad_divergence``: SPX at its 20-day high while the A/D line is >= 1% below its own high;
4. ``event``: an FOMC decision, CPI or PPI release within ``event_window_days`` [5] sessions
   (read from ``days_to_fomc``/``days_to_cpi``/``days_to_ppi``, else the
   ``event_within_window`` flag);
5. ``delta_band``: the book's delta band is broken (METHOD §7);
6. ``vvix_rsi``: VVIX RSI above ``vvix_rsi_above`` [70].

A missing input makes its trigger not live, and the reason says it was unavailable.

Tranches: what score n means
----------------------------
Each layer's budget :math:`B_\ell = b_\ell L` is bought in ``tranches_per_layer`` [4] equal
tranches (25% steps) of :math:`B_\ell / 4`. METHOD's "score n means n tranches held (short
layer first, then medium, then long)" is read as: **score n targets n tranches in each
layer** (``min(n, tranches_per_layer)``), so score 0 holds nothing, score 2 holds half of
each layer's budget and score 4 the full 4/4/2; "short first, then medium, then long" is the
**priority order**: tranches are bought short layer first, then medium, then long, so when
the cost discipline or the per-initiation cap binds, the short layer is filled first. (The
other reading, n tranches in total filled short first, would never reach the medium and long
layers at a maximum score of 4, which contradicts the three-layer design.) A falling score
sells nothing: held tranches leave only by the monetise and roll rules below, or by expiry.
A layer holding fewer tranches than its target buys the difference in one session, one
order intent per tranche (each tranche is its own structure, with its own cost, so it can be
monetised on its own).

Buying a tranche
----------------
* **Chain.** A VIX option chain (real, or :func:`vixshield.data.model_chains.model_vix_chain`
  on the VX curve when ``vix_chain`` is ``None`` and ``vvix`` is given). Implied vols and
  forward deltas :math:`N(d_1)` are re-solved from the mids by Black-76 on the **VX future of
  the same expiry** (``vx_futures``; METHOD §1, Cboe: "the best underlying instrument"),
  through :func:`vixshield.data.chains.add_implied_vols`. Only calls with a bid (an implied
  vol) are used.
* **Expiry.** The VIX expiry with DTE (calendar days from the session) in the layer's window
  nearest its target; ties go to the earlier.
* **Strike.** The call whose delta is nearest ``long_delta``; for the short layer with
  ``strike_rule = "vx1_multiple"`` the call strike nearest ``vx1_multiple`` x VX1 (VX1: the
  first VX future expiring after the session). A spread's short leg is the call above the
  long strike whose delta is nearest ``short_delta``.
* **Contracts.** :math:`n = \lfloor (B_\ell/4) / (100\,p) \rfloor` with :math:`p` the premium
  per unit at mids (the spread's net debit); the unspent part of the tranche budget is
  reported. :math:`n = 0` is refused: "rounds to zero contracts". The limit is the mid (a
  debit: ``limit_price = -p``).
* **Cost discipline.** With :math:`C` the condor credit collected and :math:`H` the hedge
  spend over the trailing ``cost_window_cycles`` [3] condor cycles (both passed in by the
  engine), a tranche costing :math:`x` is refused when :math:`H + h_{today} + x >
  \rho\,C` (:math:`\rho` = ``cost_ratio_max`` [1/3], the texts' "3:1"; :math:`h_{today}` what
  earlier tranches of the same decision spend).
* **Per-initiation cap.** One initiation (all purchases of one decision) risks at most
  :math:`\min(r, r_{cap})\,E` of equity :math:`E` (``initiation_risk_frac`` [2%],
  ``initiation_hard_cap_frac`` [3%]); the premium of a long option or call spread is its max
  loss. A tranche that would break it is refused.
* Once a tranche of a layer is refused, the layer's further tranches that day are not tried
  (they cost the same and fail the same way); the refusal says how many were skipped.

Monetise and roll (open tranches)
---------------------------------
Each open tranche is marked at the chain's mids (``value_usd`` on the position, when given,
wins). In this order:

1. **Take profit.** Sell (``CLOSE``) when its value is at least ``take_profit_multiple`` [3]
   times its cost.
2. **Regime fall-back.** Sell when the regime has fallen at least ``regime_fallback_steps``
   [2] levels below the **peak regime since the tranche opened** (the position's
   ``peak_regime_level``, else the decision's ``peak_regime_level``): the spike is passing.
3. **Time-shift roll.** A short-layer tranche with fewer than ``roll_below_dte`` [10] days to
   expiry is sold and rolled into the medium bucket: a ``CLOSE`` of the short tranche and an
   ``OPEN`` of one medium tranche (a call spread sized to one medium tranche budget), which
   counts toward the medium layer's target. The purchase passes the same cost checks.

A tranche sold today still counts as held for today's targets (no same-session re-buy into a
spike); a tranche at or past its expiry has settled and is neither held nor traded.

Naming. Opened tranches are named ``"ALVH <layer> tranche <k> <session> <legs>"``;
:func:`hedge_layer_of` reads the layer back. A tranche's cost is
``-structure.net_premium_usd`` of its ``OPEN`` intent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, Final, Literal, NamedTuple, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from vixshield.data.chains import implied_vols
from vixshield.data.model_chains import model_vix_chain
from vixshield.domain.decisions import Action, Layer, OrderIntent, Refusal
from vixshield.domain.positions import Leg, OptionContract, Right, Structure
from vixshield.errors import InvalidInputError
from vixshield.signals.regime import Regime
from vixshield.strategy.book import DeltaBand

__all__ = [
    "HEDGE_NAME_PREFIX",
    "HedgeDecision",
    "HedgeLayer",
    "HedgeLayerParams",
    "HedgeParams",
    "HedgePosition",
    "HedgeScore",
    "LayerPlan",
    "Trigger",
    "hedge_decision",
    "hedge_layer_of",
    "hedge_score",
    "tranche_targets",
]

_FROZEN: Final = ConfigDict(frozen=True, extra="forbid")
_SLACK: Final = 1e-9  # 400 / 133.33... must not lose a contract to rounding
FloatArray = npt.NDArray[np.float64]
HEDGE_NAME_PREFIX: Final = "ALVH"


class HedgeLayer(StrEnum):
    """The three hedge layers, in buying priority order."""

    SHORT = "short"
    MEDIUM = "medium"
    LONG = "long"


LAYER_ORDER: Final = (HedgeLayer.SHORT, HedgeLayer.MEDIUM, HedgeLayer.LONG)


class HedgeLayerParams(BaseModel):
    """One layer: budget share, expiry window, strike rule (module docstring)."""

    model_config = _FROZEN

    budget_frac: float = Field(
        ge=0.0, le=0.25, description="layer budget as a share of the condor book's max loss"
    )
    min_dte: int = Field(ge=1, le=400, description="shortest expiry, calendar days")
    target_dte: int = Field(ge=1, le=400, description="preferred expiry, calendar days")
    max_dte: int = Field(ge=1, le=400, description="longest expiry, calendar days")
    long_delta: float = Field(gt=0.0, lt=1.0, description="long call delta target")
    short_delta: float | None = Field(
        default=None, gt=0.0, lt=1.0, description="short call delta of a spread (None: a call)"
    )
    strike_rule: Literal["delta", "vx1_multiple"] = Field(
        default="delta", description="long strike by delta, or at vx1_multiple x VX1"
    )
    vx1_multiple: float = Field(
        default=1.2, ge=1.0, le=3.0, description="long strike = this x VX1 (vx1_multiple rule)"
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.min_dte <= self.target_dte <= self.max_dte:
            raise ValueError(
                f"need min_dte <= target_dte <= max_dte, got {self.min_dte}, "
                f"{self.target_dte}, {self.max_dte}"
            )
        if self.short_delta is not None and not self.short_delta < self.long_delta:
            raise ValueError("a spread's short_delta must be below its long_delta")
        return self


def _short_layer() -> HedgeLayerParams:
    return HedgeLayerParams(
        budget_frac=0.04, min_dte=20, target_dte=30, max_dte=45, long_delta=0.30
    )


def _medium_layer() -> HedgeLayerParams:
    return HedgeLayerParams(
        budget_frac=0.04,
        min_dte=90,
        target_dte=105,
        max_dte=120,
        long_delta=0.30,
        short_delta=0.10,
    )


def _long_layer() -> HedgeLayerParams:
    return HedgeLayerParams(
        budget_frac=0.02, min_dte=150, target_dte=165, max_dte=180, long_delta=0.25
    )


class HedgeParams(BaseModel):
    """The Adaptive Layered VIX Hedge (METHOD §8); every rule in the module docstring."""

    model_config = _FROZEN

    short: HedgeLayerParams = Field(
        default_factory=_short_layer, description="~30 DTE VIX calls, 4% of condor max loss"
    )
    medium: HedgeLayerParams = Field(
        default_factory=_medium_layer,
        description="90-120 DTE VIX call spreads 30/10 delta, 4% of condor max loss",
    )
    long: HedgeLayerParams = Field(
        default_factory=_long_layer, description="150-180 DTE 25-delta VIX calls, 2%"
    )
    tranches_per_layer: int = Field(
        default=4, ge=1, le=10, description="tranches per layer budget (4: 25% steps)"
    )
    max_score: int = Field(default=4, ge=1, le=6, description="hedge score cap")
    vvix_rsi_above: float = Field(
        default=70.0, ge=0.0, le=100.0, description="trigger: VVIX RSI above this"
    )
    event_window_days: int = Field(
        default=5, ge=0, le=60, description="trigger: FOMC/CPI/PPI within this many sessions"
    )
    take_profit_multiple: float = Field(
        default=3.0, ge=1.0, le=20.0, description="sell a tranche worth this multiple of cost"
    )
    regime_fallback_steps: int = Field(
        default=2, ge=1, le=4, description="sell when the regime is this far below its peak"
    )
    roll_below_dte: int = Field(
        default=10, ge=0, le=60, description="roll a short tranche with fewer days left"
    )
    cost_ratio_max: float = Field(
        default=1.0 / 3.0,
        gt=0.0,
        le=1.0,
        description="hedge spend / condor credit over the window, at most (3:1)",
    )
    cost_window_cycles: int = Field(
        default=3, ge=1, le=24, description="condor cycles of the cost-discipline window"
    )
    initiation_risk_frac: float = Field(
        default=0.02, gt=0.0, le=0.05, description="one initiation's premium / equity, at most"
    )
    initiation_hard_cap_frac: float = Field(
        default=0.03, gt=0.0, le=0.05, description="hard cap on one initiation's premium / equity"
    )

    def layer(self, layer: HedgeLayer) -> HedgeLayerParams:
        """The parameters of ``layer``."""
        return {
            HedgeLayer.SHORT: self.short,
            HedgeLayer.MEDIUM: self.medium,
            HedgeLayer.LONG: self.long,
        }[layer]


# --------------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True, slots=True)
class HedgePosition:
    """An open hedge tranche.

    Attributes
    ----------
    structure
        The long VIX call or call spread (signed quantities, opening prices).
    layer
        Which layer it belongs to.
    opened
        Session it was opened.
    cost_usd
        Premium paid to open, USD (> 0).
    value_usd
        Today's mark, USD (None: marked at the chain's mids).
    peak_regime_level
        Highest regime level since it opened (None: the decision's ``peak_regime_level``).
    tranches
        Tranches it stands for (1 for a tranche opened by :func:`hedge_decision`).
    """

    structure: Structure
    layer: HedgeLayer
    opened: date
    cost_usd: float
    value_usd: float | None = None
    peak_regime_level: int | None = None
    tranches: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "layer", HedgeLayer(self.layer))
        if not (math.isfinite(self.cost_usd) and self.cost_usd > 0):
            raise InvalidInputError(
                f"{self.structure.name}: cost_usd must be a finite number > 0, got "
                f"{self.cost_usd!r}"
            )
        if self.value_usd is not None and not (
            math.isfinite(self.value_usd) and self.value_usd >= 0
        ):
            raise InvalidInputError(f"{self.structure.name}: value_usd must be finite and >= 0")
        if self.tranches < 1:
            raise InvalidInputError(f"{self.structure.name}: tranches must be >= 1")

    @property
    def name(self) -> str:
        return self.structure.name

    @property
    def expiry(self) -> date:
        return self.structure.expiries[-1]


@dataclass(frozen=True, slots=True)
class Trigger:
    """One hedge-score trigger: its name, whether it is live, and why."""

    name: str
    live: bool
    reason: str


class HedgeScore(NamedTuple):
    """The hedge score (live triggers, capped) and every trigger with its reason."""

    score: int
    triggers: tuple[Trigger, ...]

    @property
    def live_count(self) -> int:
        """Live triggers before the cap."""
        return sum(t.live for t in self.triggers)

    @property
    def reasons(self) -> tuple[str, ...]:
        """The live triggers' reasons."""
        return tuple(t.reason for t in self.triggers if t.live)


@dataclass(frozen=True, slots=True)
class LayerPlan:
    """One layer's budget and tranche count for the day."""

    layer: HedgeLayer
    budget_usd: float
    tranche_budget_usd: float
    held: int
    target: int
    bought: int
    rolled_in: int = 0


@dataclass(frozen=True, slots=True)
class HedgeDecision:
    """What the hedge layer does today: orders, refusals, the score and the tranche plan."""

    orders: tuple[OrderIntent, ...]
    refusals: tuple[Refusal, ...]
    score: HedgeScore
    plan: tuple[LayerPlan, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def spend_usd(self) -> float:
        """Premium of today's purchases, USD."""
        return sum(
            -o.structure.net_premium_usd
            for o in self.orders
            if o.action is Action.OPEN and o.structure is not None
        )


# --------------------------------------------------------------------------------------------
# Score


def _number(row: Mapping[str, Any], key: str) -> float | None:
    value = row.get(key)
    if value is None or value is pd.NA or isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _flag(row: Mapping[str, Any], key: str) -> bool | None:
    value = row.get(key)
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return bool(value)


def _trigger_term(row: Mapping[str, Any]) -> Trigger:
    name = "term_toward_backwardation"
    live = _flag(row, "term_toward_backwardation")
    fall, slope = _number(row, "term_slope_fall_5d"), _number(row, "term_slope")
    if live is None:
        return Trigger(name, False, "term structure: slope change unavailable")
    nums = ""
    if fall is not None:
        nums = f" (5-day fall {fall:+.3f}" + ("" if slope is None else f", slope {slope:+.3f}")
        nums += ")"
    if live:
        return Trigger(name, True, f"term structure steepening toward backwardation{nums}")
    return Trigger(name, False, f"term structure not moving toward backwardation{nums}")


def _trigger_macd(row: Mapping[str, Any]) -> Trigger:
    name = "vix_macd_turning_up"
    live = _flag(row, "vix_macd_turning_up")
    hist = _number(row, "vix_macd_hist")
    nums = "" if hist is None else f" (histogram {hist:+.2f})"
    if live is None:
        return Trigger(name, False, "VIX MACD turn: unavailable")
    if live:
        return Trigger(name, True, f"VIX MACD histogram turning up after compression{nums}")
    return Trigger(name, False, f"VIX MACD not turning up after compression{nums}")


def _trigger_ad(row: Mapping[str, Any]) -> Trigger:
    name = "ad_divergence"
    live = _flag(row, "ad_divergence")
    below = _number(row, "ad_below_high_frac")
    if live is None or ("ad_line" in row and _number(row, "ad_line") is None):
        return Trigger(name, False, "A/D divergence: breadth unavailable")
    if live:
        nums = "" if below is None else f" (A/D line {below:.1%} below its high)"
        return Trigger(name, True, f"A/D divergence: SPX at its 20-day high{nums}")
    return Trigger(name, False, "no A/D divergence")


def _trigger_event(row: Mapping[str, Any], window: int) -> Trigger:
    name = "event"
    days = {
        label: _number(row, key)
        for label, key in (("FOMC", "days_to_fomc"), ("CPI", "days_to_cpi"), ("PPI", "days_to_ppi"))
    }
    known = {k: v for k, v in days.items() if v is not None}
    if known:
        near = sorted((v, k) for k, v in known.items() if v <= window)
        if near:
            text = ", ".join(f"{k} in {v:.0f} session(s)" for v, k in near)
            return Trigger(name, True, f"event within {window} sessions: {text}")
        first_v, first_k = min((v, k) for k, v in known.items())
        return Trigger(
            name, False, f"no FOMC/CPI/PPI within {window} sessions (next {first_k} in "
            f"{first_v:.0f})"
        )  # fmt: skip
    flag = _flag(row, "event_within_window")
    if flag is None:
        return Trigger(name, False, "events: no FOMC/CPI/PPI dates known")
    if flag:
        return Trigger(name, True, "FOMC/CPI/PPI event within the indicator window")
    return Trigger(name, False, "no FOMC/CPI/PPI event within the indicator window")


def _trigger_band(band: bool | DeltaBand) -> Trigger:
    name = "delta_band"
    if isinstance(band, DeltaBand):
        return Trigger(name, band.breached, band.reason)
    if band:
        return Trigger(name, True, "delta band broken")
    return Trigger(name, False, "book delta inside the band")


def _trigger_vvix(row: Mapping[str, Any], above: float) -> Trigger:
    name = "vvix_rsi"
    value = _number(row, "rsi_vvix")
    if value is None:
        return Trigger(name, False, "VVIX RSI unavailable")
    if value > above:
        return Trigger(name, True, f"VVIX RSI {value:.1f} > {above:g}")
    return Trigger(name, False, f"VVIX RSI {value:.1f} <= {above:g}")


def hedge_score(
    indicators: Mapping[str, Any],
    delta_band_breached: bool | DeltaBand,
    *,
    params: HedgeParams | None = None,
) -> HedgeScore:
    """The hedge score 0..``max_score``: live triggers counted and capped (module docstring).

    Parameters
    ----------
    indicators
        One day's indicator row (:func:`vixshield.signals.indicators.indicator_snapshot`).
    delta_band_breached
        Whether the book's delta band is broken, or the
        :class:`~vixshield.strategy.book.DeltaBand` itself (its reason is kept).
    params
        Thresholds (default :class:`HedgeParams`).

    Returns
    -------
    HedgeScore
        ``(score, triggers)``; every trigger, live or not, with its reason.
    """
    p = params or HedgeParams()
    triggers = (
        _trigger_term(indicators),
        _trigger_macd(indicators),
        _trigger_ad(indicators),
        _trigger_event(indicators, p.event_window_days),
        _trigger_band(delta_band_breached),
        _trigger_vvix(indicators, p.vvix_rsi_above),
    )
    live = sum(t.live for t in triggers)
    return HedgeScore(min(live, p.max_score), triggers)


def tranche_targets(score: int, params: HedgeParams | None = None) -> dict[HedgeLayer, int]:
    """Tranches to hold per layer at ``score``: ``min(score, tranches_per_layer)`` in each.

    Score 0 -> 0/0/0, 1 -> 1/1/1, ..., 4 -> 4/4/4 tranches (short/medium/long), i.e. score
    n holds n x 25% of every layer's budget; the short layer is bought first.
    """
    p = params or HedgeParams()
    if score < 0:
        raise InvalidInputError(f"score must be >= 0, got {score!r}")
    n = min(score, p.tranches_per_layer)
    return dict.fromkeys(LAYER_ORDER, n)


def hedge_layer_of(name: str) -> HedgeLayer | None:
    """The layer of a tranche named by :func:`hedge_decision` (None for other names)."""
    parts = name.split()
    if len(parts) >= 2 and parts[0] == HEDGE_NAME_PREFIX:
        try:
            return HedgeLayer(parts[1])
        except ValueError:
            return None
    return None


# --------------------------------------------------------------------------------------------
# The VIX chain


@dataclass(frozen=True, slots=True)
class _Quotes:
    """The VIX chain with IVs and forward deltas on the VX futures, plus a mid lookup."""

    calls: Mapping[date, tuple[FloatArray, FloatArray, FloatArray]]
    """Usable calls by expiry: (strike, mid, delta), by strike."""
    mids: Mapping[tuple[date, float, str], float]
    expiries: tuple[tuple[date, int], ...]
    vx1: float | None


def _prepare_chain(
    chain: pd.DataFrame, *, session: date, vx_futures: Mapping[date, float], rate: float
) -> _Quotes:
    is_vix = (chain["root"] == "VIX").to_numpy(dtype=np.bool_)
    rows = chain if is_vix.all() else chain.loc[is_vix]
    futures = {
        d: float(v) for d, v in vx_futures.items() if d > session and math.isfinite(v) and v > 0
    }
    if futures:
        listed = rows["expiry"].isin(list(futures)).to_numpy(dtype=np.bool_)
        rows = rows if listed.all() else rows.loc[listed]
    if rows.empty:
        return _Quotes({}, {}, (), futures[min(futures)] if futures else None)
    got = implied_vols(rows, rate=rate, forward=futures or None)
    bid = rows["bid"].to_numpy(dtype=np.float64)
    ask = rows["ask"].to_numpy(dtype=np.float64)
    mid = 0.5 * (bid + ask)
    expiry = np.asarray(rows["expiry"].to_numpy(dtype=object))
    codes, listed_expiries = pd.factorize(expiry)
    dte_of = np.array([(d - session).days for d in listed_expiries], dtype=np.int64)
    dte = dte_of[codes]
    strike = rows["strike"].to_numpy(dtype=np.float64)
    right = [str(r) for r in rows["right"].astype(str).tolist()]
    delta = got.delta
    ok = got.ok
    keys = zip(expiry.tolist(), strike.tolist(), right, strict=True)
    mids = dict(zip(keys, mid.tolist(), strict=True))
    usable = ok & (np.array(right, dtype=object) == "C") & (mid > 0) & (dte > 0)
    calls: dict[date, tuple[FloatArray, FloatArray, FloatArray]] = {}
    with_calls: list[tuple[date, int]] = []
    for code in np.unique(codes[usable]).tolist():
        at = np.flatnonzero(usable & (codes == code))
        order = at[np.argsort(strike[at], kind="quicksort")]  # as the frame's sort_values
        calls[listed_expiries[code]] = (strike[order], mid[order], delta[order])
        with_calls.append((listed_expiries[code], int(dte_of[code])))
    expiries = tuple(sorted(with_calls))
    if futures:
        vx1: float | None = futures[min(futures)]
    else:
        forward = got.forward
        under = forward[(expiry == min(expiry.tolist())) & ~np.isnan(forward)]
        vx1 = float(under[0]) if len(under) else None
    return _Quotes(calls, mids, expiries, vx1)


def _mark(position: HedgePosition, quotes: _Quotes) -> float | None:
    if position.value_usd is not None:
        return position.value_usd
    total = 0.0
    for leg in position.structure.legs:
        c = leg.contract
        mid = quotes.mids.get((c.expiry, float(c.strike), c.right.value))
        if mid is None:
            return None
        total += leg.quantity * mid * c.multiplier
    return total


@dataclass(frozen=True, slots=True)
class _Priced:
    legs: tuple[tuple[float, float, float], ...]  # (strike, mid, delta), long first
    expiry: date
    dte: int
    premium: float
    notes: tuple[str, ...]


def _price_layer(layer: HedgeLayer, lp: HedgeLayerParams, quotes: _Quotes) -> _Priced | str:
    window = [(e, d) for e, d in quotes.expiries if lp.min_dte <= d <= lp.max_dte]
    if not window:
        listed = ", ".join(f"{e.isoformat()} ({d} DTE)" for e, d in quotes.expiries) or "none"
        return (
            f"{layer} layer: no VIX expiry with {lp.min_dte}-{lp.max_dte} DTE in the chain "
            f"(listed with usable calls: {listed})"
        )
    expiry, dte = min(window, key=lambda x: (abs(x[1] - lp.target_dte), x[1]))
    strikes, mids, deltas = quotes.calls[expiry]
    notes: list[str] = []
    if lp.strike_rule == "vx1_multiple":
        if quotes.vx1 is None:
            return f"{layer} layer: no VX1 future for the {lp.vx1_multiple:g} x VX1 strike"
        want = lp.vx1_multiple * quotes.vx1
        i = int(np.argmin(np.abs(strikes - want) - 1e-12 * strikes))  # ties: the higher strike
        notes.append(
            f"strike {strikes[i]:g} nearest {lp.vx1_multiple:g} x VX1 {quotes.vx1:.2f} = {want:.2f}"
        )
    else:
        i = int(np.argmin(np.abs(deltas - lp.long_delta)))
        notes.append(
            f"long {strikes[i]:g}C at delta {deltas[i]:.2f} (target {lp.long_delta:.2f}; "
            "Black-76 on the same-expiry VX future)"
        )
    legs = [(float(strikes[i]), float(mids[i]), float(deltas[i]))]
    premium = float(mids[i])
    if lp.short_delta is not None:
        above = np.flatnonzero(strikes > strikes[i])
        if above.size == 0:
            return f"{layer} layer: no usable VIX call above the long {strikes[i]:g}C on {expiry}"
        j = int(above[np.argmin(np.abs(deltas[above] - lp.short_delta))])
        legs.append((float(strikes[j]), float(mids[j]), float(deltas[j])))
        premium -= float(mids[j])
        notes.append(
            f"short {strikes[j]:g}C at delta {deltas[j]:.2f} (target {lp.short_delta:.2f})"
        )
        if not premium > 0:
            return f"{layer} layer: call spread {strikes[i]:g}/{strikes[j]:g} has no net debit"
    return _Priced(tuple(legs), expiry, dte, premium, tuple(notes))


def _structure(name: str, priced: _Priced, contracts: int) -> Structure:
    legs = [
        Leg(OptionContract("VIX", priced.expiry, priced.legs[0][0], Right.CALL), contracts,
            priced.legs[0][1]),
    ]  # fmt: skip
    if len(priced.legs) > 1:
        legs.append(
            Leg(OptionContract("VIX", priced.expiry, priced.legs[1][0], Right.CALL), -contracts,
                priced.legs[1][1])
        )  # fmt: skip
    return Structure(name, tuple(legs))


def _label(priced: _Priced) -> str:
    strikes = "/".join(f"{k:g}" for k, _, _ in priced.legs)
    kind = "call spread" if len(priced.legs) > 1 else "call"
    return f"VIX {priced.expiry.isoformat()} {strikes}C {kind}"


def _marked(structure: Structure, quotes: _Quotes) -> Structure:
    legs = []
    for leg in structure.legs:
        c = leg.contract
        mid = quotes.mids.get((c.expiry, float(c.strike), c.right.value))
        legs.append(leg if mid is None else leg.with_price(mid))
    return Structure(structure.name, tuple(legs))


def _units(structure: Structure) -> int:
    return max(abs(leg.quantity) for leg in structure.legs)


# --------------------------------------------------------------------------------------------
# The decision


@dataclass
class _Budget:
    """Running spend of one decision against the cost discipline and the initiation cap."""

    window_spend: float
    window_credit: float
    ratio: float
    cap_usd: float
    cap_frac: float
    equity: float
    cycles: int
    today: float = 0.0
    discipline: bool = True

    def check(self, cost: float) -> str | None:
        allowed = self.ratio * self.window_credit
        spend = self.window_spend + self.today + cost
        if self.discipline and spend > allowed + _SLACK:
            return (
                f"cost discipline: hedge spend over the trailing {self.cycles} condor cycles "
                f"would be ${spend:,.2f} (${self.window_spend:,.2f} before, "
                f"${self.today:,.2f} earlier today, ${cost:,.2f} this tranche) > "
                f"{self.ratio:.4g} of condor credit ${self.window_credit:,.2f} = ${allowed:,.2f}"
            )
        total = self.today + cost
        if total > self.cap_usd + _SLACK:
            return (
                f"per-initiation cap: today's hedge purchases would risk ${total:,.2f} = "
                f"{total / self.equity:.2%} of equity ${self.equity:,.0f} > "
                f"{self.cap_frac:.2%} (${self.cap_usd:,.2f})"
            )
        return None


def _positive(name: str, value: float, *, allow_zero: bool = True) -> None:
    ok = math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        sign = ">= 0" if allow_zero else "> 0"
        raise InvalidInputError(f"{name} must be a finite number {sign}, got {value!r}")


def _regime_name(level: int) -> str:
    return str(Regime(level)) if 0 <= level <= 4 else f"level {level}"


def hedge_decision(
    *,
    session: date,
    indicators: Mapping[str, Any],
    regime_level: int | None,
    peak_regime_level: int | None,
    delta_band_breached: bool | DeltaBand,
    open_hedges: Sequence[HedgePosition],
    condor_max_loss_usd: float,
    condor_credit_window_usd: float,
    hedge_spend_window_usd: float,
    equity_usd: float,
    vix_chain: pd.DataFrame | None,
    vx_futures: Mapping[date, float],
    rate: float,
    vvix: float | None = None,
    params: HedgeParams | None = None,
    always_on: bool = False,
) -> HedgeDecision:
    """The ALVH for one session: score, monetise, roll, buy tranches (module docstring).

    Parameters
    ----------
    session
        The trading day.
    indicators
        That day's indicator row (see :func:`hedge_score`).
    regime_level
        Today's regime level 0..4 (None: unknown; the fall-back rule is then not applied).
    peak_regime_level
        Highest regime level since the open tranches were opened, for positions that do not
        carry their own ``peak_regime_level``.
    delta_band_breached
        Whether the book's delta band is broken (or the ``DeltaBand``).
    open_hedges
        Open tranches.
    condor_max_loss_usd
        Total max loss of the open condor book, USD (>= 0): the layer budgets' base.
    condor_credit_window_usd, hedge_spend_window_usd
        Condor credit collected and hedge premium spent over the trailing
        ``cost_window_cycles`` condor cycles, USD (>= 0), before today.
    equity_usd
        Account equity, USD (> 0).
    vix_chain
        A canonical VIX option chain of the session, or None to model one from
        ``vx_futures`` and ``vvix``.
    vx_futures
        VX futures prices by expiry (the forwards of the VIX options).
    rate
        Continuously compounded rate.
    vvix
        VVIX level, used only to model a chain when ``vix_chain`` is None.
    params
        Hedge rules (default :class:`HedgeParams`).
    always_on
        The static baseline, not the ALVH: every layer targets all ``tranches_per_layer``
        tranches whatever the score (still computed and reported); the monetise rules (take
        profit, regime fall-back) and the cost discipline are not applied; a short-layer
        tranche under ``roll_below_dte`` is sold and replaced by a new short-layer tranche the
        same session (not rolled into the medium bucket, which would pile up past its
        budget); expiries settle and are re-bought; the per-initiation cap applies.

    Returns
    -------
    HedgeDecision
        ``orders`` (``CLOSE`` for monetised or rolled tranches, ``OPEN`` per tranche bought),
        ``refusals`` with reasons, the ``score`` with every trigger, the per-layer ``plan``
        and ``notes``.
    """
    p = params or HedgeParams()
    _positive("condor_max_loss_usd", condor_max_loss_usd)
    _positive("condor_credit_window_usd", condor_credit_window_usd)
    _positive("hedge_spend_window_usd", hedge_spend_window_usd)
    _positive("equity_usd", equity_usd, allow_zero=False)
    score = hedge_score(indicators, delta_band_breached, params=p)
    orders: list[OrderIntent] = []
    refusals: list[Refusal] = []
    notes: list[str] = [f"hedge score {score.score} ({score.live_count} live trigger(s))"]

    quotes: _Quotes | None = None
    chain = vix_chain
    live_futures = {
        d: float(v) for d, v in vx_futures.items() if d > session and math.isfinite(v) and v > 0
    }
    if chain is None:
        if vvix is not None and math.isfinite(vvix) and vvix > 0 and live_futures:
            chain = model_vix_chain(session, live_futures, vvix=vvix, rate=rate)
            notes.append("VIX options priced on a model chain (Black-76 on the VX curve)")
        else:
            notes.append(
                "no VIX option chain, and no VVIX or VX futures to model one: nothing is "
                "bought and open tranches are marked only where value_usd is given"
            )
    if chain is not None:
        quotes = _prepare_chain(chain, session=session, vx_futures=vx_futures, rate=rate)

    # ---- open tranches: settled, monetise, roll
    live: list[HedgePosition] = []
    for pos in open_hedges:
        if pos.expiry <= session:
            notes.append(f"{pos.name}: expired on {pos.expiry.isoformat()}, settles; not held")
        else:
            live.append(pos)
    closing: set[str] = set()
    for pos in [] if always_on else live:
        why: list[str] = []
        value = pos.value_usd if quotes is None else _mark(pos, quotes)
        if value is None:
            notes.append(f"{pos.name}: no mark in the chain; take-profit rule not checked")
        elif value >= p.take_profit_multiple * pos.cost_usd:
            why.append(
                f"take profit: worth ${value:,.2f} = {value / pos.cost_usd:.2f}x its cost "
                f"${pos.cost_usd:,.2f} >= {p.take_profit_multiple:g}x"
            )
        peak = pos.peak_regime_level if pos.peak_regime_level is not None else peak_regime_level
        if (
            regime_level is not None
            and peak is not None
            and peak - regime_level >= p.regime_fallback_steps
        ):
            why.append(
                f"regime fell back {peak - regime_level} steps from its peak "
                f"{_regime_name(peak)} since the tranche opened to {_regime_name(regime_level)} "
                f"(>= {p.regime_fallback_steps}): the spike is passing"
            )
        if why:
            orders.append(_close(pos, why, value, quotes))
            closing.add(pos.name)
    rolls: list[HedgePosition] = []
    for pos in live:
        dte = (pos.expiry - session).days
        if pos.layer is HedgeLayer.SHORT and pos.name not in closing and dte < p.roll_below_dte:
            value = pos.value_usd if quotes is None else _mark(pos, quotes)
            where = (
                "replaced by a new short-layer tranche (always-on)"
                if always_on
                else "rolled into the medium bucket"
            )
            why = [
                f"time-shift: short-layer tranche has {dte} DTE < {p.roll_below_dte}: sold and "
                f"{where}"
            ]
            orders.append(_close(pos, why, value, quotes))
            closing.add(pos.name)
            rolls.append(pos)

    # ---- targets and purchases
    targets = tranche_targets(p.tranches_per_layer if always_on else score.score, p)
    if always_on:
        notes.append(
            f"always-on hedge: every layer targets {p.tranches_per_layer} tranches whatever the "
            "score; no monetise rules, no cost discipline"
        )
    held = dict.fromkeys(LAYER_ORDER, 0)
    replaced = {r.name for r in rolls} if always_on else set()
    for pos in live:
        if pos.name not in replaced:  # always-on: a rolled tranche is replaced in its layer
            held[pos.layer] += pos.tranches
    cap_frac = min(p.initiation_risk_frac, p.initiation_hard_cap_frac)
    budget = _Budget(
        window_spend=hedge_spend_window_usd,
        window_credit=condor_credit_window_usd,
        ratio=p.cost_ratio_max,
        cap_usd=cap_frac * equity_usd,
        cap_frac=cap_frac,
        equity=equity_usd,
        cycles=p.cost_window_cycles,
        discipline=not always_on,
    )
    plan: list[LayerPlan] = []
    for layer in LAYER_ORDER:
        lp = p.layer(layer)
        layer_budget = lp.budget_frac * condor_max_loss_usd
        tranche_budget = layer_budget / p.tranches_per_layer
        into_medium = layer is HedgeLayer.MEDIUM and not always_on
        rolled_in = len(rolls) if into_medium else 0
        wanted: list[str] = [f"time-shift roll of {r.name} into the medium bucket" for r in rolls]
        if not into_medium:
            wanted = []
        n_target = max(0, targets[layer] - held[layer] - rolled_in)
        wanted += [
            f"score {score.score} targets {targets[layer]} of {p.tranches_per_layer} "
            f"{layer}-layer tranches; {held[layer]} held"
        ] * n_target
        bought = _buy_layer(
            layer=layer, lp=lp, wanted=wanted, first_index=held[layer] + 1, session=session,
            layer_budget=layer_budget, tranche_budget=tranche_budget, quotes=quotes,
            budget=budget, score=score, p=p, orders=orders, refusals=refusals,
            base=condor_max_loss_usd,
        )  # fmt: skip
        plan.append(
            LayerPlan(layer, layer_budget, tranche_budget, held[layer], targets[layer], bought,
                      rolled_in)
        )  # fmt: skip
    return HedgeDecision(tuple(orders), tuple(refusals), score, tuple(plan), tuple(notes))


def _close(
    pos: HedgePosition, why: Iterable[str], value: float | None, quotes: _Quotes | None
) -> OrderIntent:
    structure = pos.structure if quotes is None else _marked(pos.structure, quotes)
    units = _units(pos.structure)
    limit = None if value is None else round(value / (units * 100.0), 6)
    reasons = [f"sell {pos.layer}-layer tranche {pos.name}", *why]
    if value is None:
        reasons.append("no mark: sell at the market's mid")
    return OrderIntent(
        action=Action.CLOSE,
        layer=Layer.HEDGE,
        structure=structure,
        limit_price=limit,
        reasons=tuple(reasons),
        closes=(pos.name,),
    )


def _buy_layer(
    *,
    layer: HedgeLayer,
    lp: HedgeLayerParams,
    wanted: list[str],
    first_index: int,
    session: date,
    layer_budget: float,
    tranche_budget: float,
    quotes: _Quotes | None,
    budget: _Budget,
    score: HedgeScore,
    p: HedgeParams,
    orders: list[OrderIntent],
    refusals: list[Refusal],
    base: float,
) -> int:
    """Buy one tranche per entry of ``wanted`` (its first reason); stop at the first refusal."""
    bought = 0
    for i, why in enumerate(wanted):
        what = f"{layer}-layer tranche {first_index + i}"
        skipped = len(wanted) - i - 1
        tail = [] if skipped == 0 else [f"{skipped} further {layer}-layer tranche(s) not tried"]
        head = [
            why,
            f"{layer} layer budget {lp.budget_frac:.2%} of condor book max loss ${base:,.2f} = "
            f"${layer_budget:,.2f}; tranche {1 / p.tranches_per_layer:.0%} = "
            f"${tranche_budget:,.2f}",
        ]
        if tranche_budget <= 0:
            refusals.append(
                Refusal(Layer.HEDGE, what, (*head, "no condor max loss: budget $0", *tail))
            )
            break
        if quotes is None:
            refusals.append(
                Refusal(
                    Layer.HEDGE,
                    what,
                    (*head, "no VIX option chain (and no VVIX to model one)", *tail),
                )
            )
            break
        priced = _price_layer(layer, lp, quotes)
        if isinstance(priced, str):
            refusals.append(Refusal(Layer.HEDGE, what, (*head, priced, *tail)))
            break
        unit = priced.premium * 100.0
        n = math.floor(tranche_budget / unit + _SLACK)
        if n == 0:
            refusals.append(
                Refusal(
                    Layer.HEDGE,
                    what,
                    (
                        *head,
                        *priced.notes,
                        f"rounds to zero contracts: one {_label(priced)} costs ${unit:,.2f} "
                        f"({priced.premium:.4g} x 100) > tranche budget ${tranche_budget:,.2f}",
                        *tail,
                    ),
                )
            )
            break
        cost = n * unit
        blocked = budget.check(cost)
        if blocked is not None:
            refusals.append(Refusal(Layer.HEDGE, what, (*head, blocked, *tail)))
            break
        budget.today += cost
        name = (
            f"{HEDGE_NAME_PREFIX} {layer} tranche {first_index + i} {session.isoformat()} "
            f"{_label(priced)}"
        )
        orders.append(
            OrderIntent(
                action=Action.OPEN,
                layer=Layer.HEDGE,
                structure=_structure(name, priced, n),
                limit_price=-round(priced.premium, 6),
                reasons=(
                    *head,
                    *score.reasons,
                    f"{_label(priced)}, {priced.dte} DTE",
                    *priced.notes,
                    f"{n} contract(s) at {priced.premium:.4g} = ${cost:,.2f}; "
                    f"${tranche_budget - cost:,.2f} of the tranche budget left unspent",
                ),
            )
        )
        bought += 1
    return bought
