"""Intergroup empathy gaps (Hou, Daumé III and Rudinger 2025): matrices, δ and its tests.

Every function takes the rows of :func:`empathylab.store.read_results` (one row per
prompt) and returns tidy results. A *run* is one (model, readout, grouping, variation)
selection of those rows; functions that compute one matrix take one run and check
it: the columns they need must be present, the run keys that are present (``model``,
``readout``, ``grouping``, ``variation``) must each hold a single value, the grouping
must be known and every identity must belong to it, and at least two identities
besides the baseline ``a person`` must be present. :func:`answer_stats` and
:func:`analyze` take any number of runs and split them.

The paper's pipeline, step by step (see SPEC, Part I), computed as the authors' code
computes it. Two matrices serve two purposes there, and here:

* the **heatmap matrix** (:func:`emotion_matrix`, the baseline ``a person`` first):
  narratives excluded when missing in any cell of the full matrix *with* the baseline,
  z-normalised over all its cells; it feeds the refusal statistics, the heatmaps and
  :func:`cell_tests` (the authors' notebook cells 1, 3, 6, 7);
* the **δ matrix** (:func:`delta_matrix`, the baseline left out): narratives excluded
  when missing in any cell *without* the baseline, z-normalised over its own cells; it
  feeds δ, its permutation test, and (beyond the paper) the bootstrap, the mixed model,
  δ by emotion, the pair gaps and the cluster means (cells 10, 11, 13, 15).

1. :func:`exclude_incomplete`: a narrative (``item_id``) missing in any
   perceiver × experiencer pair (refused, invalid, or absent) is dropped from every cell.
2. :func:`emotion_matrix` / :func:`delta_matrix`: ``M[i, j]`` = mean intensity for
   perceiver ``i`` and experiencer ``j`` over the kept narratives, z-normalised over all
   cells with the population standard deviation (``ddof=0``). The authors round cell
   means to two decimals first; we do not (``round_means=2`` reproduces it).
3. :func:`delta`: δ = mean of in-group cells − mean of out-group cells
   (:func:`in_group`, :func:`out_group`), the baseline row and column left out.
4. :func:`permutation_test`: rows and columns permuted independently, 10,000 times.
5. :func:`cell_tests`: the paired t-tests and Bonferroni threshold of the heatmaps.

Beyond the paper: :func:`mixed_model` (a random intercept per narrative),
:func:`bootstrap_delta` (narratives resampled), :func:`delta_by_emotion` and
:func:`pair_gaps` (where the gap comes from). :func:`analyze` runs all of it per run;
:func:`simulate_results` makes synthetic rows for examples and tests.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from empathylab import design, metrics
from empathylab.errors import EmpathylabError

__all__ = [
    "RUN_KEYS",
    "answer_stats",
    "exclude_incomplete",
    "emotion_matrix",
    "delta_matrix",
    "in_group",
    "out_group",
    "delta",
    "permutation_test",
    "cell_tests",
    "mixed_model",
    "bootstrap_delta",
    "delta_by_emotion",
    "pair_gaps",
    "analyze",
    "simulate_results",
    "heatmap_data",
    "cluster_means",
    "perceiver_map",
    "jsonable",
]

#: The columns that identify one run, in the order results are reported.
RUN_KEYS = ("model", "readout", "grouping", "variation")
_MATRIX_COLUMNS = ("grouping", "perceiver", "experiencer", "item_id", "intensity")
_CHUNK_PERMUTATIONS = 4096  # permutations per vectorised block (bounds memory)
_CHUNK_BOOT = 256  # bootstrap resamples per block


# --------------------------------------------------------------------------- checks


def _check_columns(frame: Any, required: tuple[str, ...] | list[str], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise EmpathylabError(
            f"{what} needs a DataFrame of result rows (see empathylab.store.read_results), "
            f"not {type(frame).__name__}."
        )
    missing = [c for c in required if c not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns)) or "none"
        raise EmpathylabError(
            f"{what} needs column(s) {', '.join(missing)}; the results have {found}."
        )


def _run_label(results: pd.DataFrame) -> str:
    parts = [f"{k}={results[k].iloc[0]}" for k in RUN_KEYS if k in results.columns and len(results)]
    return ", ".join(parts)


@dataclass
class _Run:
    """One checked run as arrays: positions of perceiver and experiencer in ``ids``."""

    grouping: str
    ids: list[str]
    rows: pd.DataFrame  # the run's rows (without the baseline's when it is left out)
    p: np.ndarray  # perceiver position in ids, per row
    e: np.ndarray  # experiencer position in ids, per row
    item: np.ndarray  # position of the row's item_id in items
    items: np.ndarray  # the distinct item_ids, sorted
    intensity: np.ndarray  # float, NaN when missing


def _positions(column: pd.Series, ids: list[str]) -> np.ndarray:
    codes, uniques = pd.factorize(column)
    pos = {label: k for k, label in enumerate(ids)}
    lookup = np.array([pos.get(str(u), -1) for u in uniques], dtype=np.int64)
    return lookup[codes]


def _check_run(
    results: pd.DataFrame, what: str, extra: tuple[str, ...] = (), baseline: bool = True
) -> _Run:
    """Check one run and encode it (see the module docstring for what is checked)."""
    _check_columns(results, _MATRIX_COLUMNS + extra, what)
    if results.empty:
        raise EmpathylabError(f"{what}: the selection is empty (no result rows).")
    for key in RUN_KEYS:
        if key in results.columns:
            values = pd.unique(results[key])
            if len(values) != 1:
                shown = ", ".join(map(str, values[:6])) + (", ..." if len(values) > 6 else "")
                raise EmpathylabError(
                    f"{what} takes one run, but the rows hold {len(values)} values of "
                    f"{key} ({shown}): select one {key}, or use gaps.analyze, which splits runs."
                )
    grouping = str(results["grouping"].iloc[0])
    if grouping not in design.GROUPINGS:
        raise EmpathylabError(
            f"Unknown grouping {grouping!r}; valid groupings: {', '.join(design.GROUPINGS)}."
        )
    blank = results[["perceiver", "experiencer", "item_id"]].isna().any(axis=1)
    if blank.any():
        raise EmpathylabError(
            f"{what}: {int(blank.sum())} row(s) lack a perceiver, experiencer or item_id."
        )
    valid = design.identities(grouping)
    present = {str(v) for v in pd.unique(results["perceiver"])}
    present |= {str(v) for v in pd.unique(results["experiencer"])}
    unknown = sorted(present - set(valid))
    if unknown:
        raise EmpathylabError(
            f"Unknown {grouping} identit{'y' if len(unknown) == 1 else 'ies'} "
            f"{', '.join(map(repr, unknown))}; valid: {', '.join(valid)}."
        )
    ids = [i for i in valid if i in present]
    others = [i for i in ids if i != design.BASELINE]
    if len(others) < 2:
        raise EmpathylabError(
            f"{what}: the {grouping} rows hold {len(others)} identit"
            f"{'y' if len(others) == 1 else 'ies'} besides {design.BASELINE!r} "
            f"({', '.join(others) or 'none'}); a gap needs at least two."
        )
    p, e = _positions(results["perceiver"], ids), _positions(results["experiencer"], ids)
    if not baseline and design.BASELINE in ids:
        keep = (p != 0) & (e != 0)  # the baseline comes first in design order
        results, p, e = results[keep], p[keep] - 1, e[keep] - 1
        ids = ids[1:]
    item, items = pd.factorize(results["item_id"], sort=True)
    items = np.asarray(items)
    n = len(ids)
    key = (item.astype(np.int64) * n + p) * n + e
    size = len(items) * n * n
    if size <= 4 * len(key) + 1_000_000:
        repeats = int((np.bincount(key, minlength=size) > 1).sum())
    else:
        ordered = np.sort(key)
        repeats = int((ordered[1:] == ordered[:-1]).sum())
    if repeats:
        raise EmpathylabError(
            f"{what}: {repeats} (perceiver, experiencer, item_id) triple(s) appear more than "
            f"once in the same run ({_run_label(results)}); each prompt must appear once."
        )
    intensity = pd.to_numeric(results["intensity"], errors="coerce").to_numpy(dtype=float)
    return _Run(grouping, ids, results, p, e, item, items, intensity)


def _exclude(run: _Run) -> tuple[np.ndarray, dict[str, Any]]:
    """Return the per-item 'complete' flags and the exclusion report."""
    ok = ~np.isnan(run.intensity)
    answered = np.bincount(run.item[ok], minlength=len(run.items))
    complete = answered == len(run.ids) ** 2
    n_items, n_kept = len(run.items), int(complete.sum())
    report = {
        "n_items": n_items,
        "n_kept": n_kept,
        "n_excluded": n_items - n_kept,
        "excluded_share": (n_items - n_kept) / n_items if n_items else float("nan"),
    }
    return complete, report


def _prepare(
    results: pd.DataFrame, what: str, baseline: bool = True, extra: tuple[str, ...] = ()
) -> tuple[_Run, np.ndarray, np.ndarray, dict[str, Any]]:
    """Check a run and apply the exclusion rule.

    Returns the run, the kept-row mask, the cell array ``X[kept item, perceiver,
    experiencer]`` (kept items in item_id order) and the exclusion report.
    """
    run = _check_run(results, what, extra, baseline)
    complete, report = _exclude(run)
    if report["n_kept"] == 0:
        raise EmpathylabError(
            f"{what}: no narrative has an answer in every perceiver x experiencer pair "
            f"({report['n_items']} narratives, all excluded; {_run_label(results)}). "
            "Check the refusal and invalid shares (gaps.answer_stats)."
        )
    rows = complete[run.item]
    new_code = np.cumsum(complete) - 1
    n = len(run.ids)
    cells = np.full((report["n_kept"], n, n), np.nan)
    cells[new_code[run.item[rows]], run.p[rows], run.e[rows]] = run.intensity[rows]
    return run, rows, cells, report


def _znorm(matrix: np.ndarray) -> np.ndarray:
    sd = matrix.std()  # population std (ddof=0), as the paper
    if sd == 0 or not np.isfinite(sd):
        return np.zeros_like(matrix)
    return (matrix - matrix.mean()) / sd


def _labels(matrix: Any, what: str) -> tuple[list[str], np.ndarray]:
    if not isinstance(matrix, pd.DataFrame):
        raise EmpathylabError(
            f"{what} needs the matrix as a DataFrame labelled by identity "
            f"(see gaps.emotion_matrix), not {type(matrix).__name__}."
        )
    rows, cols = list(map(str, matrix.index)), list(map(str, matrix.columns))
    if rows != cols:
        raise EmpathylabError(
            f"{what} needs a square matrix with the same identities, in the same order, "
            f"as rows and columns; rows {rows}, columns {cols}."
        )
    values = matrix.to_numpy(dtype=float)
    if not np.isfinite(values).all():
        raise EmpathylabError(f"{what}: the matrix has missing (NaN) cells.")
    return rows, values


def _weights(ids: list[str], grouping: str, what: str) -> np.ndarray:
    """Return w with δ = sum(w * M): 1/n_in on in-group, -1/n_out on out-group cells."""
    inside, outside = in_group(ids, grouping), out_group(ids, grouping)
    if not inside.any() or not outside.any():
        raise EmpathylabError(
            f"{what}: the {grouping} identities {', '.join(ids)} give "
            f"{int(inside.sum())} in-group and {int(outside.sum())} out-group cells; δ needs both."
        )
    return inside / inside.sum() - outside / outside.sum()


def _delta(values: np.ndarray, ids: list[str], grouping: str) -> float:
    return float(values[in_group(ids, grouping)].mean() - values[out_group(ids, grouping)].mean())


def _sort_runs(frame: pd.DataFrame) -> pd.DataFrame:
    order = {
        "grouping": {g: k for k, g in enumerate(design.GROUPINGS)},
        "variation": {v: k for k, v in enumerate(design.VARIATIONS)},
    }

    def key(column: pd.Series) -> pd.Series:
        if column.name in order:
            return column.map(lambda v: (order[column.name].get(v, len(order[column.name])), str(v)))
        return column.astype(str)

    return frame.sort_values(list(RUN_KEYS), key=key, kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- answers


def answer_stats(results: pd.DataFrame) -> pd.DataFrame:
    """Return how the model answered, per model × readout × grouping × variation.

    Parameters
    ----------
    results : pandas.DataFrame
        Result rows with columns ``model, readout, grouping, variation, status, p_valid``.

    Returns
    -------
    stats : pandas.DataFrame
        One row per run with columns:

        * ``model``, ``readout``, ``grouping``, ``variation``: the run.
        * ``n``: the number of prompts (rows).
        * ``share_ok``, ``share_refusal``, ``share_invalid``: shares of the statuses
          (they add up to 1 when every status is one of the three).
        * ``mean_p_valid``: mean probability mass on valid answers (distribution
          readout; NaN for the generate readout, which has none).

    Examples
    --------
    >>> rows = simulate_results("religion", n_items=4, missing=0.25, seed=1)
    >>> answer_stats(rows)[["grouping", "n", "share_ok", "share_refusal"]]
       grouping    n  share_ok  share_refusal
    0  religion  144  0.708333       0.291667
    """
    _check_columns(results, (*RUN_KEYS, "status", "p_valid"), "answer_stats")
    if results.empty:
        raise EmpathylabError("answer_stats: the selection is empty (no result rows).")
    frame = results.assign(
        _ok=results["status"].eq("ok"),
        _refusal=results["status"].eq("refusal"),
        _invalid=results["status"].eq("invalid"),
        _p=pd.to_numeric(results["p_valid"], errors="coerce"),
    )
    stats = (
        frame.groupby(list(RUN_KEYS), sort=False, dropna=False)
        .agg(
            n=("_ok", "size"),
            share_ok=("_ok", "mean"),
            share_refusal=("_refusal", "mean"),
            share_invalid=("_invalid", "mean"),
            mean_p_valid=("_p", "mean"),
        )
        .reset_index()
    )
    return _sort_runs(stats)


def exclude_incomplete(
    results: pd.DataFrame, *, baseline: bool = True
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Apply the paper's exclusion rule to one run; return the kept rows and a report.

    A narrative (``item_id``) is dropped from every cell when its intensity is missing
    (NaN: a refusal or an invalid answer) in any perceiver × experiencer pair of the
    identities present, or when a pair has no row for it at all; so every cell averages
    the same narratives.

    Parameters
    ----------
    results : pandas.DataFrame
        The rows of one run, with columns ``grouping, perceiver, experiencer, item_id,
        intensity`` (and, if present, a single ``model``, ``readout``, ``variation``).
    baseline : bool
        Include the baseline ``a person`` (default, as the SPEC's heatmaps). With False
        its rows are dropped first and only the other pairs decide the exclusion, as the
        original analysis code did for δ.

    Returns
    -------
    kept : pandas.DataFrame
        The rows of the kept narratives (a copy; ``intensity`` as float).
    report : dict
        ``n_items`` (narratives seen), ``n_kept``, ``n_excluded`` and ``excluded_share``
        (= n_excluded / n_items).

    Examples
    --------
    >>> rows = simulate_results("religion", n_items=10, seed=0)
    >>> rows.loc[(rows.perceiver == "a Jew") & (rows.item_id == 3), "intensity"] = float("nan")
    >>> kept, report = exclude_incomplete(rows)
    >>> report
    {'n_items': 10, 'n_kept': 9, 'n_excluded': 1, 'excluded_share': 0.1}
    >>> sorted(kept.item_id.unique()) == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    True
    """
    run = _check_run(results, "exclude_incomplete", baseline=baseline)
    complete, report = _exclude(run)
    kept = run.rows[complete[run.item]].copy()
    kept["intensity"] = kept["intensity"].astype(float)
    return kept, report


