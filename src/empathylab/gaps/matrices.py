"""The paper's matrices, δ and its permutation test, computed as the authors' code does.

Two matrices serve two purposes (SPEC, Part I): the **heatmap matrix**
(:func:`emotion_matrix`, the baseline ``a person`` first; narratives excluded when missing
in any cell of the full matrix, z-normalised over all its cells) and the **δ matrix**
(:func:`delta_matrix`, the baseline left out; excluded and z-normalised without it).

1. :func:`empathylab.gaps.answers.exclude_incomplete`: a narrative missing in any perceiver ×
   experiencer pair is dropped from every cell.
2. ``M[i, j]`` = mean intensity for perceiver ``i`` and experiencer ``j`` over the kept
   narratives, z-normalised over all cells with ``ddof=0``. The authors round cell means to
   two decimals first; we do not (``round_means=2`` reproduces it).
3. :func:`delta`: δ = mean of in-group cells − mean of out-group cells (:func:`in_group`,
   :func:`out_group`), the baseline row and column left out.
4. :func:`permutation_test`: rows and columns permuted independently, 10,000 times.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from empathylab.errors import EmpathylabError
from empathylab.gaps import design
from empathylab.gaps.checks import matrix_labels, prepare_run, znorm

__all__ = ["emotion_matrix", "delta_matrix", "in_group", "out_group", "delta", "permutation_test"]


_CHUNK_PERMUTATIONS = 4096  # permutations per vectorised block (bounds memory)


def emotion_matrix(
    results: pd.DataFrame, z: bool = True, *, baseline: bool = True, round_means: int | None = None
) -> pd.DataFrame:
    """Return the emotion matrix M[perceiver, experiencer] of one run (the heatmaps' matrix).

    ``M[i, j]`` is the mean intensity for perceiver ``i`` and experiencer ``j`` over the
    narratives kept by :func:`exclude_incomplete` (the same narratives in every cell).

    Parameters
    ----------
    results : pandas.DataFrame
        The rows of one run (see :func:`exclude_incomplete`).
    z : bool
        z-normalise over all cells: ``(M - M.mean()) / M.std(ddof=0)``, the population
        standard deviation as in the paper. A matrix whose cells are all equal becomes
        all zeros.
    baseline : bool
        Keep the baseline ``a person`` (default): it takes part in the exclusion and
        the normalisation, as in the authors' heatmaps. False drops it first, which is
        :func:`delta_matrix`, the matrix of δ.
    round_means : int or None
        Round the cell means to this many decimals before normalising, as the authors'
        code does (``2``); None (default) keeps them exact.

    Returns
    -------
    matrix : pandas.DataFrame
        Square, rows (index ``perceiver``) and columns (``experiencer``) in the design
        order of :func:`empathylab.gaps.design.identities` (baseline first), restricted to the
        identities present.

    Examples
    --------
    >>> from empathylab.gaps import simulate_results
    >>> rows = simulate_results("religion", n_items=6, effect=10.0, seed=0)
    >>> m = emotion_matrix(rows)
    >>> list(m.index[:3]), m.shape
    (['a person', 'a Christian', 'a Muslim'], (6, 6))
    >>> bool(np.isclose(m.to_numpy().mean(), 0)), bool(np.isclose(m.to_numpy().std(), 1))
    (True, True)
    """
    run, _, cells, _ = prepare_run(results, "emotion_matrix", baseline)
    ids = run.ids
    values = cells.mean(axis=0)
    if round_means is not None:
        values = np.round(values, int(round_means))
    if z:
        values = znorm(values)
    return pd.DataFrame(
        values,
        index=pd.Index(ids, name="perceiver"),
        columns=pd.Index(ids, name="experiencer"),
    )


def delta_matrix(results: pd.DataFrame, z: bool = True, *, round_means: int | None = None) -> pd.DataFrame:
    """Return the matrix that δ is computed on: the emotion matrix without the baseline.

    As the authors' code computes δ (SPEC, Part I): the baseline ``a person`` is dropped
    first, a narrative is excluded when it is missing in any cell of the remaining
    perceiver × experiencer pairs (a refusal in a baseline cell excludes nothing here),
    and the matrix is z-normalised over its own cells. It equals
    ``emotion_matrix(results, z, baseline=False, round_means=round_means)``.

    Returns
    -------
    matrix : pandas.DataFrame
        Square, perceivers by experiencers in design order, without ``a person``.

    Examples
    --------
    >>> from empathylab.gaps import simulate_results
    >>> rows = simulate_results("religion", n_items=6, effect=10.0, seed=0)
    >>> m = delta_matrix(rows)
    >>> m.shape, "a person" in m.index, round(delta(m, "religion"), 2)
    ((5, 5), False, 2.24)
    """
    return emotion_matrix(results, z, baseline=False, round_means=round_means)


def in_group(identities: list[str] | tuple[str, ...], grouping: str) -> np.ndarray:
    """Return the in-group mask of a matrix over ``identities``.

    ``mask[i, j]`` is True when perceiver ``i`` and experiencer ``j`` are of the same
    group: the same identity for religion and nationality, the same race
    (:data:`empathylab.gaps.design.ETHNICITY_RACE`) for ethnicity, so two surface forms of
    one race are in-group. The baseline ``a person`` row and column are False here and
    in :func:`out_group`: a cell is in-group, out-group, or (baseline) neither.

    Examples
    --------
    >>> in_group(["a person", "a Jew", "a Hindu"], "religion").astype(int)
    array([[0, 0, 0],
           [0, 1, 0],
           [0, 0, 1]])
    >>> in_group(["a Latino", "a Latina", "an Asian"], "ethnicity").astype(int)
    array([[1, 1, 0],
           [1, 1, 0],
           [0, 0, 1]])
    """
    ids = list(identities)
    design.select_identities(grouping, ids)  # unknown grouping or identity: one clear error
    if len(set(ids)) != len(ids):
        raise EmpathylabError(f"The identities repeat a label: {ids}.")
    if grouping == "ethnicity":
        group = [design.ETHNICITY_RACE.get(i) for i in ids]
    else:
        group = [None if i == design.BASELINE else i for i in ids]
    key = np.array([g if g is not None else "" for g in group], dtype=object)
    real = np.array([g is not None for g in group])
    return (key[:, None] == key[None, :]) & real[:, None] & real[None, :]


def out_group(identities: list[str] | tuple[str, ...], grouping: str) -> np.ndarray:
    """Return the out-group mask: not in-group, and neither identity the baseline.

    Examples
    --------
    >>> out_group(["a person", "a Jew", "a Hindu"], "religion").astype(int)
    array([[0, 0, 0],
           [0, 0, 1],
           [0, 1, 0]])
    """
    inside = in_group(identities, grouping)
    real = np.array([i != design.BASELINE for i in identities])
    return ~inside & real[:, None] & real[None, :]


def delta(matrix: pd.DataFrame, grouping: str) -> float:
    """Return δ = mean of in-group cells − mean of out-group cells (baseline left out).

    Parameters
    ----------
    matrix : pandas.DataFrame
        A square matrix labelled by identity (:func:`emotion_matrix`).
    grouping : str
        ``religion``, ``ethnicity`` or ``nationality``: decides which cells are in-group.

    Examples
    --------
    >>> ids = ["a person", "a Christian", "a Muslim", "a Jew"]
    >>> m = pd.DataFrame([[9, 9, 9, 9], [9, 4, 1, 1], [9, 1, 4, 1], [9, 1, 1, 4]],
    ...                  index=ids, columns=ids)
    >>> delta(m, "religion")
    3.0
    """
    ids, values = matrix_labels(matrix, "delta")
    cell_weights(ids, grouping, "delta")  # checks that both kinds of cell exist
    return delta_of_cells(values, ids, grouping)


def permutation_test(
    matrix: pd.DataFrame, grouping: str, n_permutations: int = 10_000, seed: int = 0
) -> dict[str, Any]:
    """Test δ against independent permutations of the matrix's rows and columns.

    The identities of δ (the baseline left out, as in the original analysis) are
    permuted: one random order for the rows and an independent one for the columns,
    then δ is recomputed with the in-group mask held fixed. All permutations are drawn
    and evaluated at once with numpy (argsort of uniform random numbers, fancy indexing).

    Parameters
    ----------
    matrix : pandas.DataFrame
        A square matrix labelled by identity (:func:`emotion_matrix`).
    grouping : str
        The grouping, for the in-group mask.
    n_permutations : int
        Number of permutations (the paper: 10,000).
    seed : int
        Seed of the random generator (``numpy.random.default_rng``).

    Returns
    -------
    result : dict
        * ``delta``: the observed δ.
        * ``ci_low``, ``ci_high``: 2.5 and 97.5 percentiles of the permuted δs.
        * ``p_perm``: two-sided permutation p-value,
          ``(1 + #{|δ_perm| >= |δ|}) / (n_permutations + 1)`` (ties up to rounding).
        * ``significant``: δ lies outside ``[ci_low, ci_high]`` (the paper's criterion).
        * ``n_permutations``.

    Examples
    --------
    >>> ids = design.identities("religion")
    >>> m = pd.DataFrame(np.eye(6) * 3 + np.arange(36).reshape(6, 6) % 5, index=ids, columns=ids)
    >>> res = permutation_test(m, "religion", n_permutations=2000)
    >>> round(res["delta"], 2), res["p_perm"] < 0.01, res["significant"]
    (3.0, True, True)
    """
    ids, values = matrix_labels(matrix, "permutation_test")
    if int(n_permutations) < 1:
        raise EmpathylabError(f"n_permutations must be at least 1, not {n_permutations}.")
    n_permutations = int(n_permutations)
    weights = cell_weights(ids, grouping, "permutation_test")
    keep = np.array([i != design.BASELINE for i in ids])
    sub, w = values[np.ix_(keep, keep)], weights[np.ix_(keep, keep)]
    observed = delta_of_cells(values, ids, grouping)
    m = sub.shape[0]
    rng = np.random.default_rng(seed)
    permuted = np.empty(n_permutations)
    w_flat = w.ravel()
    for start in range(0, n_permutations, _CHUNK_PERMUTATIONS):
        b = min(_CHUNK_PERMUTATIONS, n_permutations - start)
        rows = rng.random((b, m)).argsort(axis=1)
        cols = rng.random((b, m)).argsort(axis=1)
        shuffled = sub[rows[:, :, None], cols[:, None, :]].reshape(b, m * m)
        permuted[start : start + b] = shuffled @ w_flat
    ci_low, ci_high = np.percentile(permuted, [2.5, 97.5])
    tol = 1e-12 * max(1.0, abs(observed))
    extreme = int((np.abs(permuted) >= abs(observed) - tol).sum())
    return {
        "delta": observed,
        "ci_low": float(ci_low),
        "ci_high": float(ci_high),
        "p_perm": (1 + extreme) / (n_permutations + 1),
        "significant": bool(observed < ci_low or observed > ci_high),
        "n_permutations": n_permutations,
    }


def cell_weights(ids: list[str], grouping: str, what: str) -> np.ndarray:
    """Return w with δ = sum(w * M): 1/n_in on in-group, -1/n_out on out-group cells."""
    inside, outside = in_group(ids, grouping), out_group(ids, grouping)
    if not inside.any() or not outside.any():
        raise EmpathylabError(
            f"{what}: the {grouping} identities {', '.join(ids)} give "
            f"{int(inside.sum())} in-group and {int(outside.sum())} out-group cells; δ needs both."
        )
    return inside / inside.sum() - outside / outside.sum()


def delta_of_cells(values: np.ndarray, ids: list[str], grouping: str) -> float:
    return float(values[in_group(ids, grouping)].mean() - values[out_group(ids, grouping)].mean())
