"""The BG/NBD and Gamma-Gamma maths on small known cases (no database)."""

from __future__ import annotations

import numpy as np
import pytest

from omo.segments.clv import bgnbd, gamma_gamma

# The BG/NBD paper's CDNOW estimates (time unit: week) and Gamma-Gamma's.
CDNOW = bgnbd.BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426)
SPEND = gamma_gamma.GammaGamma(p=6.25, q=3.74, gamma=15.44)


def arrays(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64)


def test_a_customer_who_never_bought_again_is_alive():
    """BG/NBD customers can only drop out right after a purchase."""
    assert bgnbd.p_alive(CDNOW, arrays(0), arrays(0), arrays(38.86)).tolist() == [1.0]


def test_the_paper_s_customer_1():
    """x = 2, t_x = 30.43, T = 38.86: 1.226 purchases expected in the next 39 weeks (paper, §5)."""
    x, t_x, T = arrays(2), arrays(30.43), arrays(38.86)
    assert round(float(bgnbd.expected_purchases(CDNOW, 39, x, t_x, T)[0]), 3) == 1.226
    assert round(float(bgnbd.p_alive(CDNOW, x, t_x, T)[0]), 2) == 0.73


def test_p_alive_falls_as_the_last_purchase_recedes():
    t_x = arrays(38, 30, 20, 10, 1)
    alive = bgnbd.p_alive(CDNOW, np.full(5, 3.0), t_x, np.full(5, 39.0))
    assert np.all(np.diff(alive) < 0)
    assert np.all((alive > 0) & (alive <= 1))


def test_expected_purchases_grow_with_frequency_and_horizon():
    recent = bgnbd.expected_purchases(
        CDNOW, 13, arrays(1, 3, 6, 12), arrays(38, 38, 38, 38), np.full(4, 39.0)
    )
    assert np.all(np.diff(recent) > 0)
    horizons = [
        float(bgnbd.expected_purchases(CDNOW, t, arrays(3), arrays(38), arrays(39))[0]) for t in (4, 13, 52)
    ]
    assert horizons == sorted(horizons) and horizons[0] > 0


def test_expected_purchases_stay_finite_for_heavy_buyers():
    """Euler's transformation keeps 2F1 bounded: a customer with 400 purchase days over 3 years."""
    value = bgnbd.expected_purchases(CDNOW, 365, arrays(400), arrays(1090), arrays(1095))
    assert np.isfinite(value).all() and value[0] > 0


def test_the_population_mean_spend_for_a_customer_without_repeats():
    """With no repeat purchase E[M] is pγ/(q−1); with many it tends to the customer's own mean."""
    none = gamma_gamma.expected_spend_per_purchase(SPEND, arrays(0), arrays(0))[0]
    assert none == pytest.approx(6.25 * 15.44 / 2.74)
    many = gamma_gamma.expected_spend_per_purchase(SPEND, arrays(1000), arrays(50))[0]
    assert many == pytest.approx(50, rel=0.01)


def test_customer_value_is_purchases_times_spend_and_discounting_lowers_it():
    x, t_x, T, m = arrays(2), arrays(30.43), arrays(38.86), arrays(22.35)
    value = gamma_gamma.customer_value(CDNOW, SPEND, 52, x, t_x, T, m)[0]
    expected = (
        bgnbd.expected_purchases(CDNOW, 52, x, t_x, T)[0]
        * gamma_gamma.expected_spend_per_purchase(SPEND, x, m)[0]
    )
    assert value == pytest.approx(expected)
    discounted = gamma_gamma.customer_value(CDNOW, SPEND, 52, x, t_x, T, m, discount_rate=0.01, steps=12)[0]
    assert 0 < discounted < value


def simulate(
    params: bgnbd.BgNbd, customers: int, T: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw customers' (x, t_x, T) from the BG/NBD model itself."""
    rng = np.random.default_rng(seed)
    rates = rng.gamma(params.r, 1 / params.alpha, customers)
    drop = rng.beta(params.a, params.b, customers)
    x = np.zeros(customers)
    t_x = np.zeros(customers)
    for i in range(customers):
        t = 0.0
        while True:
            t += rng.exponential(1 / rates[i])
            if t > T:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < drop[i]:
                break
    return x, t_x, np.full(customers, T)


def test_the_fit_recovers_the_parameters_it_was_drawn_from():
    x, t_x, T = simulate(CDNOW, 4000, 39, seed=7)
    fitted = bgnbd.fit(x, t_x, T)
    assert fitted.r == pytest.approx(CDNOW.r, rel=0.2)
    assert fitted.alpha == pytest.approx(CDNOW.alpha, rel=0.3)
    # What the brand sees: the purchases expected of these customers next quarter.
    truth = bgnbd.expected_purchases(CDNOW, 13, x, t_x, T).sum()
    assert bgnbd.expected_purchases(fitted, 13, x, t_x, T).sum() == pytest.approx(truth, rel=0.1)


def test_weights_are_repeated_customers():
    x, t_x, T = arrays(0, 1, 1, 3), arrays(0, 5, 5, 20), arrays(30, 30, 30, 30)
    ll = bgnbd.log_likelihood(0.5, 5, 0.8, 2.5, x, t_x, T)
    weighted = bgnbd.log_likelihood(0.5, 5, 0.8, 2.5, arrays(0, 1, 3), arrays(0, 5, 20), arrays(30, 30, 30))
    assert ll.sum() == pytest.approx(weighted @ arrays(1, 2, 1))


def test_gamma_gamma_ignores_customers_without_repeat_spend():
    with pytest.raises(ValueError):
        gamma_gamma.fit(arrays(0, 0), arrays(0, 0))