# --------------------------------------------------------------------------- matrix and δ


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
        order of :func:`empathylab.design.identities` (baseline first), restricted to the
        identities present.

    Examples
    --------
    >>> rows = simulate_results("religion", n_items=6, effect=10.0, seed=0)
    >>> m = emotion_matrix(rows)
    >>> list(m.index[:3]), m.shape
    (['a person', 'a Christian', 'a Muslim'], (6, 6))
    >>> bool(np.isclose(m.to_numpy().mean(), 0)), bool(np.isclose(m.to_numpy().std(), 1))
    (True, True)
    """
    run, _, cells, _ = _prepare(results, "emotion_matrix", baseline)
    ids = run.ids
    values = cells.mean(axis=0)
    if round_means is not None:
        values = np.round(values, int(round_means))
    if z:
        values = _znorm(values)
    return pd.DataFrame(
        values,
        index=pd.Index(ids, name="perceiver"),
        columns=pd.Index(ids, name="experiencer"),
    )


def delta_matrix(
    results: pd.DataFrame, z: bool = True, *, round_means: int | None = None
) -> pd.DataFrame:
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
    (:data:`empathylab.design.ETHNICITY_RACE`) for ethnicity, so two surface forms of
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
    ids, values = _labels(matrix, "delta")
    _weights(ids, grouping, "delta")  # checks that both kinds of cell exist
    return _delta(values, ids, grouping)


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
    ids, values = _labels(matrix, "permutation_test")
    if int(n_permutations) < 1:
        raise EmpathylabError(f"n_permutations must be at least 1, not {n_permutations}.")
    n_permutations = int(n_permutations)
    weights = _weights(ids, grouping, "permutation_test")
    keep = np.array([i != design.BASELINE for i in ids])
    sub, w = values[np.ix_(keep, keep)], weights[np.ix_(keep, keep)]
    observed = _delta(values, ids, grouping)
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


# --------------------------------------------------------------------------- heatmap cells


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
    >>> rows = simulate_results("religion", n_items=30, effect=8.0, noise_sd=1.0, seed=0)
    >>> tests = cell_tests(rows)
    >>> len(tests), float(tests.threshold.iloc[0]) == 0.05 / 36, bool(tests.shown.all())
    (20, True, True)
    """
    run, _, cells, _ = _prepare(results, "cell_tests")
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


