r"""The scenario table (METHOD section 10): full repricing of the book under market shocks.

Every option leg is repriced with its full model (Black-Scholes-Merton in forward form for
SPX-family legs, Black-76 on the VX future for VIX legs) in **one** vectorised pricer call over
all scenarios times all legs; nothing is approximated with Greeks. The default scenarios
(:func:`default_scenarios`, from :class:`~vixshield.strategy.book.BookParams`) are SPX
-20/-10/-5/+5/+10%, VIX +10/+20 points, 1 and 7 calendar days on, and combined shocks (SPX -10%
with VIX +20, SPX -20% with VIX +30).

A scenario (:class:`Scenario`)
------------------------------
``spx_move_pct`` :math:`x` (percent), ``vix_move_pts`` :math:`\Delta V` (VIX points, or None)
and ``days`` :math:`d` (calendar days). All three apply at once, instantly after ``d`` days.

The market response (parameters in ``BookParams``)
--------------------------------------------------
1. **Spot.** :math:`S' = S(1 + x/100)`; rate and dividend yield unchanged.
2. **VIX.** With no explicit ``vix_move_pts`` the SPX move implies one through a spot-vol beta:
   :math:`\Delta V = -b_{down} x` for a fall (default 1 VIX point per 1% down) and
   :math:`\Delta V = -b_{up} x` for a rise (default 0.5 point per 1% up); set both to 0 to keep
   VIX unchanged. :math:`V' = \max(V + \Delta V, \min(V, V_{floor}))` (floor 9); the table
   reports the applied :math:`\Delta V = V' - V`.
3. **Time.** Every leg's time to settlement shortens by :math:`d/365` (ACT/365, as
   :mod:`vixshield.units`); a leg with :math:`T' \le 0` is valued at intrinsic value on the
   scenario underlying (:math:`S'` for SPX legs, :math:`V'` standing in for the VRO for VIX
   legs).
4. **SPX implied vols: sticky moneyness plus a VIX-driven shift.** The leg's base vol is read
   from the surface at the strike with the same moneyness against the new forward,
   :math:`K F/F'` (so a pure spot move slides the smile with the spot), then shifted:

   .. math::
       \sigma' = \max\Bigl(\sigma_{base}(K F/F') + \frac{\Delta V}{100}\,
           \beta_T(T')\,\beta_k(k),\ 0.01\Bigr),\quad
       \beta_T = \min\Bigl(\bigl(\tfrac{30/365}{\max(T', 1/365)}\bigr)^{e}, 2\Bigr),\quad
       \beta_k = \mathrm{clip}(1 - s_k k,\ 0.25,\ 3),

   :math:`k = \ln(K/F')`, :math:`e` = ``iv_term_exponent`` (0.4: a 30-day option moves one
   for one with VIX, a 1-year one about 0.37, a 1-week one about 1.8) and :math:`s_k` =
   ``iv_skew_beta`` (2: a 10% out-of-the-money put moves 1.2 times the VIX change, a 10%
   out-of-the-money call 0.8 times).
5. **VX futures** move by a fraction of the VIX shock that decays with the time left to their
   expiry, :math:`F'_{VX} = \max(F_{VX} + \Delta V e^{-T'/\tau}, \min(F_{VX}, V_{floor}))`
   with :math:`\tau` = ``vx_decay_years`` (0.4: the front month about 0.8 of the VIX move, six
   months about 0.3). Time alone does not move a future (it is a martingale).
6. **VIX option vols**: sticky moneyness on the VX future, :math:`\sigma_{base}(K F_{VX} /
   F'_{VX})`, with no separate vol-of-vol shock (a stated simplification).
7. **Equity book**: beta-weighted, :math:`\text{P\&L} = \sum V_e \beta_e x/100`.

P&L
---
``basis="mark"`` (default): scenario model value minus the model value now, per structure.
``basis="fill"``: scenario model value minus the opening cost at fill prices, less the fees
recorded in the book, i.e. the P&L since opening (for a condor at its expiry this lies in
:math:`[-\text{max loss}, \text{credit}]`). The equity book's P&L is always against the current
price.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import pandas as pd

from vixshield.errors import InvalidInputError
from vixshield.pricing.black import black_forward_price
from vixshield.strategy.book import (
    Book,
    BookParams,
    LegArrays,
    MarketState,
    VolSurface,
    intrinsic,
    leg_arrays,
    leg_vols,
)

__all__ = [
    "DESCRIPTOR_COLUMNS",
    "EQUITY_COLUMN",
    "TOTAL_COLUMN",
    "Scenario",
    "default_scenarios",
    "pnl_column",
    "scenario_table",
]

DESCRIPTOR_COLUMNS: Final = ("spx_move_pct", "vix_move_pts", "days", "spx", "vix")
"""Columns describing each scenario: moves as applied, horizon, and the scenario levels."""
TOTAL_COLUMN: Final = "pnl_usd:total"
EQUITY_COLUMN: Final = "pnl_usd:equity book"

_T30: Final = 30.0 / 365.0
_MIN_T: Final = 1.0 / 365.0
_MIN_VOL: Final = 0.01
_TERM_CAP: Final = 2.0
_SKEW_CLIP: Final = (0.25, 3.0)


def pnl_column(structure: str) -> str:
    """The table column holding a structure's P&L: ``pnl_usd:<name>``."""
    return f"pnl_usd:{structure}"


