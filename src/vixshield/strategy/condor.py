r"""Iron condors (METHOD §5) and broken-wing butterflies (METHOD §6) from any canonical chain.

The builders read a chain in the canonical format of :mod:`vixshield.data.chains`, real or
modelled, and never look at the ``modelled`` column: implied vols and forward deltas are always
re-solved from the bid/ask mids on each expiry's put-call parity forward
(:func:`vixshield.data.chains.add_implied_vols`), so both kinds of chain go through the same
arithmetic. The answer is a value: a :class:`Candidate` (the structure, priced at mids, with its
:class:`~vixshield.strategy.analytics.StructureAnalytics`) or a :class:`Refusal` whose reasons
say, in words, why nothing was built.

Iron condor (:func:`build_iron_condor`, :class:`CondorParams`)
--------------------------------------------------------------
1. **Expiry.** Expiries of the allowed roots (``roots``: SPX monthlies, SPXW, or both) with
   ``min_dte <= DTE <= max_dte`` calendar days from the quote date (default 45-60), tried in
   order of :math:`|DTE - \text{target}|` (default 45), then the earlier, then the order of
   ``roots``. The first expiry that yields a condor wins; the refusal lists every expiry tried.
2. **Quotes.** A quote is *liquid* when it has an implied vol (so a bid and a price above
   intrinsic), ``ask - bid <= max_quote_width_points`` and ``ask - bid <= max_quote_width_frac
   x mid``, and, where the chain gives them, open interest and volume at least the minimums
   (NaN = not given = not checked). Every leg must be liquid; a liquid quote always has a
   non-zero bid (a zero bid has no implied vol), so a short can be sold at its mid.
3. **Short strikes.** ``short_rule = "delta"``: the liquid put and call whose forward
   :math:`|\Delta|` is nearest ``short_delta`` (default 0.12) within
   [``short_delta_min``, ``short_delta_max``] (default 0.10-0.16). ``short_rule = "sd"``: the
   strikes nearest :math:`K = F e^{\mp n \sigma_{ATM}\sqrt T}` with :math:`n` = ``short_sd``
   (default 1.75) whose distance :math:`|\ln(K/F)|/(\sigma_{ATM}\sqrt T)` lies in
   [``short_sd_min``, ``short_sd_max``] (default 1.5-2); :math:`\sigma_{ATM}` is the mean
   implied vol of the call and put at the strike nearest the forward.
4. **Wings.** ``wing_rule = "points"``: the liquid strike beyond the short nearest
   ``wing_points`` away (default 50; ties go to the wider); ``"delta"``: the liquid strike
   beyond the short whose :math:`|\Delta|` is nearest ``wing_delta`` (default 0.05). A wing
   wider than ``max_wing_points`` is refused.
5. **Credit.** At mids, :math:`c = m_{sp} - m_{lp} + m_{sc} - m_{lc}`; refused unless
   :math:`c \ge` ``min_credit_frac`` x the wider wing (default 10%).
6. **Break-even alignment.** The put-side break-even :math:`K_{sp} - c` must lie at least
   ``drawdown_tolerance`` (default 7%, bounds 7-10%) below spot. If it does not and
   ``align_breakeven`` is on, the **put spread is moved out**: the short put steps down the
   listed liquid strikes (the wing re-chosen by the same wing rule for each, the call spread
   kept) to the highest strike whose break-even clears the tolerance; the credit test is then
   applied to the moved condor. The move may take the short put below ``short_delta_min``
   (the tolerance outranks the delta window) but not below ``aligned_put_delta_min``
   (default 0.03). The candidate's ``notes`` record the move.

Broken-wing butterfly (:func:`build_bwb`, :class:`BwbParams`)
-------------------------------------------------------------
Short-dated (default 7-21 DTE, target 14) one-sided butterfly: two short options at the body
:math:`K_s`, one long ``narrow_wing_points`` nearer the money and one long ``wide_wing_points``
further out (put side: :math:`+1\,P(K_s + n)`, :math:`-2\,P(K_s)`, :math:`+1\,P(K_s - w)`;
call side mirrored). The body is the liquid strike with :math:`|\Delta|` nearest
``short_delta`` (default 0.125) within ``short_delta_min``-``short_delta_max`` (0.10-0.15).
With ``prefer_put_side=True`` (the §6 rule VX1 RSI < 35 and SPX RSI > 60 is decided by the
caller) the side is the put side and the body target the lower ``skewed_short_delta``
(default 0.10). The risk sits on the wide side: max loss :math:`(w - n) \times 100 - c`. It
must be opened for a net credit of at least ``min_credit_points`` (default 0: no risk on the
near side). Wing strikes are the liquid listed strikes nearest the targets.

Liquidity parameters are shared (:class:`LiquidityParams`). Every parameter is bounded; the
models are frozen and refuse unknown fields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final, Literal, Self, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from vixshield.data.chains import IV_REASON_OK, chain_quote_time, implied_vols
from vixshield.domain.positions import Leg, OptionContract, Right, Structure
from vixshield.errors import InvalidInputError
from vixshield.strategy.analytics import MarketInputs, StructureAnalytics, analyze

__all__ = [
    "BwbParams",
    "Candidate",
    "CondorParams",
    "LiquidityParams",
    "Refusal",
    "build_bwb",
    "build_iron_condor",
    "chain_spot",
    "price_chain",
]

FloatArray = npt.NDArray[np.float64]
Root = Literal["SPX", "SPXW"]
_FROZEN: Final = ConfigDict(frozen=True, extra="forbid")


class LiquidityParams(BaseModel):
    """Quote filters applied to every leg (shorts also need a bid)."""

    model_config = _FROZEN

    max_quote_width_points: float = Field(default=3.0, gt=0.0, le=50.0)
    """Widest acceptable ``ask - bid``, index points."""
    max_quote_width_frac: float = Field(default=0.5, gt=0.0, le=2.0)
    """Widest acceptable ``(ask - bid) / mid``."""
    min_open_interest: float = Field(default=0.0, ge=0.0, le=1e6)
    """Minimum open interest where the chain gives it (0: no check)."""
    min_volume: float = Field(default=0.0, ge=0.0, le=1e6)
    """Minimum session volume where the chain gives it (0: no check)."""


class CondorParams(BaseModel):
    """Iron-condor construction (METHOD §5); see the module docstring for each rule."""

    model_config = _FROZEN

    roots: tuple[Root, ...] = Field(default=("SPX", "SPXW"), min_length=1, max_length=2)
    target_dte: int = Field(default=45, ge=1, le=365)
    min_dte: int = Field(default=45, ge=1, le=365)
    max_dte: int = Field(default=60, ge=1, le=365)
    short_rule: Literal["delta", "sd"] = "delta"
    short_delta: float = Field(default=0.12, gt=0.0, lt=0.5)
    short_delta_min: float = Field(default=0.10, gt=0.0, lt=0.5)
    short_delta_max: float = Field(default=0.16, gt=0.0, lt=0.5)
    short_sd: float = Field(default=1.75, gt=0.0, le=4.0)
    short_sd_min: float = Field(default=1.5, gt=0.0, le=4.0)
    short_sd_max: float = Field(default=2.0, gt=0.0, le=4.0)
    wing_rule: Literal["points", "delta"] = "points"
    wing_points: float = Field(default=50.0, ge=5.0, le=500.0)
    wing_delta: float = Field(default=0.05, gt=0.0, lt=0.5)
    max_wing_points: float = Field(default=200.0, ge=5.0, le=1000.0)
    min_credit_frac: float = Field(default=0.10, ge=0.0, le=1.0)
    """Credit at mids over the wider wing, at least."""
    drawdown_tolerance: float = Field(default=0.07, ge=0.07, le=0.10)
    """The put break-even must sit at least this fraction below spot."""
    align_breakeven: bool = True
    aligned_put_delta_min: float = Field(default=0.03, gt=0.0, lt=0.5)
    """Moving the put spread out for alignment stops at this short-put |delta|."""
    liquidity: LiquidityParams = Field(default_factory=LiquidityParams)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.min_dte <= self.target_dte <= self.max_dte:
            raise ValueError(
                f"need min_dte <= target_dte <= max_dte, got {self.min_dte}, "
                f"{self.target_dte}, {self.max_dte}"
            )
        if not self.short_delta_min <= self.short_delta <= self.short_delta_max:
            raise ValueError(
                f"need short_delta_min <= short_delta <= short_delta_max, got "
                f"{self.short_delta_min}, {self.short_delta}, {self.short_delta_max}"
            )
        if not self.short_sd_min <= self.short_sd <= self.short_sd_max:
            raise ValueError(
                f"need short_sd_min <= short_sd <= short_sd_max, got {self.short_sd_min}, "
                f"{self.short_sd}, {self.short_sd_max}"
            )
        if self.wing_points > self.max_wing_points:
            raise ValueError("wing_points must not exceed max_wing_points")
        if len(set(self.roots)) != len(self.roots):
            raise ValueError(f"roots must not repeat, got {self.roots}")
        return self


class BwbParams(BaseModel):
    """Short-dated broken-wing butterfly construction (METHOD §6); see the module docstring."""

    model_config = _FROZEN

    roots: tuple[Root, ...] = Field(default=("SPXW", "SPX"), min_length=1, max_length=2)
    target_dte: int = Field(default=14, ge=1, le=365)
    min_dte: int = Field(default=7, ge=1, le=365)
    max_dte: int = Field(default=21, ge=1, le=365)
    side: Literal["put", "call"] = "put"
    short_delta: float = Field(default=0.125, gt=0.0, lt=0.5)
    short_delta_min: float = Field(default=0.10, gt=0.0, lt=0.5)
    short_delta_max: float = Field(default=0.15, gt=0.0, lt=0.5)
    skewed_short_delta: float = Field(default=0.10, gt=0.0, lt=0.5)
    """Body target when the caller prefers the put side (skewed to the lower delta)."""
    narrow_wing_points: float = Field(default=25.0, ge=5.0, le=500.0)
    wide_wing_points: float = Field(default=50.0, ge=5.0, le=1000.0)
    max_wing_points: float = Field(default=200.0, ge=5.0, le=1000.0)
    min_credit_points: float = Field(default=0.0, ge=-50.0, le=100.0)
    """Net credit at mids per butterfly, at least (negative allows a debit)."""
    liquidity: LiquidityParams = Field(default_factory=LiquidityParams)

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
        if not self.narrow_wing_points < self.wide_wing_points <= self.max_wing_points:
            raise ValueError(
                "need narrow_wing_points < wide_wing_points <= max_wing_points, got "
                f"{self.narrow_wing_points}, {self.wide_wing_points}, {self.max_wing_points}"
            )
        if len(set(self.roots)) != len(self.roots):
            raise ValueError(f"roots must not repeat, got {self.roots}")
        return self


@dataclass(frozen=True, slots=True)
class Candidate:
    """A structure the builder would open, priced at mids, with its analytics and notes."""

    structure: Structure
    analytics: StructureAnalytics
    market: MarketInputs
    root: str
    expiry: date
    dte: int
    quote_time: datetime
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Refusal:
    """No structure: every reason in words (which rule, which numbers)."""

    kind: str
    reasons: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.reasons:
            raise InvalidInputError("a Refusal needs at least one reason")


# --------------------------------------------------------------------------------------------
# The priced chain


def chain_spot(chain: pd.DataFrame) -> float | None:
    """Index level in the chain: mean ``underlying``, else mean mid of ``underlying_bid/ask``."""
    if "underlying" in chain.columns:
        level = chain["underlying"].to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isfinite(level).any():
            return float(np.nanmean(level))
    if {"underlying_bid", "underlying_ask"} <= set(chain.columns):
        bid = chain["underlying_bid"].to_numpy(dtype=np.float64, na_value=np.nan)
        ask = chain["underlying_ask"].to_numpy(dtype=np.float64, na_value=np.nan)
        mid = 0.5 * (bid + ask)
        if np.isfinite(mid).any():
            return float(np.nanmean(mid))
    return None


def price_chain(
    chain: pd.DataFrame, *, rate: float, roots: tuple[str, ...], liquidity: LiquidityParams
) -> pd.DataFrame:
    """The chain's rows of ``roots`` with IVs, forward deltas, ``mid``, ``dte`` and ``liquid``.

    ``liquid`` applies :class:`LiquidityParams` (module docstring, step 2); ``shortable`` equals
    it (kept as its own column for the builders). Vectorised over rows; never reads
    ``modelled``.
    """
    quote_time = chain_quote_time(chain)
    keep = chain["root"].isin(list(roots)).to_numpy(dtype=np.bool_)
    rows = chain if keep.all() else chain.loc[keep]
    got = implied_vols(rows, rate=rate)  # add_implied_vols's columns, the frame built once
    bid = rows["bid"].to_numpy(dtype=np.float64)
    ask = rows["ask"].to_numpy(dtype=np.float64)
    mid = 0.5 * (bid + ask)
    liquid = _liquid(rows, mid, got.ok, liquidity)
    return got.added_to(
        rows,
        mid=mid,
        dte=_days_to(rows["expiry"].to_numpy(dtype=object), quote_time.date()),
        liquid=liquid,
        # A liquid quote has a solved implied vol, which needs a bid > 0: every liquid quote
        # can be sold at its mid.
        shortable=liquid,
    )


def _days_to(expiry: npt.NDArray[np.object_], today: date) -> npt.NDArray[np.int64]:
    """Calendar days from ``today`` to each expiry, computed once per run of equal expiries."""
    if expiry.size == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, expiry[1:] != expiry[:-1]])
    if starts.size > 256:  # not listed expiry by expiry: once per distinct expiry instead
        codes, uniques = pd.factorize(expiry, use_na_sentinel=False)
        return np.array([(d - today).days for d in uniques], dtype=np.int64)[codes]
    days = np.array([(d - today).days for d in expiry[starts]], dtype=np.int64)
    return np.repeat(days, np.diff(np.r_[starts, expiry.size]))


def _liquid(
    priced: pd.DataFrame, mid: FloatArray, ok: npt.NDArray[np.bool_], liquidity: LiquidityParams
) -> npt.NDArray[np.bool_]:
    """The ``liquid`` flags of :func:`price_chain` (module docstring, step 2); ``ok`` is
    ``iv_reason == "OK"``."""
    bid = priced["bid"].to_numpy(dtype=np.float64)
    ask = priced["ask"].to_numpy(dtype=np.float64)
    width = ask - bid
    liquid = (
        ok
        & (width <= liquidity.max_quote_width_points)
        & (width <= liquidity.max_quote_width_frac * mid)
    )
    for column, floor in (
        ("open_interest", liquidity.min_open_interest),
        ("volume", liquidity.min_volume),
    ):
        if floor > 0 and column in priced.columns:
            given = priced[column].to_numpy(dtype=np.float64, na_value=np.nan)
            liquid &= np.isnan(given) | (given >= floor)
    return np.asarray(liquid, dtype=np.bool_)


def _with_liquidity(priced: pd.DataFrame, liquidity: LiquidityParams) -> pd.DataFrame:
    """A :func:`price_chain` frame with ``liquid`` and ``shortable`` set by ``liquidity``."""
    ok = (priced["iv_reason"] == IV_REASON_OK).to_numpy(dtype=np.bool_)
    liquid = _liquid(priced, priced["mid"].to_numpy(dtype=np.float64), ok, liquidity)
    if np.array_equal(liquid, priced["liquid"].to_numpy(dtype=np.bool_)):
        return priced
    return priced.assign(liquid=liquid, shortable=liquid)


def _reuse(
    priced: pd.DataFrame, *, roots: tuple[str, ...], liquidity: LiquidityParams
) -> pd.DataFrame:
    """A :func:`price_chain` frame (any roots and liquidity) as ``price_chain`` would give it for
    ``roots`` and ``liquidity``: every column but ``liquid``/``shortable`` is per row or per
    (root, expiry), so dropping other roots' rows leaves the rest as it was."""
    keep = priced["root"].isin(list(roots)).to_numpy(dtype=np.bool_)
    return _with_liquidity(priced if keep.all() else priced.loc[keep], liquidity)