# --------------------------------------------------------------------------- beyond the paper


def mixed_model(results: pd.DataFrame) -> dict[str, Any]:
    """Fit ``intensity_z ~ in_group + (1 | item_id)`` to one run (statsmodels MixedLM).

    The rows are those of the δ matrix (:func:`delta_matrix`: the baseline dropped, then
    the narratives complete in every remaining pair). ``intensity_z`` applies to every
    row the affine map that z-normalises that matrix:
    ``(intensity - M.mean()) / M.std(ddof=0)``, M the raw matrix. So the model works in
    the units of δ; as every cell holds the same narratives, its fixed effect equals
    :func:`delta` of :func:`delta_matrix`, and it adds a standard error that accounts
    for narratives (but treats perceivers and experiencers as fixed). REML fit.

    Returns
    -------
    result : dict
        ``coef`` (in-group − out-group, z units), ``se``, ``ci_low``, ``ci_high``
        (95 % Wald interval), ``p``, ``item_sd`` (random-intercept sd), ``resid_sd``,
        ``n_obs``, ``n_items``, ``converged``. Values are NaN when the model cannot be
        fitted (e.g. all intensities equal).

    Examples
    --------
    >>> rows = simulate_results("religion", n_items=12, effect=5.0, seed=0)
    >>> fit = mixed_model(rows)
    >>> round(fit["coef"], 6) == round(delta(delta_matrix(rows), "religion"), 6)
    True
    >>> fit["ci_low"] > 0
    True
    """
    return _fit_mixed(*_prepare(results, "mixed_model", baseline=False)[:3])


