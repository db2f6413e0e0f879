"""Checks for the exercises of Part I (intergroup empathy gaps) and Part III (beyond the paper).

Each check takes the student's ``answer`` and the objects the exercise works on, computes
the right answer from those objects with the package's own functions, and returns a
:class:`~empathylab.course.feedback.Feedback` (one line, ✓ or ✗). Typical wrong answers
get a hint of their own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from empathylab.course.feedback import Feedback, close, no_answer
from empathylab.gaps import design, matrices

__all__ = [
    "check_prompt_count",
    "check_no_answer_share",
    "check_delta",
    "check_smallest_detected",
    "check_largest_shift",
    "check_readout_difference",
    "check_same_cluster_mean",
    "check_reader_writer_r",
    "check_perspective_shift",
    "check_largest_delta",
]


def _f(value: float, digits: int = 3, sign: bool = False) -> str:
    """Format a number for a feedback line, with a true minus sign.

    >>> _f(-0.04191, 4), _f(0.2, sign=True)
    ('−0.0419', '+0.200')
    """
    return f"{value:{'+' if sign else ''}.{digits}f}".replace("-", "−")


def _number(answer: Any) -> Feedback | None:
    """Return a ✗ for no answer yet or one that is not one number (a Series, a string, a NaN)."""
    if (missing := no_answer(answer)) is not None:
        return missing
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.integer, np.floating)):
        return Feedback(False, f"Give one number (an int or a float); got {type(answer).__name__}.")
    if np.isnan(float(answer)):
        return Feedback(False, "Your answer is NaN: a missing value entered the computation (dropna?).")
    return None


def check_prompt_count(answer: Any, narratives: pd.DataFrame, identities: list[str]) -> Feedback:
    """Check the number of prompts one grouping sends under one variation.

    Every narrative is asked for every perceiver × experiencer pair of ``identities``
    (the baseline "a person" included on both sides). Returns the :class:`Feedback`.

    >>> ids = ["a person", "a Jew", "a Muslim"]
    >>> check_prompt_count(18, pd.DataFrame({"item_id": [1, 2]}), ids)
    ✓ 2 narratives × 3 perceivers × 3 experiencers = 18 prompts.
    >>> check_prompt_count(8, pd.DataFrame({"item_id": [1, 2]}), ids).ok
    False
    """
    n, m = len(narratives), len(identities)
    expected = n * m * m
    if (missing := _number(answer)) is not None:
        return missing
    if close(answer, expected):
        return Feedback(True, f"{n} narratives × {m} perceivers × {m} experiencers = {expected:,} prompts.")
    if design.BASELINE in identities and close(answer, n * (m - 1) ** 2):
        return Feedback(
            False, 'Not quite: the baseline "a person" is asked too, as perceiver and as experiencer.'
        )
    if close(answer, m * m):
        return Feedback(False, "That is one narrative's prompts: every narrative is asked for every pair.")
    return Feedback(False, "Not the number of prompts: narratives × perceivers × experiencers.")


def check_no_answer_share(answer: Any, results: pd.DataFrame, readout: str = "generate") -> Feedback:
    """Check the share of ``readout``'s answers that give no intensity (refused or unreadable).

    A share between 0 and 1 over every row of ``results`` with that readout. Returns the
    :class:`Feedback`.

    >>> rows = pd.DataFrame({"readout": ["generate"] * 4 + ["distribution"] * 4,
    ...                      "intensity": [50, None, 60, 70, 50, 40, 30, 20]})
    >>> check_no_answer_share(0.25, rows)
    ✓ 25.0 % of the generate answers give no intensity (1 of 4).
    >>> check_no_answer_share(25, rows)
    ✗ That looks like a percentage: give a share between 0 and 1 (25 % is 0.25).
    """
    rows = results[results["readout"] == readout]
    if rows.empty:
        return Feedback(False, f"There are no {readout} answers in these results to count.")
    missing = int(rows["intensity"].isna().sum())
    expected = missing / len(rows)
    if (reply := _number(answer)) is not None:
        return reply
    if close(answer, expected, 1e-4):
        return Feedback(
            True,
            f"{100 * expected:.1f} % of the {readout} answers give no intensity ({missing:,} of {len(rows):,}).",
        )
    if 1 < float(answer) <= 100 and close(answer / 100, expected, 1e-4):
        return Feedback(
            False,
            f"That looks like a percentage: give a share between 0 and 1 ({answer:g} % is {answer / 100:g}).",
        )
    if close(answer, results["intensity"].isna().mean(), 1e-4):
        return Feedback(False, f"That is the share over every readout: count only the {readout} answers.")
    if close(answer, missing):
        return Feedback(
            False, "That is the number of answers without an intensity: divide by all the answers."
        )
    return Feedback(False, f"Not the share: answers without an intensity ÷ all {readout} answers.")


def check_delta(answer: Any, matrix: pd.DataFrame, grouping: str) -> Feedback:
    """Check δ computed by hand: mean of the in-group cells − mean of the out-group cells.

    ``matrix`` is the δ matrix (:func:`empathylab.gaps.delta_matrix`, the baseline left
    out); ``grouping`` decides which cells are in-group. Returns the :class:`Feedback`.

    >>> ids = ["a Christian", "a Muslim", "a Jew"]
    >>> m = pd.DataFrame([[4, 1, 1], [1, 4, 1], [1, 1, 4]], index=ids, columns=ids)
    >>> check_delta(3.0, m, "religion")
    ✓ δ = 3.0000: in-group mean 4.0000 − out-group mean 1.0000.
    >>> check_delta(-3.0, m, "religion")
    ✗ The sign is reversed: δ is in-group minus out-group.
    """
    ids = [str(i) for i in matrix.index]
    values = matrix.to_numpy(dtype=float)
    inside, outside = matrices.in_group(ids, grouping), matrices.out_group(ids, grouping)
    expected = float(values[inside].mean() - values[outside].mean())
    if (reply := _number(answer)) is not None:
        return reply
    if close(answer, expected, 1e-6):
        return Feedback(
            True,
            f"δ = {_f(expected, 4)}: in-group mean {_f(values[inside].mean(), 4)} − "
            f"out-group mean {_f(values[outside].mean(), 4)}.",
        )
    if close(answer, -expected, 1e-6):
        return Feedback(False, "The sign is reversed: δ is in-group minus out-group.")
    if close(answer, values[inside].mean() - values.mean(), 1e-6):
        return Feedback(
            False, "The out-group mean leaves out the in-group cells: you subtracted the mean of all cells."
        )
    return Feedback(False, "Not δ: average the in-group cells, average the out-group cells, subtract.")


def check_smallest_detected(
    answer: Any, effects: list[float], n_items: int = 12, seed: int = 0, grouping: str = "religion"
) -> Feedback:
    """Check the smallest planted effect the permutation test calls significant.

    For each effect (points on the 0–100 scale) one run is simulated
    (:func:`empathylab.gaps.simulate_results` with ``n_items`` and ``seed``) and δ tested
    (:func:`empathylab.gaps.permutation_test` on its δ matrix). The answer is the smallest
    effect whose test is significant (``max(effects) + 1`` when none is). Returns the
    :class:`Feedback`.

    >>> check_smallest_detected(0, [0, 20], n_items=12)
    ✗ With no planted gap a significant δ is a false positive: look again at effect 0.
    """
    from empathylab.gaps.simulate import simulate_results

    found = []
    for effect in effects:
        rows = simulate_results(grouping, n_items=n_items, effect=float(effect), seed=seed)
        found.append(bool(matrices.permutation_test(matrices.delta_matrix(rows), grouping)["significant"]))
    detected = [e for e, hit in zip(effects, found, strict=True) if hit]
    expected = min(detected) if detected else max(effects) + 1
    if (reply := _number(answer)) is not None:
        return reply
    if close(answer, expected):
        return Feedback(
            True, f"From {expected:g} points on the test finds the planted gap with {n_items} narratives."
        )
    if float(answer) == 0 and not found[0]:
        return Feedback(
            False, "With no planted gap a significant δ is a false positive: look again at effect 0."
        )
    if detected and float(answer) > expected:
        return Feedback(False, "A smaller effect is already significant: test every effect in the list.")
    return Feedback(
        False, "Not the smallest significant effect: look at `significant` for each effect in turn."
    )


def check_largest_shift(
    answer: Any, table: pd.DataFrame, grouping: str, reference: str = "origin"
) -> Feedback:
    """Check which variation moves δ farthest from ``reference``'s δ, either way.

    ``table`` has one row per grouping and variation with ``delta``. Returns the
    :class:`Feedback`.

    >>> table = pd.DataFrame({"grouping": "religion", "variation": ["origin", "a", "b"],
    ...                       "delta": [0.2, 0.5, -0.3]})
    >>> check_largest_shift("b", table, "religion")
    ✓ b: δ −0.300 against 0.200 under origin (a shift of −0.500).
    >>> check_largest_shift("a", table, "religion")
    ✗ a has the largest δ, not the largest shift: a shift downwards counts too.
    """
    rows = table[table["grouping"] == grouping].set_index("variation")["delta"].dropna()
    if reference not in rows.index or len(rows) < 2:
        return Feedback(False, f"The table needs δ under {reference!r} and another variation for {grouping}.")
    shifts = (rows.drop(reference) - rows[reference]).sort_values(key=np.abs, ascending=False)
    expected = str(shifts.index[0])
    if (reply := no_answer(answer)) is not None:
        return reply
    if str(answer) == expected:
        return Feedback(
            True,
            f"{expected}: δ {_f(rows[expected])} against {_f(rows[reference])} under {reference} "
            f"(a shift of {_f(shifts.iloc[0], sign=True)}).",
        )
    if str(answer) == reference:
        return Feedback(False, f"{reference} is the reference: which other variation moves δ most?")
    if str(answer) == str(rows.drop(reference).idxmax()):
        return Feedback(
            False, f"{answer} has the largest δ, not the largest shift: a shift downwards counts too."
        )
    if str(answer) not in rows.index:
        return Feedback(
            False, f"{answer!r} is not a variation of this table: {', '.join(map(str, rows.index))}."
        )
    return Feedback(False, f"Not the largest shift: compare |δ − δ({reference})| across variations.")


def check_readout_difference(
    answer: Any, table: pd.DataFrame, model: str, grouping: str, variation: str = "origin"
) -> Feedback:
    """Check δ(generate) − δ(distribution) of one model, grouping and variation.

    ``table`` has ``model, readout, grouping, variation, delta``. Returns the :class:`Feedback`.

    >>> table = pd.DataFrame({"model": "m", "readout": ["generate", "distribution"],
    ...                       "grouping": "religion", "variation": "origin", "delta": [0.5, 0.2]})
    >>> check_readout_difference(0.3, table, "m", "religion")
    ✓ δ(generate) − δ(distribution) = +0.300 for m on religion.
    """
    chosen = (table["model"] == model) & (table["grouping"] == grouping) & (table["variation"] == variation)
    by = table[chosen].dropna(subset=["delta"]).drop_duplicates("readout").set_index("readout")["delta"]
    if not {"generate", "distribution"} <= set(by.index):
        return Feedback(False, f"{model} has no δ under both readouts for {grouping} in this table.")
    expected = float(by["generate"] - by["distribution"])
    if (reply := _number(answer)) is not None:
        return reply
    if close(answer, expected, 1e-6):
        return Feedback(
            True, f"δ(generate) − δ(distribution) = {_f(expected, sign=True)} for {model} on {grouping}."
        )
    if close(answer, -expected, 1e-6):
        return Feedback(False, "The sign is reversed: generate minus distribution.")
    if close(answer, abs(expected), 1e-6):
        return Feedback(False, "Keep the sign: the difference can be negative.")
    return Feedback(
        False, f"Not the difference: take {model}'s δ on {grouping} under each readout and subtract."
    )


def check_same_cluster_mean(answer: Any, nationality: pd.DataFrame) -> Feedback:
    """Check the mean z of the cells whose two countries differ but share a cultural cluster.

    ``nationality`` holds the nationality rows of a run; the cells are those of its δ
    matrix (:func:`empathylab.gaps.delta_matrix`). Returns the :class:`Feedback`.

    >>> from empathylab.gaps import simulate_results
    >>> rows = simulate_results("nationality", n_items=4, effect=5.0, seed=0)
    >>> check_same_cluster_mean(None, rows)
    ✗ No answer yet: replace the None (or ...) with your answer and run the cell again.
    """
    matrix = matrices.delta_matrix(nationality)
    cluster = {
        f"a person from {country}": name
        for name, countries in design.NATIONALITY_CLUSTERS.items()
        for country in countries
    }
    ids = [str(i) for i in matrix.index]
    group = np.array([cluster.get(i, i) for i in ids])
    values = matrix.to_numpy(dtype=float)
    same_cluster = group[:, None] == group[None, :]
    same_country = np.eye(len(ids), dtype=bool)
    if not (same_cluster & ~same_country).any():
        return Feedback(False, "No two countries of these results share a cluster.")
    expected = float(values[same_cluster & ~same_country].mean())
    if (reply := _number(answer)) is not None:
        return reply
    if close(answer, expected, 1e-6):
        return Feedback(True, f"Same cluster, different country: mean z {_f(expected, 4)}.")
    if close(answer, values[same_cluster].mean(), 1e-6):
        return Feedback(
            False, "Leave out the diagonal: a country with itself is the same country, not the same cluster."
        )
    return Feedback(False, "Not that mean: cells whose countries differ but belong to one cluster.")


def check_reader_writer_r(answer: Any, humans: pd.DataFrame) -> Feedback:
    """Check the Pearson correlation between the readers' mean and the writer's own intensity.

    Over the narratives of ``humans`` that readers rated (``reader_mean`` present).
    Returns the :class:`Feedback`.

    >>> humans = pd.DataFrame({"writer_intensity": [1, 2, 3, 4, 5],
    ...                        "reader_mean": [1.5, 1.0, 3.5, 3.0, 5.5]})
    >>> check_reader_writer_r(0.9, humans).ok
    False
    """
    read = humans.dropna(subset=["reader_mean", "writer_intensity"])
    if len(read) < 3:
        return Feedback(False, "Fewer than three narratives have both a writer and readers.")
    r = float(read["reader_mean"].corr(read["writer_intensity"]))
    if (reply := _number(answer)) is not None:
        return reply
    if close(answer, r, 1e-4):
        return Feedback(True, f"r = {_f(r)} over {len(read):,} narratives: readers' mean against the writer.")
    if close(answer, r * r, 1e-4):
        return Feedback(False, "That is r², the share of variance: the question asks for r.")
    if close(answer, read["reader_mean"].corr(read["writer_intensity"], method="spearman"), 1e-4):
        return Feedback(False, "That is Spearman's rank correlation: the question asks for Pearson's r.")
    return Feedback(
        False, "Not r: Pearson's correlation of reader_mean and writer_intensity where both exist."
    )


def check_perspective_shift(
    answer: Any, results: pd.DataFrame, variation: str, reference: str, grouping: str
) -> Feedback:
    """Check Δδ = δ(``variation``) − δ(``reference``) for one grouping, each on its own δ matrix.

    Returns the :class:`Feedback`.

    >>> from empathylab.gaps import simulate_results
    >>> rows = pd.concat([simulate_results("religion", 6, 5.0, seed=0, variation="origin"),
    ...                   simulate_results("religion", 6, 1.0, seed=0, variation="pt-other")])
    >>> check_perspective_shift(0.0, rows, "pt-other", "origin", "religion").ok
    False
    """
    part = results[results["grouping"] == grouping]
    deltas = {}
    for name in (variation, reference):
        rows = part[part["variation"] == name]
        if rows.empty:
            return Feedback(False, f"No {grouping} rows under {name!r} in these results.")
        deltas[name] = matrices.delta(matrices.delta_matrix(rows), grouping)
    expected = deltas[variation] - deltas[reference]
    if (reply := _number(answer)) is not None:
        return reply
    if close(answer, expected, 1e-6):
        return Feedback(
            True,
            f"Δδ = {_f(expected, sign=True)}: δ {_f(deltas[variation])} under {variation}, "
            f"{_f(deltas[reference])} under {reference}.",
        )
    if close(answer, -expected, 1e-6):
        return Feedback(False, f"The sign is reversed: {variation} minus {reference}.")
    return Feedback(False, "Not Δδ: δ of each variation's own δ matrix, then subtract.")


def check_largest_delta(answer: Any, deltas: pd.DataFrame, model: str) -> Feedback:
    """Check which grouping has the largest δ for ``model`` (a table of ``model, grouping, delta``).

    Returns the :class:`Feedback`.

    >>> deltas = pd.DataFrame({"model": "m", "grouping": ["religion", "ethnicity"], "delta": [0.1, -0.4]})
    >>> check_largest_delta("religion", deltas, "m")
    ✓ religion: δ 0.100, the largest of m's groupings.
    >>> check_largest_delta("ethnicity", deltas, "m")
    ✗ ethnicity has the largest |δ|, but δ is negative there: the largest δ is the most positive.
    """
    rows = deltas[deltas["model"] == model].dropna(subset=["delta"]).set_index("grouping")["delta"]
    if rows.empty:
        return Feedback(
            False, f"No δ for {model!r} in this table; models: {', '.join(deltas['model'].unique())}."
        )
    expected = str(rows.idxmax())
    if (reply := no_answer(answer)) is not None:
        return reply
    if str(answer) == expected:
        return Feedback(True, f"{expected}: δ {_f(rows[expected])}, the largest of {model}'s groupings.")
    if str(answer) == str(rows.abs().idxmax()):
        return Feedback(
            False,
            f"{answer} has the largest |δ|, but δ is negative there: the largest δ is the most positive.",
        )
    if str(answer) not in rows.index:
        return Feedback(False, f"{answer!r} is not one of {model}'s groupings: {', '.join(rows.index)}.")
    return Feedback(False, "Not the largest δ: compare the delta column across groupings.")
