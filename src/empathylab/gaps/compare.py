"""Do the paper's readout and ours tell the same story? One table per pair of readouts.

The paper reads the intensity from greedy text (the ``generate`` readout, up to 128 new
tokens, then its reading rules); we also read the expected value of the model's answer
distribution (``distribution``). :func:`compare_readouts` puts the two side by side on
the same prompts: how often the text gives no usable answer, how closely the cell means
and the single answers agree, and δ with its permutation verdict under each.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from empathylab import gaps
from empathylab.errors import EmpathylabError

__all__ = ["compare_readouts"]

_CELL = ["perceiver", "experiencer", "item_id"]
_NEEDED = ("model", "readout", "grouping", "variation", *_CELL, "intensity", "status")


def _delta(rows: pd.DataFrame, n_permutations: int, seed: int) -> dict[str, Any]:
    """δ and its permutation verdict, or NaN and the reason when it cannot be computed."""
    try:
        [run] = gaps.analyze(rows, n_permutations=n_permutations, seed=seed, n_boot=0, mixed=False)
    except EmpathylabError as exc:
        return {"delta": float("nan"), "significant": None, "n_items": 0, "why": str(exc)}
    return {
        "delta": run["delta"],
        "significant": run["significant"],
        "n_items": run["delta_n_items"],
        "why": "",
    }


def compare_readouts(
    results: pd.DataFrame,
    first: str = "generate",
    second: str = "distribution",
    *,
    n_permutations: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Compare two readouts of the same prompts, per model × grouping × variation.

    Parameters
    ----------
    results : pandas.DataFrame
        Result rows (:func:`empathylab.gaps.rows.read_results`) holding both readouts for
        at least one (model, grouping, variation); other runs are ignored.
    first, second : str
        The two readouts (default: the paper's ``generate`` and our ``distribution``).
    n_permutations, seed : int
        For the permutation test of δ under each readout.

    Returns
    -------
    table : pandas.DataFrame
        One row per (model, grouping, variation) answered under both readouts, with:

        * ``n_prompts``: prompts answered under both.
        * ``share_ok_<first>``, ``share_ok_<second>``: shares of usable answers
          (the distribution readout always gives one).
        * ``r_prompts``: Pearson r of the two intensities over the prompts usable under
          both; ``mean_abs_diff``: their mean absolute difference (scale units).
        * ``r_cells``: Pearson r of the perceiver × experiencer cell means, each cell
          averaged over the narratives usable under both readouts.
        * ``delta_<readout>``, ``significant_<readout>``, ``n_items_<readout>``: δ (the
          paper's, on each readout's own matrix), its permutation verdict and the
          narratives kept; NaN and ``why_<readout>`` when no narrative is complete.
        * ``same_sign``: both δ computed and of the same sign.

    Examples
    --------
    >>> a = gaps.simulate_results("religion", n_items=12, effect=5.0, seed=0)
    >>> b = a.assign(readout="distribution", intensity=a.intensity + 1.0)
    >>> table = compare_readouts(pd.concat([a, b]), n_permutations=200)
    >>> round(float(table.r_cells.iloc[0]), 6), float(table.mean_abs_diff.iloc[0])
    (1.0, 1.0)
    >>> bool(table.same_sign.iloc[0])
    True
    """
    missing = [c for c in _NEEDED if c not in results.columns]
    if missing:
        raise EmpathylabError(
            f"compare_readouts needs column(s) {', '.join(missing)}; "
            f"the results have {', '.join(map(str, results.columns)) or 'none'}."
        )
    if first == second:
        raise EmpathylabError(f"compare_readouts needs two different readouts, not {first!r} twice.")
    have = set(map(str, results["readout"].unique()))
    missing = [r for r in (first, second) if r not in have]
    if missing:
        raise EmpathylabError(
            f"compare_readouts: no rows with readout {', '.join(missing)}; "
            f"the results hold {', '.join(sorted(have)) or 'none'}."
        )
    rows = []
    for (model, grouping, variation), part in results.groupby(["model", "grouping", "variation"], sort=False):
        a = part[part["readout"] == first]
        b = part[part["readout"] == second]
        if a.empty or b.empty:
            continue
        both = a[_CELL + ["intensity", "status"]].merge(
            b[_CELL + ["intensity", "status"]], on=_CELL, suffixes=("_a", "_b")
        )
        if both.empty:
            continue
        usable = both["intensity_a"].notna() & both["intensity_b"].notna()
        x, y = both.loc[usable, "intensity_a"], both.loc[usable, "intensity_b"]
        cells = both[usable].groupby(["perceiver", "experiencer"])[["intensity_a", "intensity_b"]].mean()
        entry: dict[str, Any] = {
            "model": model,
            "grouping": grouping,
            "variation": variation,
            "n_prompts": len(both),
            f"share_ok_{first}": float(both["status_a"].eq("ok").mean()),
            f"share_ok_{second}": float(both["status_b"].eq("ok").mean()),
            "r_prompts": float(x.corr(y)) if len(x) > 2 else float("nan"),
            "mean_abs_diff": float((x - y).abs().mean()) if len(x) else float("nan"),
            "r_cells": (
                float(cells["intensity_a"].corr(cells["intensity_b"])) if len(cells) > 2 else float("nan")
            ),
        }
        deltas = {}
        for name, frame in ((first, a), (second, b)):
            found = _delta(frame.merge(both[_CELL], on=_CELL), n_permutations, seed)
            deltas[name] = found["delta"]
            entry[f"delta_{name}"] = found["delta"]
            entry[f"significant_{name}"] = found["significant"]
            entry[f"n_items_{name}"] = found["n_items"]
            entry[f"why_{name}"] = found["why"]
        d1, d2 = deltas[first], deltas[second]
        entry["same_sign"] = bool(np.isfinite(d1) and np.isfinite(d2) and np.sign(d1) == np.sign(d2))
        rows.append(entry)
    if not rows:
        raise EmpathylabError(
            f"compare_readouts: no (model, grouping, variation) holds both {first} and {second} "
            "answers to the same prompts."
        )
    return pd.DataFrame(rows)
