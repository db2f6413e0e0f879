"""What humans say: the writers' and readers' own intensities of the crowd-enVent narratives.

Troiano, Oberländer & Klinger (2023) asked every writer of a crowd-enVent narrative how
intensely they felt the emotion (1–5) and for their age, gender, education and
ethnicity; 1,200 of the texts (1,100 of them among the 6,050 narratives of Hou et al.,
the others *no emotion*) were rated again by five readers each, who gave the same
demographics. This module reads both files (:func:`load_writers`, :func:`load_readers`),
joins them to the narratives with checks (:func:`join_narratives`), harmonises
ethnicity (:data:`ETHNICITY`), and answers three questions:

* does a model's intensity track people's? (:func:`tracking`, with the human ceiling
  :func:`human_ceiling`);
* do human readers rate writers of their own group higher? (:func:`reader_premium`, a
  mixed model with crossed text and reader intercepts, :mod:`empathylab.crossed`);
* how do the two compare? (:func:`side_by_side`).

Every function takes and returns tidy DataFrames.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from empathylab import data, design
from empathylab.errors import DataFileError, EmpathylabError
from empathylab.profiles import Profile, load_profile
from empathylab.runner import RunPlan

__all__ = [
    "WRITERS_FILE", "READERS_FILE", "ETHNICITY", "ATTRIBUTES", "harmonise_ethnicity", "ethnicity_table",
    "age_band", "normalise_text", "load_writers", "load_readers", "join_narratives", "human_ratings",
    "model_intensities", "tracking", "human_ceiling", "premium_data", "premium_cells", "reader_premium",
    "side_by_side", "anchor", "AnchorPlan", "plan_anchor",
]  # fmt: skip

WRITERS_FILE = "crowd-enVent-corpus/enVent_gen_Data.csv"
READERS_FILE = "crowd-enVent-corpus/enVent_val_Data.csv"

#: The survey's fixed ethnicity options (regions of origin), spelled as in the files.
FIXED_ETHNICITIES = (
    "European", "North American", "Australian/New Zealander", "African", "South Asian", "East Asian",
    "Hispanic/Latino", "Middle Eastern", "Indigenous",
)  # fmt: skip

#: Free-text ethnicities (lower case, single spaces) and the group each is placed in.
#: The fixed options are regions, so a free answer goes to the region it names: the
#: nations of the UK and Ireland to European, American and Canadian to North American
#: (African American included: a North American by the survey's regional scheme),
#: Caribbean, Southeast Asian and South American to groups of their own, and answers
#: naming two regions to Mixed. Answers that name no region (white, Jewish, "unsure?")
#: and "Prefer not to answer" stay unknown (NA); so does any answer not listed here.
ETHNICITY: dict[str, str] = {
    **{name.lower(): name for name in FIXED_ETHNICITIES},
    **dict.fromkeys([
        "british", "english", "scottish", "welsh", "irish", "cornish", "uk", "united kingdom", "brittish",
        "white british", "white british - united kingdom (we have left the eu)", "white/british",
        "white, british", "english/british", "white scottish", "jewish white british", "black british",
    ], "European"),
    **dict.fromkeys([
        "american", "canadian", "white american", "european canadian", "african american",
        "black american", "black/african american", "black/ african american",
    ], "North American"),
    **dict.fromkeys(["caribbean", "carribean", "carribbean", "black carribbean", "black caribbean"], "Caribbean"),
    **dict.fromkeys(["southeast asian", "south east asian", "south-east asian"], "Southeast Asian"),
    **dict.fromkeys(["north asian"], "East Asian"),
    **dict.fromkeys(["indian", "pakistani", "british indian", "baloch"], "South Asian"),
    **dict.fromkeys(["north african"], "African"),
    **dict.fromkeys(["australian/maori"], "Australian/New Zealander"),
    **dict.fromkeys(["south american"], "South American"),
    **dict.fromkeys([
        "mixed", "multiracial", "biracial, latina/african american", "british/american", "british/caribean",
        "african/indian", "south asian and european", "european and south asian", "white & asian",
        "half latina, half white", "50/50 hispanic / north american white", "white european and latino",
        "white english & asian pakistani", "mixed race", "mixed race; east asian & hispanic",
        "white / black carribean",
    ], "Mixed"),
}  # fmt: skip
_MIXED = re.compile(r"\bmixed\b|\bmulti|\bbiracial\b|\bhalf\b")

#: The attributes a writer and a reader both report, and how each is made comparable.
ATTRIBUTES = ("ethnicity", "gender", "age_band", "education")
_GENDERS = ("Female", "Male", "Gender Variant/Non-Conforming")
_EDUCATION_UNKNOWN = ("Don't know / not applicable",)
#: Age bands (inclusive lower bounds); ages under 18 (the files hold a few 0s) are unknown.
AGE_BANDS = ((18, "18–29"), (30, "30–44"), (45, "45+"))


def harmonise_ethnicity(values: pd.Series) -> pd.Series:
    """Return each ethnicity answer placed in a group of :data:`ETHNICITY`, NA when unknown.

    Case and spacing are ignored; an unlisted answer that says *mixed*, *multi…*,
    *biracial* or *half* goes to Mixed, any other unlisted answer stays unknown.

    >>> harmonise_ethnicity(pd.Series(["European", "White British ", "mixed white/east asian",
    ...                                "white", "Prefer not to answer"])).tolist()
    ['European', 'European', 'Mixed', <NA>, <NA>]
    """
    keys = values.astype("string").str.strip().str.lower().str.replace(r"\s+", " ", regex=True)
    mapped = keys.map(ETHNICITY)
    mixed = keys.str.contains(_MIXED, na=False) & mapped.isna()
    return mapped.mask(mixed, "Mixed").astype("string").rename(values.name)


def ethnicity_table(values: pd.Series) -> pd.DataFrame:
    """Return the harmonisation applied to ``values``: ``answer, group, n``, most frequent first.

    >>> ethnicity_table(pd.Series(["British", "British", "white"])).to_dict("records")
    [{'answer': 'British', 'group': 'European', 'n': 2}, {'answer': 'white', 'group': 'unknown', 'n': 1}]
    """
    frame = pd.DataFrame({"answer": values.astype(str), "group": harmonise_ethnicity(values).fillna("unknown")})
    counts = frame.groupby(["answer", "group"]).size().rename("n").reset_index()
    return counts.sort_values(["n", "answer"], ascending=[False, True], kind="stable").reset_index(drop=True)


def age_band(ages: pd.Series) -> pd.Series:
    """Return the age band of each age (:data:`AGE_BANDS`), NA under 18 or missing.

    >>> age_band(pd.Series([0, 18, 29, 30, 52])).tolist()
    [<NA>, '18–29', '18–29', '30–44', '45+']
    """
    ages = pd.to_numeric(ages, errors="coerce")
    out = pd.Series(pd.NA, index=ages.index, dtype="string")
    for low, name in AGE_BANDS:
        out = out.mask(ages >= low, name)
    return out


def normalise_text(text: pd.Series) -> pd.Series:
    """Return texts with CSV quote-doubling undone and whitespace collapsed, for comparison.

    Hou et al.'s TSVs keep some narratives in CSV quoting (``"...""quoted""..."``); the
    crowd-enVent CSV does not.

    >>> normalise_text(pd.Series(['"He said ""no""  twice"', 'He said "no" twice'])).nunique()
    1
    """
    text = text.astype(str).str.strip()
    quoted = text.str.len().ge(2) & text.str.startswith('"') & text.str.endswith('"')
    text = text.mask(quoted, text.str[1:-1].str.replace('""', '"', regex=False))
    return text.str.replace(r"\s+", " ", regex=True).str.strip()


def _read(key: str, columns: tuple[str, ...]) -> pd.DataFrame:
    path = data.fetch(key)
    try:
        frame = pd.read_csv(path, encoding="cp1252", dtype={"prolific_id": str})
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataFileError(f"{path} is not a readable cp1252 CSV file: {exc}") from exc
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataFileError(f"{path} is malformed: missing column(s) {', '.join(missing)}; expected {', '.join(columns)}.")
    intensity = pd.to_numeric(frame["intensity"], errors="coerce")
    if not intensity.between(1, 5).all():
        raise DataFileError(f"{path} is malformed: {int((~intensity.between(1, 5)).sum())} intensities outside 1–5.")
    return frame


def _demographics(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "age": pd.to_numeric(frame["age"], errors="coerce").where(lambda a: a >= 18).astype("Int64"),
        "age_band": age_band(frame["age"]),
        "gender": frame["gender"].astype("string").where(frame["gender"].isin(_GENDERS)),
        "education": frame["education"].astype("string").str.strip().where(
            ~frame["education"].isin(_EDUCATION_UNKNOWN)),
        "ethnicity_raw": frame["ethnicity"].astype("string"),
        "ethnicity": harmonise_ethnicity(frame["ethnicity"]),
    }, index=frame.index)  # fmt: skip


def load_writers() -> pd.DataFrame:
    """Return the 6,600 crowd-enVent texts with their writers' own intensity and demographics.

    Columns: ``item_id`` (the corpus' ``text_id``), ``emotion`` (the prompted emotion,
    *no-emotion* included), ``text``, ``intensity`` (1–5, the writer's), ``age``
    (NA under 18), ``age_band``, ``gender``, ``education`` (NA when "Don't know"),
    ``ethnicity_raw`` (the answer) and ``ethnicity`` (:func:`harmonise_ethnicity`).

    >>> load_writers().shape
    (6600, 10)
    """
    frame = _read(WRITERS_FILE, ("text_id", "emotion", "generated_text", "intensity", "age", "gender",
                                 "education", "ethnicity"))  # fmt: skip
    if not frame["text_id"].is_unique:
        raise DataFileError(f"{WRITERS_FILE} repeats text_id(s) {_ids(frame['text_id'][frame['text_id'].duplicated()])}.")
    return pd.concat([
        pd.DataFrame({"item_id": frame["text_id"].astype(int), "emotion": frame["emotion"].astype(str),
                      "text": frame["generated_text"].astype(str), "intensity": frame["intensity"].astype(float)}),
        _demographics(frame),
    ], axis=1)  # fmt: skip


def load_readers() -> pd.DataFrame:
    """Return the 6,000 readers' ratings: 1,200 texts, five readers each.

    Columns: ``item_id``, ``reader_id`` (the anonymised ``prolific_id``), ``intensity``
    (1–5, the reader's), ``reader_emotion`` (the emotion the reader inferred), then the
    reader's demographics as in :func:`load_writers`.

    >>> load_readers().groupby("item_id").size().unique().tolist()
    [5]
    """
    frame = _read(READERS_FILE, ("text_id", "prolific_id", "annotator_emotion", "intensity", "age", "gender",
                                 "education", "ethnicity"))  # fmt: skip
    return pd.concat([
        pd.DataFrame({"item_id": frame["text_id"].astype(int), "reader_id": frame["prolific_id"].astype(str),
                      "intensity": frame["intensity"].astype(float),
                      "reader_emotion": frame["annotator_emotion"].astype(str)}),
        _demographics(frame),
    ], axis=1)  # fmt: skip


def _ids(values: Any, limit: int = 8) -> str:
    values = sorted(set(values))
    shown = ", ".join(map(str, values[:limit]))
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def join_narratives(narratives: pd.DataFrame, writers: pd.DataFrame) -> pd.DataFrame:
    """Return ``narratives`` joined to the writers' rows by ``item_id``, after checking the join.

    Every narrative must have a writer row with the same emotion and the same text
    (:func:`normalise_text` of both); a missing id, another emotion or another text
    raises a :class:`~empathylab.errors.DataFileError` naming the ids.

    Returns
    -------
    DataFrame
        ``narratives``' columns plus ``writer_intensity`` and the writer's demographics
        (``age, age_band, gender, education, ethnicity_raw, ethnicity``).

    >>> from empathylab.data import load_narratives
    >>> join_narratives(load_narratives(["shame"]), load_writers()).shape
    (275, 12)
    """
    for frame, what, columns in ((narratives, "narratives", ("item_id", "emotion", "generated_text")),
                                 (writers, "writers", ("item_id", "emotion", "text", "intensity"))):  # fmt: skip
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise EmpathylabError(f"join_narratives: the {what} lack column(s) {', '.join(missing)}.")
    merged = narratives.merge(writers.rename(columns={"emotion": "_emotion", "text": "_text",
                                                      "intensity": "writer_intensity"}),
                              on="item_id", how="left", indicator=True)  # fmt: skip
    absent = merged.loc[merged["_merge"] == "left_only", "item_id"]
    if len(absent):
        raise DataFileError(f"{len(absent)} narrative(s) have no writer row in {WRITERS_FILE}: ids {_ids(absent)}.")
    emotion = merged["emotion"].astype(str) != merged["_emotion"]
    if emotion.any():
        raise DataFileError(f"{int(emotion.sum())} narrative(s) have another emotion in {WRITERS_FILE}: "
                            f"ids {_ids(merged.loc[emotion, 'item_id'])}.")  # fmt: skip
    text = normalise_text(merged["generated_text"]) != normalise_text(merged["_text"])
    if text.any():
        raise DataFileError(f"{int(text.sum())} narrative(s) have another text in {WRITERS_FILE}: "
                            f"ids {_ids(merged.loc[text, 'item_id'])}.")  # fmt: skip
    return merged.drop(columns=["_emotion", "_text", "_merge"])


def human_ratings(narratives: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return one row per narrative: the writer's intensity and the readers' mean where read.

    ``narratives`` defaults to all 6,050 (:func:`empathylab.data.load_narratives`); the
    join is checked (:func:`join_narratives`).

    Returns
    -------
    DataFrame
        ``item_id, emotion, writer_intensity, reader_mean, reader_n`` (``reader_mean``
        NaN and ``reader_n`` 0 for narratives without readers).

    >>> h = human_ratings()
    >>> len(h), int((h["reader_n"] > 0).sum())
    (6050, 1100)
    """
    if narratives is None:
        narratives = data.load_narratives()
    joined = join_narratives(narratives, load_writers())
    readers = load_readers().groupby("item_id")["intensity"].agg(reader_mean="mean", reader_n="size")
    out = joined[["item_id", "emotion", "writer_intensity"]].merge(readers, on="item_id", how="left")
    return out.assign(reader_n=out["reader_n"].fillna(0).astype(int))


def model_intensities(results: pd.DataFrame) -> pd.DataFrame:
    """Return each run's intensity per narrative: the baseline cell and the mean over all cells.

    ``results`` are rows of :func:`empathylab.result_tables.read_result_table` (any
    number of runs). ``baseline`` is the answer of ``a person`` about ``a person``;
    ``all cells`` the mean over every answered (perceiver, experiencer) cell.

    Returns
    -------
    DataFrame
        ``model, readout, grouping, variation, item_id, measure, model_intensity``;
        unanswered prompts are left out (a narrative with no answer gets no row).

    >>> from empathylab.gaps import simulate_results
    >>> m = model_intensities(simulate_results("religion", n_items=3))
    >>> m.groupby("measure").size().to_dict()
    {'all cells': 3, 'baseline': 3}
    """
    keys = ["model", "readout", "grouping", "variation"]
    missing = [c for c in [*keys, "perceiver", "experiencer", "item_id", "intensity"] if c not in results.columns]
    if missing:
        raise EmpathylabError(f"model_intensities needs column(s) {', '.join(missing)}.")
    answered = results[results["intensity"].notna()]
    base = answered[(answered["perceiver"] == design.BASELINE) & (answered["experiencer"] == design.BASELINE)]
    frames = [
        base.groupby([*keys, "item_id"], observed=True)["intensity"].mean().rename("model_intensity")
        .reset_index().assign(measure="baseline"),
        answered.groupby([*keys, "item_id"], observed=True)["intensity"].mean().rename("model_intensity")
        .reset_index().assign(measure="all cells"),
    ]  # fmt: skip
    out = pd.concat(frames, ignore_index=True)
    return out[[*keys, "item_id", "measure", "model_intensity"]].sort_values([*keys, "measure", "item_id"],
                                                                            ignore_index=True)  # fmt: skip


def _correlations(x: np.ndarray, y: np.ndarray, n_boot: int, rng: np.random.Generator) -> dict[str, float]:
    """Pearson and Spearman r of x and y with percentile bootstrap intervals (NaN under 3 pairs)."""
    from scipy import stats

    out = {"n": len(x)}
    nan = dict.fromkeys(["pearson", "pearson_low", "pearson_high", "spearman", "spearman_low", "spearman_high"], np.nan)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return out | nan
    rx, ry = stats.rankdata(x), stats.rankdata(y)

    def r(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Row-wise Pearson r of two (resamples x n) arrays."""
        a = a - a.mean(axis=-1, keepdims=True)
        b = b - b.mean(axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (a * b).sum(-1) / np.sqrt((a * a).sum(-1) * (b * b).sum(-1))

    out |= {"pearson": float(r(x, y)), "spearman": float(r(rx, ry))}
    if n_boot > 0:
        idx = rng.integers(0, len(x), size=(n_boot, len(x)))
        # Spearman in a resample ranks the resampled values again.
        rank = stats.rankdata
        boot_p = r(x[idx], y[idx])
        boot_s = r(rank(x[idx], axis=1), rank(y[idx], axis=1))
        for name, boot in (("pearson", boot_p), ("spearman", boot_s)):
            out[f"{name}_low"], out[f"{name}_high"] = (float(v) for v in np.nanpercentile(boot, [2.5, 97.5]))
    else:
        out |= {k: np.nan for k in ("pearson_low", "pearson_high", "spearman_low", "spearman_high")}
    return out


def _by_emotion(frame: pd.DataFrame, x: str, y: str, n_boot: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    rows = []
    parts = [("all", frame)] + [(str(e), part) for e, part in frame.groupby("emotion", observed=True, sort=True)]
    for emotion, part in parts:
        part = part[[x, y]].dropna()
        rows.append({"emotion": emotion, **_correlations(part[x].to_numpy(float), part[y].to_numpy(float), n_boot, rng)})
    return rows


def tracking(results: pd.DataFrame, humans: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Return how well each run's intensities track the writers' and the readers' own.

    For every run of ``results`` and each measure of :func:`model_intensities`, the
    Pearson and Spearman correlation over narratives with the writer's intensity and
    with the readers' mean (``humans`` is :func:`human_ratings`), over all narratives
    and per emotion, with percentile bootstrap intervals over narratives (95 %).
    Correlations of fewer than three narratives, or of a constant, are NaN.

    Returns
    -------
    DataFrame
        ``model, readout, grouping, variation, measure, target`` ("writer" or
        "readers' mean"), ``emotion`` ("all" or one), ``n, pearson, pearson_low,
        pearson_high, spearman, spearman_low, spearman_high``.

    >>> from empathylab.gaps import simulate_results
    >>> runs = simulate_results("religion", n_items=20, seed=1)
    >>> humans = pd.DataFrame({"item_id": range(20), "emotion": "anger",
    ...                        "writer_intensity": np.arange(20.0), "reader_mean": np.nan})
    >>> t = tracking(runs, humans, n_boot=50)
    >>> t[(t.emotion == "all")].set_index("target")["n"].groupby(level=0).max().tolist()
    [0, 20]
    """
    missing = [c for c in ("item_id", "emotion", "writer_intensity", "reader_mean") if c not in humans.columns]
    if missing:
        raise EmpathylabError(f"tracking: the human ratings lack column(s) {', '.join(missing)}; pass human_ratings().")
    rng = np.random.default_rng(seed)
    keys = ["model", "readout", "grouping", "variation", "measure"]
    table = model_intensities(results).merge(humans[["item_id", "emotion", "writer_intensity", "reader_mean"]],
                                             on="item_id", how="inner")  # fmt: skip
    rows = []
    for run, part in table.groupby(keys, observed=True, sort=True):
        for target, column in (("writer", "writer_intensity"), ("readers' mean", "reader_mean")):
            for row in _by_emotion(part, "model_intensity", column, n_boot, rng):
                rows.append(dict(zip(keys, run, strict=True)) | {"target": target} | row)
    return pd.DataFrame(rows, columns=[*keys, "target", "emotion", "n", "pearson", "pearson_low", "pearson_high",
                                       "spearman", "spearman_low", "spearman_high"])  # fmt: skip


def _split_half(wide: np.ndarray, rng: np.random.Generator, splits: int) -> float:
    """Mean Spearman–Brown-corrected correlation of two random halves of each text's readers."""
    n, k = wide.shape
    values = []
    for _ in range(splits):
        order = rng.permuted(np.tile(np.arange(k), (n, 1)), axis=1)
        half = np.take_along_axis(wide, order, axis=1)
        r = np.corrcoef(half[:, : k // 2].mean(1), half[:, k // 2 :].mean(1))[0, 1]
        values.append(2 * r / (1 + r))
    return float(np.mean(values))


def human_ceiling(
    humans: pd.DataFrame, readers: pd.DataFrame, *, n_boot: int = 1000, splits: int = 20, seed: int = 0
) -> pd.DataFrame:
    """Return the human ceiling: readers' mean vs writer, and the readers' split-half reliability.

    Over the narratives of ``humans`` (:func:`human_ratings`) that have readers
    (``readers``: :func:`load_readers`):

    * ``readers' mean vs writer``: Pearson and Spearman r with bootstrap intervals
      over narratives (as :func:`tracking`), overall and per emotion;
    * ``split-half reliability``: each text's readers are split at random into two
      halves (two and three of five), the correlation of the half means over texts is
      stepped up with the Spearman–Brown formula ``2r / (1 + r)`` and averaged over
      ``splits`` random splits; its interval resamples texts (one split per resample).
      It is how well another panel of readers would agree with this one: the most a
      model's agreement with the readers' mean could be expected to reach.

    Returns
    -------
    DataFrame
        ``comparison, emotion, n, pearson, pearson_low, pearson_high, spearman,
        spearman_low, spearman_high`` (split-half rows fill the Pearson columns only).
    """
    rng = np.random.default_rng(seed)
    read = humans[humans["reader_n"] > 0]
    rows = [{"comparison": "readers' mean vs writer"} | row
            for row in _by_emotion(read, "reader_mean", "writer_intensity", n_boot, rng)]  # fmt: skip
    ratings = readers[readers["item_id"].isin(read["item_id"])].copy()
    ratings["slot"] = ratings.groupby("item_id").cumcount()
    wide = ratings.pivot(index="item_id", columns="slot", values="intensity").dropna()
    emotions = read.set_index("item_id")["emotion"].astype(str).reindex(wide.index)
    for emotion in ["all", *sorted(emotions.unique())]:
        part = wide.to_numpy() if emotion == "all" else wide[emotions == emotion].to_numpy()
        row = {"comparison": "split-half reliability (Spearman–Brown)", "emotion": emotion, "n": len(part)}
        if len(part) >= 3 and part.shape[1] >= 2:
            row["pearson"] = _split_half(part, rng, splits)
            if n_boot > 0:
                boot = [_split_half(part[rng.integers(0, len(part), len(part))], rng, 1) for _ in range(n_boot)]
                row["pearson_low"], row["pearson_high"] = (float(v) for v in np.nanpercentile(boot, [2.5, 97.5]))
        rows.append(row)
    columns = ["comparison", "emotion", "n", "pearson", "pearson_low", "pearson_high", "spearman", "spearman_low",
               "spearman_high"]  # fmt: skip
    return pd.DataFrame(rows).reindex(columns=columns)


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
        writers[["item_id", attribute]], on="item_id", suffixes=("_reader", "_writer"))
    frame = frame.rename(columns={f"{attribute}_reader": "reader_group", f"{attribute}_writer": "writer_group"})
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
        index=f"writer {attribute}", columns=f"reader {attribute}")


def reader_premium(readers: pd.DataFrame, writers: pd.DataFrame, attributes: tuple[str, ...] | list[str] = ATTRIBUTES) -> pd.DataFrame:
    """Return, per attribute, the readers' in-group premium from a mixed model.

    Fits ``intensity_z ~ same + (1 | text) + (1 | reader)`` by REML
    (:func:`empathylab.crossed.fit_crossed`) on :func:`premium_data`: ``same`` is 1
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
    from empathylab.crossed import fit_crossed

    rows = []
    for attribute in attributes:
        frame = premium_data(readers, writers, attribute)
        row: dict[str, Any] = {"attribute": attribute, "n_obs": len(frame), "n_same": int(frame["same"].sum()),
                               "n_texts": frame["item_id"].nunique(), "n_readers": frame["reader_id"].nunique(),
                               "groups": len(set(frame["writer_group"]) | set(frame["reader_group"]))}  # fmt: skip
        row["raw_same"] = float(frame.loc[frame["same"] == 1, "intensity"].mean())
        row["raw_other"] = float(frame.loc[frame["same"] == 0, "intensity"].mean())
        if 0 < row["n_same"] < len(frame):
            fit = fit_crossed(frame["intensity_z"], frame[["same"]].assign(const=1.0)[["const", "same"]],
                              frame["item_id"], frame["reader_id"])  # fmt: skip
            effect = fit["fixed"].loc["same"]
            row |= {"premium": effect["coef"], "se": effect["se"], "ci_low": effect["ci_low"],
                    "ci_high": effect["ci_high"], "p": effect["p"], "text_sd": fit["sd_a"],
                    "reader_sd": fit["sd_b"], "resid_sd": fit["resid_sd"]}  # fmt: skip
        rows.append(row)
    columns = ["attribute", "premium", "se", "ci_low", "ci_high", "p", "n_obs", "n_same", "n_texts", "n_readers",
               "groups", "text_sd", "reader_sd", "resid_sd", "raw_same", "raw_other"]  # fmt: skip
    return pd.DataFrame(rows).reindex(columns=columns)


def side_by_side(runs: pd.DataFrame, premium: pd.DataFrame) -> pd.DataFrame:
    """Return the models' δ and the readers' premium in one table, each with its interval.

    ``runs`` is :func:`empathylab.report.runs_table` of :func:`empathylab.gaps.analyze`
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
    model = pd.DataFrame({
        "who": "model",
        "source": runs["model"].astype(str) + " · " + runs["readout"].astype(str) + " · " + runs["variation"].astype(str),
        "grouping": runs["grouping"].astype(str), "gap": runs["delta"].astype(float),
        "ci_low": runs["bootstrap_ci_low"].astype(float), "ci_high": runs["bootstrap_ci_high"].astype(float),
        "interval": "narrative bootstrap, 95 %",
    })  # fmt: skip
    people = pd.DataFrame({
        "who": "human readers", "source": "crowd-enVent readers", "grouping": premium["attribute"].astype(str),
        "gap": premium["premium"].astype(float), "ci_low": premium["ci_low"].astype(float),
        "ci_high": premium["ci_high"].astype(float), "interval": "mixed model (Wald), 95 %",
    })  # fmt: skip
    return pd.concat([model, people], ignore_index=True)


def anchor(results: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0, premium: bool = True) -> dict[str, pd.DataFrame]:
    """Return the three tables of the human anchor for ``results`` (what ``gaps human`` prints).

    Returns
    -------
    dict
        ``tracking`` (:func:`tracking` of every run against :func:`human_ratings` of the
        6,050 narratives), ``ceiling`` (:func:`human_ceiling` over every narrative with
        readers) and, unless ``premium`` is False, ``premium`` (:func:`reader_premium`
        for every attribute of :data:`ATTRIBUTES`).
    """
    if n_boot < 0:
        raise EmpathylabError(f"n_boot must be 0 (no intervals) or more, got {n_boot}.")
    humans, readers = human_ratings(), load_readers()
    tables = {"tracking": tracking(results, humans, n_boot=n_boot, seed=seed),
              "ceiling": human_ceiling(humans, readers, n_boot=n_boot, seed=seed)}  # fmt: skip
    if premium:
        tables["premium"] = reader_premium(readers, load_writers())
    return tables


class AnchorPlan(RunPlan):
    """A :class:`~empathylab.runner.RunPlan` that asks only the baseline prompt, ``a person`` about ``a person``."""

    def people(self, grouping: str) -> list[str]:
        return [design.BASELINE]


def plan_anchor(
    profile: str | Profile = "demo", *, out: str | None = None, check_model: bool = True
) -> AnchorPlan | None:
    """Plan the human-anchor run: the baseline prompt on narratives that have readers.

    ``stimuli.anchor_items_per_emotion`` narratives per emotion are drawn (with the
    profile's seed) from the 1,100 narratives that have readers, and asked only
    ``a person`` about ``a person`` (grouping religion, the profile's first variation,
    its readout and models), so that the model's intensity can be set beside the
    writers' and the readers' on enough texts. Stored under ``output_dir/human``.

    Returns
    -------
    AnchorPlan or None
        The plan for :func:`empathylab.runner.run_gaps`; None when the profile sets
        ``anchor_items_per_emotion: 0``.

    >>> import tempfile
    >>> plan = plan_anchor("demo", out=tempfile.mkdtemp(), check_model=False)
    >>> plan.people("religion"), len(plan.narratives)
    (['a person'], 120)
    """
    from empathylab.models import resolve_model
    from empathylab.stimuli import sample_narratives

    cfg = load_profile(profile)
    per_emotion = cfg.stimuli.anchor_items_per_emotion
    if per_emotion == 0:
        return None
    checked = load_profile(cfg, gaps={"groupings": ["religion"], "variations": cfg.gaps.variations[:1]})
    narratives = data.load_narratives()
    read = human_ratings(narratives).query("reader_n > 0")["item_id"]
    chosen = sample_narratives(narratives[narratives["item_id"].isin(read)], per_emotion, seed=cfg.seed)
    root = Path(out) if out is not None else checked.output_path() / "human"
    plan = AnchorPlan(checked, design.parse_shard("1/1"), root, chosen.reset_index(drop=True))
    for spec in checked.models.causal_lm:
        plan.store(spec, checked.gaps.variations[0], "religion")  # raises if the store holds another design
        if check_model and checked.gaps.backend in ("transformers", "vllm"):
            resolve_model(spec, "causal_lm")
    return plan