def _fit_mixed(run: _Run, kept: np.ndarray, cells: np.ndarray) -> dict[str, Any]:
    raw = cells.mean(axis=0)
    mean, sd = raw.mean(), raw.std()
    inside, outside = in_group(run.ids, run.grouping), out_group(run.ids, run.grouping)
    p, e = run.p[kept], run.e[kept]
    use = inside[p, e] | outside[p, e]
    data = pd.DataFrame(
        {
            "intensity_z": (run.intensity[kept][use] - mean) / (sd if sd > 0 else 1.0),
            "in_group": inside[p, e][use].astype(float),
            "item_id": run.item[kept][use],
        }
    )
    out: dict[str, Any] = {
        "coef": float("nan"), "se": float("nan"), "ci_low": float("nan"),
        "ci_high": float("nan"), "p": float("nan"), "item_sd": float("nan"),
        "resid_sd": float("nan"), "n_obs": len(data), "n_items": int(data["item_id"].nunique()),
        "converged": False,
    }  # fmt: skip
    if sd == 0 or data["intensity_z"].std() == 0:
        return out
    import statsmodels.formula.api as smf

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            fit = smf.mixedlm("intensity_z ~ in_group", data, groups=data["item_id"]).fit(reml=True)
        except (np.linalg.LinAlgError, ValueError):
            return out
        ci = fit.conf_int().loc["in_group"]
        out.update(
            coef=float(fit.fe_params["in_group"]),
            se=float(fit.bse_fe["in_group"]),
            ci_low=float(ci.iloc[0]),
            ci_high=float(ci.iloc[1]),
            p=float(fit.pvalues["in_group"]),
            item_sd=float(np.sqrt(max(float(fit.cov_re.iloc[0, 0]), 0.0))),
            resid_sd=float(np.sqrt(fit.scale)),
            converged=bool(fit.converged),
        )
    return out


def _boot_deltas(
    cells: np.ndarray,
    weights: np.ndarray,
    n_boot: int,
    rng: np.random.Generator,
    renormalise: bool = False,
) -> np.ndarray:
    """δ of ``n_boot`` matrices of narratives resampled with replacement (z units)."""
    n_items = cells.shape[0]
    flat = cells.reshape(n_items, -1)
    w = weights.ravel()
    fixed_sd = flat.mean(axis=0).std()
    out = np.empty(n_boot)
    for start in range(0, n_boot, _CHUNK_BOOT):
        b = min(_CHUNK_BOOT, n_boot - start)
        draws = rng.integers(0, n_items, size=(b, n_items))
        draws += (np.arange(b) * n_items)[:, None]
        counts = np.bincount(draws.ravel(), minlength=b * n_items).reshape(b, n_items)
        means = (counts @ flat) / n_items  # (b, cells): the resampled matrices
        sd = means.std(axis=1) if renormalise else np.full(b, fixed_sd)
        raw = means @ w
        out[start : start + b] = np.where(sd > 0, raw / np.where(sd > 0, sd, 1.0), 0.0)
    return out


