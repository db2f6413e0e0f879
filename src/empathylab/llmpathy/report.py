"""Tables and short texts for Part II's chapters.

The tables are shown with :func:`empathylab.tables.table`, the one look of every table
of the book (``llmpathy.table`` is that function).
"""

from __future__ import annotations

import pandas as pd

from empathylab.errors import EmpathylabError
from empathylab.verdicts import format_p

__all__ = ["alpha_span", "verdict_table"]


def alpha_span(rows: pd.DataFrame) -> str:
    """Return the range of ``alpha`` in ``rows`` as text: ``"0.51"`` or ``"0.30–0.40"``.

    >>> alpha_span(pd.DataFrame({"alpha": [0.301, 0.404]})), alpha_span(pd.DataFrame({"alpha": [0.5]}))
    ('0.30–0.40', '0.50')
    """
    low, high = f"{rows['alpha'].min():.2f}", f"{rows['alpha'].max():.2f}"
    return low if low == high else f"{low}–{high}"


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
