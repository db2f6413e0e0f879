"""Demographic fairness: regressor metrics per group of writers (Hasan et al., NewsEmp24).

The public essays carry no demographics, so the demo build draws synthetic groups at
random per writer: a chance-only reference for reading real per-group results. With
the reader's NewsEmp24 files (profile ``llmpathy.newsemp``), :func:`run` uses their
real demographics.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from empathylab import llmpathy, metrics
from empathylab.llmpathy import newsemp
from empathylab.profiles import Profile, load_profile

__all__ = ["SYNTHETIC_GROUPS", "synthetic_demographics", "group_table", "run"]


#: Synthetic demographic groups for the demo's fairness chapter: made-up labels,
#: assigned at random per writer, so any difference between them is noise.
SYNTHETIC_GROUPS = {
    "gender": ["group A", "group B"],
    "race": ["group 1", "group 2", "group 3", "group 4", "group 5"],
    "age": ["18–29", "30–44", "45–59", "60+"],
}


def synthetic_demographics(frame: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Return ``frame`` with made-up ``gender, race, age`` groups, one draw per writer.

    The groups are drawn uniformly at random (not from any real data), so their
    per-group metrics show how much groups differ by chance alone.

    >>> t = pd.DataFrame({"writer_id": ["a", "a", "b"]})
    >>> out = synthetic_demographics(t, seed=1)
    >>> out.groupby("writer_id")["race"].nunique().max().item()
    1
    """
    rng = np.random.default_rng(seed)
    writers = frame["writer_id"].astype(str).unique()
    columns = {}
    for name, groups in SYNTHETIC_GROUPS.items():
        drawn = dict(zip(writers, rng.choice(groups, size=len(writers)), strict=True))
        columns[name] = frame["writer_id"].astype(str).map(drawn)
    return frame.assign(**columns)


def group_table(predictions: pd.DataFrame, by: list[str], *, min_size: int = 10) -> pd.DataFrame:
    """Return PCC, CCC and RMSE per demographic group, for every column in ``by``.

    ``predictions`` needs ``crowd``, ``prediction`` and the ``by`` columns (and may
    carry ``strategy``, kept as a column). Groups smaller than ``min_size`` are left out.

    Returns
    -------
    DataFrame
        ``strategy`` (if given), ``attribute, group, n, pcc, ccc, rmse``.

    >>> t = pd.DataFrame({"crowd": [1., 2, 3, 4], "prediction": [1., 2, 4, 3], "g": list("aabb")})
    >>> group_table(t, ["g"], min_size=2)[["attribute", "group", "ccc"]].to_dict("records")
    [{'attribute': 'g', 'group': 'a', 'ccc': 1.0}, {'attribute': 'g', 'group': 'b', 'ccc': -1.0}]
    """
    keys = ["strategy"] if "strategy" in predictions else []
    rows = []
    for key, part in predictions.groupby(keys) if keys else [((), predictions)]:
        for column in by:
            table = metrics.scores_by_group(
                part.dropna(subset=[column]), column, y="crowd", yhat="prediction", min_size=min_size
            )
            table = table.rename(columns={column: "group"}).assign(attribute=column)
            if keys:
                table.insert(0, "strategy", key[0] if isinstance(key, tuple) else key)
            rows.append(table)
    out = pd.concat(rows, ignore_index=True)
    return out[[*keys, "attribute", "group", "n", "pcc", "ccc", "rmse"]]


def run(profile: Profile | str = "demo", *, progress: bool = True) -> tuple[pd.DataFrame, str]:
    """Return ``(table, source)``: :func:`group_table` for probes trained on y and on y'.

    With NewsEmp24 train and test files in the profile, the probes train on the train
    file and are scored per real demographic group of the test file. Otherwise the
    public essays' out-of-fold predictions are scored per :func:`synthetic_demographics`
    group. ``source`` says which, in words; y' uses ``llmpathy.training.alpha``.
    """
    cfg = load_profile(profile)
    runs = [("y", None), ("y'", cfg.llmpathy.training.alpha)]
    data = llmpathy.user_data(cfg)
    if ("NewsEmp24", "train") in data and ("NewsEmp24", "test") in data:
        train, test = data["NewsEmp24", "train"], data["NewsEmp24", "test"]
        by = [c for c in newsemp.DEMOGRAPHICS if c in test]
        if not by or test["crowd"].isna().all():
            raise ValueError("the NewsEmp24 test file needs crowd labels (gold) and demographics.")
        predictions = [
            llmpathy.probe_predictions(cfg, train, test, strategy=s, alpha=a, progress=progress).assign(
                strategy=s
            )
            for s, a in runs
        ]
        source = "your NewsEmp24 files (probe trained on train, scored on test)"
    else:
        by = list(SYNTHETIC_GROUPS)
        predictions = [
            synthetic_demographics(
                llmpathy.out_of_fold(cfg, strategy=s, alpha=a, progress=progress), seed=cfg.seed
            ).assign(strategy=s)
            for s, a in runs
        ]
        source = "the public essays with SYNTHETIC demographics (random groups, not real data)"
    return group_table(pd.concat(predictions, ignore_index=True), by), source
