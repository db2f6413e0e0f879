"""What humans say: the writers' and readers' own intensities of the crowd-enVent narratives.

Troiano, Oberländer & Klinger (2023) asked every writer of a crowd-enVent narrative how
intensely they felt the emotion (1–5) and for their age, gender, education and
ethnicity; 1,200 of the texts (1,100 of them among the 6,050 narratives of Hou et al.,
the others *no emotion*) were rated again by five readers each, who gave the same
demographics. This module reads both files (:func:`load_writers`, :func:`load_readers`),
joins them to the narratives with checks (:func:`join_narratives`), harmonises
ethnicity (:data:`ETHNICITY`), and answers three questions:

* does a model's intensity track people's? (:func:`~empathylab.gaps.anchor.tracking`,
  with the human ceiling and its bounds :func:`~empathylab.gaps.anchor.human_ceiling`);
* do human readers rate writers of their own group differently?
  (:func:`~empathylab.gaps.premium.reader_premium`, a mixed model with the writer's and
  the reader's group and crossed text and reader intercepts, :mod:`empathylab.gaps.crossed`);
* how do the two compare, in the same units? (:func:`~empathylab.gaps.premium.side_by_side`).

Every function takes and returns tidy DataFrames.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from empathylab import data
from empathylab.errors import DataFileError, EmpathylabError

__all__ = [
    "WRITERS_FILE",
    "READERS_FILE",
    "FIXED_ETHNICITIES",
    "ETHNICITY",
    "ATTRIBUTES",
    "AGE_BANDS",
    "harmonise_ethnicity",
    "ethnicity_table",
    "age_band",
    "normalise_text",
    "load_writers",
    "load_readers",
    "join_narratives",
    "human_ratings",
]


WRITERS_FILE = "crowd-enVent-corpus/enVent_gen_Data.csv"

READERS_FILE = "crowd-enVent-corpus/enVent_val_Data.csv"

#: The survey's fixed ethnicity options (regions of origin), spelled as in the files.
FIXED_ETHNICITIES = (
    "European",
    "North American",
    "Australian/New Zealander",
    "African",
    "South Asian",
    "East Asian",
    "Hispanic/Latino",
    "Middle Eastern",
    "Indigenous",
)

#: Free-text ethnicities (lower case, single spaces) and the group each is placed in.
#: The fixed options are regions, so a free answer goes to the region it names: the
#: nations of the UK and Ireland to European, American and Canadian to North American
#: (African American included: a North American by the survey's regional scheme),
#: Caribbean, Southeast Asian and South American to groups of their own, and answers
#: naming two regions to Mixed. Answers that name no region (white, Jewish, "unsure?")
#: and "Prefer not to answer" stay unknown (NA); so does any answer not listed here.
ETHNICITY: dict[str, str] = {
    **{name.lower(): name for name in FIXED_ETHNICITIES},
    **dict.fromkeys(
        [
            "british",
            "english",
            "scottish",
            "welsh",
            "irish",
            "cornish",
            "uk",
            "united kingdom",
            "brittish",
            "white british",
            "white british - united kingdom (we have left the eu)",
            "white/british",
            "white, british",
            "english/british",
            "white scottish",
            "jewish white british",
            "black british",
        ],
        "European",
    ),
    **dict.fromkeys(
        [
            "american",
            "canadian",
            "white american",
            "european canadian",
            "african american",
            "black american",
            "black/african american",
            "black/ african american",
        ],
        "North American",
    ),
    **dict.fromkeys(
        ["caribbean", "carribean", "carribbean", "black carribbean", "black caribbean"], "Caribbean"
    ),
    **dict.fromkeys(["southeast asian", "south east asian", "south-east asian"], "Southeast Asian"),
    **dict.fromkeys(["north asian"], "East Asian"),
    **dict.fromkeys(["indian", "pakistani", "british indian", "baloch"], "South Asian"),
    **dict.fromkeys(["north african"], "African"),
    **dict.fromkeys(["australian/maori"], "Australian/New Zealander"),
    **dict.fromkeys(["south american"], "South American"),
    **dict.fromkeys(
        [
            "mixed",
            "multiracial",
            "biracial, latina/african american",
            "british/american",
            "british/caribean",
            "african/indian",
            "south asian and european",
            "european and south asian",
            "white & asian",
            "half latina, half white",
            "50/50 hispanic / north american white",
            "white european and latino",
            "white english & asian pakistani",
            "mixed race",
            "mixed race; east asian & hispanic",
            "white / black carribean",
        ],
        "Mixed",
    ),
}

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
    frame = pd.DataFrame(
        {"answer": values.astype(str), "group": harmonise_ethnicity(values).fillna("unknown")}
    )
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
        raise DataFileError(
            f"{path} is malformed: missing column(s) {', '.join(missing)}; expected {', '.join(columns)}."
        )
    intensity = pd.to_numeric(frame["intensity"], errors="coerce")
    if not intensity.between(1, 5).all():
        raise DataFileError(
            f"{path} is malformed: {int((~intensity.between(1, 5)).sum())} intensities outside 1–5."
        )
    return frame


def _demographics(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": pd.to_numeric(frame["age"], errors="coerce").where(lambda a: a >= 18).astype("Int64"),
            "age_band": age_band(frame["age"]),
            "gender": frame["gender"].astype("string").where(frame["gender"].isin(_GENDERS)),
            "education": frame["education"]
            .astype("string")
            .str.strip()
            .where(~frame["education"].isin(_EDUCATION_UNKNOWN)),
            "ethnicity_raw": frame["ethnicity"].astype("string"),
            "ethnicity": harmonise_ethnicity(frame["ethnicity"]),
        },
        index=frame.index,
    )


def load_writers() -> pd.DataFrame:
    """Return the 6,600 crowd-enVent texts with their writers' own intensity and demographics.

    Columns: ``item_id`` (the corpus' ``text_id``), ``emotion`` (the prompted emotion,
    *no-emotion* included), ``text``, ``intensity`` (1–5, the writer's), ``age``
    (NA under 18), ``age_band``, ``gender``, ``education`` (NA when "Don't know"),
    ``ethnicity_raw`` (the answer) and ``ethnicity`` (:func:`harmonise_ethnicity`).

    >>> load_writers().shape
    (6600, 10)
    """
    frame = _read(
        WRITERS_FILE,
        ("text_id", "emotion", "generated_text", "intensity", "age", "gender", "education", "ethnicity"),
    )
    if not frame["text_id"].is_unique:
        raise DataFileError(
            f"{WRITERS_FILE} repeats text_id(s) {_ids(frame['text_id'][frame['text_id'].duplicated()])}."
        )
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "item_id": frame["text_id"].astype(int),
                    "emotion": frame["emotion"].astype(str),
                    "text": frame["generated_text"].astype(str),
                    "intensity": frame["intensity"].astype(float),
                }
            ),
            _demographics(frame),
        ],
        axis=1,
    )


def load_readers() -> pd.DataFrame:
    """Return the 6,000 readers' ratings: 1,200 texts, five readers each.

    Columns: ``item_id``, ``reader_id`` (the anonymised ``prolific_id``), ``intensity``
    (1–5, the reader's), ``reader_emotion`` (the emotion the reader inferred), then the
    reader's demographics as in :func:`load_writers`.

    >>> load_readers().groupby("item_id").size().unique().tolist()
    [5]
    """
    frame = _read(
        READERS_FILE,
        (
            "text_id",
            "prolific_id",
            "annotator_emotion",
            "intensity",
            "age",
            "gender",
            "education",
            "ethnicity",
        ),
    )
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "item_id": frame["text_id"].astype(int),
                    "reader_id": frame["prolific_id"].astype(str),
                    "intensity": frame["intensity"].astype(float),
                    "reader_emotion": frame["annotator_emotion"].astype(str),
                }
            ),
            _demographics(frame),
        ],
        axis=1,
    )


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
    for frame, what, columns in (
        (narratives, "narratives", ("item_id", "emotion", "generated_text")),
        (writers, "writers", ("item_id", "emotion", "text", "intensity")),
    ):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise EmpathylabError(f"join_narratives: the {what} lack column(s) {', '.join(missing)}.")
    merged = narratives.merge(
        writers.rename(columns={"emotion": "_emotion", "text": "_text", "intensity": "writer_intensity"}),
        on="item_id",
        how="left",
        indicator=True,
    )
    absent = merged.loc[merged["_merge"] == "left_only", "item_id"]
    if len(absent):
        raise DataFileError(
            f"{len(absent)} narrative(s) have no writer row in {WRITERS_FILE}: ids {_ids(absent)}."
        )
    emotion = merged["emotion"].astype(str) != merged["_emotion"]
    if emotion.any():
        raise DataFileError(
            f"{int(emotion.sum())} narrative(s) have another emotion in {WRITERS_FILE}: "
            f"ids {_ids(merged.loc[emotion, 'item_id'])}."
        )
    text = normalise_text(merged["generated_text"]) != normalise_text(merged["_text"])
    if text.any():
        raise DataFileError(
            f"{int(text.sum())} narrative(s) have another text in {WRITERS_FILE}: "
            f"ids {_ids(merged.loc[text, 'item_id'])}."
        )
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
