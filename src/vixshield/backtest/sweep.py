r"""Parameter sweeps over the strategy configuration, and walk-forward evaluation of the winner.

A **sweep** runs :func:`~vixshield.backtest.runner.run_backtest` once per candidate
configuration over one window and tabulates every :class:`~vixshield.backtest.metrics.Metrics`
field (:func:`run_sweep`, :class:`SweepResult`). A **walk-forward** evaluation
(:func:`walk_forward`, :class:`WalkForwardResult`) picks the best candidate on each in-sample
window and judges it on the out-of-sample window that follows, so a tuned configuration is
scored only on data it was not tuned on.

Spec
----
A TOML file (:meth:`SweepSpec.from_toml`) or the same mapping (:meth:`SweepSpec.from_dict`)::

    [sweep]
    mode = "grid"            # "grid" (default): every combination; "random": `samples` draws
    samples = 20             # random only: how many configurations to draw
    seed = 1                 # random only: numpy.random.default_rng(seed) (default 0)
    objective = "sharpe"     # a Metrics field, maximised; "-name" minimises it (default sharpe)
    on_invalid = "error"     # "error" (default) or "record" (see below)

    [sweep.grid]             # dotted StrategyConfig keys -> non-empty lists of values
    "condor.target_dte" = [45, 50]
    "hedge.cost_ratio_max" = [0.25, 0.33]

    [sweep.random]           # random mode: dotted keys -> distributions
    "condor.short_delta" = {low = 0.10, high = 0.16}              # uniform
    "management.exit_dte" = {low = 14, high = 28}                 # integer field: integers
    "sizing.budget_frac" = {low = 0.005, high = 0.04, log = true} # log-uniform (low > 0)
    "condor.wing_points" = {low = 20, high = 60, step = 5}        # uniform on a lattice
    "ladder.structure" = {choices = ["bwb", "condor"]}            # uniform choice

    [base.condor]            # optional: the configuration every candidate starts from
    wing_points = 25.0       # (StrategyConfig tables, or dotted keys; over --config's file)

Rules:

* Every key must be a leaf of :class:`~vixshield.config.StrategyConfig` (as ``vixshield
  config init`` writes them: ``condor.target_dte``, ``hedge.short.budget_frac``); an unknown
  key is refused with the close matches (:class:`SweepSpecError`). Unquoted TOML dotted keys
  (``condor.target_dte = [45, 50]``) are nested tables and are read the same way.
* Each value is checked against its field's type and bounds when the spec is read (the error
  names the key and value); each whole candidate is validated by pydantic with the
  cross-field rules (``min_dte <= target_dte <= max_dte``) when it is expanded. A refused
  candidate is an error naming its index and overrides (``on_invalid = "error"``), or, with
  ``on_invalid = "record"``, a row with the message in ``error`` that is not run.
* Grid mode: the Cartesian product of ``[sweep.grid]`` in the order written, the last key
  varying fastest; candidate ``i`` is the ``i``-th combination. ``[sweep.random]`` is refused.
* Random mode: ``samples`` candidates; candidate ``i`` draws every key, in sorted key order,
  from one ``numpy.random.default_rng(seed)``: a ``[sweep.grid]`` list is a uniform choice, a
  ``{low, high}`` of an integer field draws integers in ``[low, high]`` inclusive, of a float
  field ``uniform(low, high)`` (``log = true``: ``exp(uniform(ln low, ln high))``; ``step``:
  rounded to ``low + k * step``). The same spec and seed give the same candidates; duplicate
  draws are kept (their ``fingerprint`` column is equal).
* **Objective**: ``objective = "name"`` ranks by the :class:`Metrics` field ``name``, higher
  is better; ``objective = "-name"`` ranks lower first (``"-max_drawdown_days"``,
  ``"-vol_annual"``). ``max_drawdown`` and ``cvar95_daily`` are returns (<= 0), so
  ``"max_drawdown"`` already prefers the shallowest drawdown. A NaN objective (too few
  returns, no trades, a failed run) ranks after every number; ties go to the lower index.

Execution
---------
:class:`Backend` chooses where the runs go; results do not depend on it (each run is
deterministic and rows are ordered by candidate index):

* ``Backend.serial()``: this process, one run after another.
* ``Backend.process(workers)`` (default: ``os.cpu_count()`` processes): a
  :class:`~concurrent.futures.ProcessPoolExecutor` started by **spawn**, with the market
  history **pickled once** in the parent and handed to each worker **once** through the pool's
  ``initializer`` (a worker unpickles it into a module global); a task is only the candidate's
  configuration and the window (about 4 KB pickled, against ~0.5 MB for a 1.5-year history
  and ~10 MB for 30 years). Why not fork with a copy-on-write global: the parent may run
  threads (the pricing kernel's pool, BLAS, Ray's client), and a forked child inherits their
  locks in whatever state they were (Python 3.12 warns about it); CPython's reference counts
  also write to every object a child touches, so copy-on-write does not keep the history's
  Python objects shared anyway (only its numpy buffers); and spawn behaves the same on every
  OS. The cost is one interpreter start and one unpickle per worker (about 1 s and 0.35 s
  for 30 years of history), paid once per sweep, not per candidate.
* ``Backend.ray(address)``: ``ray.init(address=address)`` (``"local"`` starts an in-process
  cluster with ``workers`` CPUs; a Ray session already initialised is reused and left
  running). The history goes to the object store **once** (``ray.put``) and every task gets
  its ObjectRef, boxed in a list so Ray does not resolve it per task: a worker ``ray.get``\ s
  it once and keeps it (its numpy buffers zero-copy from plasma), then reuses it for every
  later task of the same sweep. The worker nodes need ``vixshield`` installed (same version).
  Ray 2.5x authentication: a cluster started with token auth (the default of a local
  ``ray.init()``, and of ``ray start`` once ``~/.ray/auth_token`` exists) needs
  ``RAY_AUTH_MODE=token`` and the token on the client; ``RAY_AUTH_MODE=disabled`` turns it off
  for a private local cluster (the tests do that).

A run that raises is recorded (``error``: the exception's type and message; NaN metrics) and
the sweep goes on; a worker process that dies (a crash, not an exception) ends the sweep.
``progress(done, total)`` is called in the caller's process after each finished run.

Walk-forward
------------
:func:`walk_forward_folds` cuts ``[start, end]`` into folds of an in-sample window of
``is_months`` calendar months followed by an out-of-sample window of ``oos_months``, rolling
by ``oos_months`` (``anchored=True``: every in-sample window starts at ``start``). Fold ``k``
(from 0) has, with ``A(n) = start + n months`` (pandas ``DateOffset``, clipped to month end)::

    IS  = [A(k * oos) , A(k * oos + is) - 1 day]          (anchored: [start, ...])
    OOS = [A(k * oos + is) , A(k * oos + is + oos) - 1 day]

so the OOS windows are consecutive and do not overlap. Only complete folds are kept (the
OOS window ends on or before ``end``); the days after the last one are reported as
``unused_tail``. In each fold every candidate runs on IS; the best by the objective (its
overrides are reported) runs on OOS, and so does the **base configuration** (the spec's base,
no overrides), for comparison. If no candidate has a defined IS objective, the base is used
and the fold says so. Each run starts flat with ``equity_usd`` cash; the history must start
before ``start`` by enough sessions for the indicators' warm-up (the runner computes them over
the whole history, causally, so earlier data is used and later data never is).

The **stitched OOS curve** chains the folds: fold ``k``'s curve ``e_k`` is scaled by the
growth of the folds before it, ``S = e_k * prod_{j<k} (e_j[-1] / E)``, with ``E`` the starting
cash; so ``S[-1] / E = prod_k (1 + R_k)`` with ``R_k = e_k[-1] / E - 1`` the fold's return on
its cash. Its metrics are :func:`~vixshield.backtest.metrics.compute_metrics` of ``S`` and the
folds' closed trades. Positions still open at a fold's end are counted at their marks (the next
fold starts flat), as in any single run's final equity. The base configuration's stitched curve
and metrics are computed the same way.

Output
------
:class:`SweepResult`: ``frame`` (one row per candidate: ``config`` (its index), the overrides
as columns named by their dotted keys, ``objective`` (the objective field's value), ``rank``
(1 = best), ``fingerprint`` (:func:`~vixshield.config.fingerprint`), every :class:`Metrics`
field, ``error``), :meth:`SweepResult.to_json`, :meth:`SweepResult.to_csv`.
:class:`WalkForwardResult`: ``frame`` (one row per fold), the in-sample tables, both stitched
curves and metrics, :meth:`~WalkForwardResult.to_json`, :meth:`~WalkForwardResult.to_csv`.
JSON is strict: NaN is ``null``, infinities ``"inf"`` / ``"-inf"``.

Command line (:func:`sweep_command_impl`)::

    vixshield sweep SPEC.toml --start 2015-01-02 --end 2019-12-31 [--data real|synthetic]
        [--data-dir DIR] [--config CONFIG.toml] [--workers N] [--ray ADDRESS]
        [--walk-forward --is-months 12 --oos-months 3 [--anchored]] [--equity USD] [--fill-k K]
        [--out DIR]

Throughput
----------
``python benchmarks/bench_sweep.py --repeat 2``: 6 candidates (``condor.short_delta``
0.10/0.12/0.14 x ``management.profit_target_frac`` 0.5/0.75, defaults otherwise) over
2018-01-02..2018-02-28 (40 sessions) of the embedded default market (seed 7 from 1990), best
of 2, on a 2-core VM shared with other work (load average 3.7-5.0 during the run, so the wall
times are mostly contention; the CPU seconds do not depend on the load):

==================  ========  =============  =======  =======  ============
backend             wall (s)  configs / min  speedup  CPU (s)  CPU s/config
==================  ========  =============  =======  =======  ============
serial              19.2      18.7           1.00x    13.2     2.20
process, 1 worker   22.8      15.8           0.84x    15.2     2.54
process, 2 workers  30.1      12.0           0.64x    19.3     3.22
==================  ========  =============  =======  =======  ============

An earlier run at a lower load (3.5-4.2): serial 18.1 s (19.8 configs/min), 1 worker 15.8 s,
2 workers 10.1 s (35.6 configs/min, 1.80x), Ray ``local`` 19.4 s (its ~6 s cluster start
included). A worker costs about 2-3 CPU seconds to start (interpreter, imports, unpickling
the 10 MB history, cold caches), once per sweep; on idle cores two workers should approach
``6 x 2.2 / 2 + 3`` = ~10 s for this spec (an estimate, not a measurement).
"""

