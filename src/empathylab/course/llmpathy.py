"""Checks for the exercises of Part II (can LLM labels replace people?).

Every check takes the student's ``answer`` and the objects the exercise names (the
chapter's frames), computes the right answer from those same objects, and returns a
:class:`~empathylab.course.feedback.Feedback`: ✓ with a short confirmation, or ✗ with one
line saying what is wrong. Typical wrong answers (a percentage where a share was asked,
the sign flipped, the other LLM's column, Pearson's r where the CCC was asked, ...) get
a line that names the mistake.

=============================  ============================================================
chapter                        checks
=============================  ============================================================
``llmpathy/labels``            :func:`check_share_apart`, :func:`check_mean_difference`
``llmpathy/agreement``         :func:`check_pearson`, :func:`check_ccc`
``llmpathy/mitigation``        :func:`check_mitigated`, :func:`check_best_alpha`,
                               :func:`check_best_strategy`
``llmpathy/fairness``          :func:`check_gap`, :func:`check_gap_change`
``llmpathy/rerun-llmpathy``    :func:`check_finetune_runs`
=============================  ============================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from empathylab import metrics
from empathylab.course.feedback import Feedback, close, no_answer
from empathylab.llmpathy.strategies import mitigate

__all__ = [
    "check_share_apart",
    "check_mean_difference",
    "check_pearson",
    "check_ccc",
    "check_mitigated",
    "check_best_alpha",
    "check_best_strategy",
    "check_gap",
    "check_gap_change",
    "check_finetune_runs",
]

#: The label columns a frame of Part II may carry besides ``crowd``.
_LLM_COLUMNS = ("gpt4o", "llama3_70b", "llama3_70b_plain")
#: Whether a higher value of a regressor metric is better.
_HIGHER = {"pcc": True, "ccc": True, "rmse": False}
#: The columns that place a row of the per-group fairness table.
_PER_GROUP = ("strategy", "attribute", "group")
#: Metric names as the feedback writes them.
_NAMES = {"pcc": "PCC", "ccc": "CCC", "rmse": "RMSE"}


# ----------------------------------------------------------------------------- helpers


def _number(answer: Any, what: str) -> float | Feedback:
    """Return ``answer`` as a float, or the Feedback saying why it is not one number."""
    if isinstance(answer, pd.Series | pd.DataFrame | np.ndarray | list | tuple):
        size = np.size(answer)
        if size == 1:
            answer = np.asarray(answer, dtype=object).ravel()[0]
        else:
            kind = type(answer).__name__
            return Feedback(False, f"Expected one number ({what}), got a {kind} of {size} values.")
    if isinstance(answer, bool | np.bool_):
        return Feedback(False, f"Expected a number ({what}), got {answer}.")
    if isinstance(answer, str):
        return Feedback(False, f"Expected a number ({what}), got the text {answer!r}: remove the quotes.")
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return Feedback(False, f"Expected a number ({what}), got {type(answer).__name__}.")
    return value


def _read(answer: Any, frame: pd.DataFrame, columns: list[str], where: str, what: str) -> float | Feedback:
    """Return ``answer`` as a float, or the Feedback for no answer yet, missing columns or not a number."""
    if (missing := no_answer(answer)) is not None:
        return missing
    if (wrong := _columns(frame, columns, where)) is not None:
        return wrong
    return _number(answer, what)


def _llm_minus_crowd(
    answer: Any, frame: pd.DataFrame, llm: str, what: str
) -> tuple[float, pd.Series] | Feedback:
    """Return the answer as a float and ``llm − crowd`` on the essays with both labels, or the Feedback."""
    value = _read(answer, frame, ["crowd", llm], "the essays", what)
    if isinstance(value, Feedback):
        return value
    if (nan := _nan(value, llm)) is not None:
        return nan
    both = _both(frame, "crowd", llm)
    if both.empty:
        return Feedback(False, f"No essay in the frame has both a crowd and a {llm} label.")
    return value, both[llm] - both["crowd"]


def _paired(
    answer: Any, labels: pd.DataFrame, a: str, b: str, what: str
) -> tuple[float, pd.DataFrame] | Feedback:
    """Return the answer as a float and the essays labelled by both ``a`` and ``b``, or the Feedback."""
    value = _read(answer, labels, [a, b], "the labels", what)
    if isinstance(value, Feedback):
        return value
    both = _both(labels, a, b)
    if len(both) < 2:
        return Feedback(False, f"Fewer than two essays have both a {a} and a {b} label.")
    if math.isnan(value):
        return Feedback(
            False,
            f"Your answer ({what}) is NaN: {b} has missing labels, and np.corrcoef (or a sum) over "
            "them gives NaN. Keep the essays both sources labelled (dropna) first.",
        )
    return value, both


def _nan(value: float, llm: str) -> Feedback | None:
    """Return the ✗ Feedback for a NaN answer (missing labels not dropped), None otherwise."""
    if math.isnan(value):
        return Feedback(
            False,
            f"Your answer is NaN: {llm} has missing labels, and numpy carries them through. "
            "Keep the essays with both labels (dropna) first.",
        )
    return None


def _first_hint(
    value: float, expected: float, hints: Sequence[tuple[float | None, str]], tol: float
) -> str | None:
    """Return the message of the first hint whose value ``value`` matches (and the right one does not)."""
    if close(value, expected, tol):
        return None
    for candidate, message in hints:
        if candidate is not None and np.isfinite(candidate) and close(value, candidate, tol):
            return message
    return None


def _columns(frame: Any, needed: Sequence[str], name: str) -> Feedback | None:
    """Return a ✗ Feedback if ``frame`` is not a DataFrame holding ``needed``."""
    if not isinstance(frame, pd.DataFrame):
        return Feedback(
            False, f"The check needs {name} (a DataFrame) as its second argument, got {type(frame).__name__}."
        )
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        return Feedback(
            False,
            f"The check needs {name} with column(s) {', '.join(missing)}; it has {', '.join(map(str, frame.columns))}.",
        )
    return None


def _other_llms(frame: pd.DataFrame, llm: str) -> list[str]:
    return [c for c in _LLM_COLUMNS if c in frame.columns and c != llm]


def _both(frame: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    return frame[[a, b]].astype(float).dropna()


# --------------------------------------------------------------- Essays and their labels


def check_share_apart(
    answer: Any, frame: pd.DataFrame, *, llm: str = "gpt4o", points: float = 1.0
) -> Feedback:
    """Check the share of essays whose LLM and crowd labels differ by more than ``points``.

    The share is taken over the essays that have both labels (an essay the LLM did not
    label is not compared), and counts differences in either direction.

    Parameters
    ----------
    answer : the student's share, a number between 0 and 1 (None while unanswered).
    frame : the essays, with ``crowd`` and ``llm`` columns (chapter *Essays and their labels*: ``frame``).
    llm : the LLM's label column.
    points : the difference on the 1–7 scale that counts as "apart" (strictly more than it).

    Returns
    -------
    Feedback
        ✓ with the share in words, or ✗ with what is wrong (a percentage, a count, all
        essays as denominator, one direction only, ≥ for >, the other LLM's column).

    Examples
    --------
    >>> t = pd.DataFrame({"crowd": [1.0, 4.0, 5.0, 2.0], "gpt4o": [3.0, 4.5, 3.5, None]})
    >>> check_share_apart(2 / 3, t)
    ✓ 66.7% of the 3 essays with both labels differ by more than 1 point.
    >>> check_share_apart(0.5, t)
    ✗ You divided by all 4 essays; only the 3 essays with both labels can be compared (drop the essays the LLM left unlabelled).
    """
    read = _llm_minus_crowd(answer, frame, llm, "a share between 0 and 1")
    if isinstance(read, Feedback):
        return read
    value, difference = read
    apart = difference.abs() > points
    expected = float(apart.mean())
    unit = "point" if points == 1 else "points"
    hints: list[tuple[float | None, str]] = [
        (100 * expected, "That looks like a percentage: give a share between 0 and 1 (divide by 100)."),
        (float(apart.sum()), "That is a count of essays: divide it by the number of essays compared."),
        (
            float(apart.sum()) / len(frame) if len(frame) != len(difference) else None,
            f"You divided by all {len(frame):,} essays; only the {len(difference):,} essays with both labels "
            "can be compared (drop the essays the LLM left unlabelled).",
        ),
        (
            float((difference.abs() >= points).mean()),
            f"You counted differences of exactly {points:g} too: ask for strictly more (>).",
        ),
        (
            float((difference > points).mean()),
            "You counted only the essays the LLM rates higher; count both directions (the absolute difference).",
        ),
        (
            float((-difference > points).mean()),
            "You counted only the essays the crowd rates higher; count both directions (the absolute difference).",
        ),
        (1 - expected, f"That is the share within {points:g} {unit}, the complement of the one asked."),
    ]
    for other in _other_llms(frame, llm):
        # on the essays ``other`` labelled, or on those of ``both`` (the LLM's rows)
        for pair in (_both(frame, "crowd", other), frame.loc[difference.index, ["crowd", other]].dropna()):
            share = float(((pair[other] - pair["crowd"]).abs() > points).mean()) if len(pair) else None
            hints.append((share, f"That is the share for the {other} labels; the exercise asks about {llm}."))
    if (hint := _first_hint(value, expected, hints, 1e-6)) is not None:
        return Feedback(False, hint)
    if close(value, expected, 1e-6):
        return Feedback(
            True,
            f"{expected:.1%} of the {len(difference):,} essays with both labels differ by more than {points:g} {unit}.",
        )
    return Feedback(
        False,
        f"Not the share: keep the essays with both labels, take |{llm} − crowd| > {points:g}, and average the booleans.",
    )


def check_mean_difference(answer: Any, frame: pd.DataFrame, *, llm: str = "gpt4o") -> Feedback:
    """Check the mean signed difference ``llm − crowd`` over the essays with both labels.

    Positive: the LLM reads more empathy into the essays than their writers reported.

    Parameters
    ----------
    answer : the student's mean difference, in points of the 1–7 scale.
    frame : the essays, with ``crowd`` and ``llm`` columns.
    llm : the LLM's label column.

    Returns
    -------
    Feedback
        ✓ with the difference in words, or ✗ with what is wrong (the sign flipped, the
        mean absolute difference, means taken over different essays, the other LLM).

    Examples
    --------
    >>> t = pd.DataFrame({"crowd": [2.0, 4.0, 6.0], "gpt4o": [3.0, 5.0, None]})
    >>> check_mean_difference(1.0, t)
    ✓ On the 2 essays with both labels, gpt4o rates 1.00 points higher than the crowd on average.
    >>> check_mean_difference(-1.0, t)
    ✗ The sign is flipped: the exercise asks for gpt4o − crowd, so positive means the LLM rates higher.
    """
    read = _llm_minus_crowd(answer, frame, llm, "a difference in points")
    if isinstance(read, Feedback):
        return read
    value, difference = read
    expected = float(difference.mean())
    hints: list[tuple[float | None, str]] = [
        (
            -expected,
            f"The sign is flipped: the exercise asks for {llm} − crowd, so positive means the LLM rates higher.",
        ),
        (
            float(difference.abs().mean()),
            "That is the mean absolute difference; the exercise asks for the signed one (which way the LLM leans).",
        ),
        (
            float(frame[llm].astype(float).mean() - frame["crowd"].astype(float).mean()),
            f"You compared the means of different essays: the crowd mean includes essays {llm} did not label. "
            "Keep the essays with both labels.",
        ),
    ]
    for other in _other_llms(frame, llm):
        pair = _both(frame, "crowd", other)
        hints.append(
            (
                float((pair[other] - pair["crowd"]).mean()),
                f"That is the difference for {other}; the exercise asks about {llm}.",
            )
        )
    if (hint := _first_hint(value, expected, hints, 1e-6)) is not None:
        return Feedback(False, hint)
    if close(value, expected, 1e-6):
        way = "higher" if expected >= 0 else "lower"
        return Feedback(
            True,
            f"On the {len(difference):,} essays with both labels, {llm} rates {abs(expected):.2f} points {way} than the crowd on average.",
        )
    return Feedback(False, f"Not the mean difference: on the essays with both labels, average {llm} − crowd.")


# --------------------------------------------------------------------------- Agreement


def _ccc_variants(x: np.ndarray, y: np.ndarray) -> list[float]:
    """Lin's CCC with population (n) moments, and with n − 1 in the variances and covariance."""
    out = [metrics.ccc(x, y)]
    gap = (x.mean() - y.mean()) ** 2
    for ddof_cov, ddof_var in ((1, 1), (1, 0), (0, 1)):
        cov = np.cov(x, y, ddof=ddof_cov)[0, 1]
        out.append(float(2 * cov / (x.var(ddof=ddof_var) + y.var(ddof=ddof_var) + gap)))
    return out


def _pandas_ccc(labels: pd.DataFrame, a: str, b: str) -> float:
    """The CCC of pandas' moments over all rows (each column's own essays; the covariance pairwise)."""
    x, y = labels[a].astype(float), labels[b].astype(float)
    return float(2 * x.cov(y) / (x.var() + y.var() + (x.mean() - y.mean()) ** 2))


def _pair_hints(
    labels: pd.DataFrame, a: str, b: str, score: Callable[[pd.Series, pd.Series], float]
) -> list[tuple[float | None, str]]:
    """Hints for the same statistic on another pair of columns (the other LLM, swapped roles)."""
    hints = []
    for other in _other_llms(labels, b):
        if other == a:
            continue
        pair = _both(labels, a, other)
        if len(pair) >= 2:
            hints.append(
                (score(pair[a], pair[other]), f"That is the value for {other}; the exercise asks about {b}.")
            )
    return hints


def check_pearson(answer: Any, labels: pd.DataFrame, *, a: str = "crowd", b: str = "gpt4o") -> Feedback:
    """Check Pearson's r between the label columns ``a`` and ``b``, on the essays both labelled.

    Parameters
    ----------
    answer : the student's r, between −1 and 1.
    labels : one row per essay, one column per label source (e.g. ``llmpathy.label_table(profile)``).
    a, b : the two label columns.

    Returns
    -------
    Feedback
        ✓ with r, or ✗ with what is wrong (NaN from missing labels, the CCC, Krippendorff's
        α, r², Spearman's rank correlation, a percentage, another column).

    Examples
    --------
    >>> t = pd.DataFrame({"crowd": [1.0, 2, 3, 4, 5], "gpt4o": [2.0, 2, 4, 5, None]})
    >>> check_pearson(0.9467292624062575, t)
    ✓ r = 0.947 between crowd and gpt4o on the 4 essays both labelled.
    >>> check_pearson(0.9467292624062575**2, t)
    ✗ That is r² (the share of variance explained); the exercise asks for r itself.
    """
    read = _paired(answer, labels, a, b, "Pearson's r")
    if isinstance(read, Feedback):
        return read
    value, both = read
    x, y = both[a].to_numpy(), both[b].to_numpy()
    expected = metrics.pcc(x, y)
    hints: list[tuple[float | None, str]] = [
        (100 * expected, "That looks like a percentage: give r between −1 and 1."),
        (
            metrics.ccc(x, y),
            "That is Lin's CCC; the exercise asks for Pearson's r (covariance over the product of the sds).",
        ),
        (
            metrics.krippendorff_alpha(both.to_numpy()),
            "That is Krippendorff's α from the chapter's table; compute Pearson's r yourself.",
        ),
        (expected**2, "That is r² (the share of variance explained); the exercise asks for r itself."),
        (
            metrics.pcc(both[a].rank().to_numpy(), both[b].rank().to_numpy()),
            "That is Spearman's rank correlation; the exercise asks for Pearson's r, on the labels themselves.",
        ),
        (
            metrics.pcc(labels[a].astype(float).fillna(0), labels[b].astype(float).fillna(0))
            if labels[[a, b]].isna().any().any()
            else None,
            "You filled the missing labels with 0: drop those essays instead (they were not labelled).",
        ),
        *_pair_hints(labels, a, b, metrics.pcc),
    ]
    if (hint := _first_hint(value, expected, hints, 1e-6)) is not None:
        return Feedback(False, hint)
    if close(value, expected, 1e-6):
        return Feedback(
            True, f"r = {expected:.3f} between {a} and {b} on the {len(both):,} essays both labelled."
        )
    return Feedback(
        False,
        f"Not Pearson's r of {a} and {b}: on the essays with both labels, r = Σ(a − ā)(b − b̄) / √(Σ(a − ā)² Σ(b − b̄)²).",
    )


def check_ccc(answer: Any, labels: pd.DataFrame, *, a: str = "crowd", b: str = "gpt4o") -> Feedback:
    """Check Lin's concordance correlation coefficient (CCC) of the columns ``a`` and ``b``.

    CCC = 2 cov / (var_a + var_b + (mean_a − mean_b)²) on the essays both labelled, with
    population moments (n) as in :func:`empathylab.metrics.ccc`; moments with n − 1 are
    accepted too.

    Parameters
    ----------
    answer : the student's CCC, between −1 and 1.
    labels : one row per essay, one column per label source.
    a, b : the two label columns.

    Returns
    -------
    Feedback
        ✓ with the CCC beside Pearson's r, or ✗ with what is wrong (Pearson's r, the
        missing shift term or factor 2, NaN from missing labels, another column).

    Examples
    --------
    >>> t = pd.DataFrame({"crowd": [1.0, 2, 3, 4], "gpt4o": [2.0, 3, 4, 5]})
    >>> check_ccc(5 / 7, t)
    ✓ CCC = 0.714 between crowd and gpt4o (Pearson's r = 1.000): the CCC is lower because it also counts the shift and the difference in spread.
    >>> check_ccc(1.0, t)
    ✗ That is Pearson's r: the CCC also penalises a shift in mean and a difference in spread (2 cov / (var_a + var_b + (mean_a − mean_b)²)).
    """
    read = _paired(answer, labels, a, b, "the CCC")
    if isinstance(read, Feedback):
        return read
    value, both = read
    x, y = both[a].to_numpy(), both[b].to_numpy()
    variants = _ccc_variants(x, y)
    expected, r = variants[0], metrics.pcc(x, y)
    cov = np.mean((x - x.mean()) * (y - y.mean()))
    if any(close(value, v, 1e-6) for v in variants):
        return Feedback(
            True,
            f"CCC = {expected:.3f} between {a} and {b} (Pearson's r = {r:.3f}): the CCC is lower because it also "
            "counts the shift and the difference in spread.",
        )
    hints: list[tuple[float | None, str]] = [
        (
            r,
            "That is Pearson's r: the CCC also penalises a shift in mean and a difference in spread (2 cov / (var_a + var_b + (mean_a − mean_b)²)).",
        ),
        (100 * expected, "That looks like a percentage: give the CCC between −1 and 1."),
        (
            float(2 * cov / (x.var() + y.var())),
            "You left out the (mean_a − mean_b)² term of the denominator: it is what makes the CCC punish a shift.",
        ),
        (expected / 2, "You left out the factor 2 in the numerator (2 cov)."),
        (
            _pandas_ccc(labels, a, b) if labels[[a, b]].isna().any().any() else None,
            f"pandas' mean and var skip missing values column by column, so the {a} moments include essays "
            f"{b} did not label: keep the essays with both labels first.",
        ),
        (
            metrics.krippendorff_alpha(both.to_numpy()),
            "That is Krippendorff's α from the chapter's table; compute the CCC yourself.",
        ),
        *_pair_hints(labels, a, b, metrics.ccc),
    ]
    if (hint := _first_hint(value, expected, hints, 1e-6)) is not None:
        return Feedback(False, hint)
    return Feedback(
        False,
        f"Not the CCC of {a} and {b}: 2 cov / (var_a + var_b + (mean_a − mean_b)²) on the essays with both labels.",
    )


# -------------------------------------------------------------------------- Mitigation


def _as_labels(answer: Any, frame: pd.DataFrame) -> np.ndarray | None:
    """Return ``answer`` as a float array aligned with ``frame``'s rows, or None if it cannot be."""
    if isinstance(answer, pd.DataFrame):
        return None
    if isinstance(answer, pd.Series):
        if len(answer) != len(frame):
            return None
        if answer.index.equals(frame.index):
            values = answer
        elif answer.index.sort_values().equals(frame.index.sort_values()):
            values = answer.reindex(frame.index)
        else:
            values = answer
        try:
            return values.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            return None
    try:
        values = np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return values if values.ndim == 1 and len(values) == len(frame) else None


def _same(x: np.ndarray, y: np.ndarray, rows: np.ndarray | None = None) -> bool:
    if rows is not None:
        x, y = x[rows], y[rows]
    return bool(np.allclose(x, y, rtol=1e-9, atol=1e-9, equal_nan=True))


def check_mitigated(answer: Any, frame: pd.DataFrame, alpha: float, *, llm: str = "gpt4o") -> Feedback:
    """Check the y′ training labels: crowd labels, replaced by the LLM's where they differ by more than α.

    y′ is the package's noise mitigation (:func:`empathylab.llmpathy.strategies.mitigate`):
    a crowd label is *replaced* (not averaged) by the LLM label where
    ``|crowd − llm| > alpha`` (strictly); an essay without an LLM label keeps its crowd label.

    Parameters
    ----------
    answer : the student's labels, one per row of ``frame`` (a Series indexed like it, or an array).
    frame : the essays, with ``crowd`` and ``llm`` columns.
    alpha : the threshold α (the chapter's ``t.alpha``).
    llm : the LLM's label column (the chapter's ``t.llm``).

    Returns
    -------
    Feedback
        ✓ with the number of labels replaced, or ✗ with what is wrong (a blend in place of
        a replacement, the condition reversed (or the roles swapped) or with ≥, NaN where the
        LLM gave no label, rows dropped, y or y_llm returned unchanged).

    Examples
    --------
    >>> t = pd.DataFrame({"crowd": [1.0, 4.0, 7.0, 2.0], "gpt4o": [6.0, 4.5, 2.5, None]})
    >>> check_mitigated(t["crowd"].mask((t["crowd"] - t["gpt4o"]).abs() > 4.5, t["gpt4o"]), t, 4.5)
    ✓ y′ is right: 1 of the 4 crowd labels replaced by the gpt4o label at α = 4.5.
    >>> check_mitigated((t["crowd"] + 4.5 * t["gpt4o"]) / 5.5, t, 4.5)
    ✗ That is a weighted average of the two labels; y′ replaces a crowd label by the LLM's (where they differ by more than α) and keeps it otherwise.
    """
    if (missing := no_answer(answer)) is not None:
        return missing
    if (wrong := _columns(frame, ["crowd", llm], "the essays")) is not None:
        return wrong
    crowd, model = frame["crowd"].astype(float), frame[llm].astype(float)
    expected_series, replaced = mitigate(crowd, model, alpha)
    expected = expected_series.to_numpy()
    labelled = model.notna().to_numpy()
    n = len(frame)
    if np.ndim(answer) == 0 or isinstance(answer, str):
        value = _number(answer, "")
        if not isinstance(value, Feedback) and close(value, replaced):
            return Feedback(
                False,
                "That is the number of labels replaced; the exercise asks for the labels themselves (one per essay).",
            )
        return Feedback(
            False,
            f"Expected the y′ labels, one per essay ({n:,} values, a Series like frame['crowd']), got one value.",
        )
    values = _as_labels(answer, frame)
    if values is None:
        size = len(answer) if hasattr(answer, "__len__") else "?"
        if size == int(labelled.sum()) and size != n:
            return Feedback(
                False,
                f"You have {size:,} labels for {n:,} essays: the essays without a {llm} label were dropped. "
                "They stay in training with their crowd label.",
            )
        if size == n:
            return Feedback(
                False, f"Your {n:,} labels could not be read as numbers (one float label per essay)."
            )
        return Feedback(
            False, f"Expected one label per essay ({n:,}, in the frame's order), got {size} values."
        )
    if _same(values, expected):
        return Feedback(
            True,
            f"y′ is right: {replaced:,} of the {n:,} crowd labels replaced by the {llm} label at α = {alpha:g}.",
        )
    if _same(values, expected, labelled) and np.isnan(values[~labelled]).any():
        return Feedback(
            False,
            f"Your labels are NaN where {llm} gave no label: a missing LLM label never replaces anything, the crowd label stays.",
        )
    difference = (crowd - model).abs()
    candidates = [
        (
            (crowd + alpha * model) / (1 + alpha),
            "That is a weighted average of the two labels; y′ replaces a crowd label by the LLM's (where they differ by more than α) and keeps it otherwise.",
        ),
        (
            crowd.where(~(difference >= alpha), model),
            f"You replaced differences of exactly α too: y′ replaces only where |crowd − {llm}| > α (strictly).",
        ),
        (
            # the same labels as starting from the LLM's and putting the crowd's back where far
            crowd.where(~(difference <= alpha), model),
            "The condition is reversed (or the roles swapped): you took the LLM label where the two sources "
            f"agree; start from the crowd labels and replace them by the {llm} labels where they differ by more than α.",
        ),
        (
            model,
            f"That is y_llm (all {llm} labels); y′ keeps the crowd label unless the two differ by more than α.",
        ),
        (
            crowd,
            f"That is y, the crowd labels unchanged: {replaced:,} of them differ from the {llm} label by more than α and are replaced.",
        ),
    ]
    for other in _other_llms(frame, llm):
        candidates.append(
            (
                mitigate(crowd, frame[other].astype(float), alpha)[0],
                f"You used the {other} labels; the exercise uses {llm}.",
            )
        )
    for candidate, message in candidates:
        if _same(values, candidate.to_numpy(), labelled):
            return Feedback(False, message)
    wrong_rows = ~np.isclose(values, expected, rtol=1e-9, atol=1e-9, equal_nan=True)
    first = int(np.flatnonzero(wrong_rows)[0])
    return Feedback(
        False,
        f"{int(wrong_rows.sum()):,} of the {n:,} labels differ from y′; the first at row {first} "
        f"(index {frame.index[first]!r}): yours {values[first]:.3f}, y′ {expected[first]:.3f} "
        f"(crowd {crowd.iloc[first]:.3f}, {llm} {model.iloc[first]:.3f}).",
    )


def _metric(metric: str) -> str:
    if metric not in _HIGHER:
        raise ValueError(f"unknown metric {metric!r}; valid: {', '.join(_HIGHER)}.")
    return metric


def _best(values: pd.Series, metric: str) -> float:
    return float(values.max() if _HIGHER[metric] else values.min())


def _worst(values: pd.Series, metric: str) -> float:
    return float(values.min() if _HIGHER[metric] else values.max())


def _alpha_at(rows: pd.DataFrame, metric: str, pick: Callable[[pd.Series, str], float]) -> float:
    """Return the α of the first row whose ``metric`` is ``pick`` (``_best`` or ``_worst``)."""
    return float(rows.loc[rows[metric] == pick(rows[metric], metric), "alpha"].iloc[0])


def check_best_alpha(answer: Any, summary: pd.DataFrame, *, metric: str = "pcc") -> Feedback:
    """Check which α gives y′ its best cross-validated ``metric`` in ``summary``.

    ``summary`` is the chapter's ``llmpathy.cv_summary(cv)``: one row per configuration,
    with ``strategy``, ``alpha`` and the metric averaged over folds and seeds. Only the y′
    rows have an α; PCC and CCC are better high, RMSE low. Ties accept any tied α.

    Parameters
    ----------
    answer : the student's α (a number of the grid, e.g. 4.5).
    summary : the configurations' table (``strategy, alpha`` and ``metric``).
    metric : ``pcc``, ``ccc`` or ``rmse``.

    Returns
    -------
    Feedback
        ✓ with the best α's score beside y's, or ✗ with what is wrong (the worst α, the best
        α by another metric, the score in place of its α, a row index, a strategy's name).

    Examples
    --------
    >>> s = pd.DataFrame({"strategy": ["y", "y'", "y'", "y_llm"], "alpha": [None, 0.5, 4.5, None],
    ...                   "n_replaced": [0, 900, 80, 1600], "pcc": [0.35, 0.30, 0.34, 0.29],
    ...                   "ccc": [0.2, 0.25, 0.1, 0.2], "rmse": [1.7, 2.0, 1.8, 2.1]})
    >>> check_best_alpha(4.5, s)
    ✓ α = 4.5 gives y′ its best PCC, 0.3400 (80.0 labels replaced per fold); y has 0.3500, a difference of -0.0100.
    >>> check_best_alpha(0.5, s)
    ✗ α = 0.5 has the lowest PCC of the y′ rows: a higher PCC is better.
    """
    metric = _metric(metric)
    if (missing := no_answer(answer)) is not None:
        return missing
    if (wrong := _columns(summary, ["strategy", "alpha", metric], "the summary table")) is not None:
        return wrong
    name = _NAMES[metric]
    if isinstance(answer, str):
        if answer.strip().replace("′", "'") in ("y", "y'", "y_llm"):
            return Feedback(False, "Give the α (a number) of the best y′ row, not a strategy's name.")
        return Feedback(False, f"Expected a number (an α of y′), got the text {answer!r}.")
    value = _number(answer, "an α of y′")
    if isinstance(value, Feedback):
        return value
    mitigated = summary[summary["strategy"] == "y'"].dropna(subset=["alpha", metric])
    if mitigated.empty:
        return Feedback(False, "The summary has no y′ rows with an α.")
    if math.isnan(value):
        return Feedback(
            False, 'NaN is the α of the y and y_llm rows: keep the rows with strategy == "y\'" first.'
        )
    best = _best(mitigated[metric], metric)
    winners = mitigated[np.isclose(mitigated[metric], best, rtol=0, atol=1e-12)]
    alphas = mitigated["alpha"].astype(float)
    if any(close(value, a, 1e-9) for a in winners["alpha"]):
        row = winners[np.isclose(winners["alpha"].astype(float), value)].iloc[0]
        extra = f" ({row['n_replaced']:.1f} labels replaced per fold)" if "n_replaced" in row else ""
        text = f"α = {value:g} gives y′ its best {name}, {best:.4f}{extra}"
        base = summary.loc[summary["strategy"] == "y", metric]
        if len(base):
            text += f"; y has {float(base.iloc[0]):.4f}, a difference of {best - float(base.iloc[0]):+.4f}"
        return Feedback(True, text + ".")
    if any(close(value, a, 1e-9) for a in alphas):
        if close(value, _alpha_at(mitigated, metric, _worst), 1e-9):
            low, better = ("lowest", "higher") if _HIGHER[metric] else ("highest", "lower")
            return Feedback(
                False, f"α = {value:g} has the {low} {name} of the y′ rows: a {better} {name} is better."
            )
        for other in _HIGHER:
            if (
                other != metric
                and other in mitigated
                and close(value, _alpha_at(mitigated, other, _best), 1e-9)
            ):
                return Feedback(
                    False,
                    f"α = {value:g} is the best by {_NAMES[other]}; the exercise asks for the best {name}.",
                )
        score = float(mitigated.loc[np.isclose(alphas, value), metric].iloc[0])
        return Feedback(False, f"α = {value:g} gives {name} {score:.4f}; another α of y′ does better.")
    if close(value, best, 1e-6):
        return Feedback(False, f"That is the best {name} itself; the answer is the α of its row.")
    if float(value).is_integer() and int(value) in summary.index:
        return Feedback(
            False,
            "That looks like a row index (from idxmax): read the α of that row, summary.loc[index, 'alpha'].",
        )
    return Feedback(False, f"{value:g} is not an α of the y′ rows ({', '.join(f'{a:g}' for a in alphas)}).")


def check_best_strategy(answer: Any, runs: pd.DataFrame, *, metric: str = "pcc") -> Feedback:
    """Check which strategy has the best mean test ``metric`` over seeds in ``runs``.

    ``runs`` is the chapter's ``finetuned`` (``llmpathy.finetune_split``): one row per
    strategy and seed, with the test metrics. Each strategy's score is its mean over seeds;
    PCC and CCC are better high, RMSE low. Ties accept any tied strategy.

    Parameters
    ----------
    answer : the student's strategy name, ``"y"``, ``"y'"`` or ``"y_llm"`` (``y′`` is read as ``y'``).
    runs : the fine-tuning runs (``strategy`` and ``metric``).
    metric : ``pcc``, ``ccc`` or ``rmse``.

    Returns
    -------
    Feedback
        ✓ with the strategies' means, or ✗ with what is wrong (the worst strategy, the best
        by another metric, a number in place of a name).

    Examples
    --------
    >>> runs = pd.DataFrame({"strategy": ["y", "y", "y'", "y'", "y_llm", "y_llm"],
    ...                      "pcc": [0.30, 0.40, 0.38, 0.36, 0.20, 0.25], "rmse": [1.8, 1.7, 1.9, 1.9, 2.0, 2.1]})
    >>> check_best_strategy("y'", runs)
    ✓ y' has the best mean test PCC over 2 seeds: y' 0.3700, y 0.3500, y_llm 0.2250.
    >>> check_best_strategy("y", runs)
    ✗ y has the best RMSE; the exercise asks for the best PCC.
    """
    metric = _metric(metric)
    if (missing := no_answer(answer)) is not None:
        return missing
    if (wrong := _columns(runs, ["strategy", metric], "the runs table")) is not None:
        return wrong
    name = _NAMES[metric]
    means = runs.groupby("strategy", sort=False)[metric].mean()
    valid = ", ".join(f'"{s}"' for s in means.index)
    if not isinstance(answer, str):
        return Feedback(
            False, f"Give the strategy's name, one of {valid}, not {type(answer).__name__} {answer!r}."
        )
    given = answer.strip().replace("′", "'").replace("’", "'").split(" (")[0]
    if given not in means.index:
        return Feedback(False, f"{answer!r} is not a strategy of the table; valid: {valid}.")
    best = _best(means, metric)
    ranking = means.sort_values(ascending=not _HIGHER[metric])
    seeds = runs.groupby("strategy")[metric].size().max()
    if np.isclose(means[given], best, rtol=0, atol=1e-12):
        listed = ", ".join(f"{s} {v:.4f}" for s, v in ranking.items())
        return Feedback(
            True,
            f"{given} has the best mean test {name} over {seeds} seed{'s' if seeds != 1 else ''}: {listed}.",
        )
    if np.isclose(means[given], _worst(means, metric), rtol=0, atol=1e-12):
        better = "higher" if _HIGHER[metric] else "lower"
        return Feedback(
            False,
            f"{given} has the {'lowest' if _HIGHER[metric] else 'highest'} mean {name}: a {better} {name} is better.",
        )
    for other in _HIGHER:
        if other != metric and other in runs:
            other_means = runs.groupby("strategy", sort=False)[other].mean()
            if np.isclose(other_means[given], _best(other_means, other), rtol=0, atol=1e-12):
                return Feedback(
                    False, f"{given} has the best {_NAMES[other]}; the exercise asks for the best {name}."
                )
    return Feedback(
        False,
        f"{given} is not the best by mean test {name}: average each strategy over its seeds and compare.",
    )


# ---------------------------------------------------------------------------- Fairness


def _gap(
    table: pd.DataFrame, metric: str, strategy: str | None = None, attribute: str | None = None
) -> float:
    rows = table
    if strategy is not None:
        rows = rows[rows["strategy"] == strategy]
    if attribute is not None:
        rows = rows[rows["attribute"] == attribute]
    values = rows[metric].dropna()
    return float(values.max() - values.min()) if len(values) else float("nan")


def check_gap(
    answer: Any, table: pd.DataFrame, *, strategy: str = "y", attribute: str = "race", metric: str = "ccc"
) -> Feedback:
    """Check the fairness gap: best minus worst group ``metric`` of one attribute, for one strategy.

    The gap is ``max − min`` of ``metric`` over the groups of ``attribute`` in the rows of
    ``strategy`` (so it is ≥ 0 for every metric).

    Parameters
    ----------
    answer : the student's gap (a number ≥ 0).
    table : the per-group table of chapter *Demographic fairness* (``strategy, attribute, group`` and the metrics).
    strategy : the training labels (``y`` or ``y'``).
    attribute : the demographic attribute, e.g. ``race``.
    metric : ``pcc``, ``ccc`` or ``rmse``.

    Returns
    -------
    Feedback
        ✓ with the best and worst groups, or ✗ with what is wrong (the sign flipped, the
        other strategy, another metric, groups of every attribute or strategy pooled).

    Examples
    --------
    >>> t = pd.DataFrame({"strategy": ["y"] * 4 + ["y'"] * 4,
    ...                   "attribute": ["race", "race", "age", "age"] * 2,
    ...                   "group": ["g1", "g2", "young", "old"] * 2,
    ...                   "ccc": [0.3, 0.1, 0.4, 0.0, 0.25, 0.15, 0.3, 0.2], "pcc": 0.5})
    >>> check_gap(0.2, t)
    ✓ The CCC gap between the race groups under y is 0.200: g1 0.300, g2 0.100.
    >>> check_gap(0.4, t)
    ✗ You took the groups of every attribute; compare the race groups only (filter attribute == "race").
    """
    metric = _metric(metric)
    value = _read(answer, table, [*_PER_GROUP, metric], "the per-group table", "a gap between groups")
    if isinstance(value, Feedback):
        return value
    rows = table[(table["strategy"] == strategy) & (table["attribute"] == attribute)].dropna(subset=[metric])
    if len(rows) < 2:
        return Feedback(False, f"The table has fewer than two {attribute} groups under {strategy}.")
    name = _NAMES[metric]
    expected = _gap(table, metric, strategy, attribute)
    hints: list[tuple[float | None, str]] = [
        (-expected, "The sign is flipped: the gap is the best group minus the worst, so it is not negative."),
        (
            _gap(table, metric, None, attribute),
            f"You pooled the groups of every strategy; take the rows of {strategy} only.",
        ),
        (
            _gap(table, metric, strategy, None),
            f'You took the groups of every attribute; compare the {attribute} groups only (filter attribute == "{attribute}").',
        ),
        (float(rows[metric].max()), f"That is the best group's {name}; the gap is best minus worst."),
    ]
    for other in table["strategy"].unique():
        if other != strategy:
            hints.append(
                (
                    _gap(table, metric, other, attribute),
                    f"That is the gap under {other}; the exercise asks about {strategy}.",
                )
            )
    for other in _HIGHER:
        if other != metric and other in table:
            hints.append(
                (
                    _gap(table, other, strategy, attribute),
                    f"That is the {_NAMES[other]} gap; the exercise asks for the {name} gap.",
                )
            )
    if (hint := _first_hint(value, expected, hints, 1e-6)) is not None:
        return Feedback(False, hint)
    if close(value, expected, 1e-6):
        top, bottom = rows.loc[rows[metric].idxmax()], rows.loc[rows[metric].idxmin()]
        return Feedback(
            True,
            f"The {name} gap between the {attribute} groups under {strategy} is {expected:.3f}: "
            f"{top['group']} {top[metric]:.3f}, {bottom['group']} {bottom[metric]:.3f}.",
        )
    return Feedback(
        False,
        f"Not the gap: in the rows of {strategy} and {attribute}, take the largest {name} minus the smallest.",
    )


def check_gap_change(
    answer: Any,
    table: pd.DataFrame,
    *,
    attribute: str = "race",
    metric: str = "ccc",
    before: str = "y",
    after: str = "y'",
) -> Feedback:
    """Check how the fairness gap changes from ``before`` to ``after``: gap(after) − gap(before).

    Each gap is :func:`check_gap`'s (best minus worst group). Negative: training on
    ``after`` narrows the gap between the groups.

    Parameters
    ----------
    answer : the student's change in the gap.
    table : the per-group table of chapter *Demographic fairness*.
    attribute : the demographic attribute, e.g. ``race``.
    metric : ``pcc``, ``ccc`` or ``rmse``.
    before, after : the two strategies compared.

    Returns
    -------
    Feedback
        ✓ with both gaps, or ✗ with what is wrong (the sign flipped, one gap alone, the
        change of the groups' mean in place of the gap's, another metric).

    Examples
    --------
    >>> t = pd.DataFrame({"strategy": ["y", "y", "y'", "y'"], "attribute": "race",
    ...                   "group": ["g1", "g2", "g1", "g2"], "ccc": [0.3, 0.1, 0.25, 0.15]})
    >>> check_gap_change(-0.1, t)
    ✓ The CCC gap between the race groups goes from 0.200 under y to 0.100 under y' (-0.100): y' narrows it.
    >>> check_gap_change(0.1, t)
    ✗ The sign is flipped: the exercise asks for gap(y') − gap(y), negative when y' narrows the gap.
    """
    metric = _metric(metric)
    value = _read(answer, table, [*_PER_GROUP, metric], "the per-group table", "a change in the gap")
    if isinstance(value, Feedback):
        return value
    gap_before, gap_after = _gap(table, metric, before, attribute), _gap(table, metric, after, attribute)
    if math.isnan(gap_before) or math.isnan(gap_after):
        return Feedback(False, f"The table lacks {attribute} groups under {before} or {after}.")
    name = _NAMES[metric]
    expected = gap_after - gap_before

    def mean(strategy: str) -> float:
        rows = table[(table["strategy"] == strategy) & (table["attribute"] == attribute)]
        return float(rows[metric].mean())

    hints: list[tuple[float | None, str]] = [
        (
            -expected,
            f"The sign is flipped: the exercise asks for gap({after}) − gap({before}), negative when {after} narrows the gap.",
        ),
        (gap_after, f"That is the gap under {after} alone; subtract the gap under {before}."),
        (
            gap_before,
            f"That is the gap under {before} alone; the exercise asks for gap({after}) − gap({before}).",
        ),
        (
            mean(after) - mean(before),
            f"That is the change of the groups' mean {name}; the exercise asks for the change of the gap (best minus worst group).",
        ),
        (
            _gap(table, metric, after) - _gap(table, metric, before),
            f"You took the groups of every attribute; compare the {attribute} groups only.",
        ),
    ]
    for other in _HIGHER:
        if other != metric and other in table:
            hints.append(
                (
                    _gap(table, other, after, attribute) - _gap(table, other, before, attribute),
                    f"That is the change of the {_NAMES[other]} gap; the exercise asks about {name}.",
                )
            )
    if (hint := _first_hint(value, expected, hints, 1e-6)) is not None:
        return Feedback(False, hint)
    if close(value, expected, 1e-6):
        verb = "narrows" if expected < 0 else "widens" if expected > 0 else "leaves"
        return Feedback(
            True,
            f"The {name} gap between the {attribute} groups goes from {gap_before:.3f} under {before} to "
            f"{gap_after:.3f} under {after} ({expected:+.3f}): {after} {verb} it.",
        )
    return Feedback(
        False,
        f"Not the change: compute the {attribute} gap (best minus worst group) under {after} and under {before}, then subtract.",
    )


# ------------------------------------------------------------------------------ Rerun


def check_finetune_runs(answer: Any, training: Any) -> Feedback:
    """Check how many fine-tunings ``finetune_cv`` runs for a profile's training settings.

    :func:`empathylab.llmpathy.cv.finetune_cv` fine-tunes once per configuration, seed and
    fold: the configurations are the ``finetune_strategies``, with y′ once per α of
    ``alphas``; the seeds are ``seeds`` (``finetune_seeds`` are those of the fixed split).

    Parameters
    ----------
    answer : the student's count of runs.
    training : the profile's ``llmpathy.training`` settings (or the profile itself).

    Returns
    -------
    Feedback
        ✓ with the count's factors, or ✗ with what is wrong (y′ counted once, the seeds or
        folds left out, the fixed split's runs, ``finetune_seeds`` in place of ``seeds``).

    Examples
    --------
    >>> from empathylab.profiles import load_profile
    >>> t = load_profile("demo").llmpathy.training
    >>> check_finetune_runs(len(t.seeds) * t.folds * (2 + len(t.alphas)), t)
    ✓ 700 fine-tunings: 14 configurations (y′ once per α) × 5 seeds × 10 folds.
    >>> check_finetune_runs(3 * len(t.seeds) * t.folds, t)
    ✗ You counted y′ once: it is fine-tuned once per α of the grid (12 values).
    """
    if (missing := no_answer(answer)) is not None:
        return missing
    if hasattr(training, "llmpathy"):
        training = training.llmpathy.training
    if not all(hasattr(training, a) for a in ("seeds", "folds", "alphas", "finetune_strategies")):
        return Feedback(
            False,
            "The check needs the profile's training settings, e.g. load_profile('paper').llmpathy.training.",
        )
    value = _number(answer, "a number of runs")
    if isinstance(value, Feedback):
        return value
    strategies = list(training.finetune_strategies)
    configurations = sum(len(training.alphas) if s == "y'" else 1 for s in strategies)
    seeds, folds = len(training.seeds), training.folds
    expected = configurations * seeds * folds
    if close(value, expected, 1e-9):
        note = " (y′ once per α)" if "y'" in strategies else ""
        return Feedback(
            True,
            f"{expected:,} fine-tunings: {configurations} configurations"
            f"{note} × {seeds} seeds × {folds} folds.",
        )
    hints: list[tuple[float | None, str]] = [
        (
            len(strategies) * seeds * folds,
            f"You counted y′ once: it is fine-tuned once per α of the grid ({len(training.alphas)} values).",
        ),
        (
            len(strategies) * len(training.finetune_seeds),
            "That is finetune_split's count (one fixed split); finetune_cv runs every configuration in every fold of every seed.",
        ),
        (
            configurations * folds,
            "You left out the seeds: the folds are drawn anew for every seed of seeds "
            "(finetune_seeds are those of the fixed split).",
        ),
        (
            configurations * len(training.finetune_seeds) * folds,
            "finetune_cv repeats the folds with the profile's seeds, not its finetune_seeds.",
        ),
        (
            configurations * seeds,
            "You left out the folds: every configuration and seed is fine-tuned once per fold.",
        ),
        (configurations, "That is the number of configurations; each is fine-tuned once per seed and fold."),
        (
            len(strategies) * seeds * folds * len(training.alphas),
            "You multiplied every strategy by the α grid; only y′ has an α (y and y_llm run once per seed and fold).",
        ),
    ]
    if (hint := _first_hint(value, expected, hints, 1e-9)) is not None:
        return Feedback(False, hint)
    return Feedback(False, "Not the count: (configurations) × (seeds) × (folds), with y′ counted once per α.")