def _priced_for(
    chain: pd.DataFrame,
    priced: pd.DataFrame | None,
    *,
    rate: float,
    roots: tuple[str, ...],
    liquidity: LiquidityParams,
) -> pd.DataFrame:
    if priced is None:
        return price_chain(chain, rate=rate, roots=roots, liquidity=liquidity)
    return _reuse(priced, roots=roots, liquidity=liquidity)


@dataclass(frozen=True, slots=True)
class _Table:
    """The columns of a :func:`price_chain` frame the builders read, as arrays (read once)."""

    right: npt.NDArray[np.object_]
    strike: FloatArray
    mid: FloatArray
    iv: FloatArray
    abs_delta: FloatArray
    liquid: npt.NDArray[np.bool_]
    shortable: npt.NDArray[np.bool_]
    forward: FloatArray
    t_years: FloatArray
    dte: npt.NDArray[np.int64]

    @classmethod
    def of(cls, priced: pd.DataFrame) -> _Table:
        return cls(
            right=priced["right"].to_numpy(dtype=object),
            strike=priced["strike"].to_numpy(dtype=np.float64),
            mid=priced["mid"].to_numpy(dtype=np.float64),
            iv=priced["iv"].to_numpy(dtype=np.float64, na_value=np.nan),
            abs_delta=np.abs(priced["delta"].to_numpy(dtype=np.float64, na_value=np.nan)),
            liquid=priced["liquid"].to_numpy(dtype=np.bool_),
            shortable=priced["shortable"].to_numpy(dtype=np.bool_),
            forward=priced["forward"].to_numpy(dtype=np.float64, na_value=np.nan),
            t_years=priced["t_years"].to_numpy(dtype=np.float64),
            dte=priced["dte"].to_numpy(dtype=np.int64),
        )


