"""Every statistic of Part I for every run at once (:func:`analyze`), as JSON-ready records."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from empathylab.errors import EmpathylabError
from empathylab.gaps.beyond import boot_deltas, fit_mixed
from empathylab.gaps.checks import (
    MATRIX_COLUMNS,
    RUN_KEYS,
    check_columns,
    prepare_run,
    run_label,
    sort_runs,
    znorm,
)
from empathylab.gaps.matrices import cell_weights, permutation_test

__all__ = ["analyze", "jsonable"]


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
        Rows of :func:`empathylab.gaps.rows.read_results` (any number of runs).
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
    >>> from empathylab.gaps import delta, delta_matrix, simulate_results
    >>> rows = simulate_results("religion", n_items=12, effect=5.0, seed=0)
    >>> [run] = analyze(rows, n_permutations=500, n_boot=200)
    >>> run["grouping"], run["n_items"], run["significant"], len(run["matrix"])
    ('religion', 12, True, 6)
    >>> bool(np.isclose(run["delta"], delta(delta_matrix(rows), "religion")))
    True
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
        grouping, ids = run_.grouping, run_.ids
        raw = cells.mean(axis=0)
        test = permutation_test(
            pd.DataFrame(znorm(raw), index=ids, columns=ids), grouping, n_permutations, seed
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
            boots = boot_deltas(
                cells, cell_weights(ids, grouping, "analyze"), int(n_boot), np.random.default_rng(seed)
            )
            low, high = np.percentile(boots, [2.5, 97.5])
            entry.update(bootstrap_ci_low=float(low), bootstrap_ci_high=float(high))
        else:
            entry.update(bootstrap_ci_low=float("nan"), bootstrap_ci_high=float("nan"))
        entry["n_boot"] = int(n_boot)
        fit = fit_mixed(run_, kept, cells) if mixed else {}
        entry.update(
            mixed_coef=fit.get("coef", float("nan")),
            mixed_ci_low=fit.get("ci_low", float("nan")),
            mixed_ci_high=fit.get("ci_high", float("nan")),
            mixed_p=fit.get("p", float("nan")),
        )
        entry["matrix"] = znorm(heat_cells.mean(axis=0)).tolist()
        out.append(entry)
    return out


def _incomplete_entry(keys: dict[str, Any], rows: pd.DataFrame, error: str) -> dict[str, Any]:
    """The entry of a run without a complete narrative: its keys, NaN numbers, the reason."""
    nan = float("nan")
    entry: dict[str, Any] = dict(keys)
    entry.update(
        n_prompts=len(rows), n_items=int(rows["item_id"].nunique()), n_excluded=int(rows["item_id"].nunique())
    )
    entry.update(
        dict.fromkeys(
            (
                "excluded_share",
                "delta_excluded_share",
                "raw_mean",
                "raw_sd",
                "delta",
                "ci_low",
                "ci_high",
                "p_perm",
                "bootstrap_ci_low",
                "bootstrap_ci_high",
                "mixed_coef",
                "mixed_ci_low",
                "mixed_ci_high",
                "mixed_p",
            ),
            nan,
        )
    )
    entry.update(
        excluded_share=1.0,
        delta_excluded_share=1.0,
        delta_n_items=0,
        significant=False,
        matrix=[],
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
