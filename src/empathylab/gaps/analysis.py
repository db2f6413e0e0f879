"""Every statistic of Part I for every run at once (:func:`analyze`), as JSON-ready records."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from empathylab import verdicts
from empathylab.errors import EmpathylabError
from empathylab.gaps.beyond import boot_deltas, fit_mixed, narrative_summary
from empathylab.gaps.cells import shown_cells
from empathylab.gaps.checks import (
    MATRIX_COLUMNS,
    RUN_KEYS,
    check_columns,
    prepare_run,
    run_label,
    sort_runs,
    znorm,
)
from empathylab.gaps.matrices import cell_weights, permutation_test, round_as_authors

__all__ = ["analyze", "jsonable", "ENTRY_NUMBERS"]

#: The numeric keys of an :func:`analyze` entry that are NaN where a run has no complete
#: narrative (or where a step was not asked for).
ENTRY_NUMBERS = (
    "excluded_share",
    "delta_excluded_share",
    "raw_mean",
    "raw_sd",
    "rating_sd",
    "delta",
    "ci_low",
    "ci_high",
    "p_perm",
    "p_floor",
    "n_groups",
    "narrative_se",
    "narrative_ci_low",
    "narrative_ci_high",
    "narrative_p",
    "delta_raw",
    "raw_ci_low",
    "raw_ci_high",
    "delta_balanced",
    "balanced_ci_low",
    "balanced_ci_high",
    "bootstrap_ci_low",
    "bootstrap_ci_high",
    "mixed_coef",
    "mixed_ci_low",
    "mixed_ci_high",
    "mixed_p",
)


def analyze(
    results: pd.DataFrame,
    n_permutations: int = 10_000,
    seed: int = 0,
    n_boot: int = 1000,
    mixed: bool = False,
    *,
    skip_incomplete: bool = False,
    round_means: int | None = None,
    exact: bool | None = None,
) -> list[dict[str, Any]]:
    """Run the whole analysis for every (model, readout, grouping, variation) of the rows.

    Each number comes from the matrix the authors' code computes it on (see the module
    docstring): the refusal statistics, ``matrix`` and ``mask`` from the heatmap matrix
    (baseline included); δ, its permutation test, the narrative-level interval, the
    bootstrap and the mixed model from the δ matrix (:func:`delta_matrix`, baseline left
    out).

    Parameters
    ----------
    results : pandas.DataFrame
        Rows of :func:`empathylab.gaps.rows.read_results` (any number of runs).
    n_permutations, seed : int
        For :func:`permutation_test` where it samples (and the seed of the bootstrap).
    n_boot : int
        Bootstrap resamples over narratives; 0 skips it (NaN bounds).
    mixed : bool
        Fit :func:`mixed_model` (default False: NaN values; it is the slowest step, and
        no verdict reads it: the narrative-level t interval is the same inference).
    skip_incomplete : bool
        A run in which no narrative is answered in every cell raises by default; with
        True it gets an entry whose numbers are NaN and whose ``error`` says why.
    round_means : int or None
        Round the cell means to this many decimals before z-normalising, as the authors
        do (``2``, Python's ``round()``: :func:`round_as_authors`). It moves ``delta``,
        its permutation test and ``matrix``; the narrative-level interval, the bootstrap
        and the mixed model use the exact means.
    exact : bool or None
        For :func:`permutation_test`: None enumerates the null where the space is small
        (a diagonal in-group mask with at most 8 identities), False samples
        ``n_permutations`` as the authors do.

    Returns
    -------
    runs : list of dict
        One dict per run, in model, readout, grouping, variation order, with keys
        ``model, readout, grouping, variation``; ``identities`` (labels, baseline first)
        and ``n_identities``; ``n_prompts``, ``share_ok``, ``share_refusal``,
        ``share_invalid`` (when a ``status`` column is present).

        From the heatmap matrix (baseline included): ``n_items`` (narratives seen),
        ``n_excluded``, ``excluded_share`` (the authors' refusal statistics), ``matrix``
        (z-normalised, a list of rows, perceivers by experiencers) and ``mask`` (the
        same shape, True where the heatmap draws the cell after the Bonferroni-corrected
        paired t-tests, :func:`~empathylab.gaps.cells.shown_cells`).

        From the δ matrix (baseline left out): ``delta_n_items`` (narratives kept for δ),
        ``delta_excluded_share``, ``raw_mean``, ``raw_sd`` (its z-normalisation
        constants), ``rating_sd`` (standard deviation, ddof=1, of the individual
        intensities in its kept cells);

        the permutation test (:func:`permutation_test`): ``delta``, ``ci_low``,
        ``ci_high`` (the **null** interval: 2.5 and 97.5 % of the permuted δs, not an
        interval for δ), ``p_perm``, ``significant``, ``n_permutations``,
        ``perm_exact`` (enumerated), ``p_floor`` (the smallest p it can give),
        ``n_groups`` (in-group blocks: identities, or races for ethnicity),
        ``perm_verdict``;

        the narrative-level t interval
        (:func:`~empathylab.gaps.beyond.narrative_summary`, between-narrative variation
        of the gap): ``narrative_se``, ``narrative_ci_low``, ``narrative_ci_high``,
        ``narrative_p``, ``narrative_verdict``, and the same in raw scale points:
        ``delta_raw``, ``raw_ci_low``, ``raw_ci_high``;

        for ethnicity, the race-balanced δ (race blocks weighted equally):
        ``delta_balanced``, ``balanced_ci_low``, ``balanced_ci_high``,
        ``balanced_verdict`` (NaN and None for the other groupings);

        ``bootstrap_ci_low``, ``bootstrap_ci_high`` (bootstrap-t over narratives),
        ``n_boot``; ``mixed_coef``, ``mixed_ci_low``, ``mixed_ci_high``, ``mixed_p``
        (random-slope model, when ``mixed``).

    Examples
    --------
    >>> from empathylab.gaps import delta, delta_matrix, simulate_results
    >>> rows = simulate_results("religion", n_items=12, effect=5.0, seed=0)
    >>> [run] = analyze(rows, n_boot=200)
    >>> run["grouping"], run["n_items"], run["significant"], len(run["matrix"]), run["n_permutations"]
    ('religion', 12, True, 6, 120)
    >>> run["perm_verdict"], run["narrative_verdict"], bool(np.isclose(run["delta"], delta(delta_matrix(rows), "religion")))
    ('in-group higher', 'in-group higher', True)
    """
    check_columns(results, (*RUN_KEYS, *MATRIX_COLUMNS[1:]), "analyze")
    if results.empty:
        raise EmpathylabError("analyze: the selection is empty (no result rows).")
    groups = {
        tuple(map(str, key)): rows for key, rows in results.groupby(list(RUN_KEYS), sort=False, dropna=False)
    }
    runs = sort_runs(pd.DataFrame(list(groups), columns=list(RUN_KEYS)))
    out = []
    for run in runs.itertuples(index=False):
        rows = groups[tuple(run)]
        what = f"analyze ({run_label(rows)})"
        try:
            heat, _, heat_cells, report = prepare_run(rows, what)
            run_, kept, cells, kept_report = prepare_run(rows, what, baseline=False)
        except EmpathylabError as exc:
            if not skip_incomplete or "no narrative has an answer" not in str(exc):
                raise
            out.append(_incomplete_entry(run._asdict(), rows, str(exc)))
            continue
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
        )
        entry.update(_delta_numbers(run_.ids, run_.grouping, cells, n_permutations, seed, round_means, exact))
        entry.update(_boot_numbers(cells, run_.ids, run_.grouping, n_boot, seed))
        fit = fit_mixed(run_, kept, cells) if mixed else {}
        entry.update(
            mixed_coef=fit.get("coef", float("nan")),
            mixed_ci_low=fit.get("ci_low", float("nan")),
            mixed_ci_high=fit.get("ci_high", float("nan")),
            mixed_p=fit.get("p", float("nan")),
        )
        heat_means = heat_cells.mean(axis=0)
        if round_means is not None:
            heat_means = round_as_authors(heat_means, int(round_means))
        entry["matrix"] = znorm(heat_means).tolist()
        entry["mask"] = shown_cells(heat_cells, heat.ids).tolist()
        out.append(entry)
    return out


def _delta_numbers(
    ids: list[str],
    grouping: str,
    cells: np.ndarray,
    n_permutations: int,
    seed: int,
    round_means: int | None,
    exact: bool | None,
) -> dict[str, Any]:
    """δ, its permutation test and its narrative-level intervals, from the δ matrix's cells."""
    raw = cells.mean(axis=0)
    shown = raw if round_means is None else round_as_authors(raw, int(round_means))
    test = permutation_test(
        pd.DataFrame(znorm(shown), index=ids, columns=ids), grouping, n_permutations, seed, exact=exact
    )
    story = narrative_summary(cells, ids, grouping)
    nan = float("nan")
    balanced: dict[str, Any] = {"delta": nan, "ci_low": nan, "ci_high": nan, "verdict": None}
    if grouping == "ethnicity":
        balanced = narrative_summary(cells, ids, grouping, balanced=True)
    return {
        "raw_mean": float(shown.mean()),
        "raw_sd": float(shown.std()),
        "rating_sd": float(cells.std(ddof=1)) if cells.size > 1 else nan,
        "delta": test["delta"],
        "ci_low": test["ci_low"],
        "ci_high": test["ci_high"],
        "p_perm": test["p_perm"],
        "significant": test["significant"],
        "n_permutations": test["n_permutations"],
        "perm_exact": test["exact"],
        "p_floor": test["p_floor"],
        "n_groups": test["n_groups"],
        "perm_verdict": test["verdict"],
        "narrative_se": story["se"],
        "narrative_ci_low": story["ci_low"],
        "narrative_ci_high": story["ci_high"],
        "narrative_p": story["p"],
        "narrative_verdict": story["verdict"],
        "delta_raw": story["delta_raw"],
        "raw_ci_low": story["raw_ci_low"],
        "raw_ci_high": story["raw_ci_high"],
        "delta_balanced": balanced["delta"],
        "balanced_ci_low": balanced["ci_low"],
        "balanced_ci_high": balanced["ci_high"],
        "balanced_verdict": balanced["verdict"],
    }


def _boot_numbers(cells: np.ndarray, ids: list[str], grouping: str, n_boot: int, seed: int) -> dict[str, Any]:
    """The bootstrap-t interval of δ over narratives (δ ± t × bootstrap SE), NaN when skipped."""
    nan = float("nan")
    if n_boot <= 0:
        return {"bootstrap_ci_low": nan, "bootstrap_ci_high": nan, "n_boot": int(n_boot)}
    weights = cell_weights(ids, grouping, "analyze")
    boots = boot_deltas(cells, weights, int(n_boot), np.random.default_rng(seed))
    center = float(znorm(cells.mean(axis=0)).ravel() @ weights.ravel())
    half = verdicts.boot_t_half_width(boots, cells.shape[0])
    return {"bootstrap_ci_low": center - half, "bootstrap_ci_high": center + half, "n_boot": int(n_boot)}


def _incomplete_entry(keys: dict[str, Any], rows: pd.DataFrame, error: str) -> dict[str, Any]:
    """The entry of a run without a complete narrative: its keys, NaN numbers, the reason."""
    entry: dict[str, Any] = dict(keys)
    entry.update(
        n_prompts=len(rows), n_items=int(rows["item_id"].nunique()), n_excluded=int(rows["item_id"].nunique())
    )
    entry.update(dict.fromkeys(ENTRY_NUMBERS, float("nan")))
    entry.update(
        excluded_share=1.0,
        delta_excluded_share=1.0,
        delta_n_items=0,
        significant=False,
        perm_exact=False,
        perm_verdict="undetermined: no narrative is answered in every cell",
        narrative_verdict="undetermined: no narrative is answered in every cell",
        balanced_verdict=None,
        matrix=[],
        mask=[],
        identities=[],
        n_identities=0,
        error=error,
    )
    return entry


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
