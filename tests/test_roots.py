"""btm._roots reproduces scipy.optimize.brentq and minimize_scalar(method="bounded") float for float."""

import math

import numpy as np
import pytest
from scipy import optimize, special

import btm.stats
from btm._roots import brentq, minimize_bounded
from btm.stats import dz_confidence_interval, lmm_random_intercept


def _funcs():
    rng = np.random.default_rng(15)
    out = [lambda x: x**2 - 1, lambda x: math.cos(x) - x, lambda x: x**3, lambda x: math.exp(x) - 5, lambda x: math.atan(x - 0.3)]
    for _ in range(150):
        df, t, q = float(rng.integers(1, 60)), float(rng.normal(0, 4)), float(rng.uniform(0.01, 0.99))
        out.append(lambda nc, df=df, t=t, q=q: float(special.nctdtr(df, nc, t)) - q)
    return out


@pytest.mark.parametrize("xtol", [1e-12, 2e-12, 1e-6])
def test_brentq_equals_scipy(xtol):
    checked = 0
    for f in _funcs():
        for lo, hi in ((-50.0, 50.0), (-2.0, 0.0), (0.0, 3.0), (-7.5, 11.25)):
            try:
                want = optimize.brentq(f, lo, hi, xtol=xtol)
            except (ValueError, RuntimeError) as e:  # no sign change / no convergence: the same error here
                with pytest.raises(type(e)):
                    brentq(f, lo, hi, xtol=xtol)
                continue
            assert brentq(f, lo, hi, xtol=xtol) == want
            checked += 1
    assert checked > 150


def test_minimize_bounded_equals_scipy():
    rng = np.random.default_rng(7)
    funcs = [lambda x: (x - 1) ** 2, lambda x: math.sin(x), lambda x: abs(x - 0.25), lambda x: -x, lambda x: x, lambda x: 3.0]
    for _ in range(200):
        a, b, c = rng.normal(size=3)
        funcs.append(lambda x, a=a, b=b, c=c: a * math.cos(b * x) + c * x * x / 50 + math.log1p(math.exp(x / 3)))
    for f in funcs:
        for bounds, xatol in (((-20, 12), 1e-8), ((-3.0, 4.0), 1e-5), ((0.0, 0.0), 1e-8), ((2.0, 2.5), 1e-10)):
            res = optimize.minimize_scalar(f, bounds=bounds, method="bounded", options={"xatol": xatol})
            x, fun = minimize_bounded(f, *bounds, xatol=xatol)
            assert (x, fun) == (res.x, res.fun)


def _scipy_dz_ci(dz, n):
    """btm.stats.dz_confidence_interval with scipy.optimize.brentq (as main computed it)."""
    df, t, alpha = n - 1, dz * math.sqrt(n), 1 - 0.95
    spread = 10 * math.sqrt(1 + t**2 / (2 * df))

    def cdf(nc):  # as btm.stats does it: a NaN far in a tail is taken as its limit
        v = float(special.nctdtr(df, nc, t))
        return v if math.isfinite(v) else (1.0 if nc < t else 0.0)

    def solve(target):
        if cdf(t - spread) < target or cdf(t + spread) > target:
            return math.nan
        return optimize.brentq(lambda nc: cdf(nc) - target, t - spread, t + spread, xtol=1e-12) / math.sqrt(n)

    return solve(1 - alpha / 2), solve(alpha / 2)


def test_dz_ci_and_lmm_unchanged_against_scipy_solvers(monkeypatch):
    rng = np.random.default_rng(3)
    for _ in range(300):
        dz, n = float(rng.normal(0, 1.5)), int(rng.integers(2, 80))
        assert dz_confidence_interval(dz, n) == pytest.approx(_scipy_dz_ci(dz, n), rel=0, abs=0, nan_ok=True)
    for k in range(20):
        g = np.repeat(np.arange(15), rng.integers(1, 4, size=15))
        X = np.column_stack([np.ones(len(g)), rng.normal(size=len(g))])
        y = X @ [1.0, 0.5] + rng.normal(size=15)[g] * (k % 3) + rng.normal(size=len(g))
        fit = lmm_random_intercept(y, X, g)
        with monkeypatch.context() as m:  # the same fit with scipy's own bounded search
            def scipy_bounded(f, x1, x2, xatol):
                res = optimize.minimize_scalar(f, bounds=(x1, x2), method="bounded", options={"xatol": xatol})
                return res.x, res.fun
            m.setattr(btm.stats, "minimize_bounded", scipy_bounded)
            ref = lmm_random_intercept(y, X, g)
        assert (fit["llf"], fit["sigma2"], fit["tau2"]) == (ref["llf"], ref["sigma2"], ref["tau2"])
        assert np.array_equal(fit["beta"], ref["beta"])
