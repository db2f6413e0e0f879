"""Tables and short texts for Part II's chapters."""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["alpha_span", "table"]


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
