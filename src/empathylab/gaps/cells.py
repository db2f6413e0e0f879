"""The heatmaps' cells: the paper's paired t-tests with a Bonferroni threshold, and figure data."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from empathylab import metrics
from empathylab.errors import EmpathylabError
from empathylab.gaps import design
from empathylab.gaps.checks import prepare_run, znorm
from empathylab.gaps.matrices import round_as_authors

__all__ = ["cell_tests", "heatmap_data", "shown_cells"]


def shown_cells(cells: np.ndarray, ids: list[str], alpha: float = 0.05) -> np.ndarray:
    """Return the paper's heatmap mask: True where a cell is drawn.

    ``cells`` holds the raw intensities of the heatmap matrix, shape (kept narratives,
    n, n), baseline included (as ``checks.prepare_run(results, what)`` returns them). An
    off-diagonal cell (i, j), neither the baseline, is drawn when both paired t-tests,
    (i, i) against (i, j) and (j, j) against (i, j), have p below ``alpha / n**2``; the
    diagonal and the baseline's row and column are always drawn. The p-values are
    ``scipy.stats.ttest_rel`` on the two columns of narratives, the authors' call (and
    the one :func:`pingouin.ttest` makes in :func:`cell_tests`). The authors' seaborn
    ``mask`` is the negation (True where hidden).

    >>> rng = np.random.default_rng(0)
    >>> cells = rng.normal(size=(30, 3, 3)) + 5 * np.eye(3)
    >>> shown_cells(cells, ["a person", "a Jew", "a Hindu"]).astype(int).tolist()
    [[1, 1, 1], [1, 1, 1], [1, 1, 1]]
    >>> shown_cells(cells - 5 * np.eye(3), ["a person", "a Jew", "a Hindu"])[1, 2]
    np.False_
    """
    from scipy import stats

    n = len(ids)
    threshold = alpha / n**2
    shown = np.ones((n, n), dtype=bool)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # identical columns: p is NaN, the cell not drawn
        for i, perceiver in enumerate(ids):
            for j, experiencer in enumerate(ids):
                if i == j or design.BASELINE in (perceiver, experiencer):
                    continue
                cell = cells[:, i, j]
                pp = stats.ttest_rel(cells[:, i, i], cell).pvalue
                pe = stats.ttest_rel(cells[:, j, j], cell).pvalue
                shown[i, j] = bool(pp < threshold and pe < threshold)
    return shown


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
        * ``shown``: both p-values below the threshold (:func:`shown_cells`).

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
    drawn = shown_cells(cells, ids, alpha)
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
                    "shown": bool(drawn[i, j]),
                }
            )
    return pd.DataFrame(rows)


def heatmap_data(
    results: pd.DataFrame, grouping: str, *, round_means: int | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(matrix, shown)`` for the heatmap of one grouping of one run.

    ``matrix`` is :func:`~empathylab.gaps.matrices.emotion_matrix` (z-normalised, baseline
    first; ``round_means`` as there); ``shown`` is a boolean frame of the same shape, the
    paper's Bonferroni mask (:func:`shown_cells`): False for the off-diagonal cells whose
    two paired t-tests do not both pass, True elsewhere.

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
    run, _, cells, _ = prepare_run(rows, "heatmap_data")
    values = cells.mean(axis=0)
    if round_means is not None:
        values = round_as_authors(values, int(round_means))
    index = pd.Index(run.ids, name="perceiver")
    columns = pd.Index(run.ids, name="experiencer")
    matrix = pd.DataFrame(znorm(values), index=index, columns=columns)
    return matrix, pd.DataFrame(shown_cells(cells, run.ids), index=index, columns=columns)
