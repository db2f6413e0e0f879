"""One look for every table of the book.

Every chapter shows its tables through :func:`table`, so a number prints the same way on
every page: no row index, floats at a fixed number of decimals, counts and other whole
numbers with a thousands separator, p-values as :func:`empathylab.verdicts.format_p`
writes them, a dash where a value is missing and timestamps to the second.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from empathylab.verdicts import format_p

__all__ = ["COUNT_COLUMNS", "LEADING", "WIDE", "table", "is_identifier"]

#: Columns that hold counts, or means of counts over folds and seeds (besides ``n`` and
#: every ``n_...`` column): :func:`table` prints them as whole numbers.
COUNT_COLUMNS = frozenset({"n", "seeds", "epochs", "kept_epoch", "attempts", "essays", "folds"})

#: The columns a wide table shows first, in this order, right after its identifying
#: columns (the text columns it starts with: model, grouping, variation, ...): δ or the
#: estimate in its place, its interval, and its p-values.
LEADING = (
    "delta",
    "delta_diff",
    "estimate",
    "coef",
    "gap",
    "ci_low",
    "ci_high",
    "diff_ci_low",
    "diff_ci_high",
    "null_low",
    "null_high",
    "p",
    "p_perm",
    "p_t",
    "p_holm",
)

#: A table with more columns than this is wide: its ``LEADING`` columns move forward.
WIDE = 8

#: What :func:`table` shows for a missing value.
MISSING = "–"


def _name(column: Any) -> str:
    """The name of a column: the column itself, or the last level of a column tuple."""
    return str(column[-1] if isinstance(column, tuple) else column)


def _is_count(column: Any) -> bool:
    """Whether a column (a name, or the last level of a column tuple) holds counts.

    >>> [_is_count(c) for c in ("n", "n_train", "delta_n_items", ("ours", "seeds"), "pcc", "alpha")]
    [True, True, True, True, False, False]
    """
    name = _name(column)
    return name in COUNT_COLUMNS or name.startswith("n_") or name.endswith("_n") or "_n_" in name


def _is_p(column: Any) -> bool:
    """Whether a column holds p-values: ``p``, ``p_...`` or ``..._p``.

    >>> [_is_p(c) for c in ("p", "p_perm", "narrative_p", "mean_p_valid", "pcc")]
    [True, True, True, False, False]
    """
    name = _name(column)
    return name == "p" or name.startswith("p_") or name.endswith("_p")


def is_identifier(column: Any) -> bool:
    """Whether a column holds identifiers (``id``, ``..._id``, ``seed``): printed as they are.

    An identifier is a name, not a quantity, so it gets no thousands separator.

    >>> [is_identifier(c) for c in ("item_id", "seed", "seeds", "n")]
    [True, True, False, False]
    """
    name = _name(column)
    return name in ("id", "seed") or name.endswith("_id")


def _p_text(p: Any) -> str:
    """A p-value as a table cell: ``0.012``, ``< 0.001``, or a dash when missing.

    >>> _p_text(0.0123), _p_text(2.55e-09), _p_text(float("nan"))
    ('0.012', '< 0.001', '–')
    """
    if pd.isna(p):
        return MISSING
    return format_p(float(p)).removeprefix("p = ").removeprefix("p ")


def _without_index(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a meaningful index (named, or not integers) turned into columns.

    A crossed table (an index name and a name for the columns) names its first column
    after both, rows first: ``writer \\ reader``.
    """
    index = frame.index
    named = any(name is not None for name in index.names)
    if not named and pd.api.types.is_integer_dtype(index.dtype):
        return frame
    across = frame.columns.name if frame.columns.nlevels == 1 else None
    shown = frame.reset_index()
    if across is not None and index.nlevels == 1 and index.name is not None:
        shown = shown.rename(columns={index.name: f"{index.name} \\ {across}"})
    return shown


def _ordered(frame: pd.DataFrame, first: Sequence[str] | None) -> pd.DataFrame:
    """``frame`` with the ``first`` columns right after its identifying (leading text) columns.

    ``first`` None: those of ``LEADING`` the frame has, if it has more than ``WIDE``
    columns; otherwise the order is kept.
    """
    if first is None:
        first = LEADING if len(frame.columns) > WIDE else ()
    lead = [c for c in first if c in frame.columns]
    if not lead:
        return frame
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    start = numeric.index(True) if True in numeric else len(frame.columns)
    keys = [c for c in frame.columns[:start] if c not in lead]
    rest = [c for c in frame.columns if c not in lead and c not in keys]
    return frame[keys + lead + rest]


def table(frame: pd.DataFrame, precision: int = 3, first: Sequence[str] | None = None) -> Any:
    """Return ``frame`` styled for the book, as every chapter shows a table.

    A meaningful index (named, or not integers) becomes columns; the index itself is not
    shown. Floats print at ``precision`` decimals; counts (``n``, ``n_...`` and the names
    in ``COUNT_COLUMNS``) as whole numbers with a thousands separator, also where they
    are means over folds (1,649.7 prints as 1,650), and so does every other whole
    number (5,330,050), except identifiers (:func:`is_identifier`). A missing value
    prints as a dash, a p-value column (``p``, ``p_...``, ``..._p``) as
    :func:`empathylab.verdicts.format_p` writes it (never 0.000), a timestamp to the
    second. In a wide table (more than ``WIDE`` columns) the columns in ``LEADING`` (δ,
    its interval, p) come right after the identifying text columns; ``first`` names
    other columns to put there (``first=()`` keeps the order).

    Returns
    -------
    pandas.io.formats.style.Styler
        The styled table; as a cell's last expression, it is the table the page shows.

    >>> frame = pd.DataFrame({"strategy": ["y", "y'"], "n_train": [1305.0, 1649.7],
    ...                       "alpha": [None, 4.5], "p": [2.55e-09, 0.0123], "prompts": [5330050, 12]})
    >>> print(table(frame).to_string())
    strategy n_train alpha p prompts
    y 1,305 – < 0.001 5,330,050
    y' 1,650 4.500 0.012 12
    <BLANKLINE>
    """
    shown = _ordered(_without_index(frame), first)
    columns = list(shown.columns)

    def numeric(column: Any) -> bool:
        dtype = shown[column].dtype
        return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)

    counts = [c for c in columns if _is_count(c) and numeric(c)]
    pvalues = [c for c in columns if _is_p(c) and numeric(c) and c not in counts]
    ids = [c for c in columns if is_identifier(c) and numeric(c)]
    times = [c for c in columns if pd.api.types.is_datetime64_any_dtype(shown[c].dtype)]
    styled = shown.style.hide(axis="index").format(precision=precision, na_rep=MISSING, thousands=",")
    if counts:
        styled = styled.format("{:,.0f}", subset=counts, na_rep=MISSING)
    if pvalues:
        styled = styled.format(_p_text, subset=pvalues)
    if ids:
        styled = styled.format("{}", subset=ids, na_rep=MISSING)
    if times:
        styled = styled.format(
            lambda t: t.strftime("%Y-%m-%d %H:%M:%S %Z").strip(), subset=times, na_rep=MISSING
        )
    return styled
