"""The narratives as stimuli: reproducible subsamples and descriptive tables.

Every function takes the tidy frame of :func:`empathylab.data.load_narratives`.
"""

from __future__ import annotations

import pandas as pd

from empathylab.errors import EmpathylabError

__all__ = [
    "TEXT_VERSIONS",
    "sample_narratives",
    "text_lengths",
    "summary_by_emotion",
    "key_numbers",
    "examples",
]

#: The three versions of each narrative: column -> name used in the book and the prompts.
TEXT_VERSIONS: dict[str, str] = {
    "generated_text": "original",
    "first_person_text": "1-person",
    "third_person_text": "3-person",
}


def sample_narratives(narratives: pd.DataFrame, per_emotion: int | None, seed: int = 0) -> pd.DataFrame:
    """Return ``per_emotion`` narratives of each emotion, drawn reproducibly from ``seed``.

    ``None`` keeps every narrative. An emotion with fewer narratives keeps all of them.
    The result is sorted by emotion and ``item_id``, so it does not depend on input order.

    >>> frame = pd.DataFrame({"emotion": ["joy"] * 3 + ["fear"] * 2, "item_id": range(5)})
    >>> sample_narratives(frame, 1, seed=0).emotion.tolist()
    ['fear', 'joy']
    """
    if per_emotion is not None and per_emotion < 1:
        raise EmpathylabError(f"per_emotion must be a positive number or None, not {per_emotion}.")
    ordered = narratives.sort_values(["emotion", "item_id"], kind="stable")
    if per_emotion is None:
        return ordered.reset_index(drop=True)
    shuffled = ordered.sample(frac=1.0, random_state=seed)
    picked = shuffled.groupby("emotion", observed=True, sort=False).head(per_emotion)
    return picked.sort_values(["emotion", "item_id"], kind="stable").reset_index(drop=True)


def text_lengths(narratives: pd.DataFrame) -> pd.DataFrame:
    """Return the length in words of every version of every narrative, in long format.

    Columns: ``emotion, item_id, version`` (original, 1-person, 3-person), ``words``.

    >>> frame = pd.DataFrame({"emotion": ["joy"], "item_id": [1], "generated_text": ["a b"],
    ...                       "first_person_text": ["I felt joy when a b"],
    ...                       "third_person_text": ["The person felt joy when a b."]})
    >>> text_lengths(frame).words.tolist()
    [2, 6, 7]
    """
    long = narratives.melt(
        id_vars=["emotion", "item_id"],
        value_vars=list(TEXT_VERSIONS),
        var_name="version",
        value_name="text",
    )
    long["version"] = pd.Categorical(
        long["version"].map(TEXT_VERSIONS), categories=list(TEXT_VERSIONS.values()), ordered=True
    )
    long["words"] = long["text"].str.split().str.len().astype(int)
    return long.drop(columns="text")


def summary_by_emotion(narratives: pd.DataFrame) -> pd.DataFrame:
    """Return one row per emotion: the number of narratives and median words per version.

    Columns: ``emotion, narratives, original, 1-person, 3-person`` (median words).

    >>> frame = pd.DataFrame({"emotion": ["joy", "joy"], "item_id": [1, 2],
    ...     "generated_text": ["a", "a b c"], "first_person_text": ["x y", "x y"],
    ...     "third_person_text": ["z", "z"]})
    >>> summary_by_emotion(frame)
      emotion  narratives  original  1-person  3-person
    0     joy           2       2.0       2.0       1.0
    """
    counts = narratives.groupby("emotion", observed=True).size().rename("narratives")
    medians = text_lengths(narratives).pivot_table(
        index="emotion", columns="version", values="words", aggfunc="median", observed=True
    )
    table = pd.concat([counts, medians.astype(float)], axis=1).reset_index()
    table.columns.name = None
    return table


def key_numbers(narratives: pd.DataFrame) -> dict[str, int | float | str]:
    """Return the descriptive numbers the book quotes about a set of narratives.

    Keys: ``n_narratives``, ``n_emotions``, ``n_max_per_emotion``, ``n_min_per_emotion``,
    ``fewest_emotions`` (the emotions with the fewest narratives, joined by "and"),
    ``median_words_<version>`` for each text version and ``max_words_original``.

    >>> frame = pd.DataFrame({"emotion": ["joy", "joy", "fear"], "item_id": [1, 2, 3],
    ...     "generated_text": ["a", "a b c", "a b"], "first_person_text": ["x"] * 3,
    ...     "third_person_text": ["y"] * 3})
    >>> numbers = key_numbers(frame)
    >>> numbers["fewest_emotions"], numbers["median_words_original"], numbers["max_words_original"]
    ('fear', 2.0, 3)
    """
    counts = narratives.groupby("emotion", observed=True).size()
    lengths = text_lengths(narratives)
    medians = lengths.groupby("version", observed=True)["words"].median()
    numbers: dict[str, int | float | str] = {
        "n_narratives": len(narratives),
        "n_emotions": int(counts.size),
        "n_max_per_emotion": int(counts.max()),
        "n_min_per_emotion": int(counts.min()),
        "fewest_emotions": " and ".join(map(str, counts.index[counts == counts.min()])),
    }
    numbers.update({f"median_words_{v}": float(m) for v, m in medians.items()})
    numbers["max_words_original"] = int(lengths.loc[lengths["version"] == "original", "words"].max())
    return numbers


def examples(narratives: pd.DataFrame, n: int = 3, max_words: int = 30, seed: int = 0) -> pd.DataFrame:
    """Return ``n`` short narratives (original under ``max_words`` words) in their three versions.

    Drawn reproducibly from ``seed``, at most one per emotion; indexed by emotion and
    item id, one column per version (original, 1-person, 3-person).

    >>> frame = pd.DataFrame({"emotion": ["joy"], "item_id": [1], "generated_text": ["a"],
    ...     "first_person_text": ["b"], "third_person_text": ["c"]})
    >>> examples(frame).columns.tolist()
    ['original', '1-person', '3-person']
    """
    short = narratives[narratives["generated_text"].str.split().str.len() < max_words]
    picked = sample_narratives(short, 1, seed=seed).sample(frac=1.0, random_state=seed).head(n)
    return picked.set_index(["emotion", "item_id"])[list(TEXT_VERSIONS)].rename(columns=TEXT_VERSIONS)
