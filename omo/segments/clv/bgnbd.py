"""The BG/NBD model of repeat purchases (Fader, Hardie & Lee 2005, "Counting your customers the easy
way"), on per-customer sufficient statistics: x repeat purchases, the last at t_x, observed for T
(time units since the first purchase).

While alive a customer buys at rate λ ~ Gamma(r, α); after each purchase they drop out with
probability p ~ Beta(a, b). The log-likelihood is the paper's eq. (6), written with log-sum-exp so
that it stays finite for large x and long histories.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

Array = NDArray[np.float64]


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float = float("nan")

    def as_dict(self) -> dict[str, float]:
        return {
            "r": self.r,
            "alpha": self.alpha,
            "a": self.a,
            "b": self.b,
            "log_likelihood": self.log_likelihood,
        }


def log_likelihood(r: float, alpha: float, a: float, b: float, x: Array, t_x: Array, T: Array) -> Array:
    """Each customer's log-likelihood (eq. 6)."""
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    a4 = np.where(
        repeat,
        np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return a1 + a2 + np.logaddexp(a3, a4)


def fit(x: Array, t_x: Array, T: Array, weights: Array | None = None) -> BgNbd:
    """Maximum likelihood estimates of r, α, a, b (on logs, so all stay positive)."""
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    total = float(w.sum())
    if total == 0:
        raise ValueError("no customers to fit")

    def objective(logs: Array) -> float:
        r, alpha, a, b = np.exp(logs)
        value = -float(np.dot(w, log_likelihood(r, alpha, a, b, x, t_x, T))) / total
        return value if np.isfinite(value) else 1e100

    # α is a time scale: start it at the mean observation length, the rest at 1.
    start = np.log(np.array([1.0, max(float(np.average(T, weights=w)), 1e-3), 1.0, 1.0]))
    result = _minimise(objective, start, BOUNDS)
    r, alpha, a, b = (float(v) for v in np.exp(result.x))
    return BgNbd(r, alpha, a, b, -float(result.fun) * total)


# Bounds of the parameters on the log scale. With few customers the likelihood can keep rising as
# a and b grow together (every customer drops out with the same probability a/(a+b)); past e^7 ≈ 1100
# the predictions no longer change, while 2F1 and the gamma functions lose their precision.
WIDE = (-20.0, 20.0)
DROPOUT = (-12.0, 7.0)
BOUNDS = (WIDE, WIDE, DROPOUT, DROPOUT)  # r, α, a, b


def _minimise(
    objective: Callable[[Array], float], start: Array, bounds: Sequence[tuple[float, float]]
) -> optimize.OptimizeResult:
    """L-BFGS-B within the bounds (on the log scale); when it stops without converging, Nelder-Mead
    (robust from a poor start) and L-BFGS-B again from there to polish the last digits."""
    low, high = np.array(bounds).T
    options = {"ftol": 1e-15, "gtol": 1e-10, "maxiter": 1_000}
    first = optimize.minimize(
        objective, np.clip(start, low, high), method="L-BFGS-B", bounds=bounds, options=options
    )
    if first.success and np.isfinite(first.fun) and first.fun < 1e99:
        return first
    rough = optimize.minimize(
        objective,
        np.clip(start, low, high),
        method="Nelder-Mead",
        bounds=bounds,
        options={"xatol": 1e-6, "fatol": 1e-12, "maxiter": 20_000},
    )
    polished = optimize.minimize(objective, rough.x, method="L-BFGS-B", bounds=bounds, options=options)
    return polished if polished.fun <= rough.fun else rough


def _log_dropout_odds(params: BgNbd, x: Array, t_x: Array, T: Array) -> Array:
    """log of a/(b+x-1) · ((α+T)/(α+t_x))^(r+x): the odds of having dropped out (−inf with no repeat)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    repeat = x > 0
    return np.where(
        repeat,
        np.log(a)
        - np.log(np.where(repeat, b + x - 1, 1.0))
        + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)),
        -np.inf,
    )


def p_alive(params: BgNbd, x: Array, t_x: Array, T: Array) -> Array:
    """P(still a customer | x, t_x, T) (eq. 13): 1 for a customer who never bought again."""
    return special.expit(
        -_log_dropout_odds(params, np.asarray(x, float), np.asarray(t_x, float), np.asarray(T, float))
    )


def expected_purchases(params: BgNbd, t: float, x: Array, t_x: Array, T: Array) -> Array:
    """E[purchases in (T, T + t] | x, t_x, T] (eq. 10).

    The paper's ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x−1; z) grows without bound in x; by
    Euler's transformation it equals (1−z)^(a−1) · 2F1(a+b−1−r, a−1; a+b+x−1; z), which does not.
    """
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    r, alpha, b = params.r, params.alpha, params.b
    a = params.a if abs(params.a - 1) > 1e-9 else 1 + 1e-9  # the limit a → 1 is continuous
    z = t / (alpha + T + t)
    c = a + b + x - 1
    tail = (1 - z) ** (a - 1) * special.hyp2f1(a + b - 1 - r, a - 1, c, z)
    numerator = c / (a - 1) * (1 - tail)
    return numerator * p_alive(BgNbd(r, alpha, a, b), x, t_x, T)
