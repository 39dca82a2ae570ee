"""The Gamma-Gamma model of spend per purchase (Fader & Hardie 2013, "The Gamma-Gamma model of
monetary value"; Colombo & Jiang 1999), fitted on the customers with repeat purchases: x repeat
purchases with mean spend m each.

Each purchase's spend is Gamma(p, ν) with ν ~ Gamma(q, γ) across customers; it is independent of the
purchase count, so a customer's expected spend is BG/NBD's expected purchases times E[M | x, m].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from omo.segments.clv.bgnbd import WIDE, Array, BgNbd, _minimise, expected_purchases


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    gamma: float
    log_likelihood: float = float("nan")

    def as_dict(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "gamma": self.gamma}


def log_likelihood(p: float, q: float, gamma: float, x: Array, m: Array) -> Array:
    """Each repeat customer's log-likelihood of their mean spend m over x purchases."""
    px = p * x
    return (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(x * m + gamma)
    )


def fit(x: Array, m: Array, weights: Array | None = None) -> GammaGamma:
    """Maximum likelihood estimates of p, q, γ; only customers with x > 0 and m > 0 count."""
    x, m = np.asarray(x, dtype=np.float64), np.asarray(m, dtype=np.float64)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    keep = (x > 0) & (m > 0)
    x, m, w = x[keep], m[keep], w[keep]
    total = float(w.sum())
    if total == 0:
        raise ValueError("no repeat customers with spend to fit")

    def objective(logs: Array) -> float:
        p, q, gamma = np.exp(logs)
        value = -float(np.dot(w, log_likelihood(p, q, gamma, x, m))) / total
        return value if np.isfinite(value) else 1e100

    start = np.log(np.array([1.0, 1.0, max(float(np.average(m, weights=w)), 1e-6)]))
    result = _minimise(objective, start, [WIDE] * 3)
    p, q, gamma = (float(v) for v in np.exp(result.x))
    return GammaGamma(p, q, gamma, -float(result.fun) * total)


def expected_spend_per_purchase(params: GammaGamma, x: Array, m: Array) -> Array:
    """E[M | x, m]: a weighted mean of the population mean pγ/(q−1) and the customer's own m.

    Defined for q > 1 (otherwise the population mean is infinite)."""
    x, m = np.asarray(x, dtype=np.float64), np.asarray(m, dtype=np.float64)
    p, q, gamma = params.p, params.q, params.gamma
    return p * (gamma + x * m) / (p * x + q - 1)


def customer_value(
    purchases: BgNbd,
    spend: GammaGamma,
    horizon: float,
    x: Array,
    t_x: Array,
    T: Array,
    m: Array,
    *,
    discount_rate: float = 0.0,
    steps: int = 1,
) -> Array:
    """Expected spend over the next `horizon` time units (customer lifetime value over a horizon):
    the purchases expected in each of `steps` equal periods times E[M | x, m], each period
    discounted by (1 + discount_rate) per period. With no discount one step is exact."""
    per_purchase = expected_spend_per_purchase(spend, x, m)
    value = np.zeros_like(np.asarray(x, dtype=np.float64))
    before = np.zeros_like(value)
    for step in range(1, steps + 1):
        until = expected_purchases(purchases, horizon * step / steps, x, t_x, T)
        value += (until - before) / (1 + discount_rate) ** step
        before = until
    return value * per_purchase
