"""The SPX model chain against the one real chain: SPXW 2019-06-26 15:45 ET (DataShop file).

Inputs are the day's public numbers only: spot 2918.11 (the file's underlying mid), the Cboe
closes VIX9D 16.80, VIX 16.21, VIX3M 17.05, VIX6M 17.80 and SKEW 117.16, rate 0.0217 (as in
``test_vix_real_chain.py``), and a dividend yield of 1.79% (the chain's parity forwards at
30 days or more, regressed on T; the S&P 500 trailing yield was about 1.9%). The model's ATM
level comes from the indices, never from the chain.

Judged quotes: out of the money (calls above, puts at or below the parity forward), bid > 0,
5-50 delta (forward delta from :func:`add_implied_vols`), at least one day to expiry (the
15-minute same-day expiry is left out): 2,394 quotes over 29 expiries. Error = model implied
vol at the quote's (T, K) minus the real mid's implied vol, in vol points.

Recorded results (in sample: the parameters in ``model_chain_params.json`` were fitted on these
very quotes by ``scripts/calibrate_model_chains.py``):

============== ====== ======= ========
days to expiry  bias   RMSE    quotes
============== ====== ======= ========
1-7            -0.36   1.40     109
7-21           +0.23   0.47     305
21-45          +0.10   0.25     782
45-90          +0.01   0.17     519
90-400         -0.28   0.38     679
all            -0.03   0.43    2394
============== ====== ======= ========

Calls: bias -0.01, RMSE 0.49; puts: -0.05, 0.40. The first week is the worst: the 2019-07-01 and
07-03 expiries straddle the G20 weekend and the July 4 holiday, event variance that a smooth term
structure through VIX9D cannot place. For scale, the issue author measured 1.3-1.6 points for a
one-day fit with ATM proportional to the VIX term structure, and about 0.6 when matched to each
day's VIX and SKEW.

Out-of-sample-style check (a second real day does not exist): refit rho, eta, gamma and the
variance-swap scale on every other expiry and test on the rest. Fit on the 1st, 3rd, ... (15
expiries): test RMSE 0.44 (bias -0.10) on the other 14, against 0.52 in sample on the fitting
half. Fit on the 2nd, 4th, ... (14): test RMSE 0.53 (bias +0.03) on the other 15, against 0.44
in sample. Out-of-sample errors equal in-sample ones on the same expiries (each half's RMSE is
0.44 or 0.52-0.53 whichever half fitted): the error is the model's shape and the short-dated
events, not overfitting; the parameters move little (rho -0.661/-0.666, eta 1.93/2.23, gamma
0.358/0.331). This check does not cover other days' VIX and SKEW, which only new chains can.

ATM/VIX ratio: the model's 30-day ATM vol is 0.877 x VIX = 14.22%; the real chain's (2019-07-26
expiry, OTM implied vols interpolated linearly in log-moneyness to the forward) is 14.06%,
0.867 x VIX. The ratio is not a constant of the model: it follows from the skew (SKEW).

VIX on the model chain (vixshield's VIX formula, its 30- and
37-day SPXW expiries): 15.74 against the published 16.21, i.e. sqrt(vs_scale) = 0.972 of it by
construction: SSVI wings beyond 5 delta are thinner than the real chain's (3-8 vol points below
1 delta), so the variance swap of a model matched at 5-50 delta falls short of the quoted one,
and the calibration absorbs that in ``vs_scale`` = 0.945 rather than in the ATM level.

Quotes: on the 2,895 rows the model chain shares with the judged real quotes (same expiry,
strike, right) the model's own ``iv`` column misses by bias -0.04, RMSE 0.40 (including the
model's forward from the dividend yield); the median width ratio model/real is 1.00.

Tolerances: the numbers are deterministic for the data; the slack (RMSE +25% + 0.05, bias
+-0.15) allows for changes of the IV solver's last digits and a re-run of the calibration
script, and still fails on any change of the model that moves a bucket by a tenth of a point.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from vixshield.data.chains import add_implied_vols, chain_to_vix_quotes, load_datashop
from vixshield.data.loaders import load_cboe_index
from vixshield.data.model_chains import (
    SpxModelParams,
    SpxSurface,
    calibrate_spx_smile,
    model_spx_chain,
    spx_surface,
)
from vixshield.pricing.vix import vix_index
from vixshield.units import NEW_YORK

pytestmark = pytest.mark.real

DAY = date(2019, 6, 26)
QUOTE_TIME = datetime(2019, 6, 26, 15, 45, tzinfo=NEW_YORK)
RATE = 0.0217
BUCKETS = [0, 7, 21, 45, 90, 400]
RECORDED = {  # bucket upper edge: (bias, rmse), vol points
    7: (-0.356, 1.397),
    21: (0.226, 0.471),
    45: (0.097, 0.249),
    90: (0.005, 0.166),
    400: (-0.279, 0.381),
}


def _close(real_data: Path, name: str) -> float:
    frame = load_cboe_index(real_data / "cboe" / f"{name}_History.csv", close_only=True).frame
    return float(frame.loc[frame["date"] == pd.Timestamp(DAY), "close"].iloc[0])


@dataclass(frozen=True)
class Day:
    chain: pd.DataFrame
    judged: pd.DataFrame
    spot: float
    div: float
    indices: dict[str, Any]
    skew: float

    def surface(self, params: SpxModelParams | None = None) -> SpxSurface:
        return spx_surface(
            self.spot,
            **self.indices,
            skew=self.skew,
            rate=RATE,
            div_yield=self.div,
            params=params,
        )


@pytest.fixture(scope="module")
def day(real_data: Path) -> Day:
    chain = add_implied_vols(
        load_datashop(real_data / "chains" / "spxw_20190626_datashop.csv").frame, rate=RATE
    )
    spot = float(0.5 * (chain["underlying_bid"].iloc[0] + chain["underlying_ask"].iloc[0]))
    fwd = chain.groupby("expiry")[["t_years", "forward"]].first()
    fwd = fwd.loc[fwd["t_years"] >= 30 / 365]
    t = fwd["t_years"].to_numpy()
    div = RATE - float(np.sum(np.log(fwd["forward"].to_numpy() / spot) * t) / np.sum(t * t))
    k = np.log(chain["strike"] / chain["forward"])
    otm = ((chain["right"] == "C") & (k > 0)) | ((chain["right"] == "P") & (k <= 0))
    keep = (
        otm
        & chain["delta"].abs().between(0.05, 0.5)
        & chain["iv"].notna()
        & (chain["t_years"] >= 1 / 365)
    )
    indices = {n.lower(): _close(real_data, n) for n in ("VIX", "VIX9D", "VIX3M", "VIX6M")}
    return Day(
        chain=chain,
        judged=chain.loc[keep].reset_index(drop=True),
        spot=spot,
        div=div,
        indices=indices,
        skew=_close(real_data, "SKEW"),
    )


def _errors(day: Day, rows: pd.DataFrame, params: SpxModelParams) -> pd.DataFrame:
    surface = day.surface(params)
    model = surface.implied_vol(rows["t_years"].to_numpy(), rows["strike"].to_numpy())
    return pd.DataFrame(
        {
            "err": (model - rows["iv"].to_numpy()) * 100.0,
            "days": rows["t_years"].to_numpy() * 365.0,
            "right": rows["right"].to_numpy(),
            "expiry": rows["expiry"].to_numpy(),
        }
    )


def _rmse(err: pd.Series) -> float:
    return float(np.sqrt(np.mean(np.square(err))))


def test_inputs_are_the_recorded_day(day: Day) -> None:
    assert day.indices == {"vix": 16.21, "vix9d": 16.8, "vix3m": 17.05, "vix6m": 17.8}
    assert day.skew == 117.16
    assert day.spot == pytest.approx(2918.11)
    assert day.div == pytest.approx(0.0179, abs=5e-4)
    judged = day.judged
    assert len(judged) == 2394
    assert judged["expiry"].nunique() == 29


def test_iv_error_by_expiry_bucket(day: Day) -> None:
    errors = _errors(day, day.judged, SpxModelParams())
    buckets = pd.cut(errors["days"], BUCKETS)
    for interval, group in errors.groupby(buckets, observed=True):
        bias, rmse = RECORDED[int(interval.right)]
        assert abs(group["err"].mean() - bias) <= 0.15, interval
        assert _rmse(group["err"]) <= 1.25 * rmse + 0.05, interval
    assert abs(errors["err"].mean()) <= 0.15
    assert _rmse(errors["err"]) <= 0.5
    for right, group in errors.groupby("right"):
        assert abs(group["err"].mean()) <= 0.15, right
        assert _rmse(group["err"]) <= 0.6, right
    # beyond the first week the model is within half a vol point everywhere on average
    later = errors.loc[errors["days"] > 7]
    assert _rmse(later["err"]) <= 0.36


@pytest.mark.parametrize(("fit_half", "test_rmse"), [(0, 0.435), (1, 0.530)])
def test_out_of_sample_half_expiries(day: Day, fit_half: int, test_rmse: float) -> None:
    judged = day.judged
    expiries = np.sort(judged["expiry"].unique())
    fit_set = set(expiries[fit_half::2])
    fit_rows = judged.loc[judged["expiry"].isin(fit_set)]
    test_rows = judged.loc[~judged["expiry"].isin(fit_set)]
    params = calibrate_spx_smile(
        fit_rows,
        **day.indices,
        skew=day.skew,
    )
    errors = _errors(day, test_rows, params)
    assert _rmse(errors["err"]) <= 1.25 * test_rmse + 0.05
    assert abs(errors["err"].mean()) <= 0.25
    # the fitted shape barely moves between the halves
    full = SpxModelParams()
    assert params.rho == pytest.approx(full.rho, abs=0.05)
    assert params.eta_ref == pytest.approx(full.eta_ref, rel=0.15)
    assert params.gamma == pytest.approx(full.gamma, abs=0.05)


def test_calibration_reproduces_record(day: Day) -> None:
    fitted = calibrate_spx_smile(
        day.judged,
        **day.indices,
        skew=day.skew,
    )
    full = SpxModelParams()
    for name in ("rho", "eta_ref", "gamma", "vs_scale"):
        assert getattr(fitted, name) == pytest.approx(getattr(full, name), abs=2e-3), name
    assert full.eta_for_skew(117.16) == pytest.approx(full.eta_ref, rel=1e-3)


def test_atm_over_vix(day: Day) -> None:
    chain = day.chain
    month = chain.loc[chain["expiry"] == date(2019, 7, 26)]  # 30 days
    k = np.log(month["strike"] / month["forward"])
    otm = month.loc[((month["right"] == "C") & (k > 0)) | ((month["right"] == "P") & (k <= 0))]
    otm = otm.assign(k=np.log(otm["strike"] / otm["forward"])).sort_values("k")
    atm_real = float(np.interp(0.0, otm["k"], otm["iv"]))  # linear in k across the forward
    surface = day.surface()
    t = 30 / 365
    atm_model = float(np.sqrt(surface.atm_total_variance(t)[0] / t))
    assert atm_real / 0.1621 == pytest.approx(0.867, abs=0.005)
    assert atm_model / 0.1621 == pytest.approx(0.877, abs=0.005)


def test_model_chain_vix_and_quotes(day: Day) -> None:
    params = SpxModelParams()
    model = model_spx_chain(
        DAY,
        day.spot,
        **day.indices,
        skew=day.skew,
        rate=RATE,
        div_yield=day.div,
    )
    ours = vix_index(chain_to_vix_quotes(model), QUOTE_TIME, rate=RATE).value
    assert ours == pytest.approx(16.21 * np.sqrt(params.vs_scale), abs=0.1)
    assert ours == pytest.approx(15.74, abs=0.05)
    assert abs(ours - 16.21) < 0.6

    judged = day.judged
    merged = model.merge(
        judged[["expiry", "strike", "right", "iv", "bid", "ask"]],
        on=["expiry", "strike", "right"],
        suffixes=("_model", "_real"),
    )
    assert len(merged) == 2895
    err = (merged["iv_model"] - merged["iv_real"]) * 100
    assert abs(err.mean()) <= 0.15
    assert _rmse(err) <= 0.5
    ratio = (merged["ask_model"] - merged["bid_model"]) / (merged["ask_real"] - merged["bid_real"])
    assert 0.8 <= float(ratio.median()) <= 1.25


def test_dataclass_replace_keeps_validation() -> None:
    with pytest.raises(ValueError, match="out of range"):
        dataclasses.replace(SpxModelParams(), gamma=0.9)
