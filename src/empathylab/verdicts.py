"""The rules behind the book's verdict words, shared by both parts.

A verdict (a gap, a narrower gap, an improvement) is read off an interval or a test; these
functions hold the few rules every chapter uses: a t interval over independent units
(narratives, seeds), which side of zero an interval lies on, when a design is too small
for a verdict, and how a p-value is printed. How often each verdict is wrong is measured
by the calibration harnesses (:mod:`empathylab.gaps.calibration`,
:mod:`empathylab.llmpathy.calibration`) and shown in the book's appendix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from empathylab.errors import EmpathylabError

__all__ = [
    "MIN_UNITS",
    "t_interval",
    "boot_t_half_width",
    "side",
    "too_few",
    "format_p",
    "permutation_floor",
    "wilson",
    "rates_figure",
    "calibration_summary",
]

#: The fewest independent units (narratives) a verdict is read from. Under it the verdict
#: is undetermined, since a t interval on 2 to 4 units is so wide, and its variance
#: estimate so unstable, that the book does not read a direction off it.
MIN_UNITS = 5


def t_interval(values: Sequence[float] | np.ndarray, level: float = 0.95) -> dict[str, Any]:
    """Return the mean of ``values`` with a Student t interval and the two-sided p of mean 0.

    The units (one value per narrative, per seed, ...) are taken as independent draws;
    ``df = n - 1``. NaN values are dropped. Fewer than two units give NaN interval and p.

    Returns
    -------
    dict
        ``mean``, ``se``, ``ci_low``, ``ci_high``, ``p``, ``n``, ``df``.

    >>> r = t_interval([1.0, 2.0, 3.0, 4.0])
    >>> r["mean"], round(r["ci_low"], 3), round(r["ci_high"], 3), r["n"]
    (2.5, 0.446, 4.554, 4)
    """
    from scipy import stats

    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    nan = float("nan")
    out: dict[str, Any] = {"mean": float(x.mean()) if n else nan, "n": n, "df": max(n - 1, 0)}
    if n < 2:
        return out | {"se": nan, "ci_low": nan, "ci_high": nan, "p": nan}
    se = float(x.std(ddof=1) / math.sqrt(n))
    q = float(stats.t.ppf(0.5 + level / 2, n - 1))
    if se == 0:
        p = 1.0 if out["mean"] == 0 else 0.0
    else:
        p = float(2 * stats.t.sf(abs(out["mean"]) / se, n - 1))
    return out | {"se": se, "ci_low": out["mean"] - q * se, "ci_high": out["mean"] + q * se, "p": p}


def boot_t_half_width(boots: np.ndarray, n: int, level: float = 0.95) -> float:
    """Half a bootstrap-t interval: t (n - 1 df) times the bootstrap standard error.

    The bootstrap's standard error divides by n where the t interval's divides by n - 1,
    so it is scaled by sqrt(n / (n - 1)). With few units the percentile interval
    undercovers (no change, 12 narratives: 9.5 % of intervals excluded zero); this one
    keeps close to the nominal rate. NaN with fewer than two units or resamples.

    >>> rng = np.random.default_rng(0)
    >>> round(boot_t_half_width(rng.normal(0, 1, 4000), 12), 1)
    2.3
    """
    from scipy import stats

    if n < 2 or len(boots) < 2:
        return float("nan")
    return float(stats.t.ppf(0.5 + level / 2, n - 1) * np.std(boots, ddof=1) * np.sqrt(n / (n - 1)))


def side(low: float, high: float) -> int | None:
    """Return which side of zero an interval lies on: -1 below, +1 above, 0 holding zero.

    None when either end is missing (NaN or None): no verdict can be read.

    >>> side(-0.5, -0.1), side(-0.1, 0.3), side(0.2, 0.4), side(float("nan"), 1.0)
    (-1, 0, 1, None)
    """
    if low is None or high is None:
        return None
    low, high = float(low), float(high)
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    return -1 if high < 0 else 1 if low > 0 else 0


def too_few(n: int | float | None, what: str = "narratives", minimum: int = MIN_UNITS) -> str | None:
    """Return why ``n`` units cannot support a verdict, or None when they can.

    >>> too_few(2)
    'undetermined: 2 narratives, and a verdict needs at least 5'
    >>> too_few(12) is None
    True
    """
    if n is None or (isinstance(n, float) and not math.isfinite(n)) or int(n) < minimum:
        shown = "no" if n is None or (isinstance(n, float) and not math.isfinite(n)) else f"{int(n)}"
        return f"undetermined: {shown} {what}, and a verdict needs at least {minimum}"
    return None


def format_p(p: float | None, floor: float | None = None, groups: int | None = None) -> str:
    """Return ``p`` as a reader reads it: ``p = 0.012``, ``p < 0.001``, and the test's floor.

    ``floor`` is the smallest p the test can give (:func:`permutation_floor`); when ``p``
    is within sampling error of it (under 1.5 times), the text says so, since such a p
    says "as extreme as this test can measure", not "this unlikely".

    >>> format_p(0.0123), format_p(0.00004), format_p(float("nan"))
    ('p = 0.012', 'p < 0.001', 'p not available')
    >>> format_p(0.0096, floor=1 / 120, groups=5)
    'p = 0.0096, the smallest this test can give with 5 groups (1/120 = 0.0083)'
    """
    if p is None or not math.isfinite(float(p)):
        return "p not available"
    p = float(p)
    text = "p < 0.001" if p < 0.001 else f"p = {p:.2g}" if p < 0.01 else f"p = {p:.3f}".rstrip("0")
    if text.endswith("."):
        text += "0"
    if floor is not None and math.isfinite(floor) and floor > 0 and p <= 1.5 * floor:
        who = f" with {groups} groups" if groups else ""
        inverse = round(1 / floor)
        shown = f"1/{inverse} = {floor:.2g}" if abs(1 / inverse - floor) < 1e-12 else f"{floor:.2g}"
        text += f", the smallest this test can give{who} ({shown})"
    return text


def permutation_floor(mask: np.ndarray) -> float:
    """Return the smallest p of the paper's permutation test for an in-group ``mask``.

    Rows and columns are permuted independently and uniformly; the observed arrangement
    of in-group cells comes back exactly for the pairs (row order, column order) that map
    the mask onto itself, so no p can fall below their share. For a diagonal mask (one
    identity a group) that share is 1/m!; for groups of several identities (ethnicity's
    races) it is (number of ways to permute equal-sized groups among themselves) times
    the product of (group size)!², over (m!)².

    >>> permutation_floor(np.eye(5, dtype=bool)) == 1 / 120
    True
    >>> blocks = np.kron(np.eye(2, dtype=bool), np.ones((2, 2), dtype=bool))
    >>> permutation_floor(blocks)  # 2 groups of 2: 2! * (2!)^2 * (2!)^2 / (4!)^2
    0.05555555555555555
    """
    m = np.asarray(mask, dtype=bool)
    rows = [tuple(r) for r in m]
    sizes: dict[tuple[bool, ...], int] = {}
    for r in rows:
        sizes[r] = sizes.get(r, 0) + 1
    counts: dict[int, int] = {}
    for s in sizes.values():
        counts[s] = counts.get(s, 0) + 1
    kept = math.prod(math.factorial(c) for c in counts.values())
    kept *= math.prod(math.factorial(s) ** 2 for s in sizes.values())
    return float(Fraction(kept, math.factorial(len(rows)) ** 2))


def wilson(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Return the Wilson score interval of a proportion ``successes / n``.

    >>> [round(v, 4) for v in wilson(25, 500)]
    [0.0341, 0.0728]
    """
    from scipy import stats

    if n <= 0:
        return float("nan"), float("nan")
    if not 0 <= successes <= n:
        raise EmpathylabError(f"successes must lie between 0 and n = {n}, got {successes}.")
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # At 0 or n successes the bound is exactly 0 or 1 (rounding would leave a trace).
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    return low, 1.0 if successes == n else min(1.0, centre + half)


