"""Synthetic Part I results with a planted in-group effect, for examples and tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from empathylab.errors import EmpathylabError
from empathylab.gaps import design
from empathylab.gaps.matrices import in_group

__all__ = ["simulate_results", "simulate_cells"]


def simulate_cells(
    grouping: str = "religion",
    n_items: int = 12,
    effect: float = 0.0,
    *,
    identities: list[str] | None = None,
    item_sd: float = 10.0,
    noise_sd: float = 5.0,
    missing: float = 0.0,
    gap_sd: float = 0.0,
    identity_sd: float = 0.0,
    experiencer_effects: dict[str, float] | None = None,
    rng: np.random.Generator | int = 0,
) -> tuple[list[str], np.ndarray]:
    """Return ``(ids, cells)``: synthetic intensities as an array (narrative, perceiver, experiencer).

    The generator of :func:`simulate_results` without the table around it, for simulations
    that repeat a run thousands of times (:mod:`empathylab.gaps.calibration`). ``ids`` are
    ``identities`` (default: every identity of the grouping, the baseline first) and
    ``cells[k, i, j]`` the intensity of narrative k for perceiver i and experiencer j, NaN
    for a refusal. ``rng`` is a generator or a seed. See :func:`simulate_results` for the
    model.

    >>> ids, cells = simulate_cells("religion", n_items=3, effect=5.0, rng=1)
    >>> cells.shape, ids[0]
    ((3, 6, 6), 'a person')
    """
    ids = design.select_identities(grouping, identities)  # design order; an unknown one: a clear error
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    n = len(ids)
    inside = in_group(ids, grouping)[None, :, :]
    cells = (
        50.0
        + rng.normal(0.0, item_sd, n_items)[:, None, None]
        + effect * inside
        + rng.normal(0.0, noise_sd, (n_items, n, n))
    )
    refused = rng.random((n_items, n, n)) < missing
    if gap_sd:
        cells = cells + rng.normal(0.0, gap_sd, n_items)[:, None, None] * inside
    if identity_sd:
        cells = (
            cells
            + rng.normal(0.0, identity_sd, n)[None, :, None]
            + rng.normal(0.0, identity_sd, n)[None, None, :]
        )
    if experiencer_effects:
        unknown = sorted(set(experiencer_effects) - set(ids))
        if unknown:
            raise EmpathylabError(
                f"experiencer_effects names identities not in the {grouping} run: "
                f"{', '.join(map(repr, unknown))}; valid: {', '.join(ids)}."
            )
        cells = cells + np.array([float(experiencer_effects.get(i, 0.0)) for i in ids])[None, None, :]
    return ids, np.where(refused, np.nan, cells)


def simulate_results(
    grouping: str = "religion",
    n_items: int = 12,
    effect: float = 0.0,
    *,
    identities: list[str] | None = None,
    item_sd: float = 10.0,
    noise_sd: float = 5.0,
    missing: float = 0.0,
    gap_sd: float = 0.0,
    identity_sd: float = 0.0,
    experiencer_effects: dict[str, float] | None = None,
    seed: int = 0,
    model: str = "synthetic",
    readout: str = "generate",
    variation: str = "origin",
) -> pd.DataFrame:
    """Return synthetic result rows (the store's columns) for examples and tests.

    ``intensity = 50 + item effect + (effect + gap_k) × in-group + identity effects +
    noise``, with item effects ~ N(0, item_sd), noise ~ N(0, noise_sd) and, per narrative
    k, a deviation of its gap ``gap_k`` ~ N(0, gap_sd): the in-group effect varies between
    narratives, as it does in real runs, so a test that treats every cell of every
    narrative as independent evidence is caught out. ``identity_sd`` draws a main effect
    per perceiver and per experiencer (N(0, identity_sd), no in-group effect);
    ``experiencer_effects`` adds a fixed effect per experiencer label (e.g. one per race,
    given for each of its surface forms). The baseline's cells get no in-group effect. A
    share ``missing`` of the rows (at random) are refusals (NaN intensity). Narratives are
    numbered 0..n_items-1 and cycle through the 12 emotions. ``identities`` restricts the
    run to a subset (default: all of the grouping's). The draws of the first four terms
    do not depend on the later options, so adding them keeps the rest of a run.

    Examples
    --------
    >>> rows = simulate_results("ethnicity", n_items=2)
    >>> len(rows), rows.perceiver.nunique()
    (722, 19)
    >>> varied = simulate_results("religion", n_items=3, gap_sd=4.0, seed=1)
    >>> same = simulate_results("religion", n_items=3, seed=1)
    >>> bool((varied.intensity != same.intensity).any()), bool(varied.item_id.equals(same.item_id))
    (True, True)
    """
    from empathylab.data import EMOTIONS
    from empathylab.gaps.rows import COLUMNS

    ids, cells = simulate_cells(
        grouping,
        n_items,
        effect,
        identities=identities,
        item_sd=item_sd,
        noise_sd=noise_sd,
        missing=missing,
        gap_sd=gap_sd,
        identity_sd=identity_sd,
        experiencer_effects=experiencer_effects,
        rng=seed,
    )
    n = len(ids)
    item = np.repeat(np.arange(n_items), n * n)
    p = np.tile(np.repeat(np.arange(n), n), n_items)
    e = np.tile(np.tile(np.arange(n), n), n_items)
    intensity = cells.ravel()
    refused = np.isnan(intensity)
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
