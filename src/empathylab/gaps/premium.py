"""Do human readers rate writers of their own group differently? The readers' in-group estimate.

:func:`reader_premium` fits a mixed model with crossed text and reader intercepts
(:mod:`empathylab.gaps.crossed`) and the writer's and the reader's group as fixed effects,
per demographic attribute; :func:`side_by_side` sets it next to a model's gap, both in
standard deviations of individual ratings. :func:`simulate_premium_data` makes reader and
writer tables like the real ones with a planted premium and group main effects, for the
calibration of the premium's verdict. The column ``premium`` holds the estimate of either
sign; the words (:func:`premium_verdict`) call it a premium only where it is positive.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from empathylab.errors import EmpathylabError
from empathylab.gaps.human import ATTRIBUTES

__all__ = [
    "SUBSETS",
    "NO_EMOTION",
    "premium_data",
    "premium_cells",
    "emotion_named",
    "reader_premium",
    "premium_verdict",
    "side_by_side",
    "simulate_premium_data",
]

#: The ratings a premium can be fitted on: all of them, or those where the reader named
#: the emotion the writer wrote about (texts about *no emotion* left out).
SUBSETS = ("all ratings", "emotion named")

#: The corpus' label of texts written about no emotion.
NO_EMOTION = "no-emotion"

#: The runs-table columns :func:`side_by_side` needs to put a model's gap in rating SDs.
RAW_COLUMNS = ("delta_raw", "raw_ci_low", "raw_ci_high", "rating_sd")


def emotion_named(readers: pd.DataFrame, writers: pd.DataFrame) -> pd.DataFrame:
    """Return, per reader rating, whether the reader named the emotion the writer wrote about.

    ``named`` is True where the reader's inferred emotion (``reader_emotion``) is the
    writer's prompted emotion (``emotion``) and that is not *no emotion*.

    Returns
    -------
    DataFrame
        ``item_id, reader_id, writer_emotion, reader_emotion, named``, one row per row of
        ``readers`` (same order and index).

    >>> r = pd.DataFrame({"item_id": [1, 1, 2], "reader_id": list("abc"),
    ...                   "reader_emotion": ["joy", "fear", "no-emotion"]})
    >>> w = pd.DataFrame({"item_id": [1, 2], "emotion": ["joy", "no-emotion"]})
    >>> emotion_named(r, w)["named"].tolist()
    [True, False, False]
    """
    for frame, what, columns in (
        (readers, "readers", ("item_id", "reader_id", "reader_emotion")),
        (writers, "writers", ("item_id", "emotion")),
    ):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise EmpathylabError(f"emotion_named: the {what} lack column(s) {', '.join(missing)}.")
    writer_emotion = readers["item_id"].map(writers.set_index("item_id")["emotion"].astype(str))
    reader_emotion = readers["reader_emotion"].astype(str)
    return pd.DataFrame(
        {
            "item_id": readers["item_id"],
            "reader_id": readers["reader_id"],
            "writer_emotion": writer_emotion,
            "reader_emotion": reader_emotion,
            "named": (reader_emotion == writer_emotion) & (writer_emotion != NO_EMOTION),
        },
        index=readers.index,
    )


def premium_data(
    readers: pd.DataFrame, writers: pd.DataFrame, attribute: str, subset: str = "all ratings"
) -> pd.DataFrame:
    """Return the readers' ratings with the writer's and the reader's group on ``attribute``.

    Rows where either group is unknown are dropped. ``intensity_z`` is the reader
    intensity z-normalised over those rows, so a premium is in standard deviations of
    individual ratings. ``subset="emotion named"`` then keeps the ratings where the
    reader named the writer's emotion (:func:`emotion_named`), still in the units of all
    ratings, so both subsets' premiums can be set side by side.

    Returns
    -------
    DataFrame
        ``item_id, reader_id, intensity, intensity_z, writer_group, reader_group, same``
        (``same`` is 1.0 when the groups match).
    """
    if attribute not in ATTRIBUTES:
        raise EmpathylabError(f"unknown attribute {attribute!r}; valid: {', '.join(ATTRIBUTES)}.")
    if subset not in SUBSETS:
        raise EmpathylabError(f"unknown subset {subset!r}; valid: {', '.join(map(repr, SUBSETS))}.")
    frame = readers[["item_id", "reader_id", "intensity", attribute]]
    if subset == "emotion named":
        frame = frame[emotion_named(readers, writers)["named"].to_numpy()]
    frame = frame.merge(writers[["item_id", attribute]], on="item_id", suffixes=("_reader", "_writer"))
    frame = frame.rename(
        columns={f"{attribute}_reader": "reader_group", f"{attribute}_writer": "writer_group"}
    )
    frame = frame.dropna(subset=["reader_group", "writer_group"]).reset_index(drop=True)
    if subset == "all ratings":
        mean, sd = frame["intensity"].mean(), frame["intensity"].std()
    else:  # the units of all ratings with known groups
        everything = premium_data(readers, writers, attribute)["intensity"]
        mean, sd = everything.mean(), everything.std()
    return frame.assign(
        intensity_z=(frame["intensity"] - mean) / (sd if sd > 0 else 1.0),
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


def _design(frame: pd.DataFrame, main_effects: bool) -> pd.DataFrame | None:
    """Return the fixed-effect columns: const, the group indicators (with main effects) and same.

    Each side's most frequent group is its reference (ties: the first name); an indicator
    that adds no rank (a group whose ratings other columns already fix) is left out. None
    when ``same`` adds no rank: the premium cannot be told apart from the groups' main
    effects (e.g. every reader in one group).
    """
    X = pd.DataFrame({"const": 1.0}, index=frame.index)
    if main_effects:
        for side in ("writer_group", "reader_group"):
            groups = frame[side].astype(str)
            counts = groups.value_counts()
            order = sorted(counts.index, key=lambda g: (-counts[g], g))
            for group in sorted(order[1:]):
                candidate = X.assign(**{f"{side}[{group}]": (groups == group).astype(float)})
                if np.linalg.matrix_rank(candidate.to_numpy()) == candidate.shape[1]:
                    X = candidate
    X = X.assign(same=frame["same"])
    return X if np.linalg.matrix_rank(X.to_numpy()) == X.shape[1] else None


#: The verdict words of :func:`reader_premium`, read off the sign and the Holm-adjusted p.
VERDICTS = {
    1: "premium: readers rate writers of their own group higher",
    -1: "reversed: readers rate writers of their own group lower",
    0: "no difference detected",
}


def premium_verdict(premium: float, p: float, alpha: float = 0.05) -> str:
    """Return the verdict words for an estimate and its p-value (a *premium* only when positive).

    >>> premium_verdict(0.1, 0.001), premium_verdict(-0.1, 0.001)[:8], premium_verdict(0.1, 0.2)
    ('premium: readers rate writers of their own group higher', 'reversed', 'no difference detected')
    """
    if not (np.isfinite(premium) and np.isfinite(p)):
        return "undetermined: no estimate"
    return VERDICTS[int(np.sign(premium)) if p < alpha else 0]


def reader_premium(
    readers: pd.DataFrame,
    writers: pd.DataFrame,
    attributes: tuple[str, ...] | list[str] = ATTRIBUTES,
    *,
    main_effects: bool = True,
    subset: str = "all ratings",
) -> pd.DataFrame:
    """Return, per attribute, the readers' in-group premium from a mixed model.

    Fits ``intensity_z ~ same + writer_group + reader_group + (1 | text) + (1 | reader)``
    by REML (:func:`empathylab.gaps.crossed.fit_crossed`) on :func:`premium_data`:
    ``same`` is 1 when writer and reader share the attribute's group; the group
    indicators (each side's most frequent group the reference) take out that some groups
    write more intense texts or rate higher, which would otherwise show as a premium
    wherever the groups are unequal in size (a null simulation with group main effects
    gave a premium whose interval excluded 0 in 39 of 40 runs without them). The text
    intercept absorbs the rest of a narrative (its emotion, its writer's own rating),
    the reader intercept each reader's use of the scale. ``main_effects=False`` fits the
    model without the group indicators, ``subset`` picks the ratings (:data:`SUBSETS`).
    The coefficient is in standard deviations of individual reader ratings: positive
    means readers rate writers of their own group as feeling more (a premium), negative
    less. ``p_holm`` is Holm-adjusted over the attributes of this call, and ``verdict``
    (:func:`premium_verdict`) is read off it and the sign.

    Returns
    -------
    DataFrame
        ``attribute, subset, model`` ("same + group main effects" or "same only"),
        ``premium`` (the estimate, either sign), ``se, ci_low, ci_high`` (Wald, 95 %),
        ``p, p_holm, verdict, n_obs, n_same, n_texts, n_readers, groups, text_sd,
        reader_sd, resid_sd, raw_same, raw_other`` (``raw_*``: the mean raw intensity,
        1–5, of same-group and other-group ratings). Where the premium cannot be
        estimated its columns are NaN and ``verdict`` says "undetermined" and why.

    >>> rng = np.random.default_rng(0)
    >>> w = pd.DataFrame({"item_id": range(300), "gender": rng.choice(["Female", "Male"], 300)})
    >>> r = pd.DataFrame({"item_id": np.repeat(range(300), 5), "reader_id": rng.integers(0, 200, 1500).astype(str),
    ...                   "gender": rng.choice(["Female", "Male"], 1500)})
    >>> same = (r["gender"].to_numpy() == w["gender"].to_numpy()[r["item_id"]])
    >>> r["intensity"] = 3 + 0.8 * same + rng.normal(0, 1, 300)[r["item_id"]] + rng.normal(0, 1, 1500)
    >>> fit = reader_premium(r, w, ["gender"]).iloc[0]
    >>> bool(fit["ci_low"] > 0), int(fit["n_obs"]), fit["model"]
    (True, 1500, 'same + group main effects')
    """
    from empathylab.gaps.crossed import fit_crossed

    rows = []
    for attribute in attributes:
        frame = premium_data(readers, writers, attribute, subset)
        row: dict[str, Any] = {
            "attribute": attribute,
            "subset": subset,
            "model": "same + group main effects" if main_effects else "same only",
            "n_obs": len(frame),
            "n_same": int(frame["same"].sum()),
            "n_texts": frame["item_id"].nunique(),
            "n_readers": frame["reader_id"].nunique(),
            "groups": len(set(frame["writer_group"]) | set(frame["reader_group"])),
        }
        row["raw_same"] = float(frame.loc[frame["same"] == 1, "intensity"].mean())
        row["raw_other"] = float(frame.loc[frame["same"] == 0, "intensity"].mean())
        both = 0 < row["n_same"] < len(frame)
        X = _design(frame, main_effects) if both else None
        if not both:
            row["verdict"] = "undetermined: no same-group or no other-group ratings"
        elif X is None:
            row["verdict"] = "undetermined: same group cannot be told apart from the groups' main effects"
        else:
            fit = fit_crossed(frame["intensity_z"], X, frame["item_id"], frame["reader_id"])
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
    table = pd.DataFrame(rows)
    if "p" in table.columns:
        from empathylab.gaps.shifts import holm

        table["p_holm"] = holm(table["p"].to_numpy(dtype=float))
        fitted = table["p"].notna()
        table.loc[fitted, "verdict"] = [
            premium_verdict(e, q)
            for e, q in zip(table.loc[fitted, "premium"], table.loc[fitted, "p_holm"], strict=True)
        ]
    columns = [
        "attribute",
        "subset",
        "model",
        "premium",
        "se",
        "ci_low",
        "ci_high",
        "p",
        "p_holm",
        "verdict",
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
    return table.reindex(columns=columns)


def side_by_side(runs: pd.DataFrame, premium: pd.DataFrame) -> pd.DataFrame:
    """Return the models' gap and the readers' premium in one table, both in rating SDs.

    ``runs`` is :func:`empathylab.gaps.report.runs_table` of :func:`empathylab.gaps.analysis.analyze`;
    a model's gap is its raw δ (``delta_raw``, scale points) over the standard deviation
    of its individual ratings in the δ matrix's kept cells (``rating_sd``), with the
    narrative-level t interval scaled the same way (``raw_ci_low / rating_sd``, ...).
    The z-δ of the paper divides by the spread of cell *means*, which is much smaller,
    so it is not comparable with the premium. ``premium`` is :func:`reader_premium`'s
    (standard deviations of individual reader ratings, Wald interval). Both are
    in-group minus out-group differences in SDs of one rating.

    Returns
    -------
    DataFrame
        ``who`` ("model" or "human readers"), ``source`` (the run, or "crowd-enVent
        readers" and the premium's subset), ``grouping`` (a model's grouping, or the
        shared attribute), ``gap, ci_low, ci_high, interval`` (which interval), ``unit``.

    >>> runs = pd.DataFrame({"model": ["m"], "readout": ["distribution"], "grouping": ["ethnicity"],
    ...                      "variation": ["origin"], "delta_raw": [0.9], "raw_ci_low": [0.3],
    ...                      "raw_ci_high": [1.5], "rating_sd": [12.0]})
    >>> premium = pd.DataFrame({"attribute": ["ethnicity"], "premium": [0.02], "ci_low": [-0.03], "ci_high": [0.07]})
    >>> side_by_side(runs, premium)[["who", "gap"]].round(3).to_dict("list")
    {'who': ['model', 'human readers'], 'gap': [0.075, 0.02]}
    """
    missing = [c for c in RAW_COLUMNS if c not in runs.columns]
    if missing:
        raise EmpathylabError(
            f"side_by_side needs the runs table's column(s) {', '.join(missing)} (the raw gap, its "
            "narrative-level interval and the SD of individual ratings) to put a model's gap in "
            "rating SDs; pass gaps.runs_table(gaps.analyze(...)) of this version."
        )
    sd = runs["rating_sd"].astype(float).where(lambda s: s > 0)
    model = pd.DataFrame(
        {
            "who": "model",
            "source": runs["model"].astype(str)
            + " · "
            + runs["readout"].astype(str)
            + " · "
            + runs["variation"].astype(str),
            "grouping": runs["grouping"].astype(str),
            "gap": runs["delta_raw"].astype(float) / sd,
            "ci_low": runs["raw_ci_low"].astype(float) / sd,
            "ci_high": runs["raw_ci_high"].astype(float) / sd,
            "interval": "narrative-level t interval, 95 %",
            "unit": "SD of the model's individual ratings",
        }
    )
    subset = premium["subset"].astype(str) if "subset" in premium.columns else "all ratings"
    people = pd.DataFrame(
        {
            "who": "human readers",
            "source": "crowd-enVent readers · " + subset,
            "grouping": premium["attribute"].astype(str),
            "gap": premium["premium"].astype(float),
            "ci_low": premium["ci_low"].astype(float),
            "ci_high": premium["ci_high"].astype(float),
            "interval": "mixed model (Wald), 95 %",
            "unit": "SD of individual reader ratings",
        }
    )
    return pd.concat([model, people], ignore_index=True)


#: Default group shares of :func:`simulate_premium_data`: about the corpus' ethnicities
#: (two large groups, a tail of small ones).
DEFAULT_SHARES: dict[str, float] = {
    "European": 0.65,
    "North American": 0.2,
    "South Asian": 0.05,
    "East Asian": 0.05,
    "African": 0.05,
}

_SIM_EMOTIONS = ("anger", "boredom", "disgust", "fear", "guilt", "joy", "pride", "relief", "sadness")


def simulate_premium_data(
    n_texts: int = 1200,
    n_readers: int = 1200,
    premium: float = 0.0,
    *,
    writer_effects: Mapping[str, float] | None = None,
    reader_effects: Mapping[str, float] | None = None,
    shares: Mapping[str, float] | None = None,
    attribute: str = "ethnicity",
    ratings_per_text: int = 5,
    text_sd: float = 0.7,
    reader_sd: float = 0.35,
    noise_sd: float = 0.75,
    named_share: float = 0.53,
    discrete: bool = False,
    seed: int | np.random.Generator = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(readers, writers)``: simulated crowd-enVent-like ratings with a planted premium.

    Each of ``n_texts`` texts has a writer whose group on ``attribute`` is drawn with
    ``shares`` (default ``DEFAULT_SHARES``) and is rated by ``ratings_per_text``
    distinct readers out of ``n_readers``, each with a group drawn the same way; readers
    rate texts in overlapping batches, as in crowd-enVent (each reader about
    ``ratings_per_text · n_texts / n_readers`` texts, shared with neighbouring readers). A rating
    is, in raw points,
    ``3.9 + premium · same + writer_effects[writer group] + reader_effects[reader group]
    + text + reader + noise`` (text ~ N(0, text_sd), reader ~ N(0, reader_sd), noise ~
    N(0, noise_sd); the defaults are near the real data's). Effects missing from a
    mapping are 0. With ``discrete`` the ratings are rounded and clipped to 1–5 (the
    clipping adds a small interaction of its own). Each reader names the writer's emotion
    with probability ``named_share`` (``reader_emotion``), independently of the rating.

    Returns
    -------
    tuple of DataFrame
        ``readers``: ``item_id, reader_id, intensity, reader_emotion`` and ``attribute``;
        ``writers``: ``item_id, emotion, intensity`` (the text's rating without reader
        effects and noise: a stand-in for the writer's own) and ``attribute``, as
        :func:`reader_premium` takes.

    >>> r, w = simulate_premium_data(60, 50, 0.5, writer_effects={"European": 0.3}, seed=1)
    >>> r.shape, w.shape, sorted(r.columns)
    ((300, 5), (60, 4), ['ethnicity', 'intensity', 'item_id', 'reader_emotion', 'reader_id'])
    """
    shares = dict(DEFAULT_SHARES if shares is None else shares)
    if not shares or min(shares.values()) < 0 or sum(shares.values()) <= 0:
        raise EmpathylabError("simulate_premium_data needs non-negative group shares with a positive sum.")
    if ratings_per_text > n_readers or min(n_texts, ratings_per_text) < 1:
        raise EmpathylabError(
            f"simulate_premium_data needs 1 <= ratings_per_text <= n_readers and n_texts >= 1; got "
            f"{ratings_per_text} ratings of {n_texts} texts by {n_readers} readers."
        )
    rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
    names = list(shares)
    p = np.array([shares[g] for g in names], dtype=float)
    p /= p.sum()
    writer_group = rng.choice(len(names), n_texts, p=p)
    reader_group = rng.choice(len(names), n_readers, p=p)
    # Overlapping batches, as in crowd-enVent: text i is read by the ratings_per_text readers
    # that follow reader i * n_readers / n_texts (groups are drawn at random, so the order is not).
    start = (np.arange(n_texts) * n_readers) // n_texts
    item = np.repeat(np.arange(n_texts), ratings_per_text)
    reader = ((start[:, None] + np.arange(ratings_per_text)[None, :]) % n_readers).ravel()
    w_eff = np.array([(writer_effects or {}).get(g, 0.0) for g in names])
    r_eff = np.array([(reader_effects or {}).get(g, 0.0) for g in names])
    same = writer_group[item] == reader_group[reader]
    expected = 3.9 + w_eff[writer_group][item] + r_eff[reader_group][reader] + premium * same
    text = rng.normal(0.0, text_sd, n_texts)
    intensity = (
        expected
        + text[item]
        + rng.normal(0.0, reader_sd, n_readers)[reader]
        + rng.normal(0.0, noise_sd, len(item))
    )
    if discrete:
        intensity = np.clip(np.round(intensity), 1, 5)
    emotion = np.array(_SIM_EMOTIONS)[np.arange(n_texts) % len(_SIM_EMOTIONS)]
    other = (np.arange(n_texts) % len(_SIM_EMOTIONS))[item] + rng.integers(1, len(_SIM_EMOTIONS), len(item))
    named = rng.random(len(item)) < named_share
    group_names = np.array(names, dtype=object)
    readers = pd.DataFrame(
        {
            "item_id": item,
            "reader_id": pd.Series(reader).map("r{}".format),
            "intensity": intensity,
            "reader_emotion": np.where(
                named, emotion[item], np.array(_SIM_EMOTIONS)[other % len(_SIM_EMOTIONS)]
            ),
            attribute: group_names[reader_group[reader]],
        }
    )
    writers = pd.DataFrame(
        {
            "item_id": np.arange(n_texts),
            "emotion": emotion,
            "intensity": 3.9 + w_eff[writer_group] + text,
            attribute: group_names[writer_group],
        }
    )
    return readers, writers