from __future__ import annotations

import difflib
import itertools
import json
import logging
import math
import multiprocessing as mp
import os
import pickle
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Final, Literal, get_args

import numpy as np
import pandas as pd
from pydantic import BaseModel, TypeAdapter, ValidationError

from vixshield import calendar
from vixshield.backtest.fills import FillParams
from vixshield.backtest.metrics import ClosedTrade, Metrics, compute_metrics
from vixshield.backtest.runner import run_backtest
from vixshield.config import ConfigError, StrategyConfig, fingerprint, load_config
from vixshield.data.market import MarketHistory
from vixshield.data.synthetic import synthetic_market
from vixshield.errors import InvalidInputError, VixShieldError

__all__ = [
    "DEFAULT_EQUITY_USD",
    "METRIC_FIELDS",
    "Backend",
    "Candidate",
    "Choice",
    "Fold",
    "FoldResult",
    "Objective",
    "SweepResult",
    "SweepSpec",
    "SweepSpecError",
    "Uniform",
    "WalkForwardResult",
    "apply_overrides",
    "config_keys",
    "load_history",
    "run_sweep",
    "stitch_equity",
    "sweep_command_impl",
    "walk_forward",
    "walk_forward_folds",
    "write_outputs",
]

Progress = Callable[[int, int], None]
"""``progress(done, total)`` after each finished run."""

DEFAULT_EQUITY_USD: Final = 1_000_000.0
SYNTHETIC_START: Final = date(1990, 1, 2)
"""First day of the embedded default market that ``--data synthetic`` builds (as ``signal``)."""
METRIC_FIELDS: Final = tuple(f.name for f in fields(Metrics))
_NUMERIC_METRICS: Final = tuple(f.name for f in fields(Metrics) if f.type != "bool")
_SPEC_KEYS: Final = ("mode", "samples", "seed", "objective", "on_invalid", "grid", "random")
_DIST_KEYS: Final = frozenset({"low", "high", "log", "step", "choices"})


class SweepSpecError(ConfigError):
    """A sweep spec was refused; the message names the key, value or candidate."""


# --------------------------------------------------------------------------- config keys

FieldKind = Literal["int", "float", "bool", "other"]


@cache
def _leaf_fields() -> dict[str, tuple[Any, TypeAdapter[Any]]]:
    out: dict[str, tuple[Any, TypeAdapter[Any]]] = {}

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            ann = info.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(ann, f"{prefix}{name}.")
            else:
                checked: Any = Annotated[ann, *info.metadata] if info.metadata else ann
                out[f"{prefix}{name}"] = (ann, TypeAdapter(checked))

    walk(StrategyConfig, "")
    return out


def config_keys() -> tuple[str, ...]:
    """Every dotted leaf key of :class:`StrategyConfig` (``condor.target_dte``, ...)."""
    return tuple(_leaf_fields())


def _kind(key: str) -> FieldKind:
    ann = _leaf_fields()[key][0]
    if ann is bool:
        return "bool"
    if ann is int:
        return "int"
    if ann is float:
        return "float"
    args = set(get_args(ann))
    if float in args and args <= {float, int, type(None)}:
        return "float"
    return "other"


def _check_key(key: str, where: str) -> None:
    keys = _leaf_fields()
    if key in keys:
        return
    inside = [k for k in keys if k.startswith(f"{key}.")]
    if inside:
        shown = ", ".join(inside[:8]) + (", ..." if len(inside) > 8 else "")
        msg = f"{where}: {key!r} is a table, not a key; sweep its keys ({shown})"
        raise SweepSpecError(msg)
    leaf = key.rsplit(".", 1)[-1]
    close = difflib.get_close_matches(key, list(keys), n=5, cutoff=0.6)
    same_leaf = [k for k in keys if k.rsplit(".", 1)[-1] == leaf]
    suggestions = list(dict.fromkeys([*close, *same_leaf]))[:6]
    hint = (
        f"; close matches: {', '.join(suggestions)}"
        if suggestions
        else "; `vixshield config init` writes every key"
    )
    raise SweepSpecError(f"{where}: unknown configuration key {key!r}{hint}")


def _check_value(key: str, value: Any, where: str) -> Any:
    """The value as the field takes it (type and bounds), or an error naming key and value."""
    try:
        return _leaf_fields()[key][1].validate_python(value)
    except ValidationError as exc:
        why = "; ".join(e["msg"] for e in exc.errors())
        raise SweepSpecError(f"{where}: {key} = {value!r} is refused: {why}") from None


def _describe(exc: ValidationError) -> str:
    parts = []
    for e in exc.errors():
        path = ".".join(str(p) for p in e["loc"])
        got = e.get("input")
        shown = "" if isinstance(got, dict) else f" = {got!r}"
        parts.append(f"{path}{shown}: {e['msg']}")
    return "; ".join(parts)


