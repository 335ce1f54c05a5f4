"""Market history aligned on trading sessions, and the causal snapshots the decision code reads.

:class:`MarketHistory` holds every series on one spine, the sessions of the S&P 500 series,
and hands out one :class:`~vixshield.domain.market.MarketSnapshot` per session. It is built
from canonical frames (:meth:`MarketHistory.from_frames`), from the local store
(:meth:`MarketHistory.from_store`) or from any source producing the same frames, such as the
embedded default market. Real and modelled data go through the same path; each value keeps
its ``modelled`` flag.

**No look-ahead.** Daily data for session ``d`` is stamped at ``d``'s close plus 15 minutes
(16:15 New York, 13:15 on early-close days): the VIX and the VX settlements are struck then.
:meth:`MarketHistory.snapshot` refuses a session whose stamp is after the clock's "now"
(:class:`LookaheadError`), and :meth:`MarketHistory.upto` cuts every series at a session.

**Nothing is filled in.** A series without a value on a session is absent from that day's
snapshot (an index missing from ``indices``, ``breadth`` or ``rate`` None). The only model
values are the VX curve's documented fallback (:func:`vixshield.data.vx_curve.with_fallback`)
on days with the VIX term structure but no futures, flagged ``modelled=True``.

Event distances (``trading_days_to``) count sessions to the next FOMC decision, CPI and PPI
release, which are scheduled and published in advance, so knowing them is not look-ahead.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from vixshield import calendar
from vixshield.clock import Clock
from vixshield.data.model_chains import model_spx_chain
from vixshield.data.store import SeriesKind, Store
from vixshield.data.synthetic import SyntheticMarket
from vixshield.data.vx_curve import vx_term_structure, with_fallback
from vixshield.domain.market import Bar, Breadth, CurvePoint, Datum, MarketSnapshot
from vixshield.errors import DataError, VixShieldError

INDEX_NAMES: Final = ("vix", "vix9d", "vix3m", "vix6m", "vvix", "skew")
EVENT_KINDS: Final = ("fomc", "cpi", "ppi")
DATA_DELAY: Final = timedelta(minutes=15)  # VIX close and VX settlement: 15 min after SPX
# An event calendar is taken to cover from its first event minus this many days (monthly
# releases are at most ~35 days apart).
EVENT_COVERAGE_LEAD_DAYS: Final = 45
_RECENT_SNAPSHOTS: Final = 4


class LookaheadError(VixShieldError):
    """A snapshot was asked for data stamped after the clock's current time."""


def stamp(session: date) -> datetime:
    """The instant daily data for ``session`` becomes known: the close plus 15 minutes."""
    return calendar.close_time(session) + DATA_DELAY


def _dates(frame: pd.DataFrame, column: str = "date") -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(frame[column])).normalize()


def _modelled(frame: pd.DataFrame) -> npt.NDArray[np.bool_]:
    if "modelled" in frame.columns:
        return frame["modelled"].to_numpy(dtype=np.bool_)
    return np.zeros(len(frame), dtype=np.bool_)


