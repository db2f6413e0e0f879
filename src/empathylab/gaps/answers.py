"""Answers per run (answered, refused, invalid) and the paper's exclusion rule."""

from __future__ import annotations

from typing import Any

import pandas as pd

from empathylab.errors import EmpathylabError
from empathylab.gaps.checks import RUN_KEYS, check_columns, check_run, find_exclusions, sort_runs
from empathylab.prose import by_model

__all__ = ["answer_stats", "exclude_incomplete", "p_valid_text", "share_ok_text"]


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
    >>> from empathylab.gaps import simulate_results
    >>> rows = simulate_results("religion", n_items=4, missing=0.25, seed=1)
    >>> answer_stats(rows)[["grouping", "n", "share_ok", "share_refusal"]]
       grouping    n  share_ok  share_refusal
    0  religion  144  0.708333       0.291667
    """
    check_columns(results, (*RUN_KEYS, "status", "p_valid"), "answer_stats")
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
    return sort_runs(stats)


def p_valid_text(results: pd.DataFrame) -> str:
    """Return the mean probability on valid answers of each model's distribution-readout rows, as prose.

    >>> rows = pd.DataFrame({"model": ["a", "a", "b"], "readout": "distribution", "p_valid": [0.9, 0.7, 0.1]})
    >>> p_valid_text(rows)
    '80.0% for a and 10.0% for b'
    """
    rows = results[results["readout"] == "distribution"]
    if rows.empty:
        raise EmpathylabError("p_valid_text: no distribution-readout rows (only that readout has p_valid).")
    means = pd.to_numeric(rows["p_valid"], errors="coerce").groupby(rows["model"], sort=False).mean()
    return by_model(means)


def share_ok_text(comparison: pd.DataFrame) -> str:
    """Return each model's mean share of usable generate answers in a readout comparison, as prose.

    ``comparison`` is :func:`~empathylab.gaps.compare.compare_readouts`' table.

    >>> share_ok_text(pd.DataFrame({"model": ["a", "b"], "share_ok_generate": [0.95, 0.1]}))
    '95.0% for a and 10.0% for b'
    """
    check_columns(comparison, ("model", "share_ok_generate"), "share_ok_text")
    return by_model(comparison.groupby("model", sort=False)["share_ok_generate"].mean())


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
    >>> from empathylab.gaps import simulate_results
    >>> rows = simulate_results("religion", n_items=10, seed=0)
    >>> rows.loc[(rows.perceiver == "a Jew") & (rows.item_id == 3), "intensity"] = float("nan")
    >>> kept, report = exclude_incomplete(rows)
    >>> report
    {'n_items': 10, 'n_kept': 9, 'n_excluded': 1, 'excluded_share': 0.1}
    >>> sorted(kept.item_id.unique()) == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    True
    """
    run = check_run(results, "exclude_incomplete", baseline=baseline)
    complete, report = find_exclusions(run)
    kept = run.rows[complete[run.item]].copy()
    kept["intensity"] = kept["intensity"].astype(float)
    return kept, report