def apply_overrides(base: StrategyConfig, overrides: Mapping[str, Any]) -> StrategyConfig:
    """``base`` with each dotted key set, validated whole (cross-field rules included).

    Raises
    ------
    SweepSpecError
        An unknown key, or a configuration pydantic refuses (the message says why).
    """
    data = base.model_dump()
    for key, value in overrides.items():
        _check_key(key, "override")
        *parents, leaf = key.split(".")
        node = data
        for p in parents:
            node = node[p]
        node[leaf] = value
    try:
        return StrategyConfig.model_validate(data)
    except ValidationError as exc:
        raise SweepSpecError(_describe(exc)) from None


def _flatten(table: Mapping[str, Any], prefix: str, *, random: bool) -> dict[str, Any]:
    """Nested TOML tables (unquoted dotted keys) to dotted keys; distributions stay whole."""
    out: dict[str, Any] = {}
    for name, value in table.items():
        key = f"{prefix}{name}"
        is_dist = random and isinstance(value, Mapping) and bool(_DIST_KEYS & set(value))
        if isinstance(value, Mapping) and not is_dist:
            out.update(_flatten(value, f"{key}.", random=random))
        else:
            out[key] = value
    return out


# --------------------------------------------------------------------------- distributions


@dataclass(frozen=True, slots=True)
class Uniform:
    """Uniform on ``[low, high]`` (integers for an integer field; see the module doc)."""

    low: float
    high: float
    log: bool = False
    step: float | None = None
    integer: bool = False

    def draw(self, rng: np.random.Generator) -> int | float:
        if self.integer:
            lo, hi = int(self.low), int(self.high)
            if self.log:
                x = math.exp(rng.uniform(math.log(lo), math.log(hi + 1)))
                return min(hi, max(lo, math.floor(x)))
            return int(rng.integers(lo, hi, endpoint=True))
        if self.log:
            x = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            x = float(rng.uniform(self.low, self.high))
        if self.step is not None:
            x = self.low + self.step * round((x - self.low) / self.step)
            x = round(min(self.high, max(self.low, x)), 12)
        return float(x)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        return out


@dataclass(frozen=True, slots=True)
class Choice:
    """One of ``values``, each equally likely."""

    values: tuple[Any, ...]

    def draw(self, rng: np.random.Generator) -> Any:
        return self.values[int(rng.integers(len(self.values)))]

    def to_dict(self) -> dict[str, Any]:
        return {"choices": [_jsonable(v) for v in self.values]}


Distribution = Uniform | Choice


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SweepSpecError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _parse_distribution(key: str, raw: Any, where: str) -> Distribution:
    if not isinstance(raw, Mapping):
        msg = (
            f"{where}: {key} = {raw!r}: give {{low = .., high = ..}} (optionally log = true "
            "or step = ..) or {choices = [..]}"
        )
        raise SweepSpecError(msg)
    unknown = set(raw) - _DIST_KEYS
    if unknown:
        msg = f"{where}: {key}: unknown field(s) {sorted(unknown)}; use {sorted(_DIST_KEYS)}"
        raise SweepSpecError(msg)
    if "choices" in raw:
        if set(raw) != {"choices"}:
            raise SweepSpecError(f"{where}: {key}: choices cannot be mixed with low/high")
        values = raw["choices"]
        if not isinstance(values, list) or not values:
            raise SweepSpecError(f"{where}: {key}: choices must be a non-empty list")
        return Choice(tuple(_check_value(key, v, where) for v in values))
    if not {"low", "high"} <= set(raw):
        raise SweepSpecError(f"{where}: {key}: a uniform distribution needs both low and high")
    kind = _kind(key)
    if kind not in ("int", "float"):
        msg = f"{where}: {key} is not a number field; give {{choices = [..]}}"
        raise SweepSpecError(msg)
    low = _number(raw["low"], f"{where}: {key}.low")
    high = _number(raw["high"], f"{where}: {key}.high")
    log = raw.get("log", False)
    if not isinstance(log, bool):
        raise SweepSpecError(f"{where}: {key}.log must be true or false, got {log!r}")
    step = None if "step" not in raw else _number(raw["step"], f"{where}: {key}.step")
    if low > high:
        raise SweepSpecError(f"{where}: {key}: low {low} is above high {high}")
    if log and low <= 0:
        raise SweepSpecError(f"{where}: {key}: log = true needs low > 0, got {low}")
    if step is not None and (step <= 0 or log):
        raise SweepSpecError(f"{where}: {key}: step must be > 0 and cannot go with log")
    integer = kind == "int"
    if integer and (not low.is_integer() or not high.is_integer() or step is not None):
        msg = f"{where}: {key} is an integer field: give integer low and high (and no step)"
        raise SweepSpecError(msg)
    for bound in (low, high):  # both ends within the field's bounds
        _check_value(key, int(bound) if integer else bound, where)
    return Uniform(low, high, log=log, step=step, integer=integer)


# --------------------------------------------------------------------------- objective