def bootstrap_delta(
    results: pd.DataFrame, n_boot: int = 1000, seed: int = 0, *, renormalise: bool = False
) -> dict[str, Any]:
    """Bootstrap δ over narratives: resample item_ids with replacement, recompute δ.

    Each resample recomputes the δ matrix (:func:`delta_matrix`, the baseline left out)
    from the same resampled narratives in every cell, z-normalises it and recomputes δ. Vectorised: per-narrative cell matrices are
    stacked into an array (narratives, n, n) and each resample is a weighted mean with
    the draw counts (a matrix product), in blocks of resamples.

    By default the z-normalisation uses the mean and standard deviation of the
    observed matrix, so every resample is in the units of the reported δ. With
    ``renormalise=True`` each resample is divided by its own standard deviation; that
    standard deviation carries the resampling noise of every cell on top of the
    sampling noise already in the observed one, so the resampled δs shrink towards 0
    and the percentile interval can miss the observed δ altogether when cells differ
    little (seen on synthetic data: δ 4.67, interval 4.42-4.52).

    Parameters
    ----------
    results : pandas.DataFrame
        The rows of one run.
    n_boot : int
        Number of resamples.
    seed : int
        Seed of ``numpy.random.default_rng``.
    renormalise : bool
        Recompute the standard deviation in each resample (see above).

    Returns
    -------
    result : dict
        ``delta`` (on all kept narratives), ``ci_low``, ``ci_high`` (2.5 and 97.5
        percentiles of the bootstrap δs), ``se`` (their standard deviation), ``n_boot``,
        ``n_items`` (kept narratives).

    Examples
    --------
    >>> rows = simulate_results("religion", n_items=40, effect=3.0, seed=0)
    >>> res = bootstrap_delta(rows, n_boot=500)
    >>> bool(res["ci_low"] < res["delta"] < res["ci_high"]), bool(res["ci_low"] > 0)
    (True, True)
    """
    run, _, cells, _ = _prepare(results, "bootstrap_delta", baseline=False)
    if int(n_boot) < 1:
        raise EmpathylabError(f"n_boot must be at least 1, not {n_boot}.")
    weights = _weights(run.ids, run.grouping, "bootstrap_delta")
    observed = _delta(_znorm(cells.mean(axis=0)), run.ids, run.grouping)
    rng = np.random.default_rng(seed)
    boots = _boot_deltas(cells, weights, int(n_boot), rng, renormalise)
    ci_low, ci_high = np.percentile(boots, [2.5, 97.5])
    return {
        "delta": observed,
        "ci_low": float(ci_low),
        "ci_high": float(ci_high),
        "se": float(boots.std(ddof=1)) if len(boots) > 1 else float("nan"),
        "n_boot": int(n_boot),
        "n_items": int(cells.shape[0]),
    }


def delta_by_emotion(
    results: pd.DataFrame, n_permutations: int = 10_000, seed: int = 0
) -> pd.DataFrame:
    """Return δ per emotion of one run, with the paper's definitions applied per emotion.

    The exclusion rule of :func:`delta_matrix` runs on the whole run (a narrative belongs
    to one emotion, so this equals excluding within each emotion); each emotion's matrix
    (the baseline left out, as for δ) is z-normalised on its own, and tested with
    :func:`permutation_test`.

    Returns
    -------
    by_emotion : pandas.DataFrame
        One row per emotion (in :data:`empathylab.data.EMOTIONS` order, then others):
        ``emotion``, ``n_items`` (kept narratives), ``delta`` (z units of that emotion's
        matrix), ``delta_raw`` (intensity units, not normalised), ``ci_low``,
        ``ci_high``, ``p_perm``, ``significant``.

    Examples
    --------
    >>> rows = simulate_results("religion", n_items=24, effect=5.0, seed=0)
    >>> by = delta_by_emotion(rows, n_permutations=200)
    >>> by.emotion.tolist()[:3], int(by.n_items.sum()), bool((by.delta > 0).all())
    (['anger', 'disgust', 'fear'], 24, True)
    """
    from empathylab.data import EMOTIONS

    run, kept, cells, _ = _prepare(results, "delta_by_emotion", baseline=False, extra=("emotion",))
    grouping, ids = run.grouping, run.ids
    codes, names = pd.factorize(run.rows["emotion"])
    pairs = pd.DataFrame({"item": run.item[kept], "emotion": codes[kept]}).drop_duplicates()
    if pairs["item"].duplicated().any():
        raise EmpathylabError(
            f"delta_by_emotion: {int(pairs['item'].duplicated().sum())} item_id(s) appear with "
            "more than one emotion; an item_id must name one narrative."
        )
    pairs = pairs.sort_values("item")  # kept items in item_id order, as the cell array
    labels = np.array([str(names[c]) if c >= 0 else "nan" for c in pairs["emotion"]], dtype=object)
    present = set(labels)
    order = [e for e in EMOTIONS if e in present] + sorted(present - set(EMOTIONS))
    weights = _weights(ids, grouping, "delta_by_emotion")
    rows = []
    for emotion in order:
        raw = cells[labels == emotion].mean(axis=0)
        matrix = pd.DataFrame(_znorm(raw), index=ids, columns=ids)
        test = permutation_test(matrix, grouping, n_permutations, seed)
        rows.append(
            {
                "emotion": emotion,
                "n_items": int((labels == emotion).sum()),
                "delta": test["delta"],
                "delta_raw": float((raw * weights).sum()),
                "ci_low": test["ci_low"],
                "ci_high": test["ci_high"],
                "p_perm": test["p_perm"],
                "significant": test["significant"],
            }
        )
    return pd.DataFrame(rows)