def _expiry_groups(priced: pd.DataFrame) -> dict[tuple[str, date], npt.NDArray[np.intp]]:
    """``(root, expiry) -> row positions`` (in row order), the rows of each expiry.

    A chain lists an expiry's rows together: runs of equal (root, expiry) are found by
    comparing neighbours; a chain in another order is hashed row by row instead.
    """
    roots = priced["root"].to_numpy(dtype=object)
    expiries = priced["expiry"].to_numpy(dtype=object)
    n = roots.size
    if n == 0:
        return {}
    change = np.r_[True, (roots[1:] != roots[:-1]) | (expiries[1:] != expiries[:-1])]
    starts = np.flatnonzero(change)
    if starts.size <= 256:
        bounds = np.r_[starts, n]
        found: dict[tuple[str, date], list[npt.NDArray[np.intp]]] = {}
        for i, start in enumerate(starts.tolist()):
            key = (str(roots[start]), cast(date, expiries[start]))
            found.setdefault(key, []).append(np.arange(start, bounds[i + 1], dtype=np.intp))
        return {k: v[0] if len(v) == 1 else np.concatenate(v) for k, v in found.items()}
    root_codes, root_values = pd.factorize(roots, use_na_sentinel=False)
    expiry_codes, expiry_values = pd.factorize(expiries, use_na_sentinel=False)
    combined = root_codes.astype(np.int64) * max(len(expiry_values), 1) + expiry_codes
    order = np.argsort(combined, kind="stable")
    keys, firsts = np.unique(combined[order], return_index=True)
    out: dict[tuple[str, date], npt.NDArray[np.intp]] = {}
    for key, rows in zip(keys.tolist(), np.split(order, firsts[1:]), strict=True):
        r, e = divmod(key, max(len(expiry_values), 1))
        out[(str(root_values[r]), cast(date, expiry_values[e]))] = rows
    return out


