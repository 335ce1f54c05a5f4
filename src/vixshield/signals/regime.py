"""Market regime classifier (METHOD section 4): five ordered regimes from a rule table.

Every session falls in one of five ordered regimes, :class:`Regime`::

    calm (0) < normal (1) < elevated (2) < stressed (3) < crisis (4)

The rules live in the strategy config as :class:`RegimeParams`, a frozen, closed pydantic
model; nothing here is a constant in code. :func:`classify` applies them to a frame of daily
inputs, vectorised over sessions, and returns the regime with its **drivers**: the
human-readable reasons that put each day where it is, so every signal can explain itself.

Rule table (defaults)
---------------------
Rules apply in this order; each has a name (its config key):

=================== ============================================ ==============================
rule                condition                                    effect
=================== ============================================ ==============================
``vix_cuts``        VIX < 15                                     base ``calm``
                    15 <= VIX < 20                               base ``normal``
                    20 <= VIX < 30                               base ``elevated``
                    30 <= VIX < 40                               base ``stressed``
                    VIX >= 40                                    base ``crisis``
``backwardation``   term slope < 0 (``VX2/VX1 - 1``, else        lift 1 step
                    ``VIX3M/VIX - 1``)
``realised_vol``    off by default; when on:                     lift 1 step
                    ``VIX - 100 * RV20 < 0`` vol points
                    (realised volatility above implied)
(cap)               lifts add up, capped at ``crisis``           at most ``crisis``
``persistence``     off by default (``step_down_after = 1``);    regime = highest rule level of
                    with N > 1                                   the last N sessions
=================== ============================================ ==============================

* **Boundaries.** A cut point belongs to the regime above it: ``VIX >= cut`` (VIX exactly 15
  is ``normal``, exactly 40 is ``crisis``). The cut points must be strictly increasing.
* **Backwardation** is strict: a slope of exactly the threshold (default 0) does not lift.
  Its slope is the input ``term_slope`` (METHOD section 3: ``VX2/VX1 - 1`` from real
  futures); where that is NaN and a ``vix3m`` column is given, ``VIX3M/VIX - 1`` is used, as
  METHOD prescribes. Where neither exists (before 2004 in the real data) the rule is not
  applied and a driver says so; the regime then rests on VIX alone.
* **Lifts** add their steps (backwardation first, then realised volatility) and stop at
  ``crisis``: a ``crisis`` day in backwardation stays ``crisis`` and its driver says so.
* **Persistence** (hysteresis against flapping). With ``step_down_after = N``, the regime is
  the highest rule level among the last N sessions with a known VIX: it rises at once (risk
  first) but steps down only after N sessions in a row below it. N = 1 (the default) turns
  it off, so the regime is a function of the day's inputs alone. It is causal: it reads only
  sessions up to the day.
* **Missing VIX.** The regime is unknown (``regime`` NaN, ``regime_level`` <NA>) and the only
  driver says so. It is never guessed, carried forward or filled from another index.

Inputs
------
A frame indexed by session (strictly increasing, unique), with columns

=================== ========== ==========================================================
column              required   meaning
=================== ========== ==========================================================
``vix``             yes        VIX close in vol points (> 0, NaN when missing)
``term_slope``      see note   ``VX2/VX1 - 1`` else ``VIX3M/VIX - 1`` (NaN when none)
``term_source``     no         where the slope came from: ``"vx"``, ``"vix3m/vix"``,
                               ``"none"`` (:func:`vixshield.data.vx_curve.term_structure_slope`);
                               or ``term_slope_source``: ``"futures"``, ``"indices"``,
                               ``"model"``, ``"none"`` (:mod:`vixshield.signals.indicators`,
                               whose frame :func:`classify` takes as it is)
``vix3m``           no         VIX3M close; fills the slope where ``term_slope`` is NaN
``rv20_annual``     if rule on 20-day realised volatility, annualised decimal (0.20 = 20%)
``vrp_volpts``      no         ``VIX - 100 * RV20``; used instead of ``rv20_annual`` if given
=================== ========== ==========================================================

Note: with the backwardation rule on, ``term_slope`` or ``vix3m`` must be a column.

Output
------
:func:`classify` returns a frame on the same index:

=================== ============== ======================================================
column              dtype          meaning
=================== ============== ======================================================
``regime``          category       regime name (ordered categories), NaN when unknown
``regime_level``    Int8           0..4, <NA> when unknown
``base_level``      Int8           level from the VIX cut points alone
``lift_steps``      Int8           steps added by the lifts, after the ``crisis`` cap
``rule_level``      Int8           ``base_level + lift_steps``: the level before persistence
``term_slope``      float64        the slope the backwardation rule read (NaN when none)
``term_source``     str            as given, else ``"input"``; ``"vix3m/vix"`` where
                                   filled from ``vix3m``; ``"none"`` where no slope
``backwardation``   boolean        slope below the threshold, <NA> when no slope
``missing``         object         inputs an enabled rule needed but lacked (tuple of
                                   ``"vix"``, ``"term_slope"``, ``"rv20"``)
``drivers``         object         tuple of driver strings, in rule order
=================== ============== ======================================================

Drivers read, for example::

    VIX 32.10 ≥ 30 (stressed cut) and < 40 (crisis cut): base stressed
    backwardation: VX2/VX1-1 = -0.042 < 0 lifts 1 step (stressed -> crisis)
    no backwardation: VIX3M/VIX-1 = +0.085 ≥ 0, no lift
    term slope unavailable (no real VX futures, no VIX3M): backwardation rule not applied
    held at stressed: stressed on 2008-12-01, within the last 3 sessions (persistence: ...)
    VIX missing: regime unknown (never guessed)

:func:`explain` returns a day's drivers as a list and :func:`snapshot` a JSON-able record of
one session for the daily signal; :meth:`RegimeParams.table` lists the rules as named rows.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from enum import IntEnum
from typing import Any, Final, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from vixshield.errors import InvalidInputError

__all__ = [
    "REGIME_DTYPE",
    "BackwardationRule",
    "PersistenceRule",
    "RealisedVolRule",
    "Regime",
    "RegimeParams",
    "RuleRow",
    "VixCuts",
    "classify",
    "explain",
    "regime_levels",
    "snapshot",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class Regime(IntEnum):
    """The five ordered regimes; the integer value is the level (0 = calm ... 4 = crisis).

    ``str(regime)`` and f-strings give the lower-case name (``"stressed"``), the form used in
    frames, JSON and the config; comparisons use the level (``Regime.CRISIS > Regime.CALM``).
    """

    CALM = 0
    NORMAL = 1
    ELEVATED = 2
    STRESSED = 3
    CRISIS = 4

    @property
    def label(self) -> str:
        """The lower-case name, e.g. ``"elevated"``."""
        return self.name.lower()

    def __str__(self) -> str:
        return self.label

    def __format__(self, format_spec: str) -> str:
        return format(self.label, format_spec)

    @classmethod
    def parse(cls, text: str) -> Regime:
        """The regime named ``text`` (case-insensitive).

        Raises
        ------
        InvalidInputError
            When ``text`` names no regime.
        """
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(r.label for r in cls)
            raise InvalidInputError(f"unknown regime {text!r}; expected one of {names}.") from None


LABELS: Final = tuple(r.label for r in Regime)
TOP: Final = int(Regime.CRISIS)
REGIME_DTYPE: Final = pd.CategoricalDtype(list(LABELS), ordered=True)
"""Ordered categorical dtype of the ``regime`` column: calm < normal < ... < crisis."""

_SOURCE_LABELS: Final = {
    # vixshield.data.vx_curve.term_structure_slope
    "vx": "VX2/VX1-1",
    "vix3m/vix": "VIX3M/VIX-1",
    # vixshield.signals.indicators.compute_indicators
    "futures": "VX2/VX1-1",
    "indices": "VIX3M/VIX-1",
    "model": "modelled VX2/VX1-1",
    # no source column given
    "input": "term slope",
}
_SOURCE_COLUMNS: Final = ("term_source", "term_slope_source")
_CUT_NAMES: Final = ("normal", "elevated", "stressed", "crisis")


# ------------------------------------------------------------------------------ config


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VixCuts(_Frozen):
    """Rule ``vix_cuts``: the VIX level (vol points) at which each regime above ``calm`` starts.

    A day with ``VIX >= crisis`` is ``crisis``, else ``VIX >= stressed`` is ``stressed``, and
    so on; below ``normal`` it is ``calm``. The four cuts must be strictly increasing.
    """

    normal: float = Field(default=15.0, gt=0.0, le=200.0, allow_inf_nan=False)
    elevated: float = Field(default=20.0, gt=0.0, le=200.0, allow_inf_nan=False)
    stressed: float = Field(default=30.0, gt=0.0, le=200.0, allow_inf_nan=False)
    crisis: float = Field(default=40.0, gt=0.0, le=200.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _strictly_increasing(self) -> Self:
        values = self.as_tuple()
        for (lo_name, lo), (hi_name, hi) in zip(
            zip(_CUT_NAMES, values, strict=True),
            zip(_CUT_NAMES[1:], values[1:], strict=True),
            strict=False,
        ):
            if not hi > lo:
                msg = (
                    f"vix_cuts.{hi_name} ({hi:g}) must be greater than vix_cuts.{lo_name} "
                    f"({lo:g}): the VIX cut points normal < elevated < stressed < crisis "
                    "must be strictly increasing."
                )
                raise ValueError(msg)
        return self

    def as_tuple(self) -> tuple[float, float, float, float]:
        """The cuts in order ``(normal, elevated, stressed, crisis)``."""
        return (self.normal, self.elevated, self.stressed, self.crisis)


class BackwardationRule(_Frozen):
    """Rule ``backwardation``: a term slope strictly below ``slope_below`` lifts ``steps``.

    The slope is ``VX2/VX1 - 1`` (else ``VIX3M/VIX - 1``); METHOD section 3 calls the curve
    backwardated when it is below 0.
    """

    enabled: bool = True
    steps: int = Field(default=1, ge=1, le=TOP)
    slope_below: float = Field(default=0.0, ge=-0.5, le=0.5, allow_inf_nan=False)


class RealisedVolRule(_Frozen):
    """Rule ``realised_vol`` (off by default): implied volatility below realised lifts ``steps``.

    Condition: the variance risk premium ``VIX - 100 * RV20`` (METHOD section 3) is strictly
    below ``vrp_below_volpts``. A negative premium means the index has been moving more than
    its options price, which happens in and just after a shock.
    """

    enabled: bool = False
    steps: int = Field(default=1, ge=1, le=TOP)
    vrp_below_volpts: float = Field(default=0.0, ge=-50.0, le=50.0, allow_inf_nan=False)


class PersistenceRule(_Frozen):
    """Rule ``persistence``: step down only after ``step_down_after`` sessions below.

    The regime is the highest rule level of the last ``step_down_after`` sessions (with a
    known VIX): rises take effect at once, falls only once the higher level has left the
    window. ``1`` (the default) turns the rule off.
    """

    step_down_after: int = Field(default=1, ge=1, le=63)


class RuleRow(_Frozen):
    """One row of the documented rule table (:meth:`RegimeParams.table`)."""

    name: str
    condition: str
    effect: str


class RegimeParams(_Frozen):
    """The regime rule table (METHOD section 4); see the module docstring.

    In TOML::

        [regime.vix_cuts]
        normal = 15.0
        elevated = 20.0
        stressed = 30.0
        crisis = 40.0

        [regime.backwardation]
        enabled = true
        steps = 1
        slope_below = 0.0

        [regime.realised_vol]
        enabled = false

        [regime.persistence]
        step_down_after = 1
    """

    vix_cuts: VixCuts = VixCuts()
    backwardation: BackwardationRule = BackwardationRule()
    realised_vol: RealisedVolRule = RealisedVolRule()
    persistence: PersistenceRule = PersistenceRule()

    def table(self) -> tuple[RuleRow, ...]:
        """The rules as named rows, in the order they apply (for reports and JSON)."""
        c = self.vix_cuts
        rows = [RuleRow(name="vix_cuts", condition=f"VIX < {c.normal:g}", effect="base calm")]
        cuts = c.as_tuple()
        for k, name in enumerate(_CUT_NAMES):
            cond = f"VIX ≥ {cuts[k]:g}" + (f" and < {cuts[k + 1]:g}" if k < 3 else "")
            rows.append(RuleRow(name="vix_cuts", condition=cond, effect=f"base {name}"))
        b = self.backwardation
        rows.append(
            RuleRow(
                name="backwardation",
                condition=(
                    f"term slope (VX2/VX1-1, else VIX3M/VIX-1) < {b.slope_below:g}"
                    if b.enabled
                    else "off"
                ),
                effect=f"lift {b.steps} step(s)" if b.enabled else "none",
            )
        )
        r = self.realised_vol
        rows.append(
            RuleRow(
                name="realised_vol",
                condition=f"VIX - 100*RV20 < {r.vrp_below_volpts:g} vol pts"
                if r.enabled
                else "off",
                effect=f"lift {r.steps} step(s)" if r.enabled else "none",
            )
        )
        rows.append(RuleRow(name="cap", condition="always", effect="at most crisis"))
        n = self.persistence.step_down_after
        rows.append(
            RuleRow(
                name="persistence",
                condition=f"step_down_after = {n}" if n > 1 else "off (step_down_after = 1)",
                effect=f"highest rule level of the last {n} sessions" if n > 1 else "none",
            )
        )
        return tuple(rows)


# ------------------------------------------------------------------------------ inputs


def _float_column(inputs: pd.DataFrame, name: str, *, positive: bool) -> FloatArray | None:
    if name not in inputs.columns:
        return None
    try:
        values = pd.to_numeric(inputs[name], errors="raise").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"inputs.{name} must be numeric (NaN where missing): {exc}"
        ) from None
    bad = np.isinf(values) | (~np.isnan(values) & ~(values > 0) if positive else False)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        need = "> 0 and finite" if positive else "finite"
        raise InvalidInputError(
            f"inputs.{name} must be {need}, or NaN when missing; got {values[i]!r} on "
            f"{inputs.index[i]!r}."
        )
    return values


def _check_index(index: pd.Index[Any]) -> None:
    if not index.is_unique or not index.is_monotonic_increasing:
        raise InvalidInputError(
            "inputs must be indexed by session, strictly increasing with one row per "
            "session: sort the frame and drop duplicate sessions."
        )


def _slope(
    inputs: pd.DataFrame, vix: FloatArray, *, required: bool
) -> tuple[FloatArray, npt.NDArray[np.object_]]:
    n = len(inputs)
    slope = _float_column(inputs, "term_slope", positive=False)
    vix3m = _float_column(inputs, "vix3m", positive=True)
    if slope is None and vix3m is None:
        if required:
            raise InvalidInputError(
                "inputs need a 'term_slope' column (VX2/VX1 - 1, else VIX3M/VIX - 1; NaN "
                "where unknown) or a 'vix3m' column for the backwardation rule; or turn "
                "the rule off (backwardation.enabled = false)."
            )
        return np.full(n, np.nan), np.full(n, "none", dtype=object)
    if slope is None:
        slope = np.full(n, np.nan)
    given = next((c for c in _SOURCE_COLUMNS if c in inputs.columns), None)
    if given is not None:
        source = inputs[given].astype(object).to_numpy(dtype=object, na_value="none")
    else:
        source = np.full(n, "input", dtype=object)
    if vix3m is not None:
        fill = np.isnan(slope) & ~np.isnan(vix3m) & ~np.isnan(vix)
        slope = np.where(fill, vix3m / np.where(fill, vix, 1.0) - 1.0, slope)
        source = np.where(fill, "vix3m/vix", source)
    source = np.where(np.isnan(slope), "none", source)
    return slope, source


def _vrp(inputs: pd.DataFrame, vix: FloatArray, *, required: bool) -> FloatArray:
    given = _float_column(inputs, "vrp_volpts", positive=False)
    if given is not None:
        return given
    rv = _float_column(inputs, "rv20_annual", positive=False)
    if rv is None:
        if required:
            raise InvalidInputError(
                "the realised_vol rule is on: inputs need an 'rv20_annual' column (20-day "
                "realised volatility, annualised decimal) or a 'vrp_volpts' column "
                "(VIX - 100 * RV20); or turn the rule off (realised_vol.enabled = false)."
            )
        return np.full(len(inputs), np.nan)
    return vix - 100.0 * rv


# ------------------------------------------------------------------------------ classify


def _levels(
    vix: FloatArray,
    slope: FloatArray,
    vrp: FloatArray,
    params: RegimeParams,
) -> tuple[IntArray, BoolArray, BoolArray, IntArray]:
    """Vectorised core: base level, backwardation flag, realised-vol flag, rule level."""
    cuts = np.asarray(params.vix_cuts.as_tuple(), dtype=np.float64)
    # side="right": a VIX equal to a cut counts as at or above it (VIX >= cut).
    base = np.searchsorted(cuts, np.nan_to_num(vix, nan=0.0), side="right").astype(np.int64)
    b, r = params.backwardation, params.realised_vol
    with np.errstate(invalid="ignore"):
        back = slope < b.slope_below
        rv = vrp < r.vrp_below_volpts
    lift = np.zeros(len(vix), dtype=np.int64)
    if b.enabled:
        lift += b.steps * back
    if r.enabled:
        lift += r.steps * rv
    rule = np.minimum(base + lift, TOP)
    return base, back, rv, rule


def _persist(rule: IntArray, known: BoolArray, n: int) -> IntArray:
    if n <= 1 or len(rule) == 0:
        return rule
    # the highest known rule level in each trailing window of n rows (a rolling max with one
    # observation required; a max is exact, so a strided window view gives the same numbers;
    # fmax skips NaN, and an all-NaN window stays NaN)
    values = np.where(known, rule.astype(np.float64), np.nan)
    padded = np.concatenate([np.full(n - 1, np.nan), values])
    held = np.fmax.reduce(np.lib.stride_tricks.sliding_window_view(padded, n), axis=1)
    return np.where(known, np.nan_to_num(held, nan=0.0), 0).astype(np.int64)


def _int8(values: IntArray, known: BoolArray) -> pd.Series[Any]:
    return pd.Series(pd.array(np.where(known, values, 0).astype(np.int8), dtype="Int8")).mask(
        ~known
    )


def _session_text(session: Hashable) -> str:
    if isinstance(session, pd.Timestamp):
        return session.date().isoformat()
    iso = getattr(session, "isoformat", None)
    return str(iso()) if callable(iso) else str(session)


def _base_driver(v: float, level: int, cuts: tuple[float, ...]) -> str:
    name = LABELS[level]
    if level == 0:
        return f"VIX {v:.2f} < {cuts[0]:g} (normal cut): base calm"
    text = f"VIX {v:.2f} ≥ {cuts[level - 1]:g} ({name} cut)"
    if level < TOP:
        text += f" and < {cuts[level]:g} ({LABELS[level + 1]} cut)"
    return f"{text}: base {name}"


def _lift_driver(condition: str, active: bool, steps: int, before: int, threshold: str) -> str:
    if not active:
        return f"{condition} ≥ {threshold}, no lift"
    if before >= TOP:
        return f"{condition} < {threshold}, no lift: already crisis (the top regime)"
    after = min(before + steps, TOP)
    unit = "step" if after - before == 1 else "steps"
    move = f"({LABELS[before]} -> {LABELS[after]})"
    return f"{condition} < {threshold} lifts {after - before} {unit} {move}"


def _drivers(
    index: pd.Index[Any],
    *,
    vix: FloatArray,
    base: IntArray,
    slope: FloatArray,
    source: npt.NDArray[np.object_],
    back: BoolArray,
    vrp: FloatArray,
    rvflag: BoolArray,
    rule: IntArray,
    level: IntArray,
    params: RegimeParams,
) -> list[tuple[str, ...]]:
    cuts = params.vix_cuts.as_tuple()
    b, r = params.backwardation, params.realised_vol
    n_persist = params.persistence.step_down_after
    out: list[tuple[str, ...]] = []
    for i in range(len(vix)):
        if math.isnan(vix[i]):
            out.append(("VIX missing: regime unknown (never guessed)",))
            continue
        lines = [_base_driver(float(vix[i]), int(base[i]), cuts)]
        running = int(base[i])
        if b.enabled:
            if math.isnan(slope[i]):
                lines.append(
                    "term slope unavailable (no real VX futures, no VIX3M): "
                    "backwardation rule not applied"
                )
            else:
                label = _SOURCE_LABELS.get(str(source[i]), str(source[i]))
                what = "backwardation" if back[i] else "no backwardation"
                cond = f"{what}: {label} = {slope[i]:+.3f}"
                lines.append(
                    _lift_driver(cond, bool(back[i]), b.steps, running, f"{b.slope_below:g}")
                )
                if back[i]:
                    running = min(running + b.steps, TOP)
        if r.enabled:
            if math.isnan(vrp[i]):
                lines.append("realised vol unavailable: realised_vol rule not applied")
            else:
                what = "realised vol above implied" if rvflag[i] else "implied vol above realised"
                cond = f"{what}: VIX - RV20 = {vrp[i]:+.1f} vol pts"
                thr = f"{r.vrp_below_volpts:g}"
                lines.append(_lift_driver(cond, bool(rvflag[i]), r.steps, running, thr))
        if level[i] > rule[i]:
            j = i
            while j > max(i - n_persist, -1) and not (
                not math.isnan(vix[j]) and rule[j] == level[i]
            ):
                j -= 1
            lines.append(
                f"held at {LABELS[level[i]]}: {LABELS[level[i]]} on {_session_text(index[j])}, "
                f"within the last {n_persist} sessions (persistence: step down only after "
                f"{n_persist} sessions below)"
            )
        out.append(tuple(lines))
    return out


def _inputs(
    inputs: pd.DataFrame, p: RegimeParams
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.object_], FloatArray]:
    """The checked ``vix``, term slope (and its source) and VRP columns of ``inputs``."""
    if not isinstance(inputs, pd.DataFrame):
        raise InvalidInputError(
            f"inputs must be a pandas DataFrame indexed by session; got {type(inputs).__name__}."
        )
    _check_index(inputs.index)
    vix = _float_column(inputs, "vix", positive=True)
    if vix is None:
        raise InvalidInputError(
            "inputs need a 'vix' column (VIX close in vol points, NaN where missing)."
        )
    slope, source = _slope(inputs, vix, required=p.backwardation.enabled)
    vrp = _vrp(inputs, vix, required=p.realised_vol.enabled)
    return vix, slope, source, vrp


def regime_levels(inputs: pd.DataFrame, params: RegimeParams | None = None) -> pd.Series[Any]:
    """:func:`classify`'s ``regime_level`` column alone (nullable ``Int8``, NA where unknown).

    The same checks and rules, without the drivers and the other columns: for a caller that
    needs only the levels (the hedge's peak regime since a tranche opened).
    """
    p = params if params is not None else RegimeParams()
    vix, slope, _, vrp = _inputs(inputs, p)
    known = ~np.isnan(vix)
    rule = _levels(vix, slope, vrp, p)[3]
    levels = _int8(_persist(rule, known, p.persistence.step_down_after), known)
    levels.index = inputs.index
    levels.name = "regime_level"
    return levels


def classify(inputs: pd.DataFrame, params: RegimeParams | None = None) -> pd.DataFrame:
    """Classify every session of ``inputs`` into a regime, with its drivers.

    Parameters
    ----------
    inputs
        One row per session, strictly increasing index; columns as in the module docstring
        (``vix`` always; ``term_slope`` or ``vix3m`` with the backwardation rule on;
        ``rv20_annual`` or ``vrp_volpts`` with the realised-vol rule on).
    params
        The rule table; ``RegimeParams()`` (the METHOD defaults) when None.

    Returns
    -------
    pandas.DataFrame
        Same index as ``inputs``; columns ``regime``, ``regime_level``, ``base_level``,
        ``lift_steps``, ``rule_level``, ``term_slope``, ``term_source``, ``backwardation``,
        ``missing``, ``drivers`` (see the module docstring).

    Raises
    ------
    InvalidInputError
        When a required column is absent, a value is infinite or a VIX is not positive, or
        the index is not strictly increasing.

    Notes
    -----
    With ``cuts = (c1, c2, c3, c4)``: ``base = #{k : VIX >= c_k}``;
    ``rule = min(base + steps_b [slope < s_b] + steps_r [VRP < v_r], 4)``;
    ``level_t = max(rule_{t-N+1..t})`` over sessions with a known VIX (``N`` =
    ``persistence.step_down_after``), unknown when VIX_t is missing.
    """
    p = params if params is not None else RegimeParams()
    vix, slope, source, vrp = _inputs(inputs, p)
    known = ~np.isnan(vix)
    base, back, rvflag, rule = _levels(vix, slope, vrp, p)
    level = _persist(rule, known, p.persistence.step_down_after)

    missing: list[tuple[str, ...]] = []
    for i in range(len(vix)):
        m: list[str] = []
        if not known[i]:
            m.append("vix")
        if p.backwardation.enabled and math.isnan(slope[i]):
            m.append("term_slope")
        if p.realised_vol.enabled and math.isnan(vrp[i]):
            m.append("rv20")
        missing.append(tuple(m))

    drivers = _drivers(
        inputs.index,
        vix=vix,
        base=base,
        slope=slope,
        source=source,
        back=back,
        vrp=vrp,
        rvflag=rvflag,
        rule=rule,
        level=level,
        params=p,
    )
    out = pd.DataFrame(
        {
            "regime": pd.Categorical.from_codes(
                np.where(known, level, -1).astype(np.int64), dtype=REGIME_DTYPE
            ),
            "regime_level": _int8(level, known),
            "base_level": _int8(base, known),
            "lift_steps": _int8(rule - base, known),
            "rule_level": _int8(rule, known),
            "term_slope": slope,
            "term_source": pd.Series(source, dtype=object).astype("str"),
            "backwardation": pd.Series(pd.array(back, dtype="boolean")).mask(np.isnan(slope)),
            "missing": pd.Series(missing, dtype=object),
            "drivers": pd.Series(drivers, dtype=object),
        }
    )
    out.index = inputs.index
    return out


# ------------------------------------------------------------------------------ reading


def explain(row: pd.Series[Any]) -> list[str]:
    """The drivers of one row of :func:`classify`'s result, as a list of strings."""
    drivers = row["drivers"]
    if not isinstance(drivers, tuple | list):
        raise InvalidInputError("explain() takes one row of classify()'s result (no 'drivers').")
    return [str(d) for d in drivers]


def _json_float(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _json_int(value: Any) -> int | None:
    return None if pd.isna(value) else int(value)


def _position(index: pd.Index[Any], session: Hashable) -> int:
    pos = index.get_indexer(pd.Index([session]))[0] if index.is_unique else -1
    if pos < 0:
        raise InvalidInputError(
            f"session {session!r} is not (exactly once) in the classified frame's index."
        )
    return int(pos)


def snapshot(
    result: pd.DataFrame, session: Hashable, *, inputs: pd.DataFrame | None = None
) -> dict[str, Any]:
    """A JSON-able record of one session of :func:`classify`'s result, for the daily signal.

    Parameters
    ----------
    result
        The frame :func:`classify` returned.
    session
        A label of its index.
    inputs
        The inputs frame given to :func:`classify`; when given, the day's ``vix`` (and any
        other numeric input columns) are recorded under ``"inputs"``.

    Returns
    -------
    dict
        ``session`` (ISO date), ``regime`` (name or None), ``regime_level``, ``base_regime``,
        ``base_level``, ``lift_steps``, ``rule_level``, ``term_slope``, ``term_source``,
        ``backwardation``, ``missing``, ``drivers`` and, with ``inputs``, ``inputs``.
        Unknown values are None; every value is a plain JSON type.
    """
    row = result.iloc[_position(result.index, session)]
    regime = row["regime"]
    base_level = _json_int(row["base_level"])
    back = row["backwardation"]
    record: dict[str, Any] = {
        "session": _session_text(session),
        "regime": None if pd.isna(regime) else str(regime),
        "regime_level": _json_int(row["regime_level"]),
        "base_regime": None if base_level is None else LABELS[base_level],
        "base_level": base_level,
        "lift_steps": _json_int(row["lift_steps"]),
        "rule_level": _json_int(row["rule_level"]),
        "term_slope": _json_float(row["term_slope"]),
        "term_source": str(row["term_source"]),
        "backwardation": None if pd.isna(back) else bool(back),
        "missing": [str(m) for m in row["missing"]],
        "drivers": explain(row),
    }
    if inputs is not None:
        numeric = inputs.select_dtypes(include="number")
        day = numeric.iloc[_position(numeric.index, session)]
        record["inputs"] = {str(k): _json_float(v) for k, v in day.items()}
    return record
