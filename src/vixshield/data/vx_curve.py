"""VIX futures term structure: the daily VX1..VXn curve, a 30-day constant maturity, a model
fallback from the VIX indices, and the term-structure slope of METHOD section 3.

Conventions
-----------
* **Valuation instant.** A daily settle is valued at 16:15 ET on its trade date
  (:data:`SETTLE_TIME`). That is the close of the VIX indices and, in the 2004-2014 data, of
  the VX futures session (15:15 CT) whose prices the daily settlement reflects [M].
  ``t_years`` runs from that instant to the VRO settlement at 09:30 ET on the expiry day,
  counting real elapsed minutes / 525,600, exactly as :func:`vixshield.calendar.t_years`.
* **Ranks.** ``VX1`` is the nearest contract whose expiry is **strictly after** the trade
  date; ``VXi`` is the i-th. On an expiry day the expiring contract only carries its final
  settlement value (the VRO, struck that morning), so it is not part of that day's curve.
* A contract is *listed* from its first to its last row in the futures frame. A listed
  contract with no row on a date keeps its rank with ``settle`` NaN: nothing is filled in
  and later contracts do not shift (the real files have one such gap inside VX1..VX8:
  June 2007 during 2006-11-21..2006-12-26). Ranks follow what was listed: before 2007,
  CFE listed a sparse cycle, so VX2 is not always the next calendar month.
* ``dte`` is calendar days from the trade date to the expiry. VX1 is 1..35 days out from
  2005-09-14, when CFE listed every month; up to 63 days before that.

Long curve frame (:func:`vx_term_structure`, :func:`model_term_structure`)
---------------------------------------------------------------------------
One row per date and rank, sorted by ``date``, ``rank``:

=============== ============== ===========================================================
column          dtype          meaning
=============== ============== ===========================================================
``date``        datetime64[ns] trade date
``rank``        int64          1 = VX1 ... ``depth``
``contract``    str            ``"VX 2008-11"``
``expiry``      datetime64[ns] final settlement date
``dte``         int64          calendar days to expiry
``t_years``     float64        years from 16:15 ET on ``date`` to 09:30 ET on ``expiry``
``settle``      float64        settle in VIX points; NaN when a listed contract has no row
``modelled``    bool           True for values from :class:`VixFuturesModel`
=============== ============== ===========================================================

:func:`curve_wide` pivots it to one row per date with ``vx{i}_settle``, ``vx{i}_expiry``,
``vx{i}_dte``, ``vx{i}_t_years`` and ``vx{i}_modelled`` for i = 1..depth.

Constant maturity (:func:`constant_maturity`)
---------------------------------------------
The 30-day value is linear in ``t_years`` between the two adjacent ranks that bracket the
target ``T* = 30/365``: with ``T_a <= T* < T_b``,
``F* = F_a + (F_b - F_a) (T* - T_a) / (T_b - T_a)``. The pair is usually VX1/VX2, but VX2/VX3
when VX1 expires within two days and VX2 is under 30 days away. When even VX1 is beyond 30
days (just after an expiry) there is no bracket and ``F* = F_1``: no extrapolation. VIX
futures converge to the VRO at expiry, and the VRO is a 30-day volatility from that day,
so ``F*`` is the market's price for 30-day volatility 30 days ahead (not spot VIX). It is
flagged ``modelled`` when either input is.

Fallback model (:class:`VixFuturesModel`)
-----------------------------------------
When no futures are available (after 2014-08-14 in the real data), VX settles are modelled
from the Cboe indices, each a 30-day-style implied volatility at a constant maturity
(:data:`INDEX_DAYS`: VIX9D 9 days, VIX 30, VIX3M 93, VIX6M 186).

1. **Total variance** ``w(d) = sigma(d)^2 d / 365`` at each available node, with
   ``w(0) = 0``, is interpolated linearly in days: the forward variance is constant between
   nodes (VIX9D is used when present). Beyond the last node the last forward variance
   continues.
2. **Forward variance** over the 30 days the VRO will measure:
   ``FV(T) = (w(T + 30d) - w(T)) / (30 / 365)``; ``sqrt(FV)`` is the price of forward
   30-day *variance*, expressed in volatility points.
3. **Convexity and risk premium.** A future on volatility is worth less than the square
   root of the forward variance (Jensen). With a log-normal VIX at expiry whose log
   variance grows like an Ornstein-Uhlenbeck variance,
   ``s^2(T) = omega^2 L (1 - exp(-T / L))``, the futures price is
   ``F(T) = sqrt(FV(T)) exp(-s^2(T) / 2)``. It starts at spot forward volatility at
   ``T = 0`` and saturates for long maturities. ``omega`` and ``L`` are calibrated by least
   squares (:func:`calibrate_model`) against the real VX1..VX8 settles from 2009-09-18
   (first VIX3M in the data) to 2014-08-14: ``omega = 1.74`` per sqrt(year) and
   ``L = 0.0193`` years (7 days), so the discount saturates near 3% after two weeks.

Every modelled value carries ``modelled = True``. Root-mean-square error of the model
against the real settles (``tests/real/test_cfe_real.py`` pins these numbers):

============================================ ========== ========== ===========
window (nodes)                               VX1        VX2        30-day CM
============================================ ========== ========== ===========
2009-09-18..2014-08-14, in sample (all)      0.63       0.81       0.58
2012..2014-08, fitted on 2009-09..2011 only  0.52       0.61
2008-01..2009-09-17 (VIX, VIX6M; crisis)     1.50       2.19
============================================ ========== ========== ===========

(vol points; VIX9D joins the nodes from 2011.) The model misses the shape between index
tenors (VX4, around 100 days, sits 0.8 points too high on average) and is too low in
crises, when forward variance from the indices exceeds what futures price.
A negative forward variance (inputs with calendar arbitrage) gives no value (NaN).

Term-structure slope (:func:`term_structure_slope`, METHOD section 3)
--------------------------------------------------------------------
``slope = VX2 / VX1 - 1`` from real futures, else ``VIX3M / VIX - 1``. Modelled futures
are never used for the slope: the index ratio is the documented fallback. Contango when
``slope > 0``, backwardation when ``slope < 0``; :func:`contango_share` is the share of
days in contango.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import least_squares

from vixshield.calendar import ExpiryKind, settlement_datetime, vx_expiries
from vixshield.errors import InvalidInputError
from vixshield.units import DAYS_PER_YEAR, MINUTES_PER_YEAR, NEW_YORK

__all__ = [
    "CONSTANT_MATURITY_DAYS",
    "CURVE_COLUMNS",
    "DEFAULT_DEPTH",
    "INDEX_DAYS",
    "SETTLE_TIME",
    "VRO_WINDOW_DAYS",
    "VixFuturesModel",
    "calibrate_model",
    "constant_maturity",
    "contango_share",
    "curve_wide",
    "model_errors",
    "model_term_structure",
    "term_structure_slope",
    "vx_term_structure",
    "with_fallback",
]

FloatArray = npt.NDArray[np.float64]

SETTLE_TIME: Final = dt.time(16, 15)
"""New York time at which a daily VX settle (and a VIX-index close) is valued."""
DEFAULT_DEPTH: Final = 8
CONSTANT_MATURITY_DAYS: Final = 30
VRO_WINDOW_DAYS: Final = 30
"""The VRO (and VIX) measures 30 calendar days of variance from the settlement day."""
CURVE_COLUMNS: Final = (
    "date",
    "rank",
    "contract",
    "expiry",
    "dte",
    "t_years",
    "settle",
    "modelled",
)
INDEX_DAYS: Final[dict[str, int]] = {"vix9d": 9, "vix": 30, "vix3m": 93, "vix6m": 186}
"""Constant maturity, in calendar days, of each Cboe volatility index."""
_NODE_ORDER: Final = ("vix9d", "vix", "vix3m", "vix6m")


# ------------------------------------------------------------------------------ helpers


def _require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidInputError(f"{name} lacks column(s) {missing}; it has {list(frame.columns)}.")


def _dates(values: pd.Series, name: str) -> pd.Series:
    out = pd.Series(pd.to_datetime(values.to_numpy()), dtype="datetime64[ns]")
    if out.isna().any():
        raise InvalidInputError(f"{name} has missing dates; drop those rows first.")
    return out


def _t_years(dates: pd.Series, expiries: pd.Series) -> FloatArray:
    """Years from ``SETTLE_TIME`` on each date to the VX settlement (09:30 ET) of each expiry.

    Real elapsed minutes / 525,600, as :func:`vixshield.calendar.t_years`, vectorised. The
    settlement instant of each distinct expiry comes from the calendar, which also refuses a
    date that is not a VX expiry.
    """
    if len(dates) == 0:
        return np.empty(0, dtype=np.float64)
    distinct = pd.DatetimeIndex(expiries.unique()).as_unit("ns")
    instants = np.array(
        [
            settlement_datetime(e.date(), ExpiryKind.VIX_AM).astimezone(UTC).replace(tzinfo=None)
            for e in distinct
        ],
        dtype="datetime64[ns]",
    )
    settle_at = instants[distinct.get_indexer(pd.DatetimeIndex(expiries))]
    valued_at = (
        (dates + pd.Timedelta(hours=SETTLE_TIME.hour, minutes=SETTLE_TIME.minute))
        .dt.tz_localize(NEW_YORK.key)
        .dt.tz_convert("UTC")
        .dt.tz_localize(None)
        .to_numpy(dtype="datetime64[ns]")
    )
    minutes = (settle_at - valued_at) / np.timedelta64(1, "m")
    return np.asarray(minutes / MINUTES_PER_YEAR, dtype=np.float64)


def _contract_labels(expiries: pd.Series) -> pd.Series:
    # The expiry always falls inside the contract month (vixshield.calendar).
    labels: pd.Series = expiries.dt.strftime("VX %Y-%m")
    return labels


def _finish(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.sort_values(["date", "rank"], kind="stable").reset_index(drop=True)
    out = out.astype(
        {
            "date": "datetime64[ns]",
            "rank": "int64",
            "contract": "str",
            "expiry": "datetime64[ns]",
            "dte": "int64",
            "t_years": "float64",
            "settle": "float64",
            "modelled": "bool",
        }
    )
    return out.loc[:, list(CURVE_COLUMNS)]


def _check_depth(depth: int) -> None:
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise InvalidInputError(f"depth must be an int >= 1, got {depth!r}")


# ----------------------------------------------------------------------- futures curve


def vx_term_structure(futures: pd.DataFrame, *, depth: int = DEFAULT_DEPTH) -> pd.DataFrame:
    """The daily VX1..VX``depth`` curve from futures settles, as a long frame.

    Parameters
    ----------
    futures
        The canonical CFE frame (:func:`vixshield.data.cfe.load_cfe_folder`): at least
        ``date``, ``expiry`` and ``settle``; ``modelled`` is carried when present.
    depth
        How many contracts per date (8 by default).

    Returns
    -------
    pandas.DataFrame
        The long curve frame (module docstring). Ranks count the contracts listed on the
        date (first to last row of each) whose expiry is strictly after it; a listed
        contract without a row that day keeps its rank with ``settle`` NaN.

    Raises
    ------
    InvalidInputError
        If a column is missing, ``depth`` is not a positive int, or a contract has two rows
        on one date.
    """
    _check_depth(depth)
    _require(futures, ("date", "expiry", "settle"), "futures")
    date = _dates(futures["date"], "futures.date")
    expiry = _dates(futures["expiry"], "futures.expiry")
    frame = pd.DataFrame(
        {
            "date": date,
            "expiry": expiry,
            "settle": futures["settle"].to_numpy(dtype=np.float64),
            "modelled": (
                futures["modelled"].to_numpy(dtype=bool)
                if "modelled" in futures.columns
                else np.zeros(len(futures), dtype=bool)
            ),
        }
    )
    if frame.duplicated(["date", "expiry"]).any():
        first = frame.loc[frame.duplicated(["date", "expiry"])].iloc[0]
        raise InvalidInputError(
            f"futures has two rows for the contract expiring {first['expiry']:%Y-%m-%d} on "
            f"{first['date']:%Y-%m-%d}; keep one row per contract and date."
        )
    # Every (date, listed contract) pair, so that a missing row leaves a hole, not a shift.
    days = np.unique(frame["date"].to_numpy())
    span = frame.groupby("expiry")["date"].agg(["min", "max"])
    lo = np.searchsorted(days, span["min"].to_numpy(), side="left")
    hi = np.searchsorted(days, span["max"].to_numpy(), side="right")
    counts = hi - lo
    starts = np.repeat(lo, counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    grid = pd.DataFrame(
        {
            "date": days[starts + offsets],
            "expiry": np.repeat(span.index.to_numpy(), counts),
        }
    )
    grid = grid.loc[grid["expiry"] > grid["date"]]
    grid = grid.merge(frame, on=["date", "expiry"], how="left", validate="one_to_one")
    grid = grid.sort_values(["date", "expiry"], kind="stable").reset_index(drop=True)
    grid["rank"] = grid.groupby("date").cumcount() + 1
    grid = grid.loc[grid["rank"] <= depth].reset_index(drop=True)
    grid["modelled"] = grid["modelled"].fillna(False).astype(bool)
    grid["contract"] = _contract_labels(grid["expiry"])
    grid["dte"] = (grid["expiry"] - grid["date"]).dt.days
    grid["t_years"] = _t_years(grid["date"], grid["expiry"])
    return _finish(grid)


def curve_wide(term: pd.DataFrame) -> pd.DataFrame:
    """One row per date: ``vx{i}_settle``, ``_expiry``, ``_dte``, ``_t_years``, ``_modelled``.

    ``term`` is a long curve frame. Ranks missing on a date are NaN (``NaT`` for the expiry,
    ``<NA>`` for the nullable ``dte`` and ``modelled``).
    """
    _require(term, CURVE_COLUMNS, "term")
    fields = ("settle", "expiry", "dte", "t_years", "modelled")
    wide = term.pivot(index="date", columns="rank", values=list(fields))  # noqa: PD010
    ranks = sorted(term["rank"].unique())
    out = pd.DataFrame(index=wide.index)
    for r in ranks:
        for name in fields:
            out[f"vx{r}_{name}"] = wide[(name, r)]
        out[f"vx{r}_dte"] = out[f"vx{r}_dte"].astype("Int64")
        out[f"vx{r}_modelled"] = out[f"vx{r}_modelled"].astype("boolean")
        out[f"vx{r}_settle"] = out[f"vx{r}_settle"].astype("float64")
        out[f"vx{r}_t_years"] = out[f"vx{r}_t_years"].astype("float64")
        out[f"vx{r}_expiry"] = out[f"vx{r}_expiry"].astype("datetime64[ns]")
    return out.reset_index()


def constant_maturity(term: pd.DataFrame, *, days: int = CONSTANT_MATURITY_DAYS) -> pd.DataFrame:
    """The constant-maturity VX value ``days`` calendar days ahead, one row per date.

    Linear in ``t_years`` between the adjacent ranks bracketing ``days / 365`` (see the
    module docstring); VX1 itself when VX1 is already beyond the target.

    Returns
    -------
    pandas.DataFrame
        ``date``, ``settle``, ``near_rank`` (the shorter contract of the pair),
        ``weight_near`` (its weight, in [0, 1]) and ``modelled``. A date whose needed
        settles are missing gets ``settle`` NaN.
    """
    _require(term, CURVE_COLUMNS, "term")
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise InvalidInputError(f"days must be an int >= 1, got {days!r}")
    target = days / DAYS_PER_YEAR
    columns = ["t_years", "settle", "modelled"]
    wide = term.pivot(index="date", columns="rank", values=columns)  # noqa: PD010
    t = wide["t_years"].to_numpy(dtype=np.float64)
    f = wide["settle"].to_numpy(dtype=np.float64)
    mod = wide["modelled"].fillna(False).to_numpy(dtype=bool)
    n, depth = map(int, t.shape)
    beyond = np.where(np.isnan(t), True, t >= target)  # a missing rank cannot bracket
    far = np.where(beyond.any(axis=1), beyond.argmax(axis=1), depth - 1)
    near = np.maximum(far - 1, 0)
    rows = np.arange(n)
    t_near, t_far = t[rows, near], t[rows, far]
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = np.where(far == 0, 1.0, (t_far - target) / (t_far - t_near))
    weight = np.clip(weight, 0.0, 1.0)
    f_near, f_far = f[rows, near], f[rows, far]
    value = np.where(weight == 1.0, f_near, weight * f_near + (1.0 - weight) * f_far)
    modelled = mod[rows, near] | ((weight < 1.0) & mod[rows, far])
    return pd.DataFrame(
        {
            "date": wide.index.to_numpy(),
            "settle": value,
            "near_rank": wide["t_years"].columns.to_numpy()[near].astype(np.int64),
            "weight_near": weight,
            "modelled": modelled,
        }
    )


# ----------------------------------------------------------------------- fallback model


def _indices(indices: pd.DataFrame, *, history: bool = True) -> pd.DataFrame:
    """Validated index frame: ``date`` and the four index columns (NaN where absent).

    A ``history`` has strictly increasing dates; the model's row-wise inputs need no date.
    """
    _require(indices, ("date", "vix") if history else ("vix",), "indices")
    out = pd.DataFrame(
        {"date": _dates(indices["date"], "indices.date")}
        if history
        else {"date": pd.Series(pd.NaT, index=range(len(indices)), dtype="datetime64[ns]")}
    )
    for name in _NODE_ORDER:
        col = (
            indices[name].to_numpy(dtype=np.float64)
            if name in indices.columns
            else np.full(len(indices), np.nan)
        )
        bad = ~np.isnan(col) & ~(col > 0)
        if bad.any() or np.isinf(col).any():
            i = int(np.flatnonzero(bad | np.isinf(col))[0])
            raise InvalidInputError(
                f"indices.{name} must be > 0 and finite, or NaN when missing; got {col[i]!r} "
                f"in row {i} (date {out['date'].iloc[i]})."
            )
        out[name] = col
    if history and (not out["date"].is_monotonic_increasing or out["date"].duplicated().any()):
        raise InvalidInputError("indices.date must be strictly increasing (one row per date).")
    return out


@dataclass(frozen=True, slots=True)
class VixFuturesModel:
    """VX futures price from the VIX index term structure (module docstring, "Fallback model").

    ``F(T) = sqrt(FV(T)) * exp(-s2(T) / 2)`` with ``s2(T) = omega^2 L (1 - exp(-T / L))``,
    where ``FV(T)`` is the forward variance over ``[T, T + 30 days]`` from the indices'
    total variance, interpolated linearly in time.

    Attributes
    ----------
    omega
        Volatility of log VIX at short horizons, per sqrt(year).
    decay_years
        ``L``: the horizon over which the log variance saturates, in years.
    """

    omega: float = 1.74
    decay_years: float = 0.0193

    def __post_init__(self) -> None:
        for name in ("omega", "decay_years"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0 if name == "omega" else value > 0):
                raise InvalidInputError(f"VixFuturesModel.{name} out of range: {value!r}")

    def log_variance(self, t_years: FloatArray) -> FloatArray:
        """``s2(T) = omega^2 L (1 - exp(-T / L))``: variance of log VIX at the expiry."""
        t = np.maximum(np.asarray(t_years, dtype=np.float64), 0.0)
        decay = self.decay_years
        return np.asarray(self.omega**2 * decay * -np.expm1(-t / decay), dtype=np.float64)

    def forward_vol(self, indices: pd.DataFrame, t_years: FloatArray) -> FloatArray:
        """``sqrt(FV(T))``, in vol points, row by row: row i of ``indices`` with ``t_years[i]``.

        ``indices`` has ``vix`` and optionally ``vix9d``, ``vix3m``, ``vix6m`` (NaN where
        absent; a row uses the nodes it has). NaN where VIX is missing or the forward
        variance is not positive.
        """
        frame = _indices(indices, history=False)
        t = np.asarray(t_years, dtype=np.float64)
        if t.shape != (len(frame),):
            raise InvalidInputError(
                f"t_years must have one value per indices row ({len(frame)}), got {t.shape}"
            )
        out = np.full(len(frame), np.nan)
        window = VRO_WINDOW_DAYS / DAYS_PER_YEAR
        vols = frame.loc[:, list(_NODE_ORDER)].to_numpy(dtype=np.float64)
        present = ~np.isnan(vols)
        # One vectorised pass per pattern of available nodes (at most 8 patterns).
        codes = present @ (1 << np.arange(len(_NODE_ORDER)))
        for code in np.unique(codes):
            pattern = (int(code) >> np.arange(len(_NODE_ORDER))) & 1 == 1
            rows = np.flatnonzero(codes == code)
            if not pattern[1]:  # no VIX: no value
                continue
            node_days = np.array(
                [INDEX_DAYS[n] for n, p in zip(_NODE_ORDER, pattern, strict=True) if p]
            )
            taus = np.concatenate(([0.0], node_days / DAYS_PER_YEAR))
            sig = vols[np.ix_(rows, np.flatnonzero(pattern))]
            w = np.concatenate((np.zeros((rows.size, 1)), sig**2 * taus[1:]), axis=1)
            fv = _interp_rows(t[rows] + window, taus, w) - _interp_rows(t[rows], taus, w)
            fv = fv / window
            with np.errstate(invalid="ignore"):
                out[rows] = np.where(fv > 0, np.sqrt(np.where(fv > 0, fv, 1.0)), np.nan)
        return out

    def price(self, indices: pd.DataFrame, t_years: FloatArray) -> FloatArray:
        """Modelled VX settle, in VIX points, for each row of ``indices`` at ``t_years``."""
        fwd = self.forward_vol(indices, t_years)
        return np.asarray(fwd * np.exp(-0.5 * self.log_variance(t_years)), dtype=np.float64)


def _interp_rows(t: FloatArray, taus: FloatArray, w: FloatArray) -> FloatArray:
    """Row-wise linear interpolation of ``w[i, :]`` (knots ``taus``) at ``t[i]``.

    Beyond the last knot the last segment continues (constant forward variance).
    """
    k = np.clip(np.searchsorted(taus, t, side="right") - 1, 0, len(taus) - 2)
    rows = np.arange(len(t))
    t0, t1 = taus[k], taus[k + 1]
    w0, w1 = w[rows, k], w[rows, k + 1]
    return np.asarray(w0 + (w1 - w0) * (t - t0) / (t1 - t0), dtype=np.float64)


def model_term_structure(
    indices: pd.DataFrame,
    *,
    model: VixFuturesModel | None = None,
    depth: int = DEFAULT_DEPTH,
) -> pd.DataFrame:
    """A modelled VX1..VX``depth`` curve for every date of ``indices`` (long frame).

    Expiries are the calendar's next ``depth`` monthly VX expiries strictly after each date
    (:func:`vixshield.calendar.vx_expiries`); settles come from ``model`` (default
    :class:`VixFuturesModel`). Every row has ``modelled = True``. Dates without a VIX value
    are left out.
    """
    _check_depth(depth)
    model = model or VixFuturesModel()
    frame = _indices(indices)
    frame = frame.loc[frame["vix"].notna()].reset_index(drop=True)
    if frame.empty:
        return _finish(pd.DataFrame({c: [] for c in CURVE_COLUMNS}))
    first = frame["date"].min().date()
    last = (frame["date"].max() + pd.Timedelta(days=31 * (depth + 2))).date()
    table = pd.DatetimeIndex(vx_expiries(first, last)).as_unit("ns").to_numpy()
    start = np.searchsorted(table, frame["date"].to_numpy(), side="right")
    rep = np.repeat(np.arange(len(frame)), depth)
    rank = np.tile(np.arange(1, depth + 1), len(frame))
    expiry = pd.Series(table[start[rep] + rank - 1], dtype="datetime64[ns]")
    rows = frame.iloc[rep].reset_index(drop=True)
    out = pd.DataFrame({"date": rows["date"], "rank": rank, "expiry": expiry})
    out["contract"] = _contract_labels(out["expiry"])
    out["dte"] = (out["expiry"] - out["date"]).dt.days
    out["t_years"] = _t_years(out["date"], out["expiry"])
    out["settle"] = model.price(rows, out["t_years"].to_numpy())
    out["modelled"] = True
    return _finish(out)


def with_fallback(
    term: pd.DataFrame,
    indices: pd.DataFrame,
    *,
    model: VixFuturesModel | None = None,
    depth: int = DEFAULT_DEPTH,
) -> pd.DataFrame:
    """Real curve where there are futures, the modelled curve on index dates with none.

    A date keeps its real curve if ``term`` has any row for it, even when some ranks are
    missing: real gaps are not filled with model values. Dates of ``indices`` that ``term``
    lacks get :func:`model_term_structure` rows (``modelled = True``).
    """
    _require(term, CURVE_COLUMNS, "term")
    frame = _indices(indices)
    have = pd.DatetimeIndex(term["date"].unique())
    missing = frame.loc[~frame["date"].isin(have)]
    modelled = model_term_structure(missing, model=model, depth=depth)
    real = term.loc[term["rank"] <= depth]
    parts = [p for p in (real, modelled) if not p.empty]
    if not parts:
        return _finish(pd.DataFrame({c: [] for c in CURVE_COLUMNS}))
    return _finish(pd.concat(parts, ignore_index=True))


def _model_inputs(
    term: pd.DataFrame, indices: pd.DataFrame, ranks: Sequence[int]
) -> tuple[pd.DataFrame, FloatArray, FloatArray, npt.NDArray[np.int64]]:
    real = term.loc[~term["modelled"] & term["settle"].notna() & term["rank"].isin(ranks)]
    joined = real.merge(_indices(indices), on="date", how="inner", validate="many_to_one")
    joined = joined.loc[joined["vix"].notna()].reset_index(drop=True)
    return (
        joined,
        joined["t_years"].to_numpy(dtype=np.float64),
        joined["settle"].to_numpy(dtype=np.float64),
        joined["rank"].to_numpy(dtype=np.int64),
    )


def calibrate_model(
    term: pd.DataFrame,
    indices: pd.DataFrame,
    *,
    ranks: Sequence[int] = tuple(range(1, DEFAULT_DEPTH + 1)),
    require: Sequence[str] = ("vix3m", "vix6m"),
) -> VixFuturesModel:
    """Fit ``omega`` and ``decay_years`` by least squares against real settles.

    Uses the real (not modelled) settles of ``ranks`` on the dates where ``indices`` has
    every column in ``require``: the model is calibrated on the node set it will run with.
    Restrict ``term`` and ``indices`` to the calibration window before calling.

    Raises
    ------
    InvalidInputError
        If fewer than 10 observations overlap.
    """
    frame = _indices(indices)
    frame = frame.loc[frame.loc[:, list(require)].notna().all(axis=1)]
    joined, t, y, _ = _model_inputs(term, frame, ranks)
    if len(joined) < 10:
        raise InvalidInputError(
            f"calibrate_model needs at least 10 real settles overlapping the indices, got "
            f"{len(joined)}; check the dates of term and indices."
        )
    fwd = VixFuturesModel().forward_vol(joined, t)
    ok = np.isfinite(fwd)

    def residuals(p: FloatArray) -> FloatArray:
        m = VixFuturesModel(omega=float(p[0]), decay_years=float(p[1]))
        return np.asarray(fwd[ok] * np.exp(-0.5 * m.log_variance(t[ok])) - y[ok])

    fit = least_squares(residuals, x0=[1.0, 0.1], bounds=([0.0, 1e-4], [10.0, 10.0]))
    return VixFuturesModel(omega=float(fit.x[0]), decay_years=float(fit.x[1]))


def model_errors(
    term: pd.DataFrame,
    indices: pd.DataFrame,
    *,
    model: VixFuturesModel | None = None,
    ranks: Sequence[int] = (1, 2),
) -> pd.DataFrame:
    """Model minus real settle, per rank: ``rank``, ``n``, ``rmse``, ``bias``, ``max_abs``.

    Compares on every date where ``term`` has a real settle and ``indices`` has VIX (with
    whatever other nodes it has); vol points.
    """
    model = model or VixFuturesModel()
    joined, t, y, rank = _model_inputs(term, indices, ranks)
    err = model.price(joined, t) - y
    out = []
    for r in ranks:
        e = err[(rank == r) & np.isfinite(err)]
        out.append(
            {
                "rank": r,
                "n": int(e.size),
                "rmse": float(np.sqrt(np.mean(e**2))) if e.size else np.nan,
                "bias": float(np.mean(e)) if e.size else np.nan,
                "max_abs": float(np.max(np.abs(e))) if e.size else np.nan,
            }
        )
    return pd.DataFrame(out)


# ------------------------------------------------------------------------------ slope


def term_structure_slope(term: pd.DataFrame, indices: pd.DataFrame | None = None) -> pd.DataFrame:
    """METHOD section 3: ``VX2 / VX1 - 1`` from real futures, else ``VIX3M / VIX - 1``.

    Returns
    -------
    pandas.DataFrame
        One row per date of ``term`` or ``indices``: ``date``, ``slope``, ``source``
        (``"vx"``, ``"vix3m/vix"`` or ``"none"``) and ``backwardation`` (``slope < 0``).
        Modelled futures are never used.
    """
    _require(term, CURVE_COLUMNS, "term")
    real = term.loc[~term["modelled"] & term["rank"].isin((1, 2))]
    # pivot (not pivot_table) refuses duplicate (date, rank) rows instead of averaging them.
    wide = real.pivot(index="date", columns="rank", values="settle")  # noqa: PD010
    wide = wide.reindex(columns=[1, 2])
    vx = (wide[2] / wide[1] - 1.0).rename("vx")
    dates = pd.DatetimeIndex(term["date"].unique())
    if indices is not None:
        frame = _indices(indices).set_index("date")
        idx = (frame["vix3m"] / frame["vix"] - 1.0).rename("idx")
        dates = dates.union(pd.DatetimeIndex(frame.index))
    else:
        idx = pd.Series(np.nan, index=dates, name="idx", dtype="float64")
    both = pd.DataFrame(index=dates.sort_values()).join(vx).join(idx)
    use_vx = both["vx"].notna()
    slope = both["vx"].where(use_vx, both["idx"])
    source = np.where(use_vx, "vx", np.where(both["idx"].notna(), "vix3m/vix", "none"))
    return pd.DataFrame(
        {
            "date": both.index.to_numpy(),
            "slope": slope.to_numpy(dtype=np.float64),
            "source": source,
            "backwardation": (slope < 0).to_numpy(),
        }
    )


def contango_share(slope: pd.DataFrame | pd.Series) -> float:
    """Share of dates with ``slope > 0`` among dates with a slope (NaN when there are none)."""
    values = slope["slope"] if isinstance(slope, pd.DataFrame) else slope
    s = values.dropna()
    return float((s > 0).mean()) if len(s) else float("nan")
