"""Tables and sentences the book prints from :func:`empathylab.gaps.analysis.analyze` results.

Every number in these strings comes from the runs passed in; the chapters glue them
into the prose, so a rerun with another model rewrites the text.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from empathylab import verdicts

__all__ = [
    "runs_table",
    "grouping_summary",
    "variation_summary",
    "comparison_table",
    "shift_summary",
    "pair_summary",
]

#: The columns of :func:`runs_table`, in order. The permutation test's null interval (an
#: entry's ``ci_low``, ``ci_high``) is shown as ``null_low``, ``null_high``: it is where δ
#: falls when identities do not matter, not an interval for δ.
TABLE_COLUMNS = (
    "model",
    "readout",
    "grouping",
    "variation",
    "n_items",
    "excluded_share",
    "delta_n_items",
    "delta",
    "null_low",
    "null_high",
    "p_perm",
    "p_floor",
    "n_groups",
    "perm_exact",
    "significant",
    "perm_verdict",
    "narrative_ci_low",
    "narrative_ci_high",
    "narrative_p",
    "narrative_verdict",
    "delta_raw",
    "raw_ci_low",
    "raw_ci_high",
    "rating_sd",
    "delta_balanced",
    "balanced_ci_low",
    "balanced_ci_high",
    "balanced_verdict",
    "bootstrap_ci_low",
    "bootstrap_ci_high",
    "mixed_coef",
    "mixed_ci_low",
    "mixed_ci_high",
    "mixed_p",
)

#: Table columns read from entry keys of another name.
RENAMED = {"null_low": "ci_low", "null_high": "ci_high"}

#: Columns left out of :func:`runs_table` when no run has them (the race-balanced δ exists
#: for ethnicity only, the mixed model only when ``analyze(..., mixed=True)``).
OPTIONAL_COLUMNS = (
    "delta_balanced",
    "balanced_ci_low",
    "balanced_ci_high",
    "balanced_verdict",
    "mixed_coef",
    "mixed_ci_low",
    "mixed_ci_high",
    "mixed_p",
)

#: The columns of :func:`runs_table` that count narratives.
COUNT_COLUMNS = ("n_items", "delta_n_items")

#: The paper finds in-group experiencers rated higher (δ > 0) for every grouping.
_PAPER_SIGN = 1
_REVERSED = "the reverse of the paper's direction"


def runs_table(runs: list[dict[str, Any]]) -> pd.DataFrame:
    """Return one row per run with δ, its intervals and tests (no matrices).

    ``null_low``, ``null_high`` are the permutation test's null interval (an entry's
    ``ci_low``, ``ci_high``); ``narrative_ci_low``, ``narrative_ci_high`` the interval
    for δ over narratives. Columns in ``OPTIONAL_COLUMNS`` are left out where no run has
    a value. The counts of narratives (``COUNT_COLUMNS``) are whole numbers, also where a
    run lacks one (shown as ``<NA>``, not as a float column of ``12.0``).

    >>> from empathylab.gaps import analyze, simulate_results
    >>> table = runs_table(analyze(simulate_results(n_items=8, effect=5.0), n_boot=50))
    >>> table[["grouping", "significant", "perm_verdict", "narrative_verdict"]].to_dict("records")
    [{'grouping': 'religion', 'significant': True, 'perm_verdict': 'in-group higher', 'narrative_verdict': 'in-group higher'}]
    >>> "null_low" in table and "ci_low" not in table and "mixed_coef" not in table
    True
    >>> runs_table([{"n_items": 12.0, "delta_n_items": 12}, {"n_items": 1300}])[list(COUNT_COLUMNS)]
       n_items  delta_n_items
    0       12             12
    1     1300           <NA>
    """
    records = [{k: run.get(RENAMED.get(k, k)) for k in TABLE_COLUMNS} for run in runs]
    table = pd.DataFrame(records, columns=list(TABLE_COLUMNS))
    for column in COUNT_COLUMNS:
        table[column] = pd.to_numeric(table[column]).round().astype("Int64")
    empty = [c for c in OPTIONAL_COLUMNS if table[c].isna().all()]
    return table.drop(columns=empty)


def _value(run: dict[str, Any], *keys: str) -> float:
    """The first of ``keys`` that ``run`` holds as a number, as a float (NaN if none)."""
    for key in keys:
        value = run.get(key)
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            try:
                return float(value)
            except (TypeError, ValueError):
                continue
    return float("nan")


def _narrative_side(run: dict[str, Any]) -> int | None:
    """Which side of zero the narrative-level interval lies on (None: no interval)."""
    return verdicts.side(_value(run, "narrative_ci_low"), _value(run, "narrative_ci_high"))


def _perm_side(run: dict[str, Any]) -> int | None:
    """+1 / −1 when δ lies above / below the null interval, 0 inside, None undetermined."""
    verdict = run.get("perm_verdict")
    if isinstance(verdict, str) and verdict:
        return {"in-group higher": 1, "in-group lower": -1, "not significant": 0}.get(verdict)
    d = _value(run, "delta")
    if math.isnan(d):
        return None
    return (1 if d > 0 else -1) if bool(run.get("significant")) else 0


def _higher(sign: int) -> str:
    return "higher" if sign > 0 else "lower"


def _reverse(sign: int) -> str:
    return f", {_REVERSED}" if sign == -_PAPER_SIGN else ""


def _p(run: dict[str, Any], key: str, floor: float | None = None) -> str:
    groups = _value(run, "n_groups")
    return verdicts.format_p(
        _value(run, key), floor=floor, groups=None if math.isnan(groups) else int(groups)
    )


def grouping_summary(runs: list[dict[str, Any]], grouping: str) -> str:
    """Return a paragraph (Markdown) on the gap of ``grouping``: δ, both tests, agreement.

    Uses the first run of that grouping (an :func:`~empathylab.gaps.analysis.analyze`
    entry); says so plainly when there is none. Every direction word follows the sign
    of what it describes, and a negative δ is called the reverse of the paper's
    direction (the paper finds in-group experiencers rated higher). The permutation
    test's interval is named the null interval; the narrative-level interval (a t
    interval over per-narrative gaps) is the one for δ. *Both analyses find the gap*
    only where both reject zero on the same side; the verdict is undetermined with
    fewer than :data:`~empathylab.verdicts.MIN_UNITS` narratives or where the
    permutation test cannot reach p ≤ 0.05.

    >>> grouping_summary([], "religion")
    'This profile did not run the religion grouping.'
    """
    chosen = [run for run in runs if run["grouping"] == grouping]
    if not chosen:
        return f"This profile did not run the {grouping} grouping."
    run = chosen[0]
    d = _value(run, "delta")
    if math.isnan(d):
        return f"δ of the {grouping} grouping is not available: {run.get('error', 'no complete narrative')}."
    kept = _value(run, "delta_n_items", "n_items")
    sign = (d > 0) - (d < 0)
    where = "neither higher nor lower" if sign == 0 else f"{_higher(sign)}"
    raw = _value(run, "delta_raw")
    points = "" if math.isnan(raw) else f"; {raw:+.2f} points on the rating scale"
    text = (
        f"δ = {d:.2f} (z units of the matrix without the baseline{points}), over {kept:,.0f} "
        f"of {_value(run, 'n_items'):,.0f} narratives, those answered in every cell of that "
        f"matrix: in-group experiencers get {where} intensities than out-group ones"
        f"{_reverse(sign)}. "
    )
    return text + " ".join(
        part
        for part in (
            _permutation_sentence(run, d),
            _narrative_sentence(run, kept),
            _bootstrap_sentence(run),
            _balanced_sentence(run),
            _agreement(run, kept),
        )
        if part
    )


def _permutation_sentence(run: dict[str, Any], d: float) -> str:
    low, high = _value(run, "ci_low", "null_low"), _value(run, "ci_high", "null_high")
    n_perm = _value(run, "n_permutations")
    how = (
        f"all {n_perm:,.0f} arrangements enumerated"
        if run.get("perm_exact")
        else f"{n_perm:,.0f} random permutations"
        if not math.isnan(n_perm)
        else "random permutations"
    )
    position = "above" if d > high else "below" if d < low else "inside"
    side = _perm_side(run)
    floor = _value(run, "p_floor")
    verdict = run.get("perm_verdict")
    if isinstance(verdict, str) and verdict.startswith("undetermined"):
        outcome = f"this test's verdict is {verdict}"
    elif side:
        outcome = (
            f"by this test in-group experiencers are rated {_higher(side)} on these narratives "
            "(it holds the narratives fixed, so it does not speak for narratives in general)"
        )
    else:
        outcome = "this test finds no gap"
    return (
        f"The paper's permutation test shuffles the identities of rows and columns: were "
        f"identities not to matter, 95 % of the shuffled δs would lie between {low:.2f} and "
        f"{high:.2f} (the null interval, {how}). δ lies {position} it, "
        f"{_p(run, 'p_perm', None if math.isnan(floor) else floor)}: {outcome}."
    )


def _narrative_sentence(run: dict[str, Any], kept: float) -> str:
    low, high = _value(run, "narrative_ci_low"), _value(run, "narrative_ci_high")
    if math.isnan(low) or math.isnan(high):
        reason = verdicts.too_few(kept)
        return f"At the level of narratives the verdict is {reason}." if reason else ""
    side = _narrative_side(run)
    if verdicts.too_few(kept):
        outcome = "too few narratives for a verdict"
    elif side:
        outcome = f"in-group experiencers are rated {_higher(side)}"
    else:
        outcome = "no gap detected"
    return (
        f"At the level of narratives, a t interval over the {kept:,.0f} per-narrative gaps, "
        f"which carries how much the gap varies from one narrative to the next, puts δ between "
        f"{low:.2f} and {high:.2f} (95 %; {_p(run, 'narrative_p')}): {outcome}."
    )


def _bootstrap_sentence(run: dict[str, Any]) -> str:
    low, high = _value(run, "bootstrap_ci_low"), _value(run, "bootstrap_ci_high")
    if math.isnan(low) or math.isnan(high):
        return ""
    return f"The bootstrap over narratives (bootstrap-t, 95 %) gives {low:.2f} to {high:.2f}."


def _balanced_sentence(run: dict[str, Any]) -> str:
    d = _value(run, "delta_balanced")
    if math.isnan(d):
        return ""
    low, high = _value(run, "balanced_ci_low"), _value(run, "balanced_ci_high")
    verdict = str(run.get("balanced_verdict") or "")
    side = verdicts.side(low, high)
    if verdict.startswith("undetermined"):
        outcome = verdict
    elif side:
        outcome = f"in-group experiencers are rated {_higher(side)}{_reverse(side)}"
    else:
        outcome = "no gap detected"
    same = (
        " (the same as δ: every race has the same number of forms here)"
        if math.isclose(d, _value(run, "delta"), rel_tol=1e-9, abs_tol=1e-12)
        else ""
    )
    return (
        f"Robustness: the paper's δ weighs each race by the square of its number of surface "
        f"forms, so a race rated higher or lower throughout moves it; with every race weighted "
        f"equally, the race-balanced δ is {d:.2f}{same} (95 % interval over narratives "
        f"{low:.2f} to {high:.2f}): {outcome}."
    )


def _agreement(run: dict[str, Any], kept: float) -> str:
    """The closing verdict: both tests, on which side, or undetermined and why."""
    candidates = (verdicts.too_few(kept), run.get("perm_verdict"))
    reasons = [r for r in candidates if isinstance(r, str) and r.startswith("undetermined")]
    if reasons:
        why = "; ".join(r.removeprefix("undetermined: ") for r in reasons)
        return f"The verdict is **undetermined**: {why}."
    perm, item = _perm_side(run), _narrative_side(run)
    if perm and item and perm == item:
        return f"Both analyses find the gap: in-group experiencers are rated {_higher(perm)}{_reverse(perm)}."
    if perm and item:
        return (
            f"**The analyses disagree on the direction**: δ lies {'above' if perm > 0 else 'below'} "
            f"the null interval, while the narrative-level interval lies {'above' if item > 0 else 'below'} zero."
        )
    if not perm and not item:
        return "Neither analysis finds a gap."
    if perm:
        return (
            "**The analyses disagree**: the permutation test finds a gap that the "
            "narrative-level interval does not exclude from zero; the permutation test "
            "treats the identities as the sample, the narrative-level interval the narratives."
        )
    return (
        "**The analyses disagree**: the narrative-level interval excludes zero, but δ "
        "stays inside the null interval. The permutation test shuffles only "
        "identities and ignores that every cell rates the same narratives."
    )


def variation_summary(table: pd.DataFrame) -> str:
    """Return one sentence per grouping comparing δ across prompt variations.

    ``table`` is :func:`runs_table` over runs of several variations. Verdicts are counted
    by side (a significant negative δ is the reverse of the paper's direction); where p
    sits at the smallest value the permutation test can give, that is said once.

    >>> t = pd.DataFrame({"grouping": ["religion"] * 3, "variation": ["origin", "10-scale", "persona-1"],
    ...                   "delta": [0.5, -0.2, 0.1], "significant": [True, True, False],
    ...                   "p_perm": [0.0084, 0.0096, 0.3], "p_floor": [1 / 120] * 3, "n_groups": [5] * 3})
    >>> print(variation_summary(t))  # doctest: +NORMALIZE_WHITESPACE
    For religion, δ is 0.50 with the origin prompt and ranges from -0.20 (10-scale) to 0.50
    (origin) across the 3 variations; by the permutation test, 1 places δ above its null
    interval (in-group higher) and 1 below it (in-group lower, the reverse of the paper's
    direction), with p = 0.0084 to 0.0096 for 2 of the 3 variations, the smallest this test
    can give with 5 groups (1/120 = 0.0083).
    """
    sentences = []
    for grouping, part in table.groupby("grouping", sort=False):
        low, high = part.loc[part["delta"].idxmin()], part.loc[part["delta"].idxmax()]
        origin = part.loc[part["variation"] == "origin", "delta"]
        start = f"δ is {origin.iloc[0]:.2f} with the origin prompt and ranges" if len(origin) else "δ ranges"
        rows = [r._asdict() for r in part.itertuples(index=False)]
        sides = [_perm_side(r) for r in rows]
        up, down = sides.count(1), sides.count(-1)
        counts = []
        if up:
            counts.append(
                f"{up} {'places' if up == 1 else 'place'} δ above its null interval (in-group higher)"
            )
        if down:
            where = "below it" if up else "δ below its null interval"
            verb = "" if up else ("places " if down == 1 else "place ")
            counts.append(f"{down} {verb}{where} (in-group lower, {_REVERSED})")
        found = " and ".join(counts) if counts else "none places δ outside its null interval"
        sentences.append(
            f"For {grouping}, {start} from {low['delta']:.2f} ({low['variation']}) to "
            f"{high['delta']:.2f} ({high['variation']}) across the {len(part)} variations; "
            f"by the permutation test, {found}{_floor_clause(part)}{_narrative_counts(rows)}."
        )
    return " ".join(sentences)


def _floor_clause(part: pd.DataFrame) -> str:
    """Say once when the variations' p sit at the smallest p the permutation test can give."""
    if not {"p_perm", "p_floor"} <= set(part.columns):
        return ""
    p, floor = part["p_perm"].astype(float), part["p_floor"].astype(float)
    at = (p <= 1.5 * floor) & floor.gt(0)
    if not at.any():
        return ""
    groups = part["n_groups"].iloc[0] if "n_groups" in part.columns else None
    groups = int(groups) if groups is not None and pd.notna(groups) else None
    smallest = float(floor[at].iloc[0])
    limit = verdicts.format_p(smallest, floor=smallest, groups=groups).split(", ", 1)[1]
    a, b = (verdicts.format_p(float(x)) for x in (p[at].min(), p[at].max()))
    shown = a if a == b else f"p = {a[4:]} to {b[4:]}" if a.startswith("p =") else f"p ≤ {b[4:]}"
    share = f"all {len(part)} variations" if at.all() else f"{int(at.sum())} of the {len(part)} variations"
    return f", with {shown} for {share}, {limit}"


def _narrative_counts(rows: list[dict[str, Any]]) -> str:
    """How many variations' narrative-level intervals lie above and below zero."""
    if not any("narrative_ci_low" in r for r in rows):
        return ""
    reasons = [verdicts.too_few(_value(r, "delta_n_items", "n_items")) for r in rows]
    if any(reasons):
        why = next(r for r in reasons if r).removeprefix("undetermined: ")
        return f"; at the level of narratives the verdicts are undetermined ({why})"
    sides = [_narrative_side(r) for r in rows]
    up, down = sides.count(1), sides.count(-1)
    if not up and not down:
        return "; at the level of narratives, no interval excludes zero"
    parts = [f"{up} {'lies' if up == 1 else 'lie'} above zero"] if up else []
    parts += [f"{down} {'lies' if down == 1 else 'lie'} below zero ({_REVERSED})"] if down else []
    return f"; of the {len(rows)} narrative-level intervals, {' and '.join(parts)}"


def comparison_table(table: pd.DataFrame) -> pd.DataFrame:
    """Return δ by model (rows) and grouping × variation (columns), as formatted text.

    ``*`` marks δ outside the permutation test's null interval (the paper's
    significance), ``†`` a narrative-level 95 % t interval (``narrative_ci_low``,
    ``narrative_ci_high``) that excludes zero; a negative δ with a mark is a gap toward
    the out-group, the reverse of the paper's direction. A cell is ``—`` where the run has no
    δ and empty where the model was not run on that design.

    >>> t = pd.DataFrame({"model": ["m"], "readout": ["generate"], "grouping": ["religion"],
    ...     "variation": ["origin"], "delta": [0.41], "significant": [True],
    ...     "narrative_ci_low": [0.1], "narrative_ci_high": [0.7]})
    >>> comparison_table(t).iloc[0, 0]
    '0.41*†'
    """

    def cell(row: pd.Series) -> str:
        if pd.isna(row["delta"]):
            return "—"
        marks = ("*" if row["significant"] else "") + ("†" if _narrative_side(row.to_dict()) else "")
        return f"{row['delta']:.2f}{marks}"

    shown = table.assign(cell=table.apply(cell, axis=1))
    return shown.pivot_table(
        index=["model", "readout"],
        columns=["grouping", "variation"],
        values="cell",
        aggfunc="first",
        sort=False,
    ).fillna("")


def _signed(x: float, digits: int = 2) -> str:
    return f"{x:+.{digits}f}".replace("-", "\u2212")


def _number(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}".replace("-", "\u2212")


#: What each verdict word of :func:`~empathylab.gaps.shifts.shift_verdict` says in a sentence.
_SHIFT_WORDS = {
    "narrower": "a narrower gap (|δ| smaller in all three units)",
    "wider": "a wider gap (|δ| larger in all three units)",
    "reversed": "the gap reversed sign (both δ exclude zero, on opposite sides), moving toward the {toward}",
    "crosses zero": "the gap crosses zero (the two δ have opposite signs, one of them not told from zero), "
    "moving toward the {toward}",
    "toward the in-group": "the gap moved toward the in-group (not called narrower or wider: |δ| did not "
    "change clearly in all three units)",
    "toward the out-group": "the gap moved toward the out-group (not called narrower or wider: |δ| did not "
    "change clearly in all three units)",
    "no change detected": "no change of the gap detected",
    "no change detected after Holm's correction": "no change of the gap detected after Holm's correction "
    "(each unit's interval excludes zero before it)",
}


def _shift_clause(r: pd.Series) -> str:
    """The verdict of one row of Δδ as a clause."""
    from empathylab.gaps.shifts import UNITS
    from empathylab.verdicts import side

    verdict = str(r["verdict"])
    if verdict.startswith("undetermined"):
        return verdict
    if verdict == "the units disagree":
        words = {-1: "toward the out-group", 0: "no change", 1: "toward the in-group", None: "no interval"}
        parts = [f"{unit}: {words[side(r[low], r[high])]}" for unit, (_, low, high, *_) in UNITS.items()]
        return f"the units disagree ({'; '.join(parts)}), so no change is claimed"
    return _SHIFT_WORDS.get(verdict, verdict).format(toward=r.get("toward"))


def shift_summary(shifts: pd.DataFrame, by: str = "variation") -> str:
    """Return one sentence per row of Δδ and mean-shift results, saying what the intervals show.

    ``shifts`` is :func:`empathylab.gaps.shifts.delta_shift`'s (or
    :func:`empathylab.gaps.experiments.shifts_by_grouping`'s,
    :func:`~empathylab.gaps.experiments.perspective_shifts`'s). Each sentence gives δ of
    both runs, Δδ in the three units with their 95 % intervals, the p of the verdict
    (Holm-adjusted where the table has ``p_holm``) and the verdict in words
    (:func:`~empathylab.gaps.shifts.shift_verdict`: narrower or wider only when ``|δ|``
    shrinks or grows in all three units); the mean shift is reported beside it, so a moved
    scale is not read as a moved gap.

    >>> row = {"grouping": "religion", "variation": "pt-other", "reference": "origin", "n_items": 12,
    ...     "delta": -2.40, "delta_reference": -2.09, "delta_raw": -6.3, "delta_raw_reference": -5.1,
    ...     "raw_ci_low": -7.5, "raw_ci_high": -5.1, "raw_reference_ci_low": -6.2, "raw_reference_ci_high": -4.0,
    ...     "delta_diff": -0.31, "diff_ci_low": -0.52, "diff_ci_high": -0.08,
    ...     "delta_diff_raw": -1.2, "diff_raw_ci_low": -2.0, "diff_raw_ci_high": -0.4,
    ...     "delta_diff_ref": -0.29, "diff_ref_ci_low": -0.48, "diff_ref_ci_high": -0.1, "p": 0.003,
    ...     "verdict": "wider", "toward": "out-group",
    ...     "mean_shift": 0.4, "shift_ci_low": -0.1, "shift_ci_high": 0.9}
    >>> print(shift_summary(pd.DataFrame([row])))
    pt-other against origin (religion, 12 narratives): δ −2.09 → −2.40 (z units; −5.10 → −6.30 scale points). Δδ −0.31 in z units (95 % interval −0.52 to −0.08), −1.20 scale points (−2.00 to −0.40), −0.29 in the reference's SDs (−0.48 to −0.10); p = 0.003: a wider gap (|δ| larger in all three units). The mean intensity moved by +0.40 (−0.10 to +0.90), no shift detected.
    """
    from empathylab.verdicts import format_p

    def scale(r: pd.Series) -> str:
        low, high = r["shift_ci_low"], r["shift_ci_high"]
        return "lower throughout" if high < 0 else "higher throughout" if low > 0 else "no shift detected"

    sentences = []
    for _, r in shifts.iterrows():
        where = f"{r['grouping']}, " if "grouping" in shifts.columns else ""
        p = (
            f"Holm-adjusted {format_p(r['p_holm'])} ({format_p(r['p'])} before)"
            if "p_holm" in shifts.columns
            else format_p(r["p"])
        )
        sentences.append(
            f"{r[by]} against {r['reference']} ({where}{int(r['n_items'])} narratives): δ "
            f"{_number(r['delta_reference'])} → {_number(r['delta'])} (z units; "
            f"{_number(r['delta_raw_reference'])} → {_number(r['delta_raw'])} scale points). "
            f"Δδ {_signed(r['delta_diff'])} in z units (95 % interval {_signed(r['diff_ci_low'])} to "
            f"{_signed(r['diff_ci_high'])}), {_signed(r['delta_diff_raw'])} scale points "
            f"({_signed(r['diff_raw_ci_low'])} to {_signed(r['diff_raw_ci_high'])}), "
            f"{_signed(r['delta_diff_ref'])} in the reference's SDs ({_signed(r['diff_ref_ci_low'])} to "
            f"{_signed(r['diff_ref_ci_high'])}); {p}: {_shift_clause(r)}. The mean intensity moved by "
            f"{_signed(r['mean_shift'])} ({_signed(r['shift_ci_low'])} to {_signed(r['shift_ci_high'])}), "
            f"{scale(r)}."
        )
    return " ".join(sentences)


def pair_summary(
    status: pd.DataFrame,
    stored: set[str] | list[str],
    shifts: pd.DataFrame,
    formats: dict[str, str | None] | None = None,
) -> str:
    """Return what the base-versus-instruction-tuned comparison found, or which half is missing.

    ``status`` is :func:`empathylab.gaps.experiments.pair_status`'s, ``stored`` the models
    with stored rows, ``shifts`` :func:`empathylab.gaps.experiments.pair_shifts`'s and
    ``formats`` :func:`empathylab.gaps.experiments.pair_formats`'s. The two models differ
    in tuning and, where one has a chat template and the other not, in the prompt format
    too, so Δδ is worded as an association of the pair, not as the effect of tuning.

    >>> status = pd.DataFrame({"pair": [0, 0], "role": ["base", "instruction-tuned"],
    ...     "model": ["b", "t"], "available": [True, False], "command": ["run b", "run t"]})
    >>> pair_summary(status, {"b"}, pd.DataFrame())
    'Pair 1: the base model b is stored; the instruction-tuned model t is missing (not available on this machine). One command fills it in: `run t`; then rebuild the book.'
    >>> _pair_formats("b", "t", {"b": "plain", "t": "chat"})
    'The two runs differ in tuning and in the prompt format (b read plain text (no chat template), t its chat template), so Δδ is an association of tuning together with the format change, not the effect of tuning alone.'
    """
    sentences = []
    for pair, part in status.groupby("pair", sort=True):
        roles = dict(zip(part["role"], part["model"]))
        missing = part[~part["model"].isin(set(stored))]
        if missing.empty and len(shifts):
            found = shifts[shifts["pair"] == pair]
            base, tuned = roles["base"], roles["instruction-tuned"]
            sentences.append(
                f"Pair {pair + 1}: "
                + shift_summary(found, by="model")
                + " "
                + _pair_formats(base, tuned, formats or {})
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


_FORMAT_WORDS = {
    "plain": "plain text (no chat template)",
    "chat": "its chat template",
    "chat-system-in-user": "its chat template (the system text in the user turn)",
}


def _pair_formats(base: str, tuned: str, formats: dict[str, str | None]) -> str:
    """The sentence on what else differs between the two runs of a pair besides tuning."""
    f_base, f_tuned = formats.get(base), formats.get(tuned)
    if f_base and f_base == f_tuned:
        return (
            f"Both runs read the same prompt format ({_FORMAT_WORDS.get(f_base, f_base)}), so the pair "
            "differs in tuning; it is still one pair of models, an association, not a controlled experiment."
        )
    if f_base and f_tuned:
        how = (
            f"{base} read {_FORMAT_WORDS.get(f_base, f_base)}, {tuned} {_FORMAT_WORDS.get(f_tuned, f_tuned)}"
        )
    else:
        how = "a model with a chat template reads it, one without reads plain text; the runs did not record which"
    return (
        f"The two runs differ in tuning and in the prompt format ({how}), so Δδ is an association "
        "of tuning together with the format change, not the effect of tuning alone."
    )
