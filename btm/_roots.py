"""Scalar root finding and bounded minimisation without importing ``scipy.optimize``.

Importing ``scipy.optimize`` costs about 0.4 s (it pulls in linprog, shgo, scipy.stats, ...), more than
the whole statistics of the README main job. The two routines btm needs are small, so they are
reproduced here step by step: :func:`brentq` follows scipy's C ``brentq`` (``scipy/optimize/Zeros/brentq.c``)
and :func:`minimize_bounded` follows ``scipy.optimize._optimize._minimize_scalar_bounded`` (Brent's
bounded method, as ``minimize_scalar(method="bounded")`` runs it), operation for operation, so both
return the very same floats as scipy (tests/test_roots.py compares them over many functions).
"""

from __future__ import annotations

import math
from collections.abc import Callable

_RTOL = 4 * 2.220446049250313e-16  # scipy.optimize._zeros_py._rtol = 4 * np.finfo(float).eps


def brentq(f: Callable[[float], float], xa: float, xb: float, *, xtol: float = 2e-12, rtol: float = _RTOL,
           maxiter: int = 100) -> float:
    """A root of ``f`` in [xa, xb] (f(xa), f(xb) of opposite sign) = ``scipy.optimize.brentq(f, xa, xb, xtol=...)``."""
    xpre, xcur = float(xa), float(xb)
    xblk = fblk = spre = scur = 0.0
    fpre, fcur = float(f(xpre)), float(f(xcur))
    if math.isnan(fpre) or math.isnan(fcur):
        raise ValueError("the function value is NaN")
    if fpre == 0:
        return xpre
    if fcur == 0:
        return xcur
    if math.copysign(1, fpre) == math.copysign(1, fcur):
        raise ValueError("f(a) and f(b) must have different signs")
    for _ in range(maxiter):
        if fpre != 0 and fcur != 0 and math.copysign(1, fpre) != math.copysign(1, fcur):
            xblk, fblk = xpre, fpre
            spre = scur = xcur - xpre
        if abs(fblk) < abs(fcur):
            xpre, xcur, xblk = xcur, xblk, xcur
            fpre, fcur, fblk = fcur, fblk, fcur
        delta = (xtol + rtol * abs(xcur)) / 2
        sbis = (xblk - xcur) / 2
        if fcur == 0 or abs(sbis) < delta:
            return xcur
        if abs(spre) > delta and abs(fcur) < abs(fpre):
            if xpre == xblk:  # interpolate
                stry = -fcur * (xcur - xpre) / (fcur - fpre)
            else:  # extrapolate
                dpre = (fpre - fcur) / (xpre - xcur)
                dblk = (fblk - fcur) / (xblk - xcur)
                stry = -fcur * (fblk * dblk - fpre * dpre) / (dblk * dpre * (fblk - fpre))
            if 2 * abs(stry) < min(abs(spre), 3 * abs(sbis) - delta):  # good short step
                spre, scur = scur, stry
            else:  # bisect
                spre = scur = sbis
        else:  # bisect
            spre = scur = sbis
        xpre, fpre = xcur, fcur
        xcur += scur if abs(scur) > delta else (delta if sbis > 0 else -delta)
        fcur = float(f(xcur))
        if math.isnan(fcur):
            raise ValueError("the function value is NaN")
    raise RuntimeError(f"brentq did not converge in {maxiter} iterations")


def _sign1(v: float) -> float:
    """``np.sign(v) + (v == 0)``: +1 for v ≥ 0, −1 for v < 0 (NaN stays NaN)."""
    if math.isnan(v):
        return v
    return -1.0 if v < 0 else 1.0


def minimize_bounded(func: Callable[[float], float], x1: float, x2: float, *, xatol: float = 1e-5,
                     maxiter: int = 500) -> tuple[float, float]:
    """(x, f(x)) of ``scipy.optimize.minimize_scalar(func, bounds=(x1, x2), method="bounded",
    options={"xatol": xatol, "maxiter": maxiter})`` (``res.x``, ``res.fun``)."""
    if not (math.isfinite(x1) and math.isfinite(x2)) or x1 > x2:
        raise ValueError("bounds must be finite with x1 <= x2")
    sqrt_eps = math.sqrt(2.2e-16)
    golden_mean = 0.5 * (3.0 - math.sqrt(5.0))
    a, b = x1, x2
    fulc = a + golden_mean * (b - a)
    nfc = xf = fulc
    rat = e = 0.0
    fx = func(xf)
    num = 1
    ffulc = fnfc = fx
    xm = 0.5 * (a + b)
    tol1 = sqrt_eps * abs(xf) + xatol / 3.0
    tol2 = 2.0 * tol1
    while abs(xf - xm) > (tol2 - 0.5 * (b - a)):
        golden = True
        if abs(e) > tol1:  # parabolic fit
            golden = False
            r = (xf - nfc) * (fx - ffulc)
            q = (xf - fulc) * (fx - fnfc)
            p = (xf - fulc) * q - (xf - nfc) * r
            q = 2.0 * (q - r)
            if q > 0.0:
                p = -p
            q = abs(q)
            r, e = e, rat
            if abs(p) < abs(0.5 * q * r) and p > q * (a - xf) and p < q * (b - xf):  # acceptable parabola
                rat = (p + 0.0) / q
                x = xf + rat
                if (x - a) < tol2 or (b - x) < tol2:
                    rat = tol1 * _sign1(xm - xf)
            else:
                golden = True
        if golden:  # golden-section step
            e = (a - xf) if xf >= xm else (b - xf)
            rat = golden_mean * e
        step = abs(rat)
        x = xf + _sign1(rat) * (step if math.isnan(step) or step >= tol1 else tol1)
        fu = func(x)
        num += 1
        if fu <= fx:
            if x >= xf:
                a = xf
            else:
                b = xf
            fulc, ffulc = nfc, fnfc
            nfc, fnfc = xf, fx
            xf, fx = x, fu
        else:
            if x < xf:
                a = x
            else:
                b = x
            if fu <= fnfc or nfc == xf:
                fulc, ffulc = nfc, fnfc
                nfc, fnfc = x, fu
            elif fu <= ffulc or fulc == xf or fulc == nfc:
                fulc, ffulc = x, fu
        xm = 0.5 * (a + b)
        tol1 = sqrt_eps * abs(xf) + xatol / 3.0
        tol2 = 2.0 * tol1
        if num >= maxiter:
            break
    return xf, fx