@dataclass(frozen=True, slots=True)
class Scenario:
    """One market shock (module docstring).

    Attributes
    ----------
    name
        Row label in the table.
    spx_move_pct
        SPX move in percent (-10.0 is a 10% fall); > -100.
    vix_move_pts
        VIX move in index points, or None to take it from the spot-vol beta.
    days
        Calendar days forward, >= 0.
    """

    name: str
    spx_move_pct: float = 0.0
    vix_move_pts: float | None = None
    days: float = 0.0

    def __post_init__(self) -> None:
        if not self.name:
            raise InvalidInputError("a scenario needs a name")
        if not (math.isfinite(self.spx_move_pct) and self.spx_move_pct > -100.0):
            raise InvalidInputError(
                f"scenario {self.name!r}: spx_move_pct must be finite and > -100, "
                f"got {self.spx_move_pct!r}"
            )
        if self.vix_move_pts is not None and not math.isfinite(self.vix_move_pts):
            raise InvalidInputError(f"scenario {self.name!r}: vix_move_pts must be finite")
        if not (math.isfinite(self.days) and self.days >= 0.0):
            raise InvalidInputError(
                f"scenario {self.name!r}: days must be finite and >= 0, got {self.days!r}"
            )


def _fmt(x: float) -> str:
    return f"{x:+g}"


def default_scenarios(params: BookParams | None = None) -> tuple[Scenario, ...]:
    """The METHOD section 10 grid from ``params``: SPX moves, VIX moves, days on, combined."""
    p = params or BookParams()
    out = [Scenario(f"SPX {_fmt(m)}%", spx_move_pct=m) for m in p.scenario_spx_moves_pct]
    out += [Scenario(f"VIX {_fmt(v)}", vix_move_pts=v) for v in p.scenario_vix_moves_pts]
    out += [Scenario(f"{d:g}d on", vix_move_pts=0.0, days=d) for d in p.scenario_days]
    out += [
        Scenario(f"SPX {_fmt(m)}% VIX {_fmt(v)}", spx_move_pct=m, vix_move_pts=v)
        for m, v in p.scenario_combined
    ]
    return tuple(out)


def _vix_moves(
    scenarios: Sequence[Scenario], vix: float, p: BookParams
) -> tuple[np.ndarray, np.ndarray]:
    """Scenario VIX levels and the applied moves (module docstring, step 2)."""
    moves = np.array(
        [
            s.vix_move_pts
            if s.vix_move_pts is not None
            else -(p.vix_pts_per_spx_pct_down if s.spx_move_pct < 0 else p.vix_pts_per_spx_pct_up)
            * s.spx_move_pct
            for s in scenarios
        ],
        dtype=np.float64,
    )
    level = np.maximum(vix + moves, min(vix, p.vix_floor))
    return level, level - vix


