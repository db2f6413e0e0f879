"""Numbers as prose, for the chapters of both parts: one value, or each value with its model."""

from __future__ import annotations

import pandas as pd

__all__ = ["by_model"]


def by_model(values: pd.Series, fmt: str = "{:.1%}") -> str:
    """Return a series indexed by model as prose: the value alone for one model, else each with its model.

    >>> by_model(pd.Series({"m1": 0.5}))
    '50.0%'
    >>> by_model(pd.Series({"m1": 0.5, "m2": 0.25, "m3": 1.0}))
    '50.0% for m1, 25.0% for m2 and 100.0% for m3'
    """
    said = [(fmt.format(v), str(k)) for k, v in values.items()]
    if len(said) == 1:
        return said[0][0]
    parts = [f"{v} for {k}" for v, k in said]
    return ", ".join(parts[:-1]) + " and " + parts[-1]