def _expiry_order(
    columns: _Table,
    groups: dict[tuple[str, date], npt.NDArray[np.intp]],
    *,
    roots: tuple[str, ...],
    target: int,
    lo: int,
    hi: int,
) -> tuple[list[tuple[str, date, int]], str | None]:
    """Expiries in the DTE window in preference order, or a reason when there are none."""
    table = [(r, e, int(columns.dte[rows[0]])) for (r, e), rows in groups.items()]
    inside = [(r, e, d) for r, e, d in table if lo <= d <= hi]
    if not inside:
        listed = sorted({(d, r, e) for r, e, d in table})
        near = min(listed, key=lambda x: abs(x[0] - target), default=None)
        hint = "" if near is None else f"; nearest listed: {near[1]} {near[2]} ({near[0]} DTE)"
        return [], (f"no {'/'.join(roots)} expiry with {lo}-{hi} days to expiry in the chain{hint}")
    rank = {r: i for i, r in enumerate(roots)}
    inside.sort(key=lambda row: (abs(row[2] - target), row[2], rank[row[0]]))
    return inside, None


@dataclass(frozen=True, slots=True)
class _Side:
    """One right of one expiry, sorted by strike, as arrays."""

    strike: FloatArray
    mid: FloatArray
    iv: FloatArray
    abs_delta: FloatArray
    liquid: npt.NDArray[np.bool_]
    shortable: npt.NDArray[np.bool_]

    @classmethod
    def of(cls, table: _Table, rows: npt.NDArray[np.intp], right: str) -> _Side:
        """The rows (of one expiry) with ``right``, by strike (stable: ties keep row order)."""
        mine = rows[table.right[rows] == right]
        at = mine[np.argsort(table.strike[mine], kind="stable")]
        return cls(
            strike=table.strike[at],
            mid=table.mid[at],
            iv=table.iv[at],
            abs_delta=table.abs_delta[at],
            liquid=table.liquid[at],
            shortable=table.shortable[at],
        )


