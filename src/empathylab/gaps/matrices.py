"""The paper's matrices, δ and its permutation test, computed as the authors' code does.

Two matrices serve two purposes (SPEC, Part I): the **heatmap matrix**
(:func:`emotion_matrix`, the baseline ``a person`` first; narratives excluded when missing
in any cell of the full matrix, z-normalised over all its cells) and the **δ matrix**
(:func:`delta_matrix`, the baseline left out; excluded and z-normalised without it).

1. :func:`empathylab.gaps.answers.exclude_incomplete`: a narrative missing in any perceiver ×
   experiencer pair is dropped from every cell.
2. ``M[i, j]`` = mean intensity for perceiver ``i`` and experiencer ``j`` over the kept
   narratives, z-normalised over all cells with ``ddof=0``. The authors round cell means to
   two decimals first, with Python's ``round()``; we do not (``round_means=2`` reproduces
   it, :func:`round_as_authors`).
3. :func:`delta`: δ = mean of in-group cells − mean of out-group cells (:func:`in_group`,
   :func:`out_group`), the baseline left out.
4. :func:`permutation_test`: rows and columns permuted independently. The authors draw
   10,000 pairs of orders; where the in-group cells are the diagonal (one identity a
   group) and there are at most 8 identities, δ takes only m! values under the null, and
   the test enumerates them all (exact interval and p; ``exact=False`` samples as theirs).
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from empathylab import verdicts
from empathylab.errors import EmpathylabError
from empathylab.gaps import design
from empathylab.gaps.checks import matrix_labels, prepare_run, znorm

__all__ = [
    "emotion_matrix",
    "delta_matrix",
    "in_group",
    "out_group",
    "delta",
    "permutation_test",
    "round_as_authors",
    "EXACT_LIMIT",
]


_CHUNK_PERMUTATIONS = 4096  # permutations per vectorised block (bounds memory)

#: The largest null space the permutation test enumerates: 8! arrangements of a diagonal.
EXACT_LIMIT = math.factorial(8)

#: The significance level the permutation verdict is read at (a two-sided 95 % interval).
ALPHA = 0.05


def round_as_authors(values: np.ndarray, decimals: int) -> np.ndarray:
    """Round every value as the authors' code does: Python's ``round()``, element by element.

    Python rounds the exact binary value of a float (2.675 is stored as
    2.67499999...), and ties of that exact value to even; ``np.round`` scales by 10**k,
    rounds and scales back, which moves such values up. The two differ on some
    ``.xx5`` means, and with them δ (by 2.4e-4 in one run of the authors' layout).

    >>> round_as_authors(np.array([2.675, 0.125, 1.5]), 2).tolist(), np.round(2.675, 2)
    ([2.67, 0.12, 1.5], np.float64(2.68))
    """
    a = np.asarray(values, dtype=float)
    k = int(decimals)
    return np.array([round(float(v), k) for v in a.ravel()], dtype=float).reshape(a.shape)


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
        code does (``2``, with Python's ``round()``: :func:`round_as_authors`); None
        (default) keeps them exact.

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
        values = round_as_authors(values, int(round_means))
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
    matrix: pd.DataFrame,
    grouping: str,
    n_permutations: int = 10_000,
    seed: int = 0,
    *,
    exact: bool | None = None,
) -> dict[str, Any]:
    """Test δ against independent permutations of the matrix's rows and columns.

    The identities of δ (the baseline left out, as in the original analysis) are
    permuted: one order for the rows and an independent one for the columns, then δ is
    recomputed with the in-group mask held fixed.

    Where the in-group cells are the diagonal (religion, nationality, race × religion:
    one identity a group), a permuted δ depends only on which column lands on each row's
    diagonal, the relative permutation σ = columns ∘ rows⁻¹, and σ is uniform over the m!
    permutations when both orders are. With m! ≤ :data:`EXACT_LIMIT` (m ≤ 8) the test
    enumerates all m! values of δ (vectorised): the null interval and p are exact, not
    drawn. Otherwise (ethnicity's race blocks, more identities, or ``exact=False``) it
    draws ``n_permutations`` pairs of orders at once with numpy (argsort of uniform
    random numbers, fancy indexing), as the authors draw 10,000.

    Parameters
    ----------
    matrix : pandas.DataFrame
        A square matrix labelled by identity (:func:`emotion_matrix`).
    grouping : str
        The grouping, for the in-group mask.
    n_permutations : int
        Number of drawn permutations (the paper: 10,000); unused when exact.
    seed : int
        Seed of the random generator (``numpy.random.default_rng``); unused when exact.
    exact : bool or None
        None (default): enumerate where the space allows it, else sample. False: always
        sample (the authors' test). True: enumerate, and raise where the space does not
        allow it.

    Returns
    -------
    result : dict
        * ``delta``: the observed δ.
        * ``ci_low``, ``ci_high``: 2.5 and 97.5 percentiles of the permuted δs, the
          **null interval** (where δ falls when identities do not matter), not an
          interval for δ.
        * ``p_perm``: two-sided p. Exact: ``#{|δ_σ| >= |δ|} / m!`` (the observed
          arrangement among them); sampled: ``(1 + #{|δ_perm| >= |δ|}) / (n + 1)``
          (ties up to rounding).
        * ``significant``: δ lies outside ``[ci_low, ci_high]`` (the paper's criterion),
          and the test can reach p ≤ 0.05 at all (``p_floor``).
        * ``n_permutations``: the permutations evaluated (m! when exact).
        * ``exact``: whether they were enumerated.
        * ``p_floor``: the smallest p the design allows
          (:func:`empathylab.verdicts.permutation_floor`: 1/m! for a diagonal).
        * ``n_groups``: the number of in-group blocks (m for a diagonal).
        * ``verdict``: ``in-group higher`` (δ above the null interval), ``in-group
          lower`` (below it), ``not significant``, or ``undetermined: ...`` where
          ``p_floor`` > 0.05 (e.g. three identities: 1/6).

    Examples
    --------
    >>> ids = design.identities("religion")
    >>> m = pd.DataFrame(np.eye(6) * 3 + np.arange(36).reshape(6, 6) % 5, index=ids, columns=ids)
    >>> res = permutation_test(m, "religion")
    >>> round(res["delta"], 2), res["exact"], res["n_permutations"], round(res["p_perm"], 4)
    (3.0, True, 120, 0.0083)
    >>> res["verdict"], permutation_test(m, "religion", 2000, exact=False)["exact"]
    ('in-group higher', False)
    """
    ids, values = matrix_labels(matrix, "permutation_test")
    if int(n_permutations) < 1:
        raise EmpathylabError(f"n_permutations must be at least 1, not {n_permutations}.")
    n_permutations = int(n_permutations)
    weights = cell_weights(ids, grouping, "permutation_test")
    keep = np.array([i != design.BASELINE for i in ids])
    sub, w = values[np.ix_(keep, keep)], weights[np.ix_(keep, keep)]
    inside = in_group(ids, grouping)[np.ix_(keep, keep)]
    observed = delta_of_cells(values, ids, grouping)
    m = sub.shape[0]
    enumerable = bool(np.array_equal(inside, np.eye(m, dtype=bool))) and math.factorial(m) <= EXACT_LIMIT
    if exact and not enumerable:
        raise EmpathylabError(
            f"permutation_test: exact=True enumerates the m! arrangements of a diagonal in-group "
            f"mask with m! <= {EXACT_LIMIT:,} (m <= 8); the {grouping} matrix has {m} identities"
            + ("" if np.array_equal(inside, np.eye(m, dtype=bool)) else " in blocks of several")
            + ". Use exact=None or False to sample."
        )
    use_exact = enumerable if exact is None else bool(exact)
    tol = 1e-12 * max(1.0, abs(observed))
    if use_exact:
        permuted = _diagonal_deltas(sub)
        extreme = int((np.abs(permuted) >= abs(observed) - tol).sum())
        p = extreme / len(permuted)
    else:
        permuted = _sampled_deltas(sub, w, n_permutations, seed)
        extreme = int((np.abs(permuted) >= abs(observed) - tol).sum())
        p = (1 + extreme) / (n_permutations + 1)
    ci_low, ci_high = (float(x) for x in np.percentile(permuted, [2.5, 97.5]))
    floor = verdicts.permutation_floor(inside)
    n_groups = len({tuple(row) for row in inside})
    reachable = floor <= ALPHA
    outside = observed < ci_low or observed > ci_high
    return {
        "delta": observed,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "p_perm": p,
        "significant": bool(outside and reachable),
        "n_permutations": len(permuted),
        "exact": use_exact,
        "p_floor": floor,
        "n_groups": n_groups,
        "verdict": permutation_verdict(observed, ci_low, ci_high, floor, n_groups),
    }


def permutation_verdict(delta: float, null_low: float, null_high: float, floor: float, groups: int) -> str:
    """Return the verdict of the permutation test, by the side δ leaves the null interval on.

    >>> permutation_verdict(-0.8, -0.5, 0.5, 1 / 120, 5), permutation_verdict(0.3, -0.5, 0.5, 1 / 120, 5)
    ('in-group lower', 'not significant')
    >>> permutation_verdict(2.0, -0.5, 0.5, 1 / 6, 3)
    'undetermined: the permutation test cannot reach significance with 3 groups (smallest p 1/6)'
    """
    if floor > ALPHA:
        inverse = round(1 / floor)
        shown = f"1/{inverse}" if abs(1 / inverse - floor) < 1e-12 else f"{floor:.2g}"
        return (
            f"undetermined: the permutation test cannot reach significance with {groups} groups "
            f"(smallest p {shown})"
        )
    if delta > null_high and delta > 0:
        return "in-group higher"
    if delta < null_low and delta < 0:
        return "in-group lower"
    return "not significant"


@lru_cache(maxsize=8)
def _all_permutations(m: int) -> np.ndarray:
    return np.array(list(itertools.permutations(range(m))), dtype=np.intp).reshape(-1, m)


def _diagonal_deltas(sub: np.ndarray) -> np.ndarray:
    """δ of every relative permutation σ of a diagonal-mask matrix: m! values.

    Row order r and column order c put M[r[a], c[a]] on the diagonal, i.e. the cells
    (i, σ(i)) with σ = c ∘ r⁻¹; δ = (trace sum)/m − (total − trace sum)/(m(m − 1)).
    """
    m = sub.shape[0]
    perms = _all_permutations(m)
    trace = sub[np.arange(m), perms].sum(axis=1)
    return trace / m - (sub.sum() - trace) / (m * (m - 1))


def _sampled_deltas(sub: np.ndarray, w: np.ndarray, n_permutations: int, seed: int) -> np.ndarray:
    """δ of ``n_permutations`` independent (row order, column order) pairs, as drawn before."""
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
    return permuted


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
