"""Agreement and regression metrics, computed in float64 (pure functions).

- :func:`pcc`, :func:`ccc`, :func:`rmse`, :func:`scores`: how well predictions match
  gold labels (the regressor's metrics in Hasan et al.);
- :func:`krippendorff_alpha`: interval-level reliability of several label sources;
- :func:`pairwise_agreement`: α and Pearson r for every pair of label columns of a table;
- :func:`scores_by_group`: the metrics within each demographic group (fairness).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = [
    "pcc",
    "ccc",
    "rmse",
    "scores",
    "krippendorff_alpha",
    "pairwise_agreement",
    "scores_by_group",
    "paired_ttest",
]


def _pair(y: ArrayLike, yhat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(y, dtype=np.float64).ravel()
    b = np.asarray(yhat, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"y and yhat differ in length: {a.size} and {b.size}.")
    if a.size < 2:
        raise ValueError(f"at least two values are needed, got {a.size}.")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("y and yhat must be finite; drop missing labels first.")
    return a, b


def pcc(y: ArrayLike, yhat: ArrayLike) -> float:
    """Return Pearson's correlation coefficient (NaN if either side is constant).

    >>> round(pcc([1, 2, 3, 4], [1, 3, 2, 4]), 3)
    0.8
    """
    a, b = _pair(y, yhat)
    da, db = a - a.mean(), b - b.mean()
    denominator = np.sqrt((da @ da) * (db @ db))
    return float(da @ db / denominator) if denominator > 0 else float("nan")


def ccc(y: ArrayLike, yhat: ArrayLike) -> float:
    """Return Lin's concordance correlation coefficient (population variances).

    CCC = 2 cov / (var_y + var_yhat + (mean_y - mean_yhat)^2): 1 only when the
    predictions equal the labels, and penalised for any shift or rescaling.

    >>> ccc([1, 2, 3], [1, 2, 3]), round(ccc([1, 2, 3], [2, 3, 4]), 3)
    (1.0, 0.571)
    """
    a, b = _pair(y, yhat)
    covariance = np.mean((a - a.mean()) * (b - b.mean()))
    denominator = a.var() + b.var() + (a.mean() - b.mean()) ** 2
    return float(2 * covariance / denominator) if denominator > 0 else float("nan")


def rmse(y: ArrayLike, yhat: ArrayLike) -> float:
    """Return the root mean squared error.

    >>> rmse([1, 2, 3], [1, 2, 5])
    1.1547005383792515
    """
    a, b = _pair(y, yhat)
    return float(np.sqrt(np.mean((a - b) ** 2)))


def scores(y: ArrayLike, yhat: ArrayLike) -> dict[str, float]:
    """Return ``{"pcc", "ccc", "rmse"}`` for one set of predictions.

    >>> scores([1, 2, 3], [1, 2, 3])
    {'pcc': 1.0, 'ccc': 1.0, 'rmse': 0.0}
    """
    return {"pcc": pcc(y, yhat), "ccc": ccc(y, yhat), "rmse": rmse(y, yhat)}


def krippendorff_alpha(values: ArrayLike) -> float:
    """Return Krippendorff's α at the interval level.

    Parameters
    ----------
    values : array ``(units, coders)``, NaN where a coder gave no value. Units with
        fewer than two values are not pairable and are left out, as in Krippendorff's
        definition.

    Returns
    -------
    float
        1 − D_o / D_e, with D_o the squared differences within units and D_e those
        between all pairable values; NaN when nothing varies.

    Examples
    --------
    Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the
    four-coder example with missing values (α interval = 0.849):

    >>> nan = float("nan")
    >>> data = [[1, 1, nan, 1], [2, 2, 3, 2], [3, 3, 3, 3], [3, 3, 3, 3],
    ...         [2, 2, 2, 2], [1, 2, 3, 4], [4, 4, 4, 4], [1, 1, 2, 1],
    ...         [2, 2, 2, 2], [nan, 5, 5, 5], [nan, nan, 1, 1], [nan, 3, nan, nan]]
    >>> round(krippendorff_alpha(data), 3)
    0.849
    """
    matrix = np.asarray(values, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"values must be a (units, coders) table, got shape {matrix.shape}.")
    present = np.isfinite(matrix)
    m = present.sum(axis=1)
    keep = m >= 2
    matrix, present, m = matrix[keep], present[keep], m[keep]
    n = m.sum()
    if n < 2:
        return float("nan")
    filled = np.where(present, matrix, 0.0)
    s1, s2 = filled.sum(axis=1), (filled**2).sum(axis=1)
    # Sum over ordered pairs c != k within a unit of (v_c - v_k)^2 = 2 m S2 - 2 S1^2.
    within = (2 * m * s2 - 2 * s1**2) / (m - 1)
    observed = within.sum() / n
    total1, total2 = s1.sum(), s2.sum()
    expected = (2 * n * total2 - 2 * total1**2) / (n * (n - 1))
    return float(1 - observed / expected) if expected > 0 else float("nan")


def pairwise_agreement(frame: pd.DataFrame, sources: Sequence[str] | None = None) -> pd.DataFrame:
    """Return α (interval) and Pearson r for every pair of label columns.

    Parameters
    ----------
    frame : one row per essay, one float column per label source (NaN = missing).
    sources : the columns to compare (default: every numeric column).

    Returns
    -------
    DataFrame
        One row per pair: ``a, b, alpha, pearson, n`` (n = essays labelled by both;
        each pair is computed on those essays only).

    Examples
    --------
    >>> table = pd.DataFrame({"crowd": [1, 2, 3, 4], "llm": [1, 2, 3, 5.0]})
    >>> pairwise_agreement(table).round(3).to_dict("records")
    [{'a': 'crowd', 'b': 'llm', 'alpha': 0.937, 'pearson': 0.983, 'n': 4}]
    """
    columns = list(sources) if sources is not None else list(frame.select_dtypes("number"))
    missing = [c for c in columns if c not in frame.columns]
    if missing or len(columns) < 2:
        raise ValueError(
            f"pairwise_agreement needs at least two label columns; missing {missing or 'none'}, "
            f"available: {', '.join(map(str, frame.columns))}."
        )
    rows = []
    for a, b in combinations(columns, 2):
        both = frame[[a, b]].astype(float).dropna()
        rows.append(
            {
                "a": a,
                "b": b,
                "alpha": krippendorff_alpha(both.to_numpy()),
                "pearson": pcc(both[a], both[b]) if len(both) >= 2 else float("nan"),
                "n": len(both),
            }
        )
    return pd.DataFrame(rows)


def scores_by_group(
    frame: pd.DataFrame, by: str, *, y: str = "y", yhat: str = "yhat", min_size: int = 2
) -> pd.DataFrame:
    """Return the metrics within each group of ``by`` (e.g. a demographic column).

    Returns
    -------
    DataFrame
        One row per group with at least ``min_size`` rows: ``by, n, pcc, ccc, rmse``,
        ordered by group.

    Examples
    --------
    >>> t = pd.DataFrame({"g": list("aabb"), "y": [1, 2, 3, 4], "yhat": [1, 2, 4, 3]})
    >>> scores_by_group(t, "g")[["g", "n", "ccc"]].to_dict("records")
    [{'g': 'a', 'n': 2, 'ccc': 1.0}, {'g': 'b', 'n': 2, 'ccc': -1.0}]
    """
    missing = [c for c in (by, y, yhat) if c not in frame.columns]
    if missing:
        raise ValueError(
            f"scores_by_group: missing column(s) {', '.join(missing)}; "
            f"found {', '.join(map(str, frame.columns))}."
        )
    rows = []
    for group, part in frame.groupby(by, observed=True, sort=True):
        if len(part) >= min_size:
            rows.append({by: group, "n": len(part), **scores(part[y], part[yhat])})
    return pd.DataFrame(rows, columns=[by, "n", "pcc", "ccc", "rmse"])


def paired_ttest(x: ArrayLike, y: ArrayLike) -> tuple[float, float, float, float, float]:
    """Return ``(T, dof, p, cohen_d, hedges_g)`` of a paired t-test of x against y (pingouin).

    Effect sizes are signed (x minus y); identical samples give ``(nan, n-1, nan, 0, 0)``.

    >>> T, dof, p, d, g = paired_ttest([1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 3.6, 4.4])
    >>> dof, round(p, 3), d < 0
    (3.0, 0.065, True)
    """
    import pingouin as pg

    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if len(a) < 2 or np.all(a - b == 0):
            return float("nan"), float(len(a) - 1), float("nan"), 0.0, 0.0
        res = pg.ttest(a, b, paired=True).iloc[0]
        p = res["p_val"] if "p_val" in res.index else res["p-val"]
        d = pg.compute_effsize(a, b, paired=True, eftype="cohen")
        g = pg.compute_effsize(a, b, paired=True, eftype="hedges")
    return float(res["T"]), float(res["dof"]), float(p), float(d), float(g)