@dataclass(frozen=True)
class MarketHistory:
    """Every series on the S&P 500 session spine; see the module docstring.

    Build it with :meth:`from_frames` or :meth:`from_store`, not directly.
    """

    daily: pd.DataFrame
    curve: pd.DataFrame
    _columns: Mapping[str, npt.NDArray[Any]] = field(repr=False)
    _curve_points: Mapping[int, tuple[CurvePoint, ...]] = field(repr=False)
    _sessions: tuple[date, ...] = field(repr=False)
    real_chains: Mapping[date, pd.DataFrame] = field(default_factory=dict, repr=False)
    _recent: dict[tuple[int, datetime], MarketSnapshot] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """The last few snapshots built (they are immutable): a backtest day asks for its
    snapshot several times (the runner, ``run_day``, the chain)."""

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_frames(
        cls,
        *,
        spx: pd.DataFrame,
        indices: Mapping[str, pd.DataFrame] | None = None,
        vx_contracts: pd.DataFrame | None = None,
        breadth: pd.DataFrame | None = None,
        rate: pd.DataFrame | None = None,
        events: pd.DataFrame | None = None,
        fomc: pd.DataFrame | None = None,
        vx_fallback: bool = True,
        chains: Sequence[pd.DataFrame] = (),
    ) -> MarketHistory:
        """Align canonical frames (as the loaders produce them) on the S&P 500 sessions.

        Parameters
        ----------
        spx
            Canonical price frame (``date, open, high, low, close, modelled``); its dates are
            the spine. ``open``/``high``/``low`` may be absent (close-only data).
        indices
            Canonical Cboe index frames by name (``vix``, ``vix9d``, ``vix3m``, ``vix6m``,
            ``vvix``, ``skew``); the ``close`` column is used.
        vx_contracts
            Canonical CFE contract frame (:mod:`vixshield.data.cfe`).
        breadth
            ``date, advances, declines, unchanged``.
        rate
            ``date, rate_decimal``.
        events, fomc
            Canonical macro-events and FOMC-meetings frames; FOMC decisions come from
            ``fomc`` (meeting end dates) when given, else from ``events``.
        vx_fallback
            Model the VX curve from the VIX term structure on sessions with no futures.
        chains
            Canonical option chains (real quotes); each serves its quote date in
            :meth:`spx_chain` instead of a model chain.
        """
        if spx.empty:
            raise DataError("the S&P 500 series is empty: nothing to build a history on")
        spine = _dates(spx)
        if not spine.is_monotonic_increasing or spine.has_duplicates:
            raise DataError("the S&P 500 dates must be unique and increasing")
        daily = pd.DataFrame(index=spine)
        daily.index.name = "date"
        for col in ("open", "high", "low", "close"):
            values = spx[col].to_numpy(dtype=np.float64) if col in spx else np.nan
            daily[f"spx_{col}"] = values
        daily["spx_modelled"] = _modelled(spx)
        index_frames = dict(indices or {})
        unknown = set(index_frames) - set(INDEX_NAMES)
        if unknown:
            raise DataError(f"unknown index series {sorted(unknown)}; known: {INDEX_NAMES}")
        for name in INDEX_NAMES:
            frame = index_frames.get(name)
            if frame is None:
                daily[name] = np.nan
                daily[f"{name}_modelled"] = False
                continue
            s = pd.Series(frame["close"].to_numpy(dtype=np.float64), index=_dates(frame))
            m = pd.Series(_modelled(frame), index=_dates(frame))
            daily[name] = s.reindex(spine).to_numpy()
            daily[f"{name}_modelled"] = m.reindex(spine, fill_value=False).to_numpy(dtype=bool)
        if breadth is not None:
            b = breadth.set_index(_dates(breadth))
            for col in ("advances", "declines", "unchanged"):
                daily[col] = b[col].reindex(spine).to_numpy(dtype=np.float64)
            daily["breadth_modelled"] = (
                pd.Series(_modelled(breadth), index=b.index)
                .reindex(spine, fill_value=False)
                .to_numpy(dtype=bool)
            )
        else:
            for col in ("advances", "declines", "unchanged"):
                daily[col] = np.nan
            daily["breadth_modelled"] = False
        if rate is not None:
            r = pd.Series(rate["rate_decimal"].to_numpy(dtype=np.float64), index=_dates(rate))
            daily["rate"] = r.reindex(spine).to_numpy()
            daily["rate_modelled"] = (
                pd.Series(_modelled(rate), index=_dates(rate))
                .reindex(spine, fill_value=False)
                .to_numpy(dtype=bool)
            )
        else:
            daily["rate"] = np.nan
            daily["rate_modelled"] = False
        for kind, days in _event_distances(spine, events=events, fomc=fomc).items():
            daily[f"days_to_{kind}"] = days
        curve = _curve(daily, vx_contracts, vx_fallback=vx_fallback)
        return cls._build(daily, curve, _chains_by_date(chains))

    @classmethod
    def _build(
        cls,
        daily: pd.DataFrame,
        curve: pd.DataFrame,
        real_chains: Mapping[date, pd.DataFrame] | None = None,
    ) -> MarketHistory:
        columns = {c: daily[c].to_numpy() for c in daily.columns}
        sessions = tuple(d.date() for d in daily.index)
        points: dict[int, list[CurvePoint]] = {}
        if not curve.empty:
            c = curve.loc[curve["settle"].notna()]
            pos = pd.Series(np.arange(len(daily)), index=daily.index)
            at = pos.reindex(pd.DatetimeIndex(c["date"])).to_numpy()
            expiries = [d.date() for d in pd.DatetimeIndex(c["expiry"])]
            rows = zip(
                at,
                c["rank"].to_numpy(dtype=np.int64),
                expiries,
                c["dte"].to_numpy(dtype=np.int64),
                c["t_years"].to_numpy(dtype=np.float64),
                c["settle"].to_numpy(dtype=np.float64),
                c["modelled"].to_numpy(dtype=np.bool_),
                strict=True,
            )
            for i, rank, expiry, dte, t, settle, modelled in rows:
                if np.isnan(i):
                    continue
                points.setdefault(int(i), []).append(
                    CurvePoint(int(rank), expiry, int(dte), float(t), float(settle), bool(modelled))
                )
        frozen = {i: tuple(sorted(p, key=lambda x: x.rank)) for i, p in points.items()}
        return cls(daily, curve, columns, frozen, sessions, dict(real_chains or {}))

    @classmethod
    def from_synthetic(cls, market: SyntheticMarket) -> MarketHistory:
        """Build from the embedded default market (every datum flagged ``modelled``)."""
        return cls.from_frames(
            spx=market.spx,
            indices=market.index_frames(),
            vx_contracts=market.vx,
            # Breadth and rate frames have no flag column in their canonical form: mark them.
            breadth=market.breadth.assign(modelled=True),
            rate=market.rates.assign(modelled=True),
            events=market.events,
        )

    @classmethod
    def from_store(cls, store: Store, *, vx_fallback: bool = True) -> MarketHistory:
        """Build from the series a :class:`~vixshield.data.store.Store` holds.

        Uses the series names ``vixshield data import`` gives: ``spx`` (required; else
        ``spx_fred``), ``vix`` (else ``vix_close``), ``vix9d``, ``vix3m``, ``vix6m``,
        ``vvix``, ``skew``, ``vx_contracts``, ``breadth``, ``tbill13w`` (else
        ``tbill13w_fred``), ``events``, ``fomc``.
        """
        names = set(store.names())
        # FRED's series are imported under *_fred names; they stand in when the fuller
        # series (Yahoo/Stooq S&P 500, the 13-week T-bill file) is absent.
        aliases = {"spx": "spx_fred", "tbill13w": "tbill13w_fred", "vix": "vix_close"}
        for name, alias in aliases.items():
            if name not in names and alias in names:
                names.add(name)
        if "spx" not in names:
            raise DataError(
                f"the store at {store.root} has no 'spx' series: import an S&P 500 daily file "
                "(vixshield data import GSPC.csv) first"
            )

        stored = set(store.names())

        def get(name: str) -> pd.DataFrame | None:
            if name in stored:
                return store.read(name).frame
            alias = aliases.get(name)
            return store.read(alias).frame if alias in stored else None

        indices = {n: f for n in INDEX_NAMES if (f := get(n)) is not None}
        spx = get("spx")
        assert spx is not None
        return cls.from_frames(
            spx=spx,
            indices=indices,
            vx_contracts=get("vx_contracts"),
            breadth=get("breadth"),
            rate=get("tbill13w"),
            events=get("events"),
            fomc=get("fomc"),
            vx_fallback=vx_fallback,
            chains=[store.read(s.name).frame for s in store.status() if s.kind is SeriesKind.CHAIN],
        )

    # ------------------------------------------------------------------ access
    @property
    def sessions(self) -> tuple[date, ...]:
        """The sessions of the spine, oldest first."""
        return self._sessions

    def position(self, session: date) -> int:
        """Index of ``session`` on the spine; DataError when it is not a session here."""
        i = int(np.searchsorted(self.daily.index.values, np.datetime64(session, "ns")))
        if i >= len(self._sessions) or self._sessions[i] != session:
            raise DataError(
                f"{session} is not a session of this history "
                f"({self._sessions[0]}..{self._sessions[-1]}, {len(self._sessions)} sessions)"
            )
        return i

    def snapshot(self, session: date, *, clock: Clock) -> MarketSnapshot:
        """The market at the close of ``session``; refuses it before its data exists."""
        now = clock.now()
        known = stamp(session)
        if now < known:
            raise LookaheadError(
                f"session {session} data is stamped {known.isoformat()}, after the clock's "
                f"now {now.isoformat()}: a decision cannot read it yet"
            )
        return self._snapshot(self.position(session), as_of=now)

    def _snapshot(self, i: int, *, as_of: datetime) -> MarketSnapshot:
        recent: dict[tuple[int, datetime], MarketSnapshot]
        recent = self.__dict__.setdefault("_recent", {})  # absent from an older pickle
        got = recent.get((i, as_of))
        if got is None:
            got = self._build_snapshot(i, as_of=as_of)
            if len(recent) >= _RECENT_SNAPSHOTS:
                recent.pop(next(iter(recent)))  # the oldest entry
            recent[(i, as_of)] = got
        return got

    def _build_snapshot(self, i: int, *, as_of: datetime) -> MarketSnapshot:
        col = self._columns
        indices = {
            name: Datum(float(col[name][i]), bool(col[f"{name}_modelled"][i]))
            for name in INDEX_NAMES
            if np.isfinite(col[name][i])
        }
        breadth = None
        if np.isfinite(col["advances"][i]) and np.isfinite(col["declines"][i]):
            unchanged = col["unchanged"][i]
            breadth = Breadth(
                int(col["advances"][i]),
                int(col["declines"][i]),
                int(unchanged) if np.isfinite(unchanged) else 0,
                bool(col["breadth_modelled"][i]),
            )
        rate = None
        if np.isfinite(col["rate"][i]):
            rate = Datum(float(col["rate"][i]), bool(col["rate_modelled"][i]))
        events = {
            kind: int(col[f"days_to_{kind}"][i])
            for kind in EVENT_KINDS
            if col[f"days_to_{kind}"][i] >= 0
        }
        return MarketSnapshot(
            session=self._sessions[i],
            as_of=as_of,
            spx=Bar(
                float(col["spx_open"][i]),
                float(col["spx_high"][i]),
                float(col["spx_low"][i]),
                float(col["spx_close"][i]),
                bool(col["spx_modelled"][i]),
            ),
            indices=indices,
            vx_curve=self._curve_points.get(i, ()),
            breadth=breadth,
            rate=rate,
            trading_days_to=events,
        )

    def snapshots(
        self, start: date | None = None, end: date | None = None
    ) -> Iterator[MarketSnapshot]:
        """Every snapshot from ``start`` to ``end`` (inclusive), each stamped at its own close.

        This is the backtest's walk: a fixed clock at each session's stamp.
        """
        lo = (
            0
            if start is None
            else int(np.searchsorted(self.daily.index.values, np.datetime64(start, "ns")))
        )
        hi = (
            len(self._sessions)
            if end is None
            else int(
                np.searchsorted(self.daily.index.values, np.datetime64(end, "ns"), side="right")
            )
        )
        for i in range(lo, hi):
            yield self._snapshot(i, as_of=stamp(self._sessions[i]))

    def upto(self, session: date) -> MarketHistory:
        """The history cut at ``session`` (inclusive): nothing later is left in any series."""
        i = self.position(session)
        daily = self.daily.iloc[: i + 1]
        cut = pd.Timestamp(session)
        curve = (
            self.curve.loc[pd.to_datetime(self.curve["date"]) <= cut]
            if not self.curve.empty
            else self.curve
        )
        chains = {d: c for d, c in self.real_chains.items() if d <= session}
        return MarketHistory._build(daily, curve, chains)

    def spx_chain(
        self, session: date, *, clock: Clock, rate: float, div_yield: float
    ) -> pd.DataFrame:
        """The SPX/SPXW option chain for ``session``, as the decision code sees it.

        A stored real chain for that date when there is one (``modelled`` False); otherwise a
        model chain (:func:`vixshield.data.model_chains.model_spx_chain`, ``modelled`` True)
        built from that day's close, VIX family and SKEW, with the ``rate`` and ``div_yield``
        the caller states (the history holds no dividend yield, and its rate series may be
        absent or on a discount basis: the caller decides, nothing is assumed here). Asking
        again for the same session, rate and dividend yield (a backtest does: the decision,
        then the fills and marks) does not rebuild the model chain:
        :func:`~vixshield.data.model_chains.model_spx_chain` keeps the last few by their
        inputs, and each call gets its own copy (shallow, copy-on-write).

        Raises
        ------
        LookaheadError
            The session's data is stamped after the clock.
        DataError
            No real chain and no VIX close that day to build a model chain from.
        """
        snap = self.snapshot(session, clock=clock)
        real = self.real_chains.get(session)
        if real is not None:
            return real
        vix = snap.index("vix")
        if vix is None:
            raise DataError(
                f"{session}: no stored option chain and no VIX close to model one from; "
                "import the VIX history (vixshield data import VIX_History.csv)"
            )
        return model_spx_chain(
            session,
            snap.spx.close,
            vix=vix,
            vix9d=snap.index("vix9d"),
            vix3m=snap.index("vix3m"),
            vix6m=snap.index("vix6m"),
            skew=snap.index("skew"),
            rate=rate,
            div_yield=div_yield,
        )

    def modelled_share(self) -> dict[str, float]:
        """Share of sessions on which each series' value is modelled (where it has one)."""
        out: dict[str, float] = {}
        for name in ("spx", *INDEX_NAMES, "breadth", "rate"):
            flags = self._columns[f"{name}_modelled"]
            out[name] = float(np.mean(flags)) if len(flags) else 0.0
        if not self.curve.empty:
            out["vx_curve"] = float(self.curve["modelled"].astype(bool).mean())
        return out


