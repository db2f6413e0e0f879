"""Do human readers rate writers of their own group higher? The readers' in-group premium.

:func:`reader_premium` fits a mixed model with crossed text and reader intercepts
(:mod:`empathylab.gaps.crossed`) per demographic attribute; :func:`side_by_side` sets it
next to a model's gap.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from empathylab.errors import EmpathylabError
from empathylab.gaps.human import ATTRIBUTES

__all__ = ["premium_data", "premium_cells", "reader_premium", "side_by_side"]


def premium_data(readers: pd.DataFrame, writers: pd.DataFrame, attribute: str) -> pd.DataFrame:
    """Return the readers' ratings with the writer's and the reader's group on ``attribute``.

    Rows where either group is unknown are dropped. ``intensity_z`` is the reader
    intensity z-normalised over the rows kept, so a premium is in standard deviations.

    Returns
    -------
    DataFrame
        ``item_id, reader_id, intensity, intensity_z, writer_group, reader_group, same``
        (``same`` is 1.0 when the groups match).
    """
    if attribute not in ATTRIBUTES:
        raise EmpathylabError(f"unknown attribute {attribute!r}; valid: {', '.join(ATTRIBUTES)}.")
    frame = readers[["item_id", "reader_id", "intensity", attribute]].merge(
        writers[["item_id", attribute]], on="item_id", suffixes=("_reader", "_writer")
    )
    frame = frame.rename(
        columns={f"{attribute}_reader": "reader_group", f"{attribute}_writer": "writer_group"}
    )
    frame = frame.dropna(subset=["reader_group", "writer_group"]).reset_index(drop=True)
    sd = frame["intensity"].std()
    return frame.assign(
        intensity_z=(frame["intensity"] - frame["intensity"].mean()) / (sd if sd > 0 else 1.0),
        same=(frame["reader_group"] == frame["writer_group"]).astype(float),
    )[["item_id", "reader_id", "intensity", "intensity_z", "writer_group", "reader_group", "same"]]


def premium_cells(readers: pd.DataFrame, writers: pd.DataFrame, attribute: str) -> pd.DataFrame:
    """Return the ratings per writer group (rows) and reader group (columns) on ``attribute``.

    >>> r = pd.DataFrame({"item_id": [1, 1, 2], "reader_id": list("abc"), "intensity": 3.0,
    ...                   "gender": ["Female", "Male", "Female"]})
    >>> w = pd.DataFrame({"item_id": [1, 2], "gender": ["Female", "Male"]})
    >>> premium_cells(r, w, "gender").to_dict()
    {'Female': {'Female': 1, 'Male': 1}, 'Male': {'Female': 1, 'Male': 0}}
    """
    frame = premium_data(readers, writers, attribute)
    return pd.crosstab(frame["writer_group"], frame["reader_group"]).rename_axis(
        index=f"writer {attribute}", columns=f"reader {attribute}"
    )


def reader_premium(
    readers: pd.DataFrame, writers: pd.DataFrame, attributes: tuple[str, ...] | list[str] = ATTRIBUTES
) -> pd.DataFrame:
    """Return, per attribute, the readers' in-group premium from a mixed model.

    Fits ``intensity_z ~ same + (1 | text) + (1 | reader)`` by REML
    (:func:`empathylab.gaps.crossed.fit_crossed`) on :func:`premium_data`: ``same`` is 1
    when writer and reader share the attribute's group. The text intercept absorbs
    everything about a narrative (its emotion, its writer's own rating), the reader
    intercept each reader's use of the scale. The coefficient is the premium in standard
    deviations of reader intensity: positive means readers rate writers of their own
    group as feeling more.

    Returns
    -------
    DataFrame
        ``attribute, premium, se, ci_low, ci_high, p, n_obs, n_same, n_texts,
        n_readers, groups, text_sd, reader_sd, resid_sd, raw_same, raw_other``
        (``raw_*``: the mean raw intensity, 1–5, of same-group and other-group ratings).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> w = pd.DataFrame({"item_id": range(300), "gender": rng.choice(["Female", "Male"], 300)})
    >>> r = pd.DataFrame({"item_id": np.repeat(range(300), 5), "reader_id": rng.integers(0, 200, 1500).astype(str),
    ...                   "gender": rng.choice(["Female", "Male"], 1500)})
    >>> same = (r["gender"].to_numpy() == w["gender"].to_numpy()[r["item_id"]])
    >>> r["intensity"] = 3 + 0.8 * same + rng.normal(0, 1, 300)[r["item_id"]] + rng.normal(0, 1, 1500)
    >>> fit = reader_premium(r, w, ["gender"]).iloc[0]
    >>> bool(fit["ci_low"] > 0), int(fit["n_obs"])
    (True, 1500)
    """
    from empathylab.gaps.crossed import fit_crossed

    rows = []
    for attribute in attributes:
        frame = premium_data(readers, writers, attribute)
        row: dict[str, Any] = {
            "attribute": attribute,
            "n_obs": len(frame),
            "n_same": int(frame["same"].sum()),
            "n_texts": frame["item_id"].nunique(),
            "n_readers": frame["reader_id"].nunique(),
            "groups": len(set(frame["writer_group"]) | set(frame["reader_group"])),
        }
        row["raw_same"] = float(frame.loc[frame["same"] == 1, "intensity"].mean())
        row["raw_other"] = float(frame.loc[frame["same"] == 0, "intensity"].mean())
        if 0 < row["n_same"] < len(frame):
            fit = fit_crossed(
                frame["intensity_z"],
                frame[["same"]].assign(const=1.0)[["const", "same"]],
                frame["item_id"],
                frame["reader_id"],
            )
            effect = fit["fixed"].loc["same"]
            row |= {
                "premium": effect["coef"],
                "se": effect["se"],
                "ci_low": effect["ci_low"],
                "ci_high": effect["ci_high"],
                "p": effect["p"],
                "text_sd": fit["sd_a"],
                "reader_sd": fit["sd_b"],
                "resid_sd": fit["resid_sd"],
            }
        rows.append(row)
    columns = [
        "attribute",
        "premium",
        "se",
        "ci_low",
        "ci_high",
        "p",
        "n_obs",
        "n_same",
        "n_texts",
        "n_readers",
        "groups",
        "text_sd",
        "reader_sd",
        "resid_sd",
        "raw_same",
        "raw_other",
    ]
    return pd.DataFrame(rows).reindex(columns=columns)


def side_by_side(runs: pd.DataFrame, premium: pd.DataFrame) -> pd.DataFrame:
    """Return the models' δ and the readers' premium in one table, each with its interval.

    ``runs`` is :func:`empathylab.gaps.report.runs_table` of :func:`empathylab.gaps.analysis.analyze`
    (δ with its narrative bootstrap interval, z units of the model's δ matrix);
    ``premium`` is :func:`reader_premium`'s (standard deviations of reader intensity,
    Wald interval). Both are standardised in-group minus out-group differences.

    Returns
    -------
    DataFrame
        ``who`` ("model" or "human readers"), ``source`` (the run, or "crowd-enVent
        readers"), ``grouping`` (a model's grouping, or the shared attribute),
        ``gap, ci_low, ci_high, interval`` (which interval).

    >>> runs = pd.DataFrame({"model": ["m"], "readout": ["distribution"], "grouping": ["ethnicity"],
    ...                      "variation": ["origin"], "delta": [0.3], "bootstrap_ci_low": [0.1],
    ...                      "bootstrap_ci_high": [0.5]})
    >>> premium = pd.DataFrame({"attribute": ["ethnicity"], "premium": [0.02], "ci_low": [-0.03], "ci_high": [0.07]})
    >>> side_by_side(runs, premium)["who"].tolist()
    ['model', 'human readers']
    """
    model = pd.DataFrame(
        {
            "who": "model",
            "source": runs["model"].astype(str)
            + " · "
            + runs["readout"].astype(str)
            + " · "
            + runs["variation"].astype(str),
            "grouping": runs["grouping"].astype(str),
            "gap": runs["delta"].astype(float),
            "ci_low": runs["bootstrap_ci_low"].astype(float),
            "ci_high": runs["bootstrap_ci_high"].astype(float),
            "interval": "narrative bootstrap, 95 %",
        }
    )
    people = pd.DataFrame(
        {
            "who": "human readers",
            "source": "crowd-enVent readers",
            "grouping": premium["attribute"].astype(str),
            "gap": premium["premium"].astype(float),
            "ci_low": premium["ci_low"].astype(float),
            "ci_high": premium["ci_high"].astype(float),
            "interval": "mixed model (Wald), 95 %",
        }
    )
    return pd.concat([model, people], ignore_index=True)