def pair_gaps(results: pd.DataFrame, z: bool = True) -> pd.DataFrame:
    """Return, per out-group pair, how far its cell lies below the two in-group levels.

    For each out-group cell (perceiver i, experiencer j) of the δ matrix
    (:func:`delta_matrix`): the perceiver's in-group level (mean of row i over i's
    in-group cells), the experiencer's in-group level (mean of column j over j's
    in-group cells), and ``gap`` = their mean − the cell. Sorting by ``gap`` shows which
    pairs carry δ; for religion and nationality the mean of ``gap`` over all rows is δ.

    Returns
    -------
    pairs : pandas.DataFrame
        Columns ``perceiver``, ``experiencer``, ``value`` (the cell),
        ``perceiver_in_group``, ``experiencer_in_group``, ``gap_perceiver``
        (perceiver level − cell), ``gap_experiencer`` (experiencer level − cell) and
        ``gap``; one row per out-group cell in design order.

    Examples
    --------
    >>> rows = simulate_results("religion", n_items=12, effect=5.0, seed=0)
    >>> pairs = pair_gaps(rows)
    >>> len(pairs), bool(np.isclose(pairs.gap.mean(), delta(delta_matrix(rows), "religion")))
    (20, True)
    """
    matrix = delta_matrix(results, z=z)
    grouping = str(results["grouping"].iloc[0])
    ids, values = list(matrix.index), matrix.to_numpy()
    inside, outside = in_group(ids, grouping), out_group(ids, grouping)
    rows = []
    for i, j in zip(*np.nonzero(outside)):
        row_level = float(values[i][inside[i]].mean())
        col_level = float(values[:, j][inside[:, j]].mean())
        value = float(values[i, j])
        rows.append(
            {
                "perceiver": ids[i],
                "experiencer": ids[j],
                "value": value,
                "perceiver_in_group": row_level,
                "experiencer_in_group": col_level,
                "gap_perceiver": row_level - value,
                "gap_experiencer": col_level - value,
                "gap": (row_level + col_level) / 2 - value,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- all at once


def analyze(
    results: pd.DataFrame,
    n_permutations: int = 10_000,
    seed: int = 0,
    n_boot: int = 1000,
    mixed: bool = True,
    *,
    skip_incomplete: bool = False,
) -> list[dict[str, Any]]:
    """Run the whole analysis for every (model, readout, grouping, variation) of the rows.

    Each number comes from the matrix the authors' code computes it on (see the module
    docstring): the refusal statistics and ``matrix`` from the heatmap matrix (baseline
    included); δ, its permutation test, the bootstrap and the mixed model from the δ
    matrix (:func:`delta_matrix`, baseline left out).

    Parameters
    ----------
    results : pandas.DataFrame
        Rows of :func:`empathylab.store.read_results` (any number of runs).
    n_permutations, seed : int
        For :func:`permutation_test` (and the seed of :func:`bootstrap_delta`).
    n_boot : int
        Bootstrap resamples (:func:`bootstrap_delta`); 0 skips it (NaN bounds).
    mixed : bool
        Fit :func:`mixed_model` (False: NaN values; it is the slowest step).
    skip_incomplete : bool
        A run in which no narrative is answered in every cell raises by default; with
        True it gets an entry whose numbers are NaN and whose ``error`` says why.

    Returns
    -------
    runs : list of dict
        One dict per run, in model, readout, grouping, variation order, with keys
        ``model, readout, grouping, variation``; ``identities`` (labels, baseline first)
        and ``n_identities``; ``n_prompts``, ``share_ok``, ``share_refusal``,
        ``share_invalid`` (when a ``status`` column is present).

        From the heatmap matrix (baseline included): ``n_items`` (narratives seen),
        ``n_excluded``, ``excluded_share`` (the authors' refusal statistics) and
        ``matrix`` (z-normalised, a list of rows, perceivers by experiencers).

        From the δ matrix (baseline left out): ``delta_n_items`` (narratives kept for δ),
        ``delta_excluded_share``, ``raw_mean``, ``raw_sd`` (its z-normalisation
        constants); ``delta``, ``ci_low``, ``ci_high``, ``p_perm``, ``significant``,
        ``n_permutations`` (:func:`permutation_test`); ``bootstrap_ci_low``,
        ``bootstrap_ci_high``, ``n_boot``; ``mixed_coef``, ``mixed_ci_low``,
        ``mixed_ci_high``, ``mixed_p``.

    Examples
    --------
    >>> rows = simulate_results("religion", n_items=12, effect=5.0, seed=0)
    >>> [run] = analyze(rows, n_permutations=500, n_boot=200)
    >>> run["grouping"], run["n_items"], run["significant"], len(run["matrix"])
    ('religion', 12, True, 6)
    >>> bool(np.isclose(run["delta"], delta(delta_matrix(rows), "religion")))
    True
    """
    _check_columns(results, (*RUN_KEYS, *_MATRIX_COLUMNS[1:]), "analyze")
    if results.empty:
        raise EmpathylabError("analyze: the selection is empty (no result rows).")
    groups = {
        tuple(map(str, key)): rows
        for key, rows in results.groupby(list(RUN_KEYS), sort=False, dropna=False)
    }
    runs = _sort_runs(pd.DataFrame(list(groups), columns=list(RUN_KEYS)))
    out = []
    for run in runs.itertuples(index=False):
        rows = groups[tuple(run)]
        what = f"analyze ({_run_label(rows)})"
        try:
            heat, _, heat_cells, report = _prepare(rows, what)
            run_, kept, cells, kept_report = _prepare(rows, what, baseline=False)
        except EmpathylabError as exc:
            if not skip_incomplete or "no narrative has an answer" not in str(exc):
                raise
            out.append(_incomplete_entry(run._asdict(), rows, str(exc)))
            continue
        grouping, ids = run_.grouping, run_.ids
        raw = cells.mean(axis=0)
        test = permutation_test(
            pd.DataFrame(_znorm(raw), index=ids, columns=ids), grouping, n_permutations, seed
        )
        entry: dict[str, Any] = dict(run._asdict())
        entry.update(identities=heat.ids, n_identities=len(heat.ids), n_prompts=len(rows))
        if "status" in rows.columns:
            entry.update(
                share_ok=float(rows["status"].eq("ok").mean()),
                share_refusal=float(rows["status"].eq("refusal").mean()),
                share_invalid=float(rows["status"].eq("invalid").mean()),
            )
        entry.update(
            n_items=report["n_items"],
            n_excluded=report["n_excluded"],
            excluded_share=report["excluded_share"],
            delta_n_items=kept_report["n_kept"],
            delta_excluded_share=kept_report["excluded_share"],
            raw_mean=float(raw.mean()),
            raw_sd=float(raw.std()),
            delta=test["delta"],
            ci_low=test["ci_low"],
            ci_high=test["ci_high"],
            p_perm=test["p_perm"],
            significant=test["significant"],
            n_permutations=test["n_permutations"],
        )
        if n_boot > 0:
            boots = _boot_deltas(
                cells, _weights(ids, grouping, "analyze"), int(n_boot), np.random.default_rng(seed)
            )
            low, high = np.percentile(boots, [2.5, 97.5])
            entry.update(bootstrap_ci_low=float(low), bootstrap_ci_high=float(high))
        else:
            entry.update(bootstrap_ci_low=float("nan"), bootstrap_ci_high=float("nan"))
        entry["n_boot"] = int(n_boot)
        fit = _fit_mixed(run_, kept, cells) if mixed else {}
        entry.update(
            mixed_coef=fit.get("coef", float("nan")),
            mixed_ci_low=fit.get("ci_low", float("nan")),
            mixed_ci_high=fit.get("ci_high", float("nan")),
            mixed_p=fit.get("p", float("nan")),
        )
        entry["matrix"] = _znorm(heat_cells.mean(axis=0)).tolist()
        out.append(entry)
    return out


def _incomplete_entry(keys: dict[str, Any], rows: pd.DataFrame, error: str) -> dict[str, Any]:
    """The entry of a run without a complete narrative: its keys, NaN numbers, the reason."""
    nan = float("nan")
    entry: dict[str, Any] = dict(keys)
    entry.update(n_prompts=len(rows), n_items=int(rows["item_id"].nunique()), n_excluded=int(rows["item_id"].nunique()))
    entry.update(dict.fromkeys(
        ("excluded_share", "delta_excluded_share", "raw_mean", "raw_sd", "delta", "ci_low",
         "ci_high", "p_perm", "bootstrap_ci_low", "bootstrap_ci_high", "mixed_coef",
         "mixed_ci_low", "mixed_ci_high", "mixed_p"), nan))  # fmt: skip
    entry.update(excluded_share=1.0, delta_excluded_share=1.0, delta_n_items=0, significant=False,
                 matrix=[], identities=[], n_identities=0, error=error)  # fmt: skip
    return entry


# --------------------------------------------------------------------------- synthetic data


def simulate_results(
    grouping: str = "religion",
    n_items: int = 12,
    effect: float = 0.0,
    *,
    item_sd: float = 10.0,
    noise_sd: float = 5.0,
    missing: float = 0.0,
    seed: int = 0,
    model: str = "synthetic",
    readout: str = "generate",
    variation: str = "origin",
) -> pd.DataFrame:
    """Return synthetic result rows (the store's columns) for examples and tests.

    ``intensity = 50 + item effect + effect × in-group + noise``, with item effects
    ~ N(0, item_sd) and noise ~ N(0, noise_sd); the baseline's cells get no in-group
    effect. A share ``missing`` of the rows (at random) are refusals (NaN intensity).
    Narratives are numbered 0..n_items-1 and cycle through the 12 emotions.

    Examples
    --------
    >>> rows = simulate_results("ethnicity", n_items=2)
    >>> len(rows), rows.perceiver.nunique()
    (722, 19)
    """
    from empathylab.data import EMOTIONS
    from empathylab.store import COLUMNS

    ids = design.identities(grouping)
    rng = np.random.default_rng(seed)
    n = len(ids)
    item = np.repeat(np.arange(n_items), n * n)
    p = np.tile(np.repeat(np.arange(n), n), n_items)
    e = np.tile(np.tile(np.arange(n), n), n_items)
    inside = in_group(ids, grouping)[p, e]
    intensity = (
        50.0
        + rng.normal(0.0, item_sd, n_items)[item]
        + effect * inside
        + rng.normal(0.0, noise_sd, len(item))
    )
    refused = rng.random(len(item)) < missing
    intensity = np.where(refused, np.nan, intensity)
    perceivers, experiencers = np.array(ids, dtype=object)[p], np.array(ids, dtype=object)[e]
    frame = pd.DataFrame(
        {
            "prompt_id": [
                design.prompt_id(variation, grouping, a, b, int(k))
                for a, b, k in zip(perceivers, experiencers, item)
            ],
            "model": model,
            "backend": "synthetic",
            "variation": variation,
            "grouping": grouping,
            "perceiver": perceivers,
            "experiencer": experiencers,
            "emotion": np.array(EMOTIONS, dtype=object)[item % len(EMOTIONS)],
            "item_id": item.astype(np.int64),
            "readout": readout,
            "intensity": intensity,
            "status": np.where(refused, "refusal", "ok"),
            "response": None,
            "p_valid": np.nan,
            "argmax": np.nan,
        }
    )
    return frame[list(COLUMNS)]


def jsonable(value: Any) -> Any:
    """Turn numpy scalars and NaN into JSON values (NaN -> None)."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --------------------------------------------------------------------------- for figures


def heatmap_data(results: pd.DataFrame, grouping: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(matrix, shown)`` for the heatmap of one grouping of one run.

    ``matrix`` is :func:`emotion_matrix` (z-normalised, baseline first); ``shown`` is a
    boolean frame of the same shape: False for the off-diagonal cells that
    :func:`cell_tests` does not show (the paper's Bonferroni mask), True elsewhere.

    Examples
    --------
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


def _nationality_matrix(results: pd.DataFrame, what: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """The δ matrix of a nationality run and each identity's cultural cluster."""
    if set(results["grouping"]) != {"nationality"}:
        raise EmpathylabError(
            f"{what} needs the rows of the nationality grouping only, "
            f"not {sorted(set(results['grouping']))}."
        )
    cluster = {
        f"a person from {country}": name
        for name, countries in design.NATIONALITY_CLUSTERS.items()
        for country in countries
    }
    return delta_matrix(results), cluster


def cluster_means(results: pd.DataFrame) -> pd.DataFrame:
    """Return the δ matrix of nationality (:func:`delta_matrix`) averaged by cultural cluster.

    One row per perceiver cluster and one column per experiencer cluster, in the
    paper's order (the baseline left out, as for δ). ``attrs`` holds three averages over cells:
    ``same_country`` (the diagonal), ``same_cluster`` (two countries of one cluster)
    and ``other_cluster`` (two clusters).

    Examples
    --------
    >>> rows = simulate_results("nationality", n_items=6, effect=5.0, seed=0)
    >>> table = cluster_means(rows)
    >>> table.shape, table.attrs["same_country"] > table.attrs["other_cluster"]
    ((8, 8), True)
    """
    matrix, cluster = _nationality_matrix(results, "cluster_means")
    long = matrix.stack().rename("z").reset_index()
    long.columns = ["perceiver", "experiencer", "z"]
    long["perceiver_cluster"] = long["perceiver"].map(cluster)
    long["experiencer_cluster"] = long["experiencer"].map(cluster)
    order = [c for c in design.NATIONALITY_CLUSTERS if c in set(long["perceiver_cluster"])]
    table = long.pivot_table(
        index="perceiver_cluster", columns="experiencer_cluster", values="z", aggfunc="mean"
    ).loc[order, order]
    same = long["perceiver"] == long["experiencer"]
    same_cluster = long["perceiver_cluster"] == long["experiencer_cluster"]
    table.attrs = {
        "same_country": float(long.loc[same, "z"].mean()),
        "same_cluster": float(long.loc[same_cluster & ~same, "z"].mean()),
        "other_cluster": float(long.loc[~same_cluster, "z"].mean()),
    }
    return table


def perceiver_map(
    results: pd.DataFrame, *, perplexity: float = 5.0, seed: int = 42
) -> pd.DataFrame:
    """Return a 2-D t-SNE map of the nationality perceivers, as the authors drew it.

    The authors' ``analysis/visual/tsne.py`` embeds the rows of the nationality δ matrix
    (:func:`delta_matrix`: baseline left out, z-normalised; each perceiver is described
    by the intensities it gives the 21 experiencers) with scikit-learn's t-SNE
    (2 components, perplexity 5, ``random_state=42``) and colours the points by cultural
    cluster. This does the same, with the seed as a parameter. t-SNE keeps neighbours,
    not distances: read the map for who sits near whom.

    Returns
    -------
    frame : pandas.DataFrame
        One row per perceiver in design order: ``perceiver``, ``country``, ``cluster``,
        ``x``, ``y``. ``attrs["silhouette"]`` is the silhouette score of the cultural
        clusters on the matrix rows themselves (Euclidean; from −1 to 1, above 0 when
        perceivers of one cluster rate experiencers more alike than those of other
        clusters), a number that does not depend on the t-SNE layout.

    Examples
    --------
    >>> rows = simulate_results("nationality", n_items=4, effect=5.0, seed=0)
    >>> frame = perceiver_map(rows)
    >>> len(frame), list(frame.columns)
    (21, ['perceiver', 'country', 'cluster', 'x', 'y'])
    """
    from sklearn.manifold import TSNE
    from sklearn.metrics import silhouette_score

    matrix, cluster = _nationality_matrix(results, "perceiver_map")
    labels = list(matrix.index)
    n = len(labels)
    if n <= perplexity:
        raise EmpathylabError(
            f"perceiver_map: t-SNE with perplexity {perplexity} needs more than {perplexity:g} "
            f"perceivers; the rows hold {n}."
        )
    points = TSNE(n_components=2, perplexity=perplexity, random_state=seed).fit_transform(
        matrix.to_numpy()
    )
    frame = pd.DataFrame(
        {
            "perceiver": labels,
            "country": [label.removeprefix("a person from ") for label in labels],
            "cluster": [cluster[label] for label in labels],
            "x": points[:, 0],
            "y": points[:, 1],
        }
    )
    groups = frame["cluster"]
    usable = 1 < groups.nunique() < n
    frame.attrs["silhouette"] = (
        float(silhouette_score(matrix.to_numpy(), groups)) if usable else float("nan")
    )
    return frame
