"""The heatmaps' cells: the paper's paired t-tests with a Bonferroni threshold, and figure data."""

from __future__ import annotations

import pandas as pd

from empathylab import metrics
from empathylab.errors import EmpathylabError
from empathylab.gaps import design
from empathylab.gaps.checks import prepare_run
from empathylab.gaps.matrices import emotion_matrix

__all__ = ["cell_tests", "heatmap_data"]


def cell_tests(results: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Return the paper's heatmap tests: which off-diagonal cells differ from in-group.

    For every cell (i, j), i ≠ j and neither the baseline, two paired t-tests over the
    kept narratives (:func:`exclude_incomplete`, baseline included): the perceiver's
    in-group cell (i, i) against (i, j), and the experiencer's in-group cell (j, j)
    against (i, j), with :func:`pingouin.ttest` (``paired=True``). A cell is shown on
    the heatmap when both p-values are below ``alpha / n**2``, ``n`` the number of
    identities present including the baseline.

    Parameters
    ----------
    results : pandas.DataFrame
        The rows of one run.
    alpha : float
        Family-wise level before the Bonferroni division (the paper: 0.05).

    Returns
    -------
    tests : pandas.DataFrame
        One row per cell, in design order, with columns:

        * ``perceiver``, ``experiencer``: the cell (i, j).
        * ``mean``: its mean intensity (raw scale).
        * ``mean_perceiver_in``, ``mean_experiencer_in``: means of (i, i) and (j, j).
        * ``T_perceiver``, ``p_perceiver``, ``cohen_d_perceiver``, ``hedges_perceiver``:
          paired t-test of (i, i) against (i, j). T, d and g are positive when the
          in-group cell is higher; d and g are pingouin's paired ``compute_effsize``
          (d with the average of the two variances).
        * ``T_experiencer``, ``p_experiencer``, ``cohen_d_experiencer``,
          ``hedges_experiencer``: the same for (j, j) against (i, j).
        * ``dof``: degrees of freedom (kept narratives − 1).
        * ``threshold``: ``alpha / n**2``.
        * ``shown``: both p-values below the threshold.

        Pairs whose differences are all zero get T and p NaN, d and g 0, not shown.

    Examples
    --------
    >>> from empathylab.gaps import simulate_results
    >>> rows = simulate_results("religion", n_items=30, effect=8.0, noise_sd=1.0, seed=0)
    >>> tests = cell_tests(rows)
    >>> len(tests), float(tests.threshold.iloc[0]) == 0.05 / 36, bool(tests.shown.all())
    (20, True, True)
    """
    run, _, cells, _ = prepare_run(results, "cell_tests")
    ids = run.ids
    n = len(ids)
    threshold = alpha / n**2
    rows = []
    for i, perceiver in enumerate(ids):
        for j, experiencer in enumerate(ids):
            if i == j or design.BASELINE in (perceiver, experiencer):
                continue
            cell = cells[:, i, j]
            tp, dof, pp, dp, gp = metrics.paired_ttest(cells[:, i, i], cell)
            te, _, pe, de, ge = metrics.paired_ttest(cells[:, j, j], cell)
            rows.append(
                {
                    "perceiver": perceiver,
                    "experiencer": experiencer,
                    "mean": float(cell.mean()),
                    "mean_perceiver_in": float(cells[:, i, i].mean()),
                    "mean_experiencer_in": float(cells[:, j, j].mean()),
                    "T_perceiver": tp,
                    "p_perceiver": pp,
                    "cohen_d_perceiver": dp,
                    "hedges_perceiver": gp,
                    "T_experiencer": te,
                    "p_experiencer": pe,
                    "cohen_d_experiencer": de,
                    "hedges_experiencer": ge,
                    "dof": dof,
                    "threshold": threshold,
                    "shown": bool(pp < threshold and pe < threshold),
                }
            )
    return pd.DataFrame(rows)


def heatmap_data(results: pd.DataFrame, grouping: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(matrix, shown)`` for the heatmap of one grouping of one run.

    ``matrix`` is :func:`emotion_matrix` (z-normalised, baseline first); ``shown`` is a
    boolean frame of the same shape: False for the off-diagonal cells that
    :func:`cell_tests` does not show (the paper's Bonferroni mask), True elsewhere.

    Examples
    --------
    >>> from empathylab.gaps import simulate_results
    >>> rows = simulate_results("religion", n_items=12, effect=5.0, seed=0)
    >>> matrix, shown = heatmap_data(rows, "religion")
    >>> matrix.shape == shown.shape == (6, 6), bool(shown.loc["a Jew", "a Jew"])
    (True, True)
    """
    rows = results[results["grouping"] == grouping]
    if rows.empty:
        raise EmpathylabError(f"heatmap_data: no rows for grouping {grouping!r}.")
    matrix = emotion_matrix(rows)
    shown = pd.DataFrame(True, index=matrix.index, columns=matrix.columns)
    for test in cell_tests(rows).itertuples(index=False):
        shown.loc[test.perceiver, test.experiencer] = bool(test.shown)
    return matrix, shown