def _forward_and_time(table: _Table, rows: npt.NDArray[np.intp]) -> tuple[float, float]:
    """The expiry's forward (its first row with one; 0 without) and time to settlement."""
    forward = table.forward[rows]
    known = forward[~np.isnan(forward)]
    return (float(known[0]) if known.size else 0.0), float(table.t_years[rows[0]])


def _nearest(values: FloatArray, target: float, mask: npt.NDArray[np.bool_]) -> int | None:
    """Index of the masked value nearest ``target`` (ties: the first), or None."""
    if not mask.any():
        return None
    gap = np.where(mask, np.abs(values - target), np.inf)
    return int(np.argmin(gap))


def _wing_index(
    side: _Side,
    short_idx: npt.NDArray[np.intp],
    *,
    outward: float,
    rule: Literal["points", "delta"],
    points: float,
    delta: float,
) -> npt.NDArray[np.intp]:
    """For each short (index), the wing index by the wing rule, -1 where none; vectorised.

    ``outward`` is -1 for a put wing (below the short) and +1 for a call wing. Ties in the
    points rule go to the wider wing.
    """
    k = side.strike
    shorts = k[short_idx][:, np.newaxis]
    beyond = ((k[np.newaxis, :] - shorts) * outward > 0) & side.liquid[np.newaxis, :]
    if rule == "points":
        # distance to the target, plus a tiny preference for the wider strike on ties
        gap = np.abs(k[np.newaxis, :] - (shorts + outward * points)) - 1e-9 * outward * k
    else:
        gap = np.broadcast_to(np.abs(side.abs_delta - delta), beyond.shape)
    gap = np.where(beyond, gap, np.inf)
    best = np.argmin(gap, axis=1)
    return np.where(np.isfinite(gap[np.arange(best.size), best]), best, -1)


def _fmt_delta(x: float) -> str:
    return f"{100 * x:.1f}"


def _short_index(
    side: _Side,
    *,
    right: str,
    params: CondorParams,
    forward: float,
    atm_sd: float,
) -> tuple[int | None, str]:
    """The short strike by the configured rule, or None with a reason."""
    name = "put" if right == "P" else "call"
    if params.short_rule == "delta":
        window = (side.abs_delta >= params.short_delta_min) & (
            side.abs_delta <= params.short_delta_max
        )
        idx = _nearest(side.abs_delta, params.short_delta, side.shortable & window)
        why = (
            f"no liquid {name} with |delta| in {_fmt_delta(params.short_delta_min)}-"
            f"{_fmt_delta(params.short_delta_max)}"
        )
        return idx, why
    distance = np.abs(np.log(side.strike / forward)) / atm_sd
    on_side = side.strike < forward if right == "P" else side.strike > forward
    window = on_side & (distance >= params.short_sd_min) & (distance <= params.short_sd_max)
    idx = _nearest(distance, params.short_sd, side.shortable & window)
    why = (
        f"no liquid {name} {params.short_sd_min:g}-{params.short_sd_max:g} standard deviations "
        f"from the forward (sigma_ATM sqrt(T) = {atm_sd:.4f})"
    )
    return idx, why


def _atm_sd(puts: _Side, calls: _Side, forward: float, t_years: float) -> float:
    strikes = np.concatenate([puts.strike, calls.strike])
    vols = np.concatenate([puts.iv, calls.iv])
    ok = np.isfinite(vols)
    if not ok.any():
        return math.nan
    gap = np.abs(strikes[ok] - forward)
    atm = gap == gap.min()
    return float(np.mean(vols[ok][atm])) * math.sqrt(t_years)


