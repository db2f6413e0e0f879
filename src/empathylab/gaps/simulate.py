"""Synthetic Part I results with a planted in-group effect, for examples and tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from empathylab.gaps import design
from empathylab.gaps.matrices import in_group

__all__ = ["simulate_results"]


def simulate_results(
    grouping: str = "religion",
    n_items: int = 12,
    effect: float = 0.0,
    *,
    item_sd: float = 10.0,
    noise_sd: float = 5.0,
    missing: float = 0.0,
    seed: int = 0,
    model: str = "synthetic",
    readout: str = "generate",
    variation: str = "origin",
) -> pd.DataFrame:
    """Return synthetic result rows (the store's columns) for examples and tests.

    ``intensity = 50 + item effect + effect × in-group + noise``, with item effects
    ~ N(0, item_sd) and noise ~ N(0, noise_sd); the baseline's cells get no in-group
    effect. A share ``missing`` of the rows (at random) are refusals (NaN intensity).
    Narratives are numbered 0..n_items-1 and cycle through the 12 emotions.

    Examples
    --------
    >>> rows = simulate_results("ethnicity", n_items=2)
    >>> len(rows), rows.perceiver.nunique()
    (722, 19)
    """
    from empathylab.data import EMOTIONS
    from empathylab.gaps.rows import COLUMNS

    ids = design.identities(grouping)
    rng = np.random.default_rng(seed)
    n = len(ids)
    item = np.repeat(np.arange(n_items), n * n)
    p = np.tile(np.repeat(np.arange(n), n), n_items)
    e = np.tile(np.tile(np.arange(n), n), n_items)
    inside = in_group(ids, grouping)[p, e]
    intensity = (
        50.0
        + rng.normal(0.0, item_sd, n_items)[item]
        + effect * inside
        + rng.normal(0.0, noise_sd, len(item))
    )
    refused = rng.random(len(item)) < missing
    intensity = np.where(refused, np.nan, intensity)
    perceivers, experiencers = np.array(ids, dtype=object)[p], np.array(ids, dtype=object)[e]
    frame = pd.DataFrame(
        {
            "prompt_id": [
                design.prompt_id(variation, grouping, a, b, int(k))
                for a, b, k in zip(perceivers, experiencers, item)
            ],
            "model": model,
            "backend": "synthetic",
            "variation": variation,
            "grouping": grouping,
            "perceiver": perceivers,
            "experiencer": experiencers,
            "emotion": np.array(EMOTIONS, dtype=object)[item % len(EMOTIONS)],
            "item_id": item.astype(np.int64),
            "readout": readout,
            "intensity": intensity,
            "status": np.where(refused, "refusal", "ok"),
            "response": None,
            "p_valid": np.nan,
            "argmax": np.nan,
        }
    )
    return frame[list(COLUMNS)]
