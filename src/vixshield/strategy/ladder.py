r"""The time-shifted ladder (METHOD §6): short-dated rungs added on VIX MACD compression.

A *rung* is a short-dated structure (default a broken-wing butterfly, or an iron condor) with
7-21 days to expiry and short strikes at 10-15 delta. :func:`ladder_decision` decides, for
one session, whether to open a new rung; it returns an :class:`OrderIntent` (action ``OPEN``,
layer ``LADDER``) or a :class:`Refusal`, each with its reasons. It is a pure function of its
inputs: no clock, no I/O.

Rules (defaults from :class:`LadderParams` in brackets)
-------------------------------------------------------
1. **Gates.** Every gate is checked and every failing gate is reported in one refusal:

   * *regime*: the regime must be known, and below ``no_new_rung_from_level`` [4 = crisis]:
     no new rung in ``crisis``;
   * *max rungs*: fewer than ``max_rungs`` [4] rungs open (a rung whose every expiry is
     before the session is settled and does not count);
   * *cadence*: at least ``cadence_sessions`` [5] trading sessions since the last rung was
     opened (``sessions_since_last_rung`` ``None`` = no rung opened yet), so at most one new
     rung per 5 sessions: a rung opened on session *t* allows the next on *t* + 5;
   * *trigger*: the VIX MACD histogram is compressed on the day
     (``indicators["vix_macd_compressed"]``: :math:`|h|` below its trailing mean and falling
     3 sessions running, METHOD §3), i.e. volatility is mean-reverting.

2. **Side and skew.** When ``rsi_vx1 < vx1_rsi_below`` [35] and ``rsi_spx > spx_rsi_above``
   [60] the rung is a **put-side** broken-wing butterfly with its body at
   ``skewed_short_delta`` [0.10], the lower delta (whatever ``structure`` says). Otherwise
   ``structure`` [``"bwb"``] decides: a BWB on ``bwb.side`` [put] with its body nearest
   ``short_delta`` [0.125], or an iron condor with shorts nearest ``short_delta``. A missing
   RSI leaves the skew rule off and the reasons say so.

3. **Construction.** :func:`vixshield.strategy.condor.build_bwb` or
   :func:`~vixshield.strategy.condor.build_iron_condor` on the chain's expiries of ``roots``
   [SPXW, then SPX] with ``min_dte``-``max_dte`` [7-21] days to expiry (target ``target_dte``
   [14]), every leg passing the quote filters ``liquidity``, and short strikes nearest the
   delta target within ``short_delta_min``-``short_delta_max`` [0.10-0.15]. Each rung kind
   has a small table for what is its own: ``bwb`` (side, wing widths, credit floor) and
   ``condor`` (wing rule and widths, credit floor, break-even alignment); expiry window,
   roots, deltas and quote filters are the ladder's, set once for both
   (:meth:`LadderParams.bwb_params`, :meth:`LadderParams.condor_params`). Condor rungs are
   placed by delta (the core condor's ``short_rule = "sd"`` is not offered). The condor
   builder always applies METHOD §5's break-even alignment (put break-even at least
   ``condor.drawdown_tolerance`` [7%] below spot); at 7-21 days that moves the put spread out
   below 10 delta (the reasons say so) or refuses, which is why the default rung is the
   one-sided BWB.

4. **Sizing.** :func:`vixshield.strategy.sizing.contracts_for` on the one-unit max loss and the
   regime's budget (METHOD §9: 2% of equity, 1% in ``elevated``/``stressed``, 0 in
   ``crisis``, hard cap 3%). A budget smaller than one unit's max loss is refused: "rounds to
   zero contracts".

5. **The intent.** ``OPEN`` with the structure scaled to the contracts, legs at mids,
   ``limit_price`` the net credit per unit at mids (points; negative = debit), and the name
   ``"ladder <session> <structure>"`` (unique: at most one rung per session). Older rungs are
   left alone: they stay as anchors while the newest carry most of the daily decay; the
   reasons name them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Literal, Self

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from vixshield.domain.decisions import Action, Layer, OrderIntent, Refusal
from vixshield.domain.positions import Leg, Structure
from vixshield.errors import InvalidInputError
from vixshield.signals.regime import Regime
from vixshield.strategy.condor import (
    BwbParams,
    Candidate,
    CondorParams,
    LiquidityParams,
    build_bwb,
    build_iron_condor,
)
from vixshield.strategy.condor import Refusal as BuildRefusal
from vixshield.strategy.sizing import SizingParams, contracts_for

__all__ = [
    "LadderBwbParams",
    "LadderCondorParams",
    "LadderParams",
    "Rung",
    "ladder_decision",
    "open_rung_count",
]

_FROZEN: Final = ConfigDict(frozen=True, extra="forbid")
_WHAT: Final = "new ladder rung"


class LadderBwbParams(BaseModel):
    """BWB rungs: side, wings and credit floor (expiry, deltas and quotes are the ladder's)."""

    model_config = _FROZEN

    side: Literal["put", "call"] = Field(
        default="put", description="BWB side when the RSI skew rule is off"
    )
    narrow_wing_points: float = Field(
        default=25.0, ge=5.0, le=500.0, description="long strike nearer the money, points"
    )
    wide_wing_points: float = Field(
        default=50.0, ge=5.0, le=1000.0, description="long strike further out, points"
    )
    max_wing_points: float = Field(
        default=200.0, ge=5.0, le=1000.0, description="widest wing allowed, points"
    )
    min_credit_points: float = Field(
        default=0.0,
        ge=-50.0,
        le=100.0,
        description="net credit at mids per butterfly, at least (negative allows a debit)",
    )

    @model_validator(mode="after")
    def _wings(self) -> Self:
        if not self.narrow_wing_points < self.wide_wing_points <= self.max_wing_points:
            raise ValueError(
                "need narrow_wing_points < wide_wing_points <= max_wing_points, got "
                f"{self.narrow_wing_points}, {self.wide_wing_points}, {self.max_wing_points}"
            )
        return self


class LadderCondorParams(BaseModel):
    """Condor rungs: wings, credit floor, break-even alignment (the rest is the ladder's)."""

    model_config = _FROZEN

    wing_rule: Literal["points", "delta"] = Field(
        default="points", description="long strikes by distance (points) or by |delta|"
    )
    wing_points: float = Field(
        default=50.0, ge=5.0, le=500.0, description="wing width, points (wing_rule points)"
    )
    wing_delta: float = Field(
        default=0.05, gt=0.0, lt=0.5, description="long strike |delta| (wing_rule delta)"
    )
    max_wing_points: float = Field(
        default=200.0, ge=5.0, le=1000.0, description="widest wing allowed, points"
    )
    min_credit_frac: float = Field(
        default=0.10, ge=0.0, le=1.0, description="credit at mids over the wider wing, at least"
    )
    drawdown_tolerance: float = Field(
        default=0.07,
        ge=0.07,
        le=0.10,
        description="the put break-even sits at least this fraction below spot",
    )
    align_breakeven: bool = Field(
        default=True, description="move the put spread out until the break-even clears"
    )
    aligned_put_delta_min: float = Field(
        default=0.03,
        gt=0.0,
        lt=0.5,
        description="moving the put spread out stops at this short-put |delta|",
    )

    @model_validator(mode="after")
    def _wings(self) -> Self:
        if self.wing_points > self.max_wing_points:
            raise ValueError("wing_points must not exceed max_wing_points")
        return self


class LadderParams(BaseModel):
    """The time-shifted ladder (METHOD §6); see the module docstring for each rule."""

    model_config = _FROZEN

    structure: Literal["bwb", "condor"] = Field(
        default="bwb", description="rung structure when the RSI skew rule is off"
    )
    min_dte: int = Field(default=7, ge=1, le=60, description="shortest rung expiry, days")
    target_dte: int = Field(default=14, ge=1, le=60, description="preferred rung expiry, days")
    max_dte: int = Field(default=21, ge=1, le=60, description="longest rung expiry, days")
    short_delta: float = Field(
        default=0.125, gt=0.0, lt=0.5, description="short strike |delta| target"
    )
    short_delta_min: float = Field(
        default=0.10, gt=0.0, lt=0.5, description="short strike |delta|, lowest"
    )
    short_delta_max: float = Field(
        default=0.15, gt=0.0, lt=0.5, description="short strike |delta|, highest"
    )
    skewed_short_delta: float = Field(
        default=0.10,
        gt=0.0,
        lt=0.5,
        description="put-side body |delta| when VX1 RSI is low and SPX RSI high",
    )
    max_rungs: int = Field(default=4, ge=1, le=12, description="rungs open at most")
    cadence_sessions: int = Field(
        default=5, ge=1, le=60, description="trading sessions between new rungs, at least"
    )
    vx1_rsi_below: float = Field(
        default=35.0, ge=0.0, le=100.0, description="skew rule: VX1 RSI below this"
    )
    spx_rsi_above: float = Field(
        default=60.0, ge=0.0, le=100.0, description="skew rule: SPX RSI above this"
    )
    no_new_rung_from_level: int = Field(
        default=4,
        ge=1,
        le=4,
        description="no new rung at or above this regime level (4 = crisis)",
    )
    roots: tuple[Literal["SPX", "SPXW"], ...] = Field(
        default=("SPXW", "SPX"),
        min_length=1,
        max_length=2,
        description="option roots for rungs, in order of preference",
    )
    liquidity: LiquidityParams = Field(
        default_factory=LiquidityParams, description="quote filters for every rung leg"
    )
    bwb: LadderBwbParams = Field(
        default_factory=LadderBwbParams, description="BWB rungs: side, wings, credit floor"
    )
    condor: LadderCondorParams = Field(
        default_factory=LadderCondorParams,
        description="condor rungs: wings, credit floor, break-even alignment",
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.min_dte <= self.target_dte <= self.max_dte:
            raise ValueError(
                f"need min_dte <= target_dte <= max_dte, got {self.min_dte}, "
                f"{self.target_dte}, {self.max_dte}"
            )
        for name in ("short_delta", "skewed_short_delta"):
            if not self.short_delta_min <= getattr(self, name) <= self.short_delta_max:
                raise ValueError(f"{name} must lie within [short_delta_min, short_delta_max]")
        if len(set(self.roots)) != len(self.roots):
            raise ValueError(f"roots must not repeat, got {self.roots}")
        self.bwb_params()  # the builders' own checks, so a bad combination fails at load
        self.condor_params()
        return self

    def bwb_params(self) -> BwbParams:
        """The BWB builder's parameters: the ladder's window, deltas, roots and quote filters."""
        return BwbParams(
            roots=self.roots,
            target_dte=self.target_dte,
            min_dte=self.min_dte,
            max_dte=self.max_dte,
            side=self.bwb.side,
            short_delta=self.short_delta,
            short_delta_min=self.short_delta_min,
            short_delta_max=self.short_delta_max,
            skewed_short_delta=self.skewed_short_delta,
            narrow_wing_points=self.bwb.narrow_wing_points,
            wide_wing_points=self.bwb.wide_wing_points,
            max_wing_points=self.bwb.max_wing_points,
            min_credit_points=self.bwb.min_credit_points,
            liquidity=self.liquidity,
        )

    def condor_params(self) -> CondorParams:
        """The condor builder's parameters: the ladder's window, deltas, roots, quote filters."""
        c = self.condor
        return CondorParams(
            roots=self.roots,
            target_dte=self.target_dte,
            min_dte=self.min_dte,
            max_dte=self.max_dte,
            short_rule="delta",
            short_delta=self.short_delta,
            short_delta_min=self.short_delta_min,
            short_delta_max=self.short_delta_max,
            wing_rule=c.wing_rule,
            wing_points=c.wing_points,
            wing_delta=c.wing_delta,
            max_wing_points=c.max_wing_points,
            min_credit_frac=c.min_credit_frac,
            drawdown_tolerance=c.drawdown_tolerance,
            align_breakeven=c.align_breakeven,
            aligned_put_delta_min=c.aligned_put_delta_min,
            liquidity=self.liquidity,
        )


@dataclass(frozen=True, slots=True)
class Rung:
    """An open ladder rung: its structure and the session it was opened."""

    structure: Structure
    opened: date

    @property
    def name(self) -> str:
        return self.structure.name

    @property
    def last_expiry(self) -> date:
        return self.structure.expiries[-1]


def open_rung_count(rungs: Sequence[Rung], session: date) -> int:
    """Rungs still open on ``session`` (a rung whose last expiry is before it has settled)."""
    return sum(1 for r in rungs if r.last_expiry >= session)


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


def _scaled(structure: Structure, n: int, name: str) -> Structure:
    legs = tuple(Leg(leg.contract, leg.quantity * n, leg.price) for leg in structure.legs)
    return Structure(name, legs)


def _skew(row: Mapping[str, Any], p: LadderParams) -> tuple[bool, str]:
    vx1, spx = _number(row, "rsi_vx1"), _number(row, "rsi_spx")
    if vx1 is None or spx is None:
        return False, "RSI skew rule off: VX1 RSI or SPX RSI unavailable"
    if vx1 < p.vx1_rsi_below and spx > p.spx_rsi_above:
        return True, (
            f"VX1 RSI {vx1:.0f} < {p.vx1_rsi_below:g} and SPX RSI {spx:.0f} > "
            f"{p.spx_rsi_above:g}: put-side BWB skewed to {p.skewed_short_delta * 100:g} delta"
        )
    return False, (
        f"RSI skew rule off (VX1 RSI {vx1:.0f}, needs < {p.vx1_rsi_below:g}; SPX RSI "
        f"{spx:.0f}, needs > {p.spx_rsi_above:g}): {p.structure} at "
        f"{p.short_delta * 100:g} delta"
    )


def ladder_decision(
    *,
    session: date,
    indicators: Mapping[str, Any],
    regime_level: int | None,
    open_rungs: Sequence[Rung],
    sessions_since_last_rung: int | None,
    chain: pd.DataFrame,
    rate: float,
    equity_usd: float,
    sizing: SizingParams | None = None,
    params: LadderParams | None = None,
    priced: pd.DataFrame | None = None,
) -> OrderIntent | Refusal:
    """Whether to open a new ladder rung today (METHOD §6), with reasons.

    Parameters
    ----------
    session
        The trading day.
    indicators
        That day's indicator row (:func:`vixshield.signals.indicators.indicator_snapshot`, or a
        row of the frame as a mapping): ``vix_macd_compressed``, ``vix_macd_hist``,
        ``rsi_vx1``, ``rsi_spx`` are read.
    regime_level
        0 (calm) .. 4 (crisis); ``None`` when the regime is unknown.
    open_rungs
        Rungs held, with their opening sessions.
    sessions_since_last_rung
        Trading sessions since the last rung was opened (0 = today); ``None`` if none ever.
    chain
        A canonical SPX/SPXW chain of the session (real or modelled).
    rate
        Continuously compounded rate.
    equity_usd
        Account equity, USD (> 0).
    sizing, params
        Sizing budgets (:class:`SizingParams`) and ladder rules (:class:`LadderParams`).
    priced
        ``chain`` already through :func:`~vixshield.strategy.condor.price_chain` at ``rate``
        (SPX and SPXW rows, any liquidity), to be reused by the builder instead of pricing the
        chain again (see :func:`~vixshield.strategy.condor.build_iron_condor`).

    Returns
    -------
    OrderIntent or Refusal
        An ``OPEN`` intent on :attr:`Layer.LADDER`, or a refusal whose reasons name every
        failed gate (regime, max rungs, cadence, no trigger), the builder's refusal (no chain
        expiry in the window, no strike in the delta window...) or the sizing ("rounds to zero
        contracts").

    Raises
    ------
    InvalidInputError
        A negative ``sessions_since_last_rung`` or a regime level outside 0..4.
    """
    p = params or LadderParams()
    if sessions_since_last_rung is not None and sessions_since_last_rung < 0:
        raise InvalidInputError(
            f"sessions_since_last_rung must be >= 0 or None, got {sessions_since_last_rung!r}"
        )
    if regime_level is not None and not 0 <= regime_level <= 4:
        raise InvalidInputError(f"regime_level must be 0..4 or None, got {regime_level!r}")

    blocked: list[str] = []
    regime: Regime | None = None if regime_level is None else Regime(regime_level)
    if regime is None:
        blocked.append("regime unknown (VIX missing): no new rung")
    elif regime_level is not None and regime_level >= p.no_new_rung_from_level:
        blocked.append(
            f"regime {regime} (level {regime_level} >= {p.no_new_rung_from_level}): no new rung"
        )
    held = [r for r in open_rungs if r.last_expiry >= session]
    if len(held) >= p.max_rungs:
        blocked.append(f"max rungs: {len(held)} rungs open, at most {p.max_rungs}")
    if sessions_since_last_rung is not None and sessions_since_last_rung < p.cadence_sessions:
        blocked.append(
            f"cadence: last rung {sessions_since_last_rung} session(s) ago; at most one new "
            f"rung per {p.cadence_sessions} sessions"
        )
    compressed = _flag(indicators, "vix_macd_compressed")
    hist = _number(indicators, "vix_macd_hist")
    hist_text = "" if hist is None else f" (|h| {abs(hist):.2f})"
    if compressed is None:
        blocked.append("no trigger: VIX MACD compression unavailable")
    elif not compressed:
        blocked.append(f"no trigger: VIX MACD histogram not compressed{hist_text}")
    if blocked:
        return Refusal(Layer.LADDER, _WHAT, tuple(blocked))

    reasons = [
        f"VIX MACD histogram compressed{hist_text}, below its trailing mean and falling: "
        "volatility mean-reverting",
        f"rung {len(held) + 1} of max {p.max_rungs}",
        "first rung"
        if sessions_since_last_rung is None
        else (
            f"cadence: last rung {sessions_since_last_rung} sessions ago >= {p.cadence_sessions}"
        ),
    ]
    prefer_put, skew_reason = _skew(indicators, p)
    reasons.append(skew_reason)
    built: Candidate | BuildRefusal
    if prefer_put or p.structure == "bwb":
        built = build_bwb(
            chain, rate=rate, params=p.bwb_params(), prefer_put_side=prefer_put, priced=priced
        )
    else:
        built = build_iron_condor(chain, rate=rate, params=p.condor_params(), priced=priced)
    if isinstance(built, BuildRefusal):
        return Refusal(Layer.LADDER, _WHAT, (*reasons, f"no {built.kind}:", *built.reasons))
    reasons.extend(built.notes)
    max_loss = built.analytics.max_loss_usd
    if not (math.isfinite(max_loss) and max_loss > 0):
        return Refusal(
            Layer.LADDER,
            _WHAT,
            (*reasons, f"max loss per unit {max_loss!r} is not a finite positive amount"),
        )
    assert regime is not None  # the gate above refused an unknown regime
    size = contracts_for(max_loss, equity_usd, str(regime), sizing)
    reasons.extend(size.reasons)
    if size.contracts == 0:
        return Refusal(Layer.LADDER, _WHAT, tuple(reasons))
    if held:
        reasons.append("older rungs stay as anchors: " + "; ".join(r.name for r in held))
    name = f"ladder {session.isoformat()} {built.structure.name}"
    return OrderIntent(
        action=Action.OPEN,
        layer=Layer.LADDER,
        structure=_scaled(built.structure, size.contracts, name),
        limit_price=round(float(built.analytics.credit_points), 6),
        reasons=tuple(reasons),
    )