def _contract(root: str, expiry: date, strike: float, right: Right) -> OptionContract:
    return OptionContract(root, expiry, float(strike), right)


def _condor_at(
    table: _Table,
    rows: npt.NDArray[np.intp],
    *,
    root: str,
    expiry: date,
    dte: int,
    spot: float,
    rate: float,
    params: CondorParams,
    quantity: int,
    quote_time: datetime,
) -> Candidate | list[str]:
    label = f"{root} {expiry.isoformat()} ({dte} DTE)"
    puts, calls = _Side.of(table, rows, "P"), _Side.of(table, rows, "C")
    forward, t_years = _forward_and_time(table, rows)
    if not forward > 0:
        return [f"{label}: no put-call parity forward (no strike with a call and a put both bid)"]
    atm_sd = _atm_sd(puts, calls, forward, t_years)
    reasons: list[str] = []
    sp, why_p = _short_index(puts, right="P", params=params, forward=forward, atm_sd=atm_sd)
    sc, why_c = _short_index(calls, right="C", params=params, forward=forward, atm_sd=atm_sd)
    if sp is None:
        reasons.append(f"{label}: {why_p}")
    if sc is None:
        reasons.append(f"{label}: {why_c}")
    if sp is None or sc is None:
        return reasons

    rule, points, delta = params.wing_rule, params.wing_points, params.wing_delta
    # every shortable put at or below the chosen short, with its wing, for the alignment move
    put_shorts = np.flatnonzero(puts.shortable & (puts.strike <= puts.strike[sp]))[::-1]
    put_wings = _wing_index(puts, put_shorts, outward=-1.0, rule=rule, points=points, delta=delta)
    (lc,) = _wing_index(calls, np.array([sc]), outward=1.0, rule=rule, points=points, delta=delta)
    if put_wings[0] < 0:
        reasons.append(f"{label}: no liquid put below the short put {puts.strike[sp]:g}")
    if lc < 0:
        reasons.append(f"{label}: no liquid call above the short call {calls.strike[sc]:g}")
    if reasons:
        return reasons

    notes: list[str] = []
    call_credit = calls.mid[sc] - calls.mid[lc]
    call_width = calls.strike[lc] - calls.strike[sc]
    valid = put_wings >= 0
    put_credit = np.where(valid, puts.mid[put_shorts] - puts.mid[put_wings], np.nan)
    credit = put_credit + call_credit
    breakeven = puts.strike[put_shorts] - credit
    limit = spot * (1.0 - params.drawdown_tolerance)
    choice = 0
    if not breakeven[0] <= limit:
        first = (
            f"put break-even {breakeven[0]:.2f} = {puts.strike[sp]:g} - credit "
            f"{credit[0]:.2f} is {100 * (1 - breakeven[0] / spot):.2f}% below spot {spot:.2f}, "
            f"less than the drawdown tolerance {100 * params.drawdown_tolerance:g}% "
            f"(needs <= {limit:.2f})"
        )
        if not params.align_breakeven:
            return [f"{label}: {first}; break-even alignment is off"]
        allowed = valid & (puts.abs_delta[put_shorts] >= params.aligned_put_delta_min)
        ok = np.flatnonzero(allowed & (breakeven <= limit))
        if ok.size == 0:
            return [
                f"{label}: {first}; moving the put spread out down to |delta| "
                f"{_fmt_delta(params.aligned_put_delta_min)} finds no strike that clears it"
            ]
        choice = int(ok[0])
        new_sp, new_lp = put_shorts[choice], put_wings[choice]
        notes.append(
            f"{first}; put spread moved out from {puts.strike[sp]:g}/"
            f"{puts.strike[put_wings[0]]:g} to {puts.strike[new_sp]:g}/{puts.strike[new_lp]:g} "
            f"(short put |delta| {_fmt_delta(puts.abs_delta[new_sp])}), break-even now "
            f"{breakeven[choice]:.2f}"
        )
    sp, lp = int(put_shorts[choice]), int(put_wings[choice])
    put_width = puts.strike[sp] - puts.strike[lp]
    wide = max(put_width, call_width)
    total = float(credit[choice])
    if wide > params.max_wing_points:
        return [
            f"{label}: wing width {wide:g} points is wider than max_wing_points "
            f"{params.max_wing_points:g}"
        ]
    if total < params.min_credit_frac * wide:
        return [
            f"{label}: credit {total:.2f} points at mids is below "
            f"{100 * params.min_credit_frac:g}% of the {wide:g}-point wing "
            f"({params.min_credit_frac * wide:.2f})"
        ]
    legs = (
        Leg(_contract(root, expiry, puts.strike[lp], Right.PUT), quantity, float(puts.mid[lp])),
        Leg(_contract(root, expiry, puts.strike[sp], Right.PUT), -quantity, float(puts.mid[sp])),
        Leg(_contract(root, expiry, calls.strike[sc], Right.CALL), -quantity, float(calls.mid[sc])),
        Leg(_contract(root, expiry, calls.strike[lc], Right.CALL), quantity, float(calls.mid[lc])),
    )
    name = (
        f"{root} {expiry.isoformat()} iron condor {puts.strike[lp]:g}/{puts.strike[sp]:g}P "
        f"{calls.strike[sc]:g}/{calls.strike[lc]:g}C"
    )
    vols = (puts.iv[lp], puts.iv[sp], calls.iv[sc], calls.iv[lc])
    notes.insert(
        0,
        f"shorts {puts.strike[sp]:g}P (|delta| {_fmt_delta(puts.abs_delta[sp])}) and "
        f"{calls.strike[sc]:g}C (|delta| {_fmt_delta(calls.abs_delta[sc])}) by the "
        f"{params.short_rule} rule; wings by the {params.wing_rule} rule",
    )
    return _candidate(
        Structure(name, legs),
        spot=spot, forward=forward, t_years=t_years, rate=rate, vols=vols,
        root=root, expiry=expiry, dte=dte, quote_time=quote_time, notes=notes,
    )  # fmt: skip


