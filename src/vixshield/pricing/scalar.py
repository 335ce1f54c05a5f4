"""Plain scalar twin of :mod:`vixshield.pricing.black`, using only :mod:`math`.

Same formulas, same evaluation order and same units as the vectorised kernel (see the
docstring of :mod:`vixshield.pricing.black`), one option at a time. It exists as a readable
reference for tests and for pricing a single option (e.g. from the CLI); chains go through the
vectorised kernel. The normal CDF is ``N(x) = erfc(-x / sqrt(2)) / 2``, accurate in both
tails.

Unlike the vectorised kernel, which marks bad elements with a reason code, these functions
raise :class:`~vixshield.errors.InvalidInputError` naming the argument, its value and what
is accepted.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Final

from vixshield.errors import InvalidInputError

__all__ = [
    "ScalarGreeks",
    "black76_greeks_scalar",
    "black76_price_scalar",
    "bsm_greeks_scalar",
    "bsm_price_scalar",
]

_INV_SQRT_2PI: Final = 1.0 / math.sqrt(2.0 * math.pi)
_INV_SQRT_2: Final = 1.0 / math.sqrt(2.0)


@dataclass(frozen=True, slots=True)
class ScalarGreeks:
    """Price and Greeks of one option; the fields and units of ``black.OptionGreeks``."""

    price: float
    delta: float
    gamma: float
    vega_per_volpt: float
    theta_per_day: float
    rho_per_pct: float
    vanna_per_volpt: float
    volga_per_volpt: float


def _norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x * _INV_SQRT_2)


def _positive(name: str, value: float) -> float:
    x = _number(name, value)
    if not (math.isfinite(x) and x > 0.0):
        raise InvalidInputError(f"{name} must be a finite number > 0, got {value!r}")
    return x


def _finite(name: str, value: float) -> float:
    x = _number(name, value)
    if not math.isfinite(x):
        raise InvalidInputError(f"{name} must be a finite number, got {value!r}")
    return x


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInputError(f"{name} must be a finite number (int or float), got {value!r}")
    return float(value)


def _right(is_call: bool) -> float:
    if not isinstance(is_call, bool):
        raise InvalidInputError(
            f"is_call must be a bool (True = call, False = put), got {is_call!r}"
        )
    return 1.0 if is_call else -1.0


def _forward_form(
    *,
    underlying: float,
    log_fk: float,
    strike: float,
    t_years: float,
    vol: float,
    dfu: float,
    dfk: float,
    w: float,
    rate: float,
    carry_q: float | None,
    greeks: bool,
) -> ScalarGreeks:
    """The kernel of ``black._kernel`` for one option; ``carry_q`` None means Black-76."""
    nan = math.nan
    sqrt_t = math.sqrt(t_years)
    sst = vol * sqrt_t
    d1 = log_fk / sst + 0.5 * sst
    d2 = d1 - sst
    fd = underlying * dfu
    kd = strike * dfk
    nd1 = _norm_cdf(w * d1)
    a = fd * nd1
    b = kd * _norm_cdf(w * d2)
    price = max(w * (a - b), 0.0)
    if not greeks:
        return ScalarGreeks(price, nan, nan, nan, nan, nan, nan, nan)

    pdf = math.exp(-0.5 * (d1 * d1)) * _INV_SQRT_2PI
    vega = pdf * fd * sqrt_t
    delta = nd1 * dfu * w
    decay = vega * (vol / (2.0 * t_years))
    if carry_q is None:
        theta = price * rate - decay
        rho = price * (-0.01 * t_years)
    else:
        theta = (a * carry_q - b * rate) * w - decay
        rho = b * w * (0.01 * t_years)
    pdf_u = pdf * dfu
    gamma = pdf_u / (underlying * sst)
    vanna = pdf_u * d2 / vol * -0.01
    volga = d1 * d2 * vega / vol * 1e-4
    return ScalarGreeks(
        price=price,
        delta=delta,
        gamma=gamma,
        vega_per_volpt=vega * 0.01,
        theta_per_day=theta * (1.0 / 365.0),
        rho_per_pct=rho,
        vanna_per_volpt=vanna,
        volga_per_volpt=volga,
    )


def _bsm(
    spot: float,
    strike: float,
    t_years: float,
    vol: float,
    *,
    rate: float,
    div_yield: float,
    is_call: bool,
    greeks: bool,
) -> ScalarGreeks:
    s = _positive("spot", spot)
    k = _positive("strike", strike)
    t = _positive("t_years", t_years)
    v = _positive("vol", vol)
    r = _finite("rate", rate)
    q = _finite("div_yield", div_yield)
    w = _right(is_call)
    log_fk = math.log(s / k) + (r - q) * t
    return _forward_form(
        underlying=s, log_fk=log_fk, strike=k, t_years=t, vol=v, dfu=math.exp(-q * t),
        dfk=math.exp(-r * t), w=w, rate=r, carry_q=q, greeks=greeks,
    )  # fmt: skip


def _black76(
    forward: float,
    strike: float,
    t_years: float,
    vol: float,
    *,
    rate: float,
    is_call: bool,
    greeks: bool,
) -> ScalarGreeks:
    f = _positive("forward", forward)
    k = _positive("strike", strike)
    t = _positive("t_years", t_years)
    v = _positive("vol", vol)
    r = _finite("rate", rate)
    w = _right(is_call)
    df = math.exp(-r * t)
    return _forward_form(
        underlying=f, log_fk=math.log(f / k), strike=k, t_years=t, vol=v, dfu=df, dfk=df, w=w,
        rate=r, carry_q=None, greeks=greeks,
    )  # fmt: skip


def bsm_greeks_scalar(
    spot: float,
    strike: float,
    t_years: float,
    vol: float,
    *,
    rate: float,
    div_yield: float = 0.0,
    is_call: bool,
) -> ScalarGreeks:
    """Black-Scholes-Merton price and Greeks of one option (``black.bsm_greeks`` formulas).

    Raises
    ------
    InvalidInputError
        spot, strike, t_years or vol not a finite number > 0; rate or div_yield not finite;
        is_call not a bool.
    """
    return _bsm(
        spot, strike, t_years, vol, rate=rate, div_yield=div_yield, is_call=is_call, greeks=True
    )


def bsm_price_scalar(
    spot: float,
    strike: float,
    t_years: float,
    vol: float,
    *,
    rate: float,
    div_yield: float = 0.0,
    is_call: bool,
) -> float:
    """Black-Scholes-Merton price of one option; raises as :func:`bsm_greeks_scalar`."""
    return _bsm(
        spot, strike, t_years, vol, rate=rate, div_yield=div_yield, is_call=is_call, greeks=False
    ).price


def black76_greeks_scalar(
    forward: float,
    strike: float,
    t_years: float,
    vol: float,
    *,
    rate: float,
    is_call: bool,
) -> ScalarGreeks:
    """Black-76 price and Greeks of one option (``black.black76_greeks`` formulas).

    Raises
    ------
    InvalidInputError
        forward, strike, t_years or vol not a finite number > 0; rate not finite; is_call not
        a bool.
    """
    return _black76(forward, strike, t_years, vol, rate=rate, is_call=is_call, greeks=True)


def black76_price_scalar(
    forward: float,
    strike: float,
    t_years: float,
    vol: float,
    *,
    rate: float,
    is_call: bool,
) -> float:
    """Black-76 price of one option; raises as :func:`black76_greeks_scalar`."""
    return _black76(forward, strike, t_years, vol, rate=rate, is_call=is_call, greeks=False).price
