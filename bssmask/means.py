"""Means over mixtures with their spread, undefined (NaN) values left out.

Example:
    >>> mean, half = mean_ci([1.0, 2.0, 3.0, float("nan")])
    >>> round(mean, 3), round(half, 3)          # t(0.975, df=2) * 1 / sqrt(3)
    (2.0, 2.484)
"""

from __future__ import annotations

import math


def nanmean(values) -> float:
    """Mean of the finite-or-infinite values, NaN left out; NaN when none is left."""
    kept = [float(v) for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else math.nan


def mean_ci(values, level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of its ``level`` Student-t confidence interval (NaN left out).

    The half-width is ``t_{(1 + level) / 2, n - 1} * s / sqrt(n)`` with ``s``
    the sample standard deviation (``n - 1`` in the denominator); NaN for
    fewer than two values.
    """
    from scipy.special import stdtrit  # Student t quantile, what scipy.stats.t.ppf calls (without its imports)

    kept = [float(v) for v in values if not math.isnan(v)]
    n = len(kept)
    mean = nanmean(kept)
    if n < 2:
        return mean, math.nan
    sd = math.sqrt(sum((v - mean) ** 2 for v in kept) / (n - 1))
    return mean, float(stdtrit(n - 1, 0.5 + level / 2)) * sd / math.sqrt(n)