def _candidate(
    structure: Structure,
    *,
    spot: float,
    forward: float,
    t_years: float,
    rate: float,
    vols: tuple[float, ...],
    root: str,
    expiry: date,
    dte: int,
    quote_time: datetime,
    notes: list[str],
) -> Candidate:
    market = MarketInputs(
        spot=spot, forward=forward, t_years=t_years, rate=rate,
        leg_vols=tuple(float(v) for v in vols),
    )  # fmt: skip
    return Candidate(
        structure=structure,
        analytics=analyze(structure, market),
        market=market,
        root=root,
        expiry=expiry,
        dte=dte,
        quote_time=quote_time,
        notes=tuple(notes),
    )


def _resolve_spot(chain: pd.DataFrame, spot: float | None) -> float:
    level = spot if spot is not None else chain_spot(chain)
    if level is None or not (math.isfinite(level) and level > 0):
        raise InvalidInputError(
            "the chain has no underlying level (columns underlying or underlying_bid/ask); "
            f"pass spot= explicitly (got {spot!r})"
        )
    return float(level)


def _check_quantity(quantity: int) -> None:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise InvalidInputError(f"quantity must be a whole number >= 1, got {quantity!r}")


def build_iron_condor(
    chain: pd.DataFrame,
    *,
    rate: float,
    params: CondorParams | None = None,
    spot: float | None = None,
    quantity: int = 1,
    priced: pd.DataFrame | None = None,
) -> Candidate | Refusal:
    """An iron condor from a canonical chain by METHOD §5, or a refusal with reasons.

    Parameters
    ----------
    chain
        A canonical chain of one quote instant (real or modelled; ``modelled`` is not read).
    rate
        Continuously compounded rate for implied vols, forwards and analytics.
    params
        Construction rules (default :class:`CondorParams`).
    spot
        Index level; default: the chain's ``underlying`` (or underlying bid/ask mid).
    quantity
        Condors (each leg ``±quantity``); sizing is decided elsewhere (METHOD §9).
    priced
        ``chain`` already through :func:`price_chain` at the same ``rate``, with at least the
        roots of ``params`` (any liquidity): used instead of pricing the chain again (rows of
        other roots are dropped and ``liquid`` is re-applied from ``params.liquidity``, so the
        result is the same).

    Returns
    -------
    Candidate or Refusal
        Legs ordered long put, short put, short call, long call, priced at mids.

    Raises
    ------
    InvalidInputError
        Not one quote instant, no spot to be found, or a bad quantity.
    """
    p = params or CondorParams()
    _check_quantity(quantity)
    level = _resolve_spot(chain, spot)
    quote_time = chain_quote_time(chain)
    frame = _priced_for(chain, priced, rate=rate, roots=p.roots, liquidity=p.liquidity)
    groups = _expiry_groups(frame)
    table = _Table.of(frame)
    order, why = _expiry_order(
        table, groups, roots=p.roots, target=p.target_dte, lo=p.min_dte, hi=p.max_dte
    )
    if why is not None:
        return Refusal("iron condor", (why,))
    reasons: list[str] = []
    for root, expiry, dte in order:
        got = _condor_at(
            table, groups[(root, expiry)],
            root=root, expiry=expiry, dte=dte, spot=level, rate=rate, params=p,
            quantity=quantity, quote_time=quote_time,
        )  # fmt: skip
        if isinstance(got, Candidate):
            return got
        reasons.extend(got)
    return Refusal("iron condor", tuple(reasons))


