"""Tables and sentences the book prints from :func:`empathylab.gaps.analysis.analyze` results.

Every number in these strings comes from the runs passed in; the chapters glue them
into the prose, so a rerun with another model rewrites the text.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

__all__ = [
    "runs_table",
    "grouping_summary",
    "variation_summary",
    "comparison_table",
    "shift_summary",
    "pair_summary",
]

TABLE_COLUMNS = (
    "model",
    "readout",
    "grouping",
    "variation",
    "n_items",
    "excluded_share",
    "delta_n_items",
    "delta",
    "ci_low",
    "ci_high",
    "p_perm",
    "significant",
    "bootstrap_ci_low",
    "bootstrap_ci_high",
    "mixed_coef",
    "mixed_ci_low",
    "mixed_ci_high",
    "mixed_p",
)

#: The columns of :func:`runs_table` that count narratives.
COUNT_COLUMNS = ("n_items", "delta_n_items")


def runs_table(runs: list[dict[str, Any]]) -> pd.DataFrame:
    """Return one row per run with δ, its intervals and tests (no matrices).

    The counts of narratives (``COUNT_COLUMNS``) are whole numbers, also where a run
    lacks one (shown as ``<NA>``, not as a float column of ``12.0``).

    >>> from empathylab.gaps import analyze, simulate_results
    >>> table = runs_table(analyze(simulate_results(n_items=8, effect=5.0), n_permutations=200, n_boot=50))
    >>> table[["grouping", "significant"]].to_dict("records")
    [{'grouping': 'religion', 'significant': True}]
    >>> runs_table([{"n_items": 12.0, "delta_n_items": 12}, {"n_items": 1300}])[list(COUNT_COLUMNS)]
       n_items  delta_n_items
    0       12             12
    1     1300           <NA>
    """
    table = pd.DataFrame(
        [{k: run.get(k) for k in TABLE_COLUMNS} for run in runs], columns=list(TABLE_COLUMNS)
    )
    for column in COUNT_COLUMNS:
        table[column] = pd.to_numeric(table[column]).round().astype("Int64")
    return table


def _item_level_significant(run: dict[str, Any]) -> bool:
    low, high = run.get("mixed_ci_low"), run.get("mixed_ci_high")
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return False
    return low > 0 or high < 0


def grouping_summary(runs: list[dict[str, Any]], grouping: str) -> str:
    """Return a paragraph (Markdown) on the gap of ``grouping``: δ, both tests, agreement.

    Uses the first run of that grouping; says so plainly when there is none.

    >>> grouping_summary([], "religion")
    'This profile did not run the religion grouping.'
    """
    chosen = [run for run in runs if run["grouping"] == grouping]
    if not chosen:
        return f"This profile did not run the {grouping} grouping."
    run = chosen[0]
    direction = "higher" if run["delta"] > 0 else "lower"
    perm = bool(run["significant"])
    item = _item_level_significant(run)
    kept = run.get("delta_n_items")
    kept = run["n_items"] if kept is None or pd.isna(kept) else kept
    text = (
        f"δ = {run['delta']:.2f} (z units of the matrix without the baseline), over {kept:,.0f} "
        f"of {run['n_items']:,.0f} narratives, those answered in every cell of that matrix: "
        f"in-group experiencers get "
        f"{direction} intensities than out-group ones. Under the paper's permutation test, "
        f"95 % of permuted δs lie between {run['ci_low']:.2f} and {run['ci_high']:.2f} "
        f"(p = {run['p_perm']:.3f}), so the gap is "
        f"{'significant' if perm else 'not significant'}. At the level of narratives, "
        f"the mixed model puts the in-group effect at {run['mixed_coef']:.2f} "
        f"(95 % CI {run['mixed_ci_low']:.2f} to {run['mixed_ci_high']:.2f}) and the "
        f"bootstrap over narratives gives {run['bootstrap_ci_low']:.2f} to "
        f"{run['bootstrap_ci_high']:.2f}. "
    )
    if perm and item:
        return text + "Both analyses find the gap."
    if not perm and not item:
        return text + "Neither analysis finds a gap."
    if perm:
        return text + (
            "**The analyses disagree**: the permutation test finds a gap that the "
            "narrative-level interval does not exclude from zero."
        )
    return text + (
        "**The analyses disagree**: the narrative-level interval excludes zero, but δ "
        "stays inside the permutation interval. The permutation test shuffles only "
        "identities and ignores that every cell rates the same narratives."
    )


def variation_summary(table: pd.DataFrame) -> str:
    """Return one sentence per grouping comparing δ across prompt variations.

    ``table`` is :func:`runs_table` over runs of several variations.

    >>> t = pd.DataFrame({"grouping": ["religion"] * 2, "variation": ["origin", "10-scale"],
    ...                   "delta": [0.5, 0.2], "significant": [True, False]})
    >>> variation_summary(t)
    'For religion, δ is 0.50 with the origin prompt and ranges from 0.20 (10-scale) to 0.50 (origin) across the 2 variations; 1 of them is significant by the permutation test.'
    """
    sentences = []
    for grouping, part in table.groupby("grouping", sort=False):
        low, high = part.loc[part["delta"].idxmin()], part.loc[part["delta"].idxmax()]
        origin = part.loc[part["variation"] == "origin", "delta"]
        start = f"δ is {origin.iloc[0]:.2f} with the origin prompt and ranges" if len(origin) else "δ ranges"
        sentences.append(
            f"For {grouping}, {start} from {low['delta']:.2f} ({low['variation']}) to "
            f"{high['delta']:.2f} ({high['variation']}) across the {len(part)} variations; "
            f"{int(part['significant'].sum())} of them "
            f"{'is' if int(part['significant'].sum()) == 1 else 'are'} significant by the "
            "permutation test."
        )
    return " ".join(sentences)


def comparison_table(table: pd.DataFrame) -> pd.DataFrame:
    """Return δ by model (rows) and grouping × variation (columns), as formatted text.

    ``*`` marks δ outside the permutation interval, ``†`` a mixed-model 95 % interval
    that excludes zero.

    >>> t = pd.DataFrame({"model": ["m"], "readout": ["generate"], "grouping": ["religion"],
    ...     "variation": ["origin"], "delta": [0.41], "significant": [True],
    ...     "mixed_ci_low": [0.1], "mixed_ci_high": [0.7]})
    >>> comparison_table(t).iloc[0, 0]
    '0.41*†'
    """

    def cell(row: pd.Series) -> str:
        marks = ("*" if row["significant"] else "") + ("†" if _item_level_significant(row.to_dict()) else "")
        return f"{row['delta']:.2f}{marks}"

    shown = table.assign(cell=table.apply(cell, axis=1))
    return shown.pivot_table(
        index=["model", "readout"],
        columns=["grouping", "variation"],
        values="cell",
        aggfunc="first",
        sort=False,
    )


def shift_summary(shifts: pd.DataFrame, by: str = "variation") -> str:
    """Return one sentence per row of Δδ and mean-shift results, saying what the intervals show.

    ``shifts`` is :func:`empathylab.gaps.experiments.shifts_by_grouping`'s. A gap is
    called narrower (wider) only when Δδ's 95 % interval lies below (above) zero; the
    mean shift is reported beside it, so a moved scale is not read as a moved gap.

    >>> t = pd.DataFrame({"grouping": ["religion"], "variation": ["pt-other"], "reference": ["origin"],
    ...     "n_items": [12], "delta_diff": [-0.31], "diff_ci_low": [-0.52], "diff_ci_high": [-0.08],
    ...     "mean_shift": [0.4], "shift_ci_low": [-0.1], "shift_ci_high": [0.9]})
    >>> shift_summary(t)
    'pt-other against origin (religion, 12 narratives): Δδ −0.31 (95 % interval −0.52 to −0.08), a narrower gap; the mean intensity moved by +0.40 (−0.10 to +0.90), no shift detected.'
    """

    def signed(x: float, digits: int = 2) -> str:
        return f"{x:+.{digits}f}".replace("-", "\u2212")

    def side(low: float, high: float, below: str, above: str, neither: str) -> str:
        return below if high < 0 else above if low > 0 else neither

    sentences = []
    for _, r in shifts.iterrows():
        gap = side(
            r["diff_ci_low"],
            r["diff_ci_high"],
            "a narrower gap",
            "a wider gap",
            "no change of the gap detected",
        )
        scale = side(
            r["shift_ci_low"],
            r["shift_ci_high"],
            "lower throughout",
            "higher throughout",
            "no shift detected",
        )
        where = f"{r['grouping']}, " if "grouping" in shifts.columns else ""
        sentences.append(
            f"{r[by]} against {r['reference']} ({where}{int(r['n_items'])} narratives): "
            f"Δδ {signed(r['delta_diff'])} (95 % interval {signed(r['diff_ci_low'])} to "
            f"{signed(r['diff_ci_high'])}), {gap}; the mean intensity moved by "
            f"{signed(r['mean_shift'])} ({signed(r['shift_ci_low'])} to {signed(r['shift_ci_high'])}), {scale}."
        )
    return " ".join(sentences)


def pair_summary(status: pd.DataFrame, stored: set[str] | list[str], shifts: pd.DataFrame) -> str:
    """Return what the base-versus-instruction-tuned comparison found, or which half is missing.

    ``status`` is :func:`empathylab.gaps.experiments.pair_status`'s, ``stored`` the models
    with stored rows, ``shifts`` :func:`empathylab.gaps.experiments.pair_shifts`'s.

    >>> status = pd.DataFrame({"pair": [0, 0], "role": ["base", "instruction-tuned"],
    ...     "model": ["b", "t"], "available": [True, False], "command": ["run b", "run t"]})
    >>> pair_summary(status, {"b"}, pd.DataFrame())
    'Pair 1: the base model b is stored; the instruction-tuned model t is missing (not available on this machine). One command fills it in: `run t`; then rebuild the book.'
    """
    sentences = []
    for pair, part in status.groupby("pair", sort=True):
        roles = dict(zip(part["role"], part["model"]))
        missing = part[~part["model"].isin(set(stored))]
        if missing.empty and len(shifts):
            found = shifts[shifts["pair"] == pair]
            sentences.append(
                f"Pair {pair + 1}, {roles['instruction-tuned']} against {roles['base']}: "
                + shift_summary(found, by="model")
            )
            continue
        have = [
            f"the {r} model {m} is stored" for r, m in zip(part["role"], part["model"]) if m in set(stored)
        ]
        lack = [
            f"the {r} model {m} is missing ({'not stored yet' if ok else 'not available on this machine'})"
            for r, m, ok in zip(missing["role"], missing["model"], missing["available"])
        ]
        commands = " and ".join(f"`{c}`" for c in missing["command"])
        fill = "One command fills it in" if len(missing) == 1 else "These commands fill them in"
        sentences.append(
            f"Pair {pair + 1}: {'; '.join(have + lack)}. {fill}: {commands}; then rebuild the book."
        )
    return " ".join(sentences)