def scenario_table(
    book: Book,
    market: MarketState,
    surface: VolSurface,
    scenarios: Sequence[Scenario] | None = None,
    *,
    params: BookParams | None = None,
    basis: Literal["mark", "fill"] = "mark",
) -> pd.DataFrame:
    r"""P&L in USD of every structure, the equity book and the total, per scenario.

    Parameters
    ----------
    book, market, surface
        The positions, the valuation inputs now and the implied vols now.
    scenarios
        Shocks to apply (default :func:`default_scenarios` of ``params``).
    params
        Vol response and grid (:class:`~vixshield.strategy.book.BookParams`).
    basis
        ``"mark"``: against the model value now; ``"fill"``: against the opening cost and fees.

    Returns
    -------
    pandas.DataFrame
        Indexed by scenario name; columns :data:`DESCRIPTOR_COLUMNS` (the moves as applied,
        the horizon, the scenario SPX and VIX levels), then ``pnl_usd:<structure>`` per
        structure in book order, :data:`EQUITY_COLUMN` when the book holds equities, and
        :data:`TOTAL_COLUMN`.

    Raises
    ------
    InvalidInputError
        Duplicate scenario names, an equity without a beta, a VIX leg without its VX future, a
        vol the surface cannot give, or an unknown ``basis``.
    """
    p = params or BookParams()
    scen = tuple(default_scenarios(p) if scenarios is None else scenarios)
    names = [s.name for s in scen]
    if len(set(names)) != len(names):
        raise InvalidInputError(f"scenario names must be unique, got {names}")
    if basis not in ("mark", "fill"):
        raise InvalidInputError(f"basis must be 'mark' or 'fill', got {basis!r}")

    # Row 0 is "now" (no shock): the base value comes from the same pricer call.
    pct = np.array([0.0, *(s.spx_move_pct for s in scen)])
    days = np.array([0.0, *(s.days for s in scen)])
    vix_level, vix_move = _vix_moves((Scenario("now", vix_move_pts=0.0), *scen), market.vix, p)
    spot = market.spx_spot * (1.0 + pct / 100.0)

    legs = leg_arrays(book)
    n_legs = len(legs.contracts)
    values = np.zeros((len(scen) + 1, n_legs))
    if n_legs:
        values = _reprice(
            legs, market, surface, p, spot=spot, vix_level=vix_level, vix_move=vix_move, days=days
        )

    columns: dict[str, np.ndarray] = {
        "spx_move_pct": pct[1:],
        "vix_move_pts": vix_move[1:],
        "days": days[1:],
        "spx": spot[1:],
        "vix": vix_level[1:],
    }
    reference = values[0] if basis == "mark" else legs.fill_price * legs.scale
    pnl_legs = values[1:] - reference
    total = np.zeros(len(scen))
    structure_of = np.array(legs.structure, dtype=object)
    for s in book.structures:
        col = pnl_column(s.name)
        if col in (EQUITY_COLUMN, TOTAL_COLUMN):
            raise InvalidInputError(f"structure name {s.name!r} clashes with a table column")
        pnl = pnl_legs[:, structure_of == s.name].sum(axis=1)
        if basis == "fill":
            pnl = pnl - book.fees_usd.get(s.name, 0.0)
        columns[col] = pnl  # a name listed twice keeps its first place, the last values
        total += pnl
    if book.equities:
        beta_value = sum(e.value_usd * book.beta(e.symbol) for e in book.equities)
        eq = beta_value * pct[1:] / 100.0
        columns[EQUITY_COLUMN] = eq
        total += eq
    columns[TOTAL_COLUMN] = total
    return pd.DataFrame(columns, index=pd.Index(names, name="scenario"))


def _reprice(
    legs: LegArrays,
    market: MarketState,
    surface: VolSurface,
    p: BookParams,
    *,
    spot: np.ndarray,
    vix_level: np.ndarray,
    vix_move: np.ndarray,
    days: np.ndarray,
) -> np.ndarray:
    """Position values in USD, shape ``(n_scenarios, n_legs)`` (row 0 = now); one pricer call."""
    t_now_1d = legs.t_years(market.as_of)
    live_now = t_now_1d > 0.0
    t_now = t_now_1d[None, :]
    t = t_now - days[:, None] / 365.0
    alive = t > 0.0
    t_safe = np.where(alive, t, 1.0)  # placeholder for expired legs; replaced by intrinsic
    is_vix = legs.is_vix[None, :]
    strike = legs.strike[None, :]
    carry = market.rate - market.div_yield

    # SPX forwards now and in the scenario (per leg's own time to settlement).
    f_spx_now = market.spx_spot * np.exp(carry * np.maximum(t_now, 0.0))
    f_spx = spot[:, None] * np.exp(carry * t_safe)
    # VX futures now and in the scenario (step 5); NaN-free for SPX legs.
    fut_now = np.where(legs.is_vix, np.nan_to_num(legs.vx_futures(market, live_now), nan=1.0), 1.0)
    fut_now = fut_now[None, :]
    shift = vix_move[:, None] * np.exp(-t_safe / p.vx_decay_years)
    fut = np.maximum(fut_now + shift, np.minimum(fut_now, p.vix_floor))

    forward = np.where(is_vix, fut, f_spx)
    # Sticky moneyness: read the base smile at the strike with today's moneyness (step 4, 6).
    base_strike = strike * np.where(is_vix, fut_now / fut, f_spx_now / f_spx)
    vol = leg_vols(legs, surface, live_now, strikes=base_strike)
    k = np.log(strike / forward)
    beta_t = np.minimum((_T30 / np.maximum(t_safe, _MIN_T)) ** p.iv_term_exponent, _TERM_CAP)
    beta_k = np.clip(1.0 - p.iv_skew_beta * k, *_SKEW_CLIP)
    spx_vol = np.maximum(vol + vix_move[:, None] / 100.0 * beta_t * beta_k, _MIN_VOL)
    vol = np.where(is_vix, vol, spx_vol)

    price = black_forward_price(
        forward,
        strike,
        t_safe,
        vol,
        discount_factor=np.exp(-market.rate * t_safe),
        is_call=np.broadcast_to(legs.is_call[None, :], forward.shape),
    )
    settle_under = np.where(is_vix, vix_level[:, None], spot[:, None])
    expired_value = intrinsic(settle_under, strike, legs.is_call[None, :])
    value = np.where(alive, price, expired_value)
    if not np.all(np.isfinite(value)):
        j, i = (int(x) for x in np.argwhere(~np.isfinite(value))[0])
        raise InvalidInputError(
            f"could not reprice {legs.contracts[i].label()} in scenario row {j}; check inputs"
        )
    return np.asarray(value * legs.scale[None, :], dtype=np.float64)
