"""Tables and short texts for Part II's chapters."""

from __future__ import annotations

from typing import Any

import pandas as pd

from empathylab.errors import EmpathylabError
from empathylab.verdicts import format_p

__all__ = ["alpha_span", "table", "verdict_table"]


def alpha_span(rows: pd.DataFrame) -> str:
    """Return the range of ``alpha`` in ``rows`` as text: ``"0.51"`` or ``"0.30–0.40"``.

    >>> alpha_span(pd.DataFrame({"alpha": [0.301, 0.404]})), alpha_span(pd.DataFrame({"alpha": [0.5]}))
    ('0.30–0.40', '0.50')
    """
    low, high = f"{rows['alpha'].min():.2f}", f"{rows['alpha'].max():.2f}"
    return low if low == high else f"{low}–{high}"


#: Columns that hold counts, or means of counts over folds and seeds (besides ``n`` and
#: every ``n_...`` column): ``table`` prints them as whole numbers.
COUNT_COLUMNS = frozenset({"n", "seeds", "epochs", "kept_epoch", "attempts", "essays", "folds"})


def _is_count(column: Any) -> bool:
    """Whether a column (a name, or the last level of a column tuple) holds counts.

    >>> [_is_count(c) for c in ("n", "n_train", "delta_n_items", ("ours", "seeds"), "pcc", "alpha")]
    [True, True, True, True, False, False]
    """
    name = str(column[-1] if isinstance(column, tuple) else column)
    return name in COUNT_COLUMNS or name.startswith("n_") or name.endswith("_n") or "_n_" in name


def table(frame: pd.DataFrame, precision: int = 3) -> Any:
    """Return ``frame`` styled for the book: no index, floats at ``precision`` decimals.

    Counts (``n``, ``n_...`` and the names in ``COUNT_COLUMNS``) print as whole numbers
    with a thousands separator, also where they are means over folds: 1,649.7 labels
    replaced per fold on average prints as 1,650.

    >>> frame = pd.DataFrame({"strategy": ["y", "y'"], "n_train": [1305.0, 1649.7],
    ...                       "alpha": [None, 4.5], "pcc": [0.34712, 0.3], "seeds": [5, 5]})
    >>> print(table(frame).to_string())
    strategy n_train alpha pcc seeds
    y 1,305 – 0.347 5
    y' 1,650 4.500 0.300 5
    <BLANKLINE>
    """
    counts = [
        c
        for c in frame.columns
        if _is_count(c)
        and pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
    ]
    styled = frame.style.hide(axis="index").format(precision=precision, na_rep="–", thousands=",")
    return styled.format("{:,.0f}", subset=counts, na_rep="–") if counts else styled


def verdict_table(tests: pd.DataFrame) -> pd.DataFrame:
    """Return :func:`~empathylab.llmpathy.corrected_tests`' rows as a reader reads them.

    Columns: ``configuration`` (strategy, with α for y′), ``test`` (the method in
    words), ``n`` (paired folds, or seeds on one split), ``difference`` (configuration
    minus baseline), ``95 % CI`` and ``p`` as text (:func:`empathylab.verdicts.format_p`,
    so never "0.000"), and ``verdict``.

    >>> tests = pd.DataFrame({"strategy": ["y_llm"], "alpha": [float("nan")], "method": ["corrected"],
    ...     "n": [50], "mean_diff": [-0.031], "ci_low": [-0.05], "ci_high": [-0.012], "p": [0.00002],
    ...     "verdict": ["worse"]})
    >>> verdict_table(tests).to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'configuration': 'y_llm', 'test': 'corrected', 'n': 50, 'difference': -0.031,
      '95 % CI': '−0.050 to −0.012', 'p': '< 0.001', 'verdict': 'worse'}]
    """
    needed = ["strategy", "alpha", "method", "n", "mean_diff", "ci_low", "ci_high", "p", "verdict"]
    missing = [c for c in needed if c not in tests.columns]
    if missing:
        raise EmpathylabError(f"verdict_table needs corrected_tests' columns; missing {', '.join(missing)}.")

    def signed(value: float) -> str:
        return f"{value:+.3f}".replace("-", "−")

    def interval(low: float, high: float) -> str:
        return "–" if pd.isna(low) or pd.isna(high) else f"{signed(low)} to {signed(high)}"

    def p_text(p: float) -> str:
        return "–" if pd.isna(p) else format_p(p).removeprefix("p = ").removeprefix("p ")

    return pd.DataFrame(
        {
            "configuration": [
                s if pd.isna(a) else f"{s} (α = {a:g})"
                for s, a in zip(tests["strategy"], tests["alpha"], strict=True)
            ],
            "test": tests["method"].to_list(),
            "n": tests["n"].to_list(),
            "difference": tests["mean_diff"].to_list(),
            "95 % CI": [interval(lo, hi) for lo, hi in zip(tests["ci_low"], tests["ci_high"], strict=True)],
            "p": [p_text(p) for p in tests["p"]],
            "verdict": tests["verdict"].to_list(),
        }
    )