@dataclass(frozen=True, slots=True)
class Objective:
    """A :class:`Metrics` field to rank by: maximised, or minimised (``"-name"``)."""

    metric: str = "sharpe"
    maximise: bool = True

    @classmethod
    def parse(cls, text: str) -> Objective:
        name = text.strip()
        maximise = not name.startswith("-")
        name = name.removeprefix("-").removeprefix("+").strip()
        if name not in _NUMERIC_METRICS:
            close = difflib.get_close_matches(name, _NUMERIC_METRICS, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            msg = (
                f"objective {text!r}: not a numeric Metrics field{hint}; choose from "
                f"{', '.join(_NUMERIC_METRICS)}, prefixed with '-' to minimise"
            )
            raise SweepSpecError(msg)
        return cls(name, maximise)

    @property
    def label(self) -> str:
        return self.metric if self.maximise else f"-{self.metric}"

    def value(self, metrics: Metrics | None) -> float:
        """The field's value (NaN without metrics)."""
        return math.nan if metrics is None else float(getattr(metrics, self.metric))

    def order(self, values: Sequence[float]) -> list[int]:
        """Positions of ``values`` best first: NaN last, ties by position."""
        sign = 1.0 if self.maximise else -1.0

        def key(i: int) -> tuple[int, float, int]:
            v = values[i]
            return (1, 0.0, i) if math.isnan(v) else (0, -sign * v, i)

        return sorted(range(len(values)), key=key)


# --------------------------------------------------------------------------- the spec


@dataclass(frozen=True, slots=True)
class Candidate:
    """One configuration of a sweep: its index, overrides, and the config (None if refused)."""

    index: int
    overrides: Mapping[str, Any]
    config: StrategyConfig | None
    error: str | None = None


@dataclass(frozen=True)
class SweepSpec:
    """What to sweep and how to rank it; see the module docstring for the format."""

    mode: Literal["grid", "random"] = "grid"
    grid: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    random: Mapping[str, Distribution] = field(default_factory=dict)
    samples: int = 0
    seed: int = 0
    objective: Objective = field(default_factory=Objective)
    base: StrategyConfig = field(default_factory=StrategyConfig)
    on_invalid: Literal["error", "record"] = "error"

    @classmethod
    def from_toml(cls, path: Path, *, base: StrategyConfig | None = None) -> SweepSpec:
        """Read a spec file; ``base`` (default :class:`StrategyConfig`) under its ``[base]``."""
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SweepSpecError(f"{path}: cannot read the sweep spec ({exc.strerror})") from exc
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SweepSpecError(f"{path}: not valid TOML: {exc}") from None
        return cls.from_dict(data, base=base, source=str(path))

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        base: StrategyConfig | None = None,
        source: str = "<sweep spec>",
    ) -> SweepSpec:
        """Validate a mapping shaped like the TOML file (``{"sweep": {...}, "base": {...}}``)."""
        unknown = set(data) - {"sweep", "base"}
        if unknown:
            msg = f"{source}: unknown top-level table(s) {sorted(unknown)}; use [sweep], [base]"
            raise SweepSpecError(msg)
        sweep = data.get("sweep")
        if not isinstance(sweep, Mapping):
            raise SweepSpecError(f"{source}: no [sweep] table")
        bad = set(sweep) - set(_SPEC_KEYS)
        if bad:
            msg = f"{source}: unknown [sweep] key(s) {sorted(bad)}; known: {', '.join(_SPEC_KEYS)}"
            raise SweepSpecError(msg)

        start = base if base is not None else StrategyConfig()
        base_table = data.get("base", {})
        if not isinstance(base_table, Mapping):
            raise SweepSpecError(f"{source}: [base] must be a table of configuration keys")
        base_over = _flatten(base_table, "", random=False)
        for key in base_over:
            _check_key(key, f"{source} [base]")
        try:
            base_config = apply_overrides(start, base_over)
        except SweepSpecError as exc:
            raise SweepSpecError(f"{source} [base]: {exc}") from None

        mode = sweep.get("mode", "grid")
        if mode not in ("grid", "random"):
            raise SweepSpecError(f'{source}: mode must be "grid" or "random", got {mode!r}')
        on_invalid = sweep.get("on_invalid", "error")
        if on_invalid not in ("error", "record"):
            msg = f'{source}: on_invalid must be "error" or "record", got {on_invalid!r}'
            raise SweepSpecError(msg)
        objective_text = sweep.get("objective", "sharpe")
        if not isinstance(objective_text, str):
            raise SweepSpecError(f"{source}: objective must be a string, got {objective_text!r}")
        try:
            objective = Objective.parse(objective_text)
        except SweepSpecError as exc:
            raise SweepSpecError(f"{source}: {exc}") from None

        grid_raw = sweep.get("grid", {})
        random_raw = sweep.get("random", {})
        for name, table in (("grid", grid_raw), ("random", random_raw)):
            if not isinstance(table, Mapping):
                raise SweepSpecError(f"{source}: [sweep.{name}] must be a table")
        grid: dict[str, tuple[Any, ...]] = {}
        where = f"{source} [sweep.grid]"
        for key, values in _flatten(grid_raw, "", random=False).items():
            _check_key(key, where)
            if not isinstance(values, list):
                msg = f"{where}: {key} = {values!r}: give a list of values, e.g. [{values!r}]"
                raise SweepSpecError(msg)
            if not values:
                raise SweepSpecError(f"{where}: {key} has an empty list of values")
            grid[key] = tuple(_check_value(key, v, where) for v in values)
        random: dict[str, Distribution] = {}
        where = f"{source} [sweep.random]"
        for key, raw in _flatten(random_raw, "", random=True).items():
            _check_key(key, where)
            if key in grid:
                raise SweepSpecError(f"{where}: {key} is also in [sweep.grid]; keep one")
            random[key] = _parse_distribution(key, raw, where)

        samples = sweep.get("samples", 0)
        seed = sweep.get("seed", 0)
        for name, value in (("samples", samples), ("seed", seed)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise SweepSpecError(f"{source}: {name} must be an integer >= 0, got {value!r}")
        if mode == "grid":
            if random:
                msg = f'{source}: [sweep.random] is given but mode = "grid"; set mode = "random"'
                raise SweepSpecError(msg)
            if not grid:
                raise SweepSpecError(f'{source}: mode = "grid" needs a non-empty [sweep.grid]')
        else:
            if samples < 1:
                raise SweepSpecError(f'{source}: mode = "random" needs samples >= 1')
            if not grid and not random:
                msg = f'{source}: mode = "random" needs keys in [sweep.random] or [sweep.grid]'
                raise SweepSpecError(msg)
        spec = cls(
            mode=mode, grid=grid, random=random, samples=samples, seed=seed,
            objective=objective, base=base_config, on_invalid=on_invalid,
        )  # fmt: skip
        spec.expand()  # refuse invalid combinations now (on_invalid = "error")
        return spec

    @property
    def keys(self) -> tuple[str, ...]:
        """The swept keys: the grid's in order, then the random ones."""
        return (*self.grid, *self.random)

    def size(self) -> int:
        """How many candidates :meth:`expand` gives."""
        return (
            math.prod(len(v) for v in self.grid.values()) if self.mode == "grid" else self.samples
        )

    def overrides(self) -> list[dict[str, Any]]:
        """Each candidate's overrides, by index (no validation)."""
        if self.mode == "grid":
            keys = list(self.grid)
            return [
                dict(zip(keys, combo, strict=True))
                for combo in itertools.product(*self.grid.values())
            ]
        dists: dict[str, Distribution] = {k: Choice(v) for k, v in self.grid.items()}
        dists.update(self.random)
        order = sorted(dists)
        rng = np.random.default_rng(self.seed)
        out = []
        for _ in range(self.samples):
            drawn = {k: dists[k].draw(rng) for k in order}
            out.append({k: drawn[k] for k in self.keys})
        return out

    def expand(self) -> tuple[Candidate, ...]:
        """Every candidate, validated; see the module docstring.

        Raises
        ------
        SweepSpecError
            A candidate pydantic refuses, when ``on_invalid = "error"`` (up to five named).
        """
        out: list[Candidate] = []
        refused: list[str] = []
        for i, over in enumerate(self.overrides()):
            try:
                config = apply_overrides(self.base, over)
            except SweepSpecError as exc:
                out.append(Candidate(i, over, None, f"invalid configuration: {exc}"))
                refused.append(f"candidate {i} {_show(over)}: {exc}")
            else:
                out.append(Candidate(i, over, config))
        if refused and self.on_invalid == "error":
            more = f"\n... and {len(refused) - 5} more" if len(refused) > 5 else ""
            msg = (
                f"{len(refused)} of {len(out)} sweep candidates are invalid configurations "
                f'(set on_invalid = "record" to keep them as failed rows):\n'
                + "\n".join(refused[:5])
                + more
            )
            raise SweepSpecError(msg)
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        """The spec as JSON-ready data (the base as its overrides of the defaults' values)."""
        out: dict[str, Any] = {"mode": self.mode, "objective": self.objective.label}
        if self.mode == "random":
            out.update(samples=self.samples, seed=self.seed)
        out["on_invalid"] = self.on_invalid
        out["grid"] = {k: [_jsonable(v) for v in vs] for k, vs in self.grid.items()}
        out["random"] = {k: d.to_dict() for k, d in self.random.items()}
        out["base_fingerprint"] = fingerprint(self.base)
        out["base_overrides"] = {k: _jsonable(v) for k, v in _diff(StrategyConfig(), self.base)}
        return out


def _show(overrides: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k}={v!r}" for k, v in overrides.items()) + "}"


