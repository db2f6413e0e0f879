"""Seeded splits of essays that keep every writer on one side.

Several essays in the NewsEmp data come from the same person (``writer_id``); a writer
on both sides of a split leaks their style into the test set. Both functions here
assign whole writers, deterministically from a seed.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

__all__ = ["grouped_folds", "holdout_split", "fold_indices"]


def _check(frame: pd.DataFrame, group: str) -> pd.Series:
    if group not in frame.columns:
        raise ValueError(f"no column {group!r} to group by; found {', '.join(map(str, frame.columns))}.")
    groups = frame[group]
    if groups.isna().any():
        raise ValueError(f"column {group!r} has {int(groups.isna().sum())} missing value(s).")
    return groups.astype(str)


def grouped_folds(frame: pd.DataFrame, k: int = 10, *, seed: int = 0, group: str = "writer_id") -> pd.Series:
    """Return the fold (0..k-1) of every row, with all rows of a group in one fold.

    Groups are shuffled with ``seed`` and each goes to the fold holding the fewest rows
    so far, so folds differ in size by at most the largest group.

    Returns
    -------
    Series
        Integer fold numbers, indexed like ``frame``.

    Examples
    --------
    >>> t = pd.DataFrame({"writer_id": list("aabbccddee")})
    >>> folds = grouped_folds(t, 5, seed=1)
    >>> t.assign(fold=folds).groupby("writer_id")["fold"].nunique().max().item()
    1
    >>> sorted(folds.value_counts().tolist())
    [2, 2, 2, 2, 2]
    """
    groups = _check(frame, group)
    sizes = groups.value_counts(sort=False)
    if k < 2 or k > len(sizes):
        raise ValueError(f"k must be between 2 and the number of writers ({len(sizes)}), got {k}.")
    order = np.random.default_rng(seed).permutation(len(sizes))
    load = np.zeros(k, dtype=int)
    assigned: dict[str, int] = {}
    for name, size in zip(sizes.index[order], sizes.to_numpy()[order], strict=True):
        fold = int(np.argmin(load))
        assigned[name] = fold
        load[fold] += size
    return groups.map(assigned).astype(int).rename("fold")


def fold_indices(folds: pd.Series) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield ``(fold, train_positions, test_positions)`` for each fold in order.

    >>> [(f, tr.tolist(), te.tolist()) for f, tr, te in fold_indices(pd.Series([0, 1, 0]))]
    [(0, [1], [0, 2]), (1, [0, 2], [1])]
    """
    values = folds.to_numpy()
    for fold in np.unique(values):
        yield int(fold), np.flatnonzero(values != fold), np.flatnonzero(values == fold)


def holdout_split(
    frame: pd.DataFrame,
    *,
    valid: float = 0.1,
    test: float = 0.2,
    seed: int = 0,
    group: str = "writer_id",
) -> pd.Series:
    """Return ``"train"``, ``"valid"`` or ``"test"`` for every row, whole writers at a time.

    Writers are shuffled with ``seed``; the first take ``test`` of the rows, the next
    ``valid``, the rest is training data.

    Examples
    --------
    >>> t = pd.DataFrame({"writer_id": [str(i // 2) for i in range(20)]})
    >>> split = holdout_split(t, valid=0.2, test=0.2, seed=0)
    >>> split.value_counts().sort_index().to_dict()
    {'test': 4, 'train': 12, 'valid': 4}
    >>> t.assign(split=split).groupby("writer_id")["split"].nunique().max().item()
    1
    """
    if not (0 <= valid < 1 and 0 < test < 1 and valid + test < 1):
        raise ValueError(f"valid and test must be shares in [0, 1) summing below 1; got {valid}, {test}.")
    groups = _check(frame, group)
    sizes = groups.value_counts(sort=False)
    order = np.random.default_rng(seed).permutation(len(sizes))
    cumulative = np.cumsum(sizes.to_numpy()[order]) / len(frame)
    names = np.where(
        cumulative <= test + 1e-9, "test", np.where(cumulative <= test + valid + 1e-9, "valid", "train")
    )
    return groups.map(dict(zip(sizes.index[order], names, strict=True))).rename("split")