def rates_figure(table: Any, label: str = "label", title: str | None = None) -> Any:
    """Draw each row's rate with its Monte Carlo interval: false positives on top, power below.

    ``table`` needs the columns ``label`` (the row's name), ``null`` (bool), ``rate``,
    ``mc_low`` and ``mc_high``; with a ``used`` column, rows the book does not decide
    with are drawn hollow and grey. The top panel marks the 5 % a false-positive rate
    should stay under. Returns the matplotlib figure.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"label": ["a", "b"], "null": [True, False], "rate": [0.04, 0.9],
    ...                   "mc_low": [0.02, 0.85], "mc_high": [0.07, 0.94]})
    >>> len(rates_figure(t).axes)
    2
    """
    import textwrap

    import matplotlib.pyplot as plt

    parts = [(True, "under a null: false-positive rate"), (False, "under a planted effect: power")]
    heights = [max(1, int((table["null"] == null).sum())) for null, _ in parts]
    fig, axes = plt.subplots(
        2, 1, figsize=(10, 0.42 * sum(heights) + 1.8), gridspec_kw={"height_ratios": heights}
    )
    for ax, (null, name) in zip(axes, parts):
        rows = table[table["null"] == null].iloc[::-1]
        used = rows["used"].astype(bool).to_numpy() if "used" in rows.columns else np.ones(len(rows), bool)
        y = np.arange(len(rows))
        rate = rows["rate"].to_numpy(float)
        err = np.array([rate - rows["mc_low"].to_numpy(float), rows["mc_high"].to_numpy(float) - rate])
        colour = "black" if null else "tab:blue"
        for keep, style in ((used, {"color": colour}), (~used, {"color": "grey", "mfc": "white"})):
            if keep.any():
                ax.errorbar(rate[keep], y[keep], xerr=err[:, keep], fmt="o", capsize=3, **style)
        if null:
            ax.axvline(0.05, color="tab:red", linestyle="--", linewidth=1)
        ax.set_xlim(0, 1.02)
        ax.set_yticks(y, [textwrap.fill(str(v), 70) for v in rows[label]], fontsize=7)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.set_title(
            name + ("; hollow: shown for comparison, not used by the book" if null else ""),
            fontsize=9,
            loc="left",
        )
        ax.grid(axis="x", alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def calibration_summary(table: Any, label: str = "label") -> str:
    """Return a sentence on whether every test the book decides with keeps its level.

    ``table`` has the columns of :func:`rates_figure` and ``used`` (the book's verdicts
    use the test). A test keeps its level when its false-positive rate's Monte Carlo
    interval reaches 5 % or below; a verdict kept otherwise would be named here.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"label": ["a", "b", "c"], "null": [True, True, False], "used": [True, False, True],
    ...                   "rate": [0.04, 0.3, 0.9], "mc_low": [0.02, 0.25, 0.85]})
    >>> calibration_summary(t)
    'All 1 null conditions of the tests the book decides with keep the false-positive rate at or below 5 % within Monte Carlo error; 1 condition of tests shown only for comparison do not.'
    """
    nulls = table[table["null"].astype(bool)]
    used, other = nulls[nulls["used"].astype(bool)], nulls[~nulls["used"].astype(bool)]
    over = used[used["mc_low"] > 0.05]
    other_over = int((other["mc_low"] > 0.05).sum())
    tail = (
        f"; {other_over} condition{'s' if other_over != 1 else ''} of tests shown only for comparison do not."
        if other_over
        else "."
    )
    if over.empty:
        return (
            f"All {len(used)} null conditions of the tests the book decides with keep the false-positive "
            f"rate at or below 5 % within Monte Carlo error{tail}"
        )
    names = "; ".join(f"{r[label]} ({r['rate']:.0%})" for _, r in over.iterrows())
    return f"{len(over)} of {len(used)} null conditions of the tests the book decides with exceed 5 %: {names}{tail}"