def _chains_by_date(chains: Sequence[pd.DataFrame]) -> dict[date, pd.DataFrame]:
    """Real chains by the New York date of their quote time (one snapshot per date)."""
    out: dict[date, pd.DataFrame] = {}
    for chain in chains:
        if chain.empty:
            continue
        days = pd.DatetimeIndex(chain["quote_time"]).tz_convert("America/New_York").normalize()
        for day in days.unique():
            part = chain.loc[days == day]
            d = day.date()
            if d in out:
                raise DataError(f"two stored option chains quote {d}: keep one per date")
            out[d] = part.reset_index(drop=True)
    return out


def _event_distances(
    spine: pd.DatetimeIndex, *, events: pd.DataFrame | None, fomc: pd.DataFrame | None
) -> dict[str, npt.NDArray[np.int64]]:
    """Sessions from each spine session to the next event of each kind (-1 when none ahead)."""
    dates: dict[str, pd.DatetimeIndex] = {k: pd.DatetimeIndex([]) for k in EVENT_KINDS}
    if events is not None and not events.empty:
        kinds = events["event"].astype(str)
        when = _dates(events)
        dates["cpi"] = when[(kinds == "cpi").to_numpy()]
        dates["ppi"] = when[(kinds == "ppi").to_numpy()]
        dates["fomc"] = when[(kinds == "fomc_decision").to_numpy()]
    if fomc is not None and not fomc.empty:
        dates["fomc"] = _dates(fomc, "end_date")
    out: dict[str, npt.NDArray[np.int64]] = {}
    n = len(spine)
    # Count on the exchange calendar, not the spine, so a scheduled event after the last
    # session of the history (the next FOMC, say) still has a distance.
    last_event = max((w.max() for w in dates.values() if len(w)), default=spine[-1])
    horizon = min(max(last_event, spine[-1]).date(), calendar.CALENDAR_END)
    grid = pd.DatetimeIndex(calendar.sessions(spine[0].date(), horizon)).to_numpy()
    here = np.searchsorted(grid, spine.to_numpy(), side="left")
    for kind, when in dates.items():
        # An event on a non-session counts from the next session.
        event_pos = np.unique(np.searchsorted(grid, when.sort_values().to_numpy(), side="left"))
        event_pos = event_pos[event_pos < len(grid)]
        nxt = np.searchsorted(event_pos, here, side="left")
        days = np.full(n, -1, dtype=np.int64)
        has = nxt < len(event_pos)
        if len(when):
            # A calendar starting at its first event says nothing about the years before it:
            # there the distance is unknown, not "to the first event in the file".
            covered_from = when.min() - pd.Timedelta(days=EVENT_COVERAGE_LEAD_DAYS)
            has &= spine.to_numpy() >= covered_from.to_datetime64()
        days[has] = event_pos[nxt[has]] - here[has]
        out[kind] = days
    return out


def _curve(
    daily: pd.DataFrame, vx_contracts: pd.DataFrame | None, *, vx_fallback: bool
) -> pd.DataFrame:
    term = (
        vx_term_structure(vx_contracts)
        if vx_contracts is not None and not vx_contracts.empty
        else None
    )
    if not vx_fallback:
        return term if term is not None else pd.DataFrame()
    idx = pd.DataFrame(
        {
            "date": daily.index,
            **{n: daily[n].to_numpy() for n in ("vix", "vix9d", "vix3m", "vix6m")},
        }
    )
    idx = idx.loc[np.isfinite(idx["vix"].to_numpy())]
    idx = idx.dropna(axis=1, how="all")
    if idx.empty:
        return term if term is not None else pd.DataFrame()
    if term is None:
        term = vx_term_structure(pd.DataFrame(columns=["date", "contract", "expiry", "settle"]))
    return with_fallback(term, idx)