def _get(config: StrategyConfig, key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        node = getattr(node, part)
    return node


def _diff(a: StrategyConfig, b: StrategyConfig) -> list[tuple[str, Any]]:
    """``(key, b's value)`` for every leaf where ``b`` differs from ``a``."""
    return [(k, _get(b, k)) for k in _leaf_fields() if _get(a, k) != _get(b, k)]


# --------------------------------------------------------------------------- JSON


def _jsonable(x: Any) -> Any:
    if isinstance(x, bool | str) or x is None:
        return x
    if isinstance(x, np.generic):
        return _jsonable(x.item())
    if isinstance(x, int):
        return x
    if isinstance(x, float):
        if math.isnan(x):
            return None
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    if isinstance(x, pd.Timestamp):
        return x.date().isoformat()
    if isinstance(x, date):
        return x.isoformat()
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    return str(x)


def _metrics_dict(m: Metrics | None) -> dict[str, Any] | None:
    return None if m is None else {k: _jsonable(v) for k, v in m.to_dict().items()}


def _frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    cols = [str(c) for c in frame.columns]
    return [
        {c: _jsonable(v) for c, v in zip(cols, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]


def _py(x: Any) -> Any:
    """A numpy scalar (as pandas hands out cells) as the Python value."""
    return x.item() if isinstance(x, np.generic) else x


def _nan_if_none(x: Any) -> Any:
    return math.nan if x is None else x


# --------------------------------------------------------------------------- execution


@dataclass(frozen=True, slots=True)
class Backend:
    """Where a sweep's runs go: ``serial``, ``process`` (a spawn pool) or ``ray``.

    ``workers``: the pool's processes (default ``os.cpu_count()``), or the CPUs of a
    ``ray`` ``"local"`` cluster. ``address``: the Ray address (``"auto"``, ``"host:port"``,
    ``"ray://host:10001"`` or ``"local"``).
    """

    kind: Literal["serial", "process", "ray"] = "process"
    workers: int | None = None
    address: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("serial", "process", "ray"):
            raise InvalidInputError(f"unknown backend {self.kind!r}")
        if self.workers is not None and self.workers < 1:
            raise InvalidInputError(f"workers must be >= 1, got {self.workers}")
        if self.kind == "ray" and not self.address:
            raise InvalidInputError('the ray backend needs an address (or "local")')

    @classmethod
    def serial(cls) -> Backend:
        return cls("serial")

    @classmethod
    def process(cls, workers: int | None = None) -> Backend:
        return cls("process", workers)

    @classmethod
    def ray(cls, address: str, *, workers: int | None = None) -> Backend:
        return cls("ray", workers, address)

    @property
    def pool_size(self) -> int:
        return self.workers if self.workers is not None else max(1, os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class _Task:
    """One run: all a worker gets per task (the history arrives once per worker)."""

    key: int
    config: StrategyConfig
    start: date
    end: date
    equity_usd: float
    fill: FillParams | None
    keep_curve: bool


@dataclass(frozen=True, slots=True)
class _Outcome:
    key: int
    metrics: Metrics | None
    error: str | None
    equity: pd.Series | None
    trades: tuple[ClosedTrade, ...]
    pid: int
    loads: int  # how many times this worker process has loaded a history


def _evaluate(task: _Task, history: MarketHistory, loads: int) -> _Outcome:
    try:
        res = run_backtest(
            history, start=task.start, end=task.end, config=task.config,
            equity_usd=task.equity_usd, fill=task.fill,
        )  # fmt: skip
    except Exception as exc:  # one bad configuration must not end the sweep: record it
        return _Outcome(
            task.key, None, f"{type(exc).__name__}: {exc}", None, (), os.getpid(), loads
        )
    keep = task.keep_curve
    return _Outcome(
        task.key, res.metrics, None, res.equity if keep else None, res.trades if keep else (),
        os.getpid(), loads,
    )  # fmt: skip


# Worker-process state: the history, loaded once per process (pool initializer or Ray get).
_WORKER_HISTORY: list[MarketHistory] = []
_WORKER_LOADS: list[int] = [0]
_RAY_REF: list[str] = []


def _init_worker(blob: bytes) -> None:
    """Pool initializer: unpickle the history once for this worker process."""
    _WORKER_HISTORY[:] = [pickle.loads(blob)]
    _WORKER_LOADS[0] += 1


def _worker_run(task: _Task) -> _Outcome:
    if not _WORKER_HISTORY:
        raise RuntimeError("sweep worker without a history: the pool initializer did not run")
    return _evaluate(task, _WORKER_HISTORY[0], _WORKER_LOADS[0])


def _ray_run(boxed: list[Any], task: _Task) -> _Outcome:
    """Ray task: the history from the object store, fetched once per worker and sweep."""
    import ray  # noqa: PLC0415 - only in Ray workers

    ref = boxed[0]
    if [ref.hex()] != _RAY_REF or not _WORKER_HISTORY:
        _WORKER_HISTORY[:] = [ray.get(ref)]
        _RAY_REF[:] = [ref.hex()]
        _WORKER_LOADS[0] += 1
    return _evaluate(task, _WORKER_HISTORY[0], _WORKER_LOADS[0])


RunBatch = Callable[[Sequence[_Task], Callable[[], None]], list[_Outcome]]


@contextmanager
def _executor(backend: Backend, history: MarketHistory) -> Iterator[RunBatch]:
    """A batch runner bound to ``history`` for the life of the block; outcomes by key."""
    if backend.kind == "serial":

        def run_serial(tasks: Sequence[_Task], tick: Callable[[], None]) -> list[_Outcome]:
            out = []
            for t in tasks:
                out.append(_evaluate(t, history, 1))
                tick()
            return out

        yield run_serial
    elif backend.kind == "process":
        blob = pickle.dumps(history, protocol=pickle.HIGHEST_PROTOCOL)  # pickled once
        pool = ProcessPoolExecutor(
            max_workers=backend.pool_size,
            mp_context=mp.get_context("spawn"),
            initializer=_init_worker,
            initargs=(blob,),
        )
        del blob

        def run_pool(tasks: Sequence[_Task], tick: Callable[[], None]) -> list[_Outcome]:
            futures = [pool.submit(_worker_run, t) for t in tasks]
            out = []
            for f in as_completed(futures):
                out.append(f.result())
                tick()
            return sorted(out, key=lambda o: o.key)

        try:
            yield run_pool
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    else:
        with _ray_session(backend) as ray:
            ref = ray.put(history)
            remote = ray.remote(num_cpus=1)(_ray_run)

            def run_ray(tasks: Sequence[_Task], tick: Callable[[], None]) -> list[_Outcome]:
                pending = [remote.remote([ref], t) for t in tasks]
                out: list[_Outcome] = []
                while pending:
                    done, pending = ray.wait(pending, num_returns=1)
                    for r in done:
                        out.append(ray.get(r))
                        tick()
                return sorted(out, key=lambda o: o.key)

            yield run_ray
            del ref


@contextmanager
def _ray_session(backend: Backend) -> Iterator[Any]:
    """The ``ray`` module, initialised to ``backend.address`` (and shut down if we started it)."""
    try:
        import ray  # noqa: PLC0415 - optional, heavy: imported only for --ray
    except ImportError as exc:  # pragma: no cover - ray is a dev dependency
        raise VixShieldError("the ray backend needs Ray: pip install 'ray>=2.40'") from exc
    started = False
    if not ray.is_initialized():
        if backend.address == "local":
            ray.init(
                address="local", num_cpus=backend.pool_size, include_dashboard=False,
                logging_level=logging.WARNING,
            )  # fmt: skip
        else:
            ray.init(address=backend.address, logging_level=logging.WARNING)
        started = True
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def _check_window(history: MarketHistory, start: date, end: date) -> None:
    if start > end:
        raise InvalidInputError(f"start {start} is after end {end}")
    if not any(start <= d <= end for d in history.sessions):
        raise InvalidInputError(f"no session of the history in [{start}, {end}]")


def _counter(total: int, progress: Progress | None) -> Callable[[], None]:
    done = [0]

    def tick() -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total)

    return tick


# --------------------------------------------------------------------------- sweep results


@dataclass(frozen=True)
class SweepResult:
    """Every candidate's metrics over one window; ``frame`` has one row per candidate."""

    spec: SweepSpec
    start: date
    end: date
    equity_usd: float
    frame: pd.DataFrame

    @classmethod
    def _build(
        cls,
        spec: SweepSpec,
        candidates: Sequence[Candidate],
        outcomes: Mapping[int, _Outcome],
        *,
        start: date,
        end: date,
        equity_usd: float,
    ) -> SweepResult:
        rows: list[dict[str, Any]] = []
        for c in candidates:
            o = outcomes.get(c.index)
            metrics = o.metrics if o is not None else None
            row: dict[str, Any] = {"config": c.index}
            row.update({k: c.overrides.get(k) for k in spec.keys})
            if c.config is not None:  # the values as validated (e.g. 30.0 -> 30)
                row.update({k: _get(c.config, k) for k in spec.keys})
            row["objective"] = spec.objective.value(metrics)
            row["rank"] = 0
            row["fingerprint"] = None if c.config is None else fingerprint(c.config)
            m = metrics.to_dict() if metrics is not None else dict.fromkeys(METRIC_FIELDS)
            row.update({k: _nan_if_none(v) for k, v in m.items()})
            row["error"] = c.error if o is None else o.error
            rows.append(row)
        columns = [
            "config",
            *spec.keys,
            "objective",
            "rank",
            "fingerprint",
            *METRIC_FIELDS,
            "error",
        ]
        frame = pd.DataFrame(rows, columns=columns)
        order = spec.objective.order([float(v) for v in frame["objective"]])
        ranks = np.empty(len(order), dtype=np.int64)
        ranks[order] = np.arange(1, len(order) + 1)
        frame["rank"] = ranks
        return cls(spec, start, end, float(equity_usd), frame)

    @property
    def objective(self) -> Objective:
        return self.spec.objective

    def ranked(self) -> pd.DataFrame:
        """``frame`` best first (NaN objectives last, ties by index)."""
        return self.frame.sort_values("rank", kind="stable").reset_index(drop=True)

    def best(self) -> int | None:
        """The best candidate's index, or None when no candidate has a defined objective."""
        top = self.frame.loc[self.frame["rank"] == 1]
        if top.empty or math.isnan(float(top["objective"].iloc[0])):
            return None
        return int(top["config"].iloc[0])

    def overrides(self, index: int) -> dict[str, Any]:
        """The overrides of candidate ``index`` (as validated)."""
        row = self.frame.loc[self.frame["config"] == index].iloc[0]
        return {k: _py(row[k]) for k in self.spec.keys}

    def summary(self, top: int = 10) -> pd.DataFrame:
        """The ``top`` best rows with the overrides, the objective and a few headline metrics."""
        cols = ["rank", "config", *self.spec.keys, "objective", "sharpe", "cagr", "max_drawdown"]
        cols = list(dict.fromkeys([*cols, "error"]))
        return self.ranked().loc[:, cols].head(top)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "sweep",
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "equity_usd": self.equity_usd,
            "spec": self.spec.to_dict(),
            "best": self.best(),
            "rows": _frame_records(self.frame),
        }

    def to_json(self, *, indent: int | None = None) -> str:
        """Strict JSON: NaN is ``null``, infinities ``"inf"`` / ``"-inf"``."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_csv(self, path: Path) -> None:
        """``frame`` as CSV (floats in full precision; NaN as an empty cell)."""
        self.frame.to_csv(path, index=False, float_format="%.17g")


def run_sweep(
    spec: SweepSpec,
    history: MarketHistory,
    *,
    start: date,
    end: date,
    equity_usd: float = DEFAULT_EQUITY_USD,
    fill: FillParams | None = None,
    backend: Backend | None = None,
    progress: Progress | None = None,
) -> SweepResult:
    """Run every candidate of ``spec`` over ``[start, end]`` of ``history``.

    Parameters
    ----------
    spec
        The sweep (:class:`SweepSpec`).
    history
        The market, loaded once; it should start early enough for the indicators' warm-up.
    start, end
        The window every candidate walks (inclusive).
    equity_usd
        Starting cash of each run.
    fill
        The fill model (default :class:`FillParams`).
    backend
        Where the runs go (default :meth:`Backend.process` on every core).
    progress
        ``progress(done, total)`` after each run.

    Raises
    ------
    InvalidInputError
        An empty window or a bad backend.
    SweepSpecError
        Invalid candidates with ``on_invalid = "error"``.
    """
    _check_window(history, start, end)
    candidates = spec.expand()
    tasks = [
        _Task(c.index, c.config, start, end, float(equity_usd), fill, keep_curve=False)
        for c in candidates
        if c.config is not None
    ]
    tick = _counter(len(tasks), progress)
    with _executor(backend or Backend(), history) as run:
        outcomes = run(tasks, tick) if tasks else []
    by_key = {o.key: o for o in outcomes}
    return SweepResult._build(
        spec, candidates, by_key, start=start, end=end, equity_usd=float(equity_usd)
    )


# --------------------------------------------------------------------------- walk-forward


@dataclass(frozen=True, slots=True)
class Fold:
    """One walk-forward fold: the in-sample and out-of-sample windows (inclusive dates)."""

    number: int
    is_start: date
    is_end: date
    oos_start: date
    oos_end: date


def _add_months(day: date, months: int) -> date:
    out: date = (pd.Timestamp(day) + pd.DateOffset(months=months)).date()
    return out


def walk_forward_folds(
    start: date, end: date, *, is_months: int, oos_months: int, anchored: bool = False
) -> tuple[Fold, ...]:
    """The complete folds in ``[start, end]``; see the module docstring for the windows.

    Raises
    ------
    InvalidInputError
        Months < 1, ``start >= end``, or a span shorter than one fold.
    """
    if is_months < 1 or oos_months < 1:
        raise InvalidInputError(
            f"is_months and oos_months must be >= 1, got {is_months} and {oos_months}"
        )
    if start >= end:
        raise InvalidInputError(f"start {start} must be before end {end}")
    one = timedelta(days=1)
    folds: list[Fold] = []
    k = 0
    while True:
        shift = k * oos_months
        is_start = start if anchored else _add_months(start, shift)
        oos_start = _add_months(start, shift + is_months)
        oos_end = _add_months(start, shift + is_months + oos_months) - one
        if oos_end > end:
            break
        folds.append(Fold(k + 1, is_start, oos_start - one, oos_start, oos_end))
        k += 1
    if not folds:
        raise InvalidInputError(
            f"[{start}, {end}] is shorter than one fold ({is_months} in-sample + {oos_months} "
            f"out-of-sample months): widen the window or shorten the folds"
        )
    return tuple(folds)


def stitch_equity(curves: Sequence[pd.Series], equity_usd: float) -> pd.Series:
    """Chain consecutive runs that each start with ``equity_usd`` cash into one curve.

    Curve ``k`` is scaled by ``prod_{j<k} curve_j[-1] / equity_usd``, so the stitched
    curve's last value over ``equity_usd`` is the product of ``1 +`` each run's return.
    """
    parts: list[pd.Series] = []
    scale = 1.0
    for e in curves:
        if e.empty:
            continue
        parts.append(e * scale)
        scale *= float(e.iloc[-1]) / equity_usd
    if not parts:
        return pd.Series([], dtype=np.float64, index=pd.DatetimeIndex([]), name="equity_usd")
    out: pd.Series = pd.concat(parts)
    if not out.index.is_monotonic_increasing or out.index.has_duplicates:
        raise InvalidInputError("stitched curves overlap: the runs must be consecutive")
    out.name = "equity_usd"
    return out


@dataclass(frozen=True)
class FoldResult:
    """One fold: the in-sample table, the chosen candidate, its and the base's OOS run."""

    fold: Fold
    in_sample: SweepResult
    best_config: int | None
    best_overrides: Mapping[str, Any]
    is_objective: float
    oos_objective: float
    oos_metrics: Metrics | None
    oos_equity: pd.Series | None
    oos_trades: tuple[ClosedTrade, ...]
    oos_error: str | None
    base_oos_objective: float
    base_oos_metrics: Metrics | None
    base_oos_equity: pd.Series | None
    base_oos_trades: tuple[ClosedTrade, ...]
    base_oos_error: str | None
    note: str | None
    equity_usd: float

    @property
    def oos_return(self) -> float:
        e = self.oos_equity
        return math.nan if e is None or e.empty else float(e.iloc[-1]) / self.equity_usd - 1.0

    @property
    def base_oos_return(self) -> float:
        e = self.base_oos_equity
        return math.nan if e is None or e.empty else float(e.iloc[-1]) / self.equity_usd - 1.0

    def to_dict(self) -> dict[str, Any]:
        f = self.fold
        return {
            "fold": f.number,
            "is_start": f.is_start.isoformat(),
            "is_end": f.is_end.isoformat(),
            "oos_start": f.oos_start.isoformat(),
            "oos_end": f.oos_end.isoformat(),
            "best_config": self.best_config,
            "best_overrides": _jsonable(dict(self.best_overrides)),
            "is_objective": _jsonable(self.is_objective),
            "oos_objective": _jsonable(self.oos_objective),
            "oos_return": _jsonable(self.oos_return),
            "oos_metrics": _metrics_dict(self.oos_metrics),
            "oos_error": self.oos_error,
            "base_oos_objective": _jsonable(self.base_oos_objective),
            "base_oos_return": _jsonable(self.base_oos_return),
            "base_oos_metrics": _metrics_dict(self.base_oos_metrics),
            "base_oos_error": self.base_oos_error,
            "note": self.note,
        }


@dataclass(frozen=True)
class WalkForwardResult:
    """Every fold, and the stitched out-of-sample curves of the tuned and base configurations.

    ``stitched_*`` chain the folds' OOS runs of the IS-best candidates; ``base_stitched_*``
    those of the base configuration; ``complete`` is False when an OOS run failed (that fold
    is left out of the stitched curve; its ``oos_error`` says why).
    """

    spec: SweepSpec
    folds: tuple[FoldResult, ...]
    equity_usd: float
    stitched_equity: pd.Series
    stitched_metrics: Metrics
    base_stitched_equity: pd.Series
    base_stitched_metrics: Metrics
    unused_tail: tuple[date, date] | None
    complete: bool

    @property
    def objective(self) -> Objective:
        return self.spec.objective

    @property
    def stitched_return(self) -> float:
        e = self.stitched_equity
        return math.nan if e.empty else float(e.iloc[-1]) / self.equity_usd - 1.0

    @property
    def base_stitched_return(self) -> float:
        e = self.base_stitched_equity
        return math.nan if e.empty else float(e.iloc[-1]) / self.equity_usd - 1.0

    @property
    def frame(self) -> pd.DataFrame:
        """One row per fold: windows, chosen candidate and overrides, objectives, OOS metrics."""
        keys = self.spec.keys
        rows = []
        for fr in self.folds:
            f = fr.fold
            row: dict[str, Any] = {
                "fold": f.number, "is_start": f.is_start, "is_end": f.is_end,
                "oos_start": f.oos_start, "oos_end": f.oos_end, "best_config": fr.best_config,
            }  # fmt: skip
            row.update({k: fr.best_overrides.get(k) for k in keys})
            row.update(
                is_objective=fr.is_objective, oos_objective=fr.oos_objective,
                base_oos_objective=fr.base_oos_objective, oos_return=fr.oos_return,
                base_oos_return=fr.base_oos_return,
            )  # fmt: skip
            m = fr.oos_metrics.to_dict() if fr.oos_metrics is not None else {}
            row.update({f"oos_{k}": _nan_if_none(m.get(k)) for k in METRIC_FIELDS})
            row["error"] = fr.oos_error
            row["note"] = fr.note
            rows.append(row)
        return pd.DataFrame(rows)

    def in_sample_frame(self) -> pd.DataFrame:
        """Every in-sample run: each fold's sweep table with a leading ``fold`` column."""
        parts = [fr.in_sample.frame.assign(fold=fr.fold.number) for fr in self.folds]
        out = pd.concat(parts, ignore_index=True)
        return out.loc[:, ["fold", *[c for c in out.columns if c != "fold"]]]

    def equity_frame(self) -> pd.DataFrame:
        """The stitched OOS curves side by side: ``tuned`` and ``base``, USD."""
        return pd.DataFrame({"tuned": self.stitched_equity, "base": self.base_stitched_equity})

    def comparison(self) -> dict[str, Any]:
        """The tuned (IS-best) against the base configuration, out of sample."""
        obj = self.objective
        tuned, base = obj.value(self.stitched_metrics), obj.value(self.base_stitched_metrics)
        beats = sum(
            1
            for fr in self.folds
            if not math.isnan(fr.oos_objective)
            and not math.isnan(fr.base_oos_objective)
            and obj.order([fr.oos_objective, fr.base_oos_objective])[0] == 0
            and fr.oos_objective != fr.base_oos_objective
        )
        return {
            "objective": obj.label,
            "tuned_oos_objective": tuned,
            "base_oos_objective": base,
            "tuned_minus_base": tuned - base,
            "tuned_oos_return": self.stitched_return,
            "base_oos_return": self.base_stitched_return,
            "folds_tuned_better": beats,
            "folds": len(self.folds),
        }

    def summary(self) -> pd.DataFrame:
        """The fold table's headline columns, for printing."""
        cols = [
            "fold", "oos_start", "oos_end", "best_config", *self.spec.keys, "is_objective",
            "oos_objective", "base_oos_objective", "oos_return", "base_oos_return",
        ]  # fmt: skip
        return self.frame.loc[:, list(dict.fromkeys(cols))]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "walk_forward",
            "spec": self.spec.to_dict(),
            "equity_usd": self.equity_usd,
            "folds": [fr.to_dict() for fr in self.folds],
            "stitched": {
                "metrics": _metrics_dict(self.stitched_metrics),
                "return": _jsonable(self.stitched_return),
                "first": _jsonable(_first(self.stitched_equity)),
                "last": _jsonable(_last(self.stitched_equity)),
            },
            "base_stitched": {
                "metrics": _metrics_dict(self.base_stitched_metrics),
                "return": _jsonable(self.base_stitched_return),
            },
            "comparison": _jsonable(self.comparison()),
            "unused_tail": None if self.unused_tail is None else _jsonable(self.unused_tail),
            "complete": self.complete,
        }

    def to_json(self, *, indent: int | None = None) -> str:
        """Strict JSON (folds, stitched metrics, comparison); the curves go to CSV."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_csv(self, path: Path) -> None:
        """The fold table (:attr:`frame`) as CSV."""
        self.frame.to_csv(path, index=False, float_format="%.17g")


def _first(e: pd.Series) -> date | None:
    return None if e.empty else pd.Timestamp(e.index[0]).date()


def _last(e: pd.Series) -> date | None:
    return None if e.empty else pd.Timestamp(e.index[-1]).date()


def walk_forward(
    spec: SweepSpec,
    history: MarketHistory,
    *,
    start: date,
    end: date,
    is_months: int,
    oos_months: int,
    anchored: bool = False,
    equity_usd: float = DEFAULT_EQUITY_USD,
    fill: FillParams | None = None,
    backend: Backend | None = None,
    progress: Progress | None = None,
) -> WalkForwardResult:
    """Tune on each in-sample window, judge on the next out-of-sample one; see the module doc.

    The runs go in two batches on one backend (the history is shared once): every candidate
    on every IS window together with the base configuration on every OOS window, then each
    fold's IS-best on its OOS window (reusing the base run when the best is the base). The
    progress total is ``folds * (candidates + 2)``.
    """
    folds = walk_forward_folds(
        start, end, is_months=is_months, oos_months=oos_months, anchored=anchored
    )
    _check_window(history, folds[0].is_start, folds[-1].oos_end)
    candidates = spec.expand()
    runnable = [c for c in candidates if c.config is not None]
    cash = float(equity_usd)
    n = len(candidates)
    base_fp = fingerprint(spec.base)

    # Keys: IS (fold f, candidate i) -> f * n + i; base OOS -> F * n + f; best OOS -> F * n + F + f.
    nf = len(folds)
    first: list[_Task] = []
    for fi, f in enumerate(folds):
        first += [
            _Task(fi * n + c.index, c.config, f.is_start, f.is_end, cash, fill, keep_curve=False)
            for c in runnable
            if c.config is not None
        ]
    first += [
        _Task(nf * n + fi, spec.base, f.oos_start, f.oos_end, cash, fill, keep_curve=True)
        for fi, f in enumerate(folds)
    ]
    tick = _counter(len(runnable) * nf + 2 * nf, progress)
    with _executor(backend or Backend(), history) as run:
        got = {o.key: o for o in run(first, tick)}
        in_sample = [
            SweepResult._build(
                spec,
                candidates,
                {i: got[fi * n + i] for i in range(n) if fi * n + i in got},
                start=f.is_start,
                end=f.is_end,
                equity_usd=cash,
            )
            for fi, f in enumerate(folds)
        ]
        chosen: list[int | None] = [s.best() for s in in_sample]
        second: list[_Task] = []
        for fi, (f, best) in enumerate(zip(folds, chosen, strict=True)):
            config = candidates[best].config if best is not None else None
            if config is not None and fingerprint(config) != base_fp:
                second.append(
                    _Task(nf * n + nf + fi, config, f.oos_start, f.oos_end, cash, fill, True)
                )
        for _ in range(nf - len(second)):  # the base's run stands in: nothing to run
            tick()
        got.update({o.key: o for o in run(second, tick)} if second else {})

    results: list[FoldResult] = []
    for fi, (f, sweep, best) in enumerate(zip(folds, in_sample, chosen, strict=True)):
        base_run = got[nf * n + fi]
        tuned = got.get(nf * n + nf + fi, base_run)
        note = None
        if best is None:
            note = "no candidate had a defined in-sample objective: the base configuration was used"
        results.append(
            FoldResult(
                fold=f, in_sample=sweep, best_config=best,
                best_overrides={} if best is None else sweep.overrides(best),
                is_objective=math.nan if best is None else float(
                    sweep.frame.loc[sweep.frame["config"] == best, "objective"].iloc[0]
                ),
                oos_objective=spec.objective.value(tuned.metrics), oos_metrics=tuned.metrics,
                oos_equity=tuned.equity, oos_trades=tuned.trades, oos_error=tuned.error,
                base_oos_objective=spec.objective.value(base_run.metrics),
                base_oos_metrics=base_run.metrics, base_oos_equity=base_run.equity,
                base_oos_trades=base_run.trades, base_oos_error=base_run.error, note=note,
                equity_usd=cash,
            )
        )  # fmt: skip

    def stitched(
        pick: Callable[[FoldResult], tuple[pd.Series | None, tuple[ClosedTrade, ...]]],
    ) -> tuple[pd.Series, Metrics]:
        runs = [pick(fr) for fr in results]
        curves = [e for e, _ in runs if e is not None]
        trades = [t for e, ts in runs if e is not None for t in ts]
        curve = stitch_equity(curves, cash)
        return curve, compute_metrics(curve, trades)

    tuned_curve, tuned_metrics = stitched(lambda fr: (fr.oos_equity, fr.oos_trades))
    base_curve, base_metrics = stitched(lambda fr: (fr.base_oos_equity, fr.base_oos_trades))
    tail_start = folds[-1].oos_end + timedelta(days=1)
    tail = (tail_start, end) if tail_start <= end else None
    complete = all(fr.oos_equity is not None and fr.base_oos_equity is not None for fr in results)
    return WalkForwardResult(
        spec=spec, folds=tuple(results), equity_usd=cash, stitched_equity=tuned_curve,
        stitched_metrics=tuned_metrics, base_stitched_equity=base_curve,
        base_stitched_metrics=base_metrics, unused_tail=tail, complete=complete,
    )  # fmt: skip


# --------------------------------------------------------------------------- command line


def load_history(
    data: Literal["real", "synthetic"],
    *,
    end: date,
    store_dir: Path | None = None,
    seed: int = 7,
) -> MarketHistory:
    """The market for ``vixshield sweep``: the local store, or the embedded default market.

    ``synthetic``: seed ``seed`` from :data:`SYNTHETIC_START` to the last session on or before
    ``end`` (the same market ``vixshield signal --data synthetic`` reads).
    """
    if data == "synthetic":
        last = calendar.previous_session(end, inclusive=True)
        return MarketHistory.from_synthetic(synthetic_market(SYNTHETIC_START, last, seed=seed))
    from vixshield.data.store import Store  # noqa: PLC0415 - only for real data

    if store_dir is None or not (store_dir / "manifest.json").exists():
        raise VixShieldError(
            f"the local store at {store_dir} is empty: import the market data first "
            "(vixshield data import FOLDER) or run with --data synthetic"
        )
    return MarketHistory.from_store(Store(store_dir))


def write_outputs(result: SweepResult | WalkForwardResult, out_dir: Path) -> list[Path]:
    """Write a result's files into ``out_dir`` (created); returns their paths.

    A sweep: ``sweep.json``, ``sweep.csv``. A walk-forward: ``walk_forward.json``,
    ``folds.csv``, ``in_sample.csv`` (every IS run) and ``oos_equity.csv`` (both stitched
    curves).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(result, SweepResult):
        paths = [out_dir / "sweep.json", out_dir / "sweep.csv"]
        paths[0].write_text(result.to_json(indent=2) + "\n", encoding="utf-8")
        result.to_csv(paths[1])
        return paths
    paths = [
        out_dir / n for n in ("walk_forward.json", "folds.csv", "in_sample.csv", "oos_equity.csv")
    ]
    paths[0].write_text(result.to_json(indent=2) + "\n", encoding="utf-8")
    result.to_csv(paths[1])
    result.in_sample_frame().to_csv(paths[2], index=False, float_format="%.17g")
    eq = result.equity_frame()
    eq.index.name = "date"
    eq.to_csv(paths[3], float_format="%.17g")
    return paths


def _fill(k: float) -> FillParams:
    try:
        return FillParams(half_spread_fraction=k)
    except ValidationError:
        raise InvalidInputError(f"the fill fraction must be in [0, 1], got {k!r}") from None


def sweep_command_impl(
    spec_path: Path,
    *,
    start: date,
    end: date,
    data: Literal["real", "synthetic"] = "synthetic",
    store_dir: Path | None = None,
    config_path: Path | None = None,
    workers: int | None = None,
    ray_address: str | None = None,
    walk_forward_eval: bool = False,
    is_months: int = 12,
    oos_months: int = 3,
    anchored: bool = False,
    equity_usd: float = DEFAULT_EQUITY_USD,
    fill_k: float | None = None,
    out_dir: Path | None = None,
    progress: Progress | None = None,
) -> tuple[SweepResult | WalkForwardResult, list[Path]]:
    """Everything ``vixshield sweep`` does but printing: read, load, run, write.

    ``config_path`` (``--config``) is the base configuration under the spec's ``[base]``;
    ``workers`` 1 runs in this process, more a spawn pool (default: every core), ignored with
    ``ray_address`` unless it is ``"local"``. ``fill_k``: the fill model's half-spread fraction
    (default :class:`FillParams`' own). Returns the result and the files written under
    ``out_dir`` (none without it). Every user error is a :class:`VixShieldError` (print it,
    exit 2).
    """
    base = load_config(config_path)
    spec = SweepSpec.from_toml(spec_path, base=base)
    fill = None if fill_k is None else _fill(fill_k)
    history = load_history(data, end=end, store_dir=store_dir)
    if ray_address:
        backend = Backend.ray(ray_address, workers=workers)
    elif workers == 1:
        backend = Backend.serial()
    else:
        backend = Backend.process(workers)
    result: SweepResult | WalkForwardResult
    if walk_forward_eval:
        result = walk_forward(
            spec, history, start=start, end=end, is_months=is_months, oos_months=oos_months,
            anchored=anchored, equity_usd=equity_usd, fill=fill, backend=backend,
            progress=progress,
        )  # fmt: skip
    else:
        result = run_sweep(
            spec, history, start=start, end=end, equity_usd=equity_usd, fill=fill,
            backend=backend, progress=progress,
        )  # fmt: skip
    paths = write_outputs(result, out_dir) if out_dir is not None else []
    return result, paths