def _bwb_at(
    table: _Table,
    rows: npt.NDArray[np.intp],
    *,
    root: str,
    expiry: date,
    dte: int,
    spot: float,
    rate: float,
    params: BwbParams,
    side_name: Literal["put", "call"],
    target_delta: float,
    quantity: int,
    quote_time: datetime,
) -> Candidate | list[str]:
    label = f"{root} {expiry.isoformat()} ({dte} DTE)"
    right = Right.PUT if side_name == "put" else Right.CALL
    side = _Side.of(table, rows, right.value)
    forward, t_years = _forward_and_time(table, rows)
    if not forward > 0:
        return [f"{label}: no put-call parity forward (no strike with a call and a put both bid)"]
    window = (side.abs_delta >= params.short_delta_min) & (side.abs_delta <= params.short_delta_max)
    body = _nearest(side.abs_delta, target_delta, side.shortable & window)
    if body is None:
        return [
            f"{label}: no liquid {side_name} with |delta| in "
            f"{_fmt_delta(params.short_delta_min)}-{_fmt_delta(params.short_delta_max)}"
        ]
    outward = -1.0 if right is Right.PUT else 1.0
    k_body = float(side.strike[body])
    near = _nearest(
        side.strike, k_body - outward * params.narrow_wing_points,
        side.liquid & ((side.strike - k_body) * outward < 0),
    )  # fmt: skip
    far = _nearest(
        side.strike, k_body + outward * params.wide_wing_points,
        side.liquid & ((side.strike - k_body) * outward > 0),
    )  # fmt: skip
    if near is None or far is None:
        return [f"{label}: no liquid wing strikes around the {side_name} body {k_body:g}"]
    narrow = abs(k_body - float(side.strike[near]))
    wide = abs(float(side.strike[far]) - k_body)
    if max(narrow, wide) > params.max_wing_points:
        return [
            f"{label}: wing width {max(narrow, wide):g} points is wider than max_wing_points "
            f"{params.max_wing_points:g}"
        ]
    if not narrow < wide:
        return [
            f"{label}: listed strikes give a near wing of {narrow:g} and a far wing of "
            f"{wide:g} points; a broken wing needs the far wing wider"
        ]
    credit = 2.0 * side.mid[body] - side.mid[near] - side.mid[far]
    if credit < params.min_credit_points:
        return [
            f"{label}: net credit {credit:.2f} points at mids is below min_credit_points "
            f"{params.min_credit_points:g}"
        ]
    legs = (
        Leg(_contract(root, expiry, side.strike[near], right), quantity, float(side.mid[near])),
        Leg(_contract(root, expiry, k_body, right), -2 * quantity, float(side.mid[body])),
        Leg(_contract(root, expiry, side.strike[far], right), quantity, float(side.mid[far])),
    )
    strikes = sorted(float(side.strike[i]) for i in (near, body, far))
    name = (
        f"{root} {expiry.isoformat()} {side_name} broken-wing butterfly "
        f"{'/'.join(f'{k:g}' for k in strikes)}{right.value}"
    )
    notes = [
        f"body {k_body:g}{right.value} at |delta| {_fmt_delta(side.abs_delta[body])} "
        f"(target {_fmt_delta(target_delta)}), wings {narrow:g} near / {wide:g} far"
    ]
    return _candidate(
        Structure(name, legs),
        spot=spot, forward=forward, t_years=t_years, rate=rate,
        vols=(side.iv[near], side.iv[body], side.iv[far]),
        root=root, expiry=expiry, dte=dte, quote_time=quote_time, notes=notes,
    )  # fmt: skip


def build_bwb(
    chain: pd.DataFrame,
    *,
    rate: float,
    params: BwbParams | None = None,
    prefer_put_side: bool = False,
    spot: float | None = None,
    quantity: int = 1,
    priced: pd.DataFrame | None = None,
) -> Candidate | Refusal:
    """A short-dated broken-wing butterfly (METHOD §6), or a refusal with reasons.

    Parameters
    ----------
    chain, rate, spot, quantity, priced
        As :func:`build_iron_condor` (``quantity`` butterflies: the body is ``-2 x quantity``).
    params
        Construction rules (default :class:`BwbParams`).
    prefer_put_side
        The caller's §6 signal: build the put side with the body at ``skewed_short_delta``.

    Returns
    -------
    Candidate or Refusal
        Legs ordered near wing, body, far wing, priced at mids.
    """
    p = params or BwbParams()
    _check_quantity(quantity)
    level = _resolve_spot(chain, spot)
    quote_time = chain_quote_time(chain)
    side_name: Literal["put", "call"] = "put" if prefer_put_side else p.side
    target = p.skewed_short_delta if prefer_put_side else p.short_delta
    frame = _priced_for(chain, priced, rate=rate, roots=p.roots, liquidity=p.liquidity)
    groups = _expiry_groups(frame)
    table = _Table.of(frame)
    order, why = _expiry_order(
        table, groups, roots=p.roots, target=p.target_dte, lo=p.min_dte, hi=p.max_dte
    )
    kind = f"{side_name} broken-wing butterfly"
    if why is not None:
        return Refusal(kind, (why,))
    reasons: list[str] = []
    for root, expiry, dte in order:
        got = _bwb_at(
            table, groups[(root, expiry)],
            root=root, expiry=expiry, dte=dte, spot=level, rate=rate, params=p,
            side_name=side_name, target_delta=target, quantity=quantity, quote_time=quote_time,
        )  # fmt: skip
        if isinstance(got, Candidate):
            return got
        reasons.extend(got)
    return Refusal(kind, tuple(reasons))
