"""The NewsEmp essay datasets of Part II and the LLM labels Hasan et al. released for them.

Every dataset comes out in one tidy schema, so the rest of the package never cares
where the essays came from. Columns, in this order:

- ``essay_id`` (str): the key of the essay in the released LLM label files;
- ``writer_id`` (str): the person who wrote it (essays by one writer must stay together
  when splitting into train and test);
- ``article_id`` (str), ``essay`` (str);
- ``crowd`` (float): the Batson empathic-concern label on 1–7, NaN where unlabelled;
- optional demographics ``gender, education, race, age, income`` (raw codes, with empty
  and ``unknown`` values as NaN; numbers where every value is a number);
- optional LLM labels ``gpt4o, llama3_70b, llama3_70b_plain`` (float, NaN = missing).

The ids, per dataset. The LLMPathy authors never join on an id: ``src/llm_labels.py``
of ``hasan-rakibul/LLMPathy`` appends ``llm_empathy`` to a copy of each original file
(``*_llama.tsv``) that their training code reads in place of the original
(``config/config_common.yaml``), and the released files are those copies cut down to
their id columns, in the original row order. An essay's key is therefore the column(s)
that identify a row of the original file:

============  ==========================================  ===============
dataset       ``essay_id``                                ``writer_id``
============  ==========================================  ===============
NewsEmp22     ``message_id`` (``R_..._1``)                 ``response_id``
NewsEmp23     ``"{conversation_id}_{speaker_id}"``         ``speaker_id``
NewsEmp24     ``"{conversation_id}_{person_id}"``          ``person_id``
============  ==========================================  ===============

NewsEmp23's own ``essay_id`` column restarts at 0 in the test file and NewsEmp24's dev
``id`` is a row number; neither exists in every file, so the composite keys are used for
all three splits. Ids are compared as text, with a trailing ``.0`` dropped from integers.

Licences forbid redistributing NewsEmp22 dev/test, NewsEmp23 and NewsEmp24: users point
their run profile at their own copies and :func:`read_newsemp` reads them in their
original formats. The NewsEmp22 training essays are public (Buechel et al. 2018,
:func:`public_essays`).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from empathylab import data
from empathylab.data import check_columns
from empathylab.errors import DataFileError

__all__ = [
    "DATASETS",
    "SPLITS",
    "SCHEMA",
    "DEMOGRAPHICS",
    "LLM_SOURCES",
    "released_labels",
    "public_essays",
    "read_newsemp",
    "attach_released",
]

DATASETS: tuple[str, ...] = ("NewsEmp22", "NewsEmp23", "NewsEmp24")
SPLITS: tuple[str, ...] = ("train", "dev", "test")
#: The columns every essay frame starts with.
SCHEMA: tuple[str, ...] = ("essay_id", "writer_id", "article_id", "essay", "crowd")
#: Optional demographic columns, kept with their raw codes.
DEMOGRAPHICS: tuple[str, ...] = ("gender", "education", "race", "age", "income")

#: LLM label columns -> the name used in the book.
LLM_SOURCES: dict[str, str] = {
    "gpt4o": "GPT-4o",
    "llama3_70b": "Llama-3-70B",
    "llama3_70b_plain": "Llama-3-70B (plain prompt)",
}

_MISSING = frozenset({"", "unknown", "NA", "NaN", "nan", "None"})
_SHOW = 5  # ids named in an error message


@dataclass(frozen=True)
class _Format:
    """Where the schema's columns are in a dataset's original files."""

    key: tuple[str, ...]  # joined with "_" into essay_id
    writer: str
    essay: tuple[str, ...]  # accepted names, first = the original one
    empathy: tuple[str, ...]


_FORMATS: dict[str, _Format] = {
    "NewsEmp22": _Format(("message_id",), "response_id", ("essay",), ("empathy",)),
    "NewsEmp23": _Format(("conversation_id", "speaker_id"), "speaker_id", ("essay",), ("empathy",)),
    "NewsEmp24": _Format(
        ("conversation_id", "person_id"),
        "person_id",
        ("person_essay", "essay"),
        ("person_empathy", "empathy"),
    ),
}

#: File names of the original releases, for error messages (role -> name).
_ORIGINAL: dict[tuple[str, str], dict[str, str]] = {
    ("NewsEmp22", "train"): {"essays": "messages_train_ready_for_WS.tsv"},
    ("NewsEmp22", "dev"): {
        "essays": "messages_dev_features_ready_for_WS_2022.tsv",
        "gold": "goldstandard_dev_2022.tsv",
    },
    ("NewsEmp22", "test"): {"essays": "messages_test_features_ready_for_WS_2022.tsv"},
    ("NewsEmp23", "train"): {"essays": "WASSA23_essay_level_with_labels_train.tsv"},
    ("NewsEmp23", "dev"): {"essays": "WASSA23_essay_level_dev.tsv", "gold": "goldstandard_dev.tsv"},
    ("NewsEmp23", "test"): {"essays": "WASSA23_essay_level_test.tsv"},
    ("NewsEmp24", "train"): {
        "essays": "trac3_EMP_train.csv",
        "demographics": "trac4_PER_train.csv",
    },
    ("NewsEmp24", "dev"): {"essays": "trac3_EMP_dev.csv", "demographics": "trac4_PER_dev.csv"},
    ("NewsEmp24", "test"): {
        "essays": "goldstandard_EMP.csv",
        "demographics": "goldstandard_PER.csv",
    },
}

_GPT, _LLAMA = "gpt4o", "llama3_70b"
_LABEL_FILES: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("NewsEmp22", "train"): (
        ("NewsEmp2022/messages_train_ready_for_WS_gpt.tsv", _GPT),
        ("NewsEmp2022/messages_train_ready_for_WS_llama.tsv", _LLAMA),
    ),
    ("NewsEmp22", "dev"): (
        ("NewsEmp2022/messages_dev_features_ready_for_WS_2022_gpt.tsv", _GPT),
        ("NewsEmp2022/messages_dev_features_ready_for_WS_2022_llama.tsv", _LLAMA),
    ),
    ("NewsEmp22", "test"): (
        ("NewsEmp2022/messages_test_features_ready_for_WS_2022_gpt.tsv", _GPT),
        ("NewsEmp2022/messages_test_features_ready_for_WS_2022_llama.tsv", _LLAMA),
    ),
    ("NewsEmp23", "train"): (
        ("NewsEmp2023/WASSA23_essay_level_with_labels_train_gpt.tsv", _GPT),
        ("NewsEmp2023/WASSA23_essay_level_with_labels_train_llama.tsv", _LLAMA),
    ),
    ("NewsEmp23", "dev"): (
        ("NewsEmp2023/WASSA23_essay_level_dev_gpt.tsv", _GPT),
        ("NewsEmp2023/WASSA23_essay_level_dev_llama.tsv", _LLAMA),
    ),
    ("NewsEmp23", "test"): (("NewsEmp2023/WASSA23_essay_level_test_llama.tsv", _LLAMA),),
    ("NewsEmp24", "train"): (
        ("NewsEmp2024/trac3_EMP_train_gpt.tsv", _GPT),
        ("NewsEmp2024/trac3_EMP_train_llama.tsv", _LLAMA),
    ),
    ("NewsEmp24", "dev"): (
        ("NewsEmp2024/trac3_EMP_dev_gpt.tsv", _GPT),
        ("NewsEmp2024/trac3_EMP_dev_llama_llama_plain.tsv", _LLAMA),
    ),
    ("NewsEmp24", "test"): (
        ("NewsEmp2024/test_data_with_labels/goldstandard_EMP_llama_llama_plain.tsv", _LLAMA),
    ),
}


# ---------------------------------------------------------------- small helpers


def _check_choice(value: str, valid: tuple[str, ...], what: str) -> None:
    if value not in valid:
        close = difflib.get_close_matches(str(value), valid, n=1)
        hint = f" Did you mean {close[0]}?" if close else ""
        raise DataFileError(f"Unknown {what} {value!r}.{hint} Valid: {', '.join(valid)}.")


def _some(values: list[str] | set[str]) -> str:
    """Name up to five values and say how many there are."""
    ordered = sorted(map(str, values))
    shown = ", ".join(ordered[:_SHOW]) + (", …" if len(ordered) > _SHOW else "")
    return f"{len(ordered)} ({shown})"


def _norm_id(value: object) -> str:
    text = str(value).strip()
    return re.sub(r"^(-?\d+)\.0+$", r"\1", text)


def _essay_ids(frame: pd.DataFrame, key: tuple[str, ...], path: Path) -> pd.Series:
    parts = [frame[col].map(_norm_id) for col in key]
    empty = pd.concat(parts, axis=1).eq("").any(axis=1)
    if empty.any():
        rows = [str(i + 2) for i in np.flatnonzero(empty.to_numpy())]  # +1 header, +1 base
        raise DataFileError(f"{path} is malformed: {_some(rows)} line(s) have an empty {' or '.join(key)}.")
    ids = parts[0]
    for part in parts[1:]:
        ids = ids + "_" + part
    return ids


def _check_unique(ids: pd.Series, path: Path) -> None:
    dups = set(ids[ids.duplicated()])
    if dups:
        raise DataFileError(f"{path} is malformed: duplicate essay ids, {_some(dups)}.")


def _scores(values: pd.Series, ids: pd.Series, path: Path, column: str) -> pd.Series:
    """Parse 1–7 scores: missing tokens -> NaN; anything else non-numeric is an error."""
    text = values.astype(str).str.strip()
    missing = text.isin(_MISSING)
    numbers = pd.to_numeric(text.where(~missing), errors="coerce")
    bad = numbers.isna() & ~missing
    if bad.any():
        examples = [f"{i}: {v!r}" for i, v in zip(ids[bad], text[bad], strict=True)]
        raise DataFileError(
            f"{path} is malformed: column {column} has {int(bad.sum())} non-numeric value(s), "
            f"e.g. {'; '.join(examples[:_SHOW])}."
        )
    outside = numbers.notna() & ~numbers.between(1, 7)
    if outside.any():
        raise DataFileError(
            f"{path} is malformed: column {column} has values outside 1–7 for essay(s) "
            f"{_some(set(ids[outside]))}."
        )
    return numbers.astype(float)


def _demographic(values: pd.Series) -> pd.Series:
    """Keep raw codes; empty/unknown -> NaN; numbers where every given value is one."""
    text = values.astype("string").str.strip()
    missing = text.isna() | text.isin(_MISSING)
    numbers = pd.to_numeric(text.where(~missing), errors="coerce")
    if (numbers.notna() | missing).all():
        return numbers.astype(float)
    return text.where(~missing).astype(object).where(~missing, np.nan)


def _existing(path: str | Path, role: str, dataset: str, split: str) -> Path:
    resolved = Path(path).expanduser()
    if not resolved.is_file():
        name = _ORIGINAL.get((dataset, split), {}).get(role)
        wanted = f"your copy of {name}" if name else f"your {dataset} {split} {role} file"
        raise DataFileError(
            f"{dataset} {split}: the {role} file {resolved} does not exist. Set the profile "
            f"path `{role}` to {wanted} (the licence forbids redistributing it)."
        )
    return resolved


def _first_line(path: Path) -> str:
    with path.open(encoding="utf-8", errors="replace") as fh:
        return fh.readline()


def _read_table(path: Path, *, header: bool = True) -> pd.DataFrame:
    """Read a TSV or a CSV (told apart by a tab in the first line) as text, nothing parsed."""
    sep = "\t" if "\t" in _first_line(path) else ","
    options = {"escapechar": "\\"} if sep == "," else {}  # NewsEmp24 CSVs escape quotes
    try:
        frame = pd.read_csv(
            path,
            sep=sep,
            dtype=str,
            keep_default_na=False,
            header=0 if header else None,
            **options,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataFileError(f"{path} is not a readable table: {exc}") from exc
    if header:  # a saved pandas index comes back as an unnamed first column
        frame = frame.loc[:, [not str(c).startswith("Unnamed:") and c != "" for c in frame.columns]]
    return frame


def _column(frame: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    return next((name for name in names if name in frame.columns), None)


# ---------------------------------------------------------------- released LLM labels


def _read_label_file(key: str, source: str, fmt: _Format) -> pd.DataFrame:
    path = data.fetch(f"llmpathy-labels/{key}")
    frame = _read_table(path)
    check_columns(frame, path, (*fmt.key, "llm_empathy"))
    ids = _essay_ids(frame, fmt.key, path)
    _check_unique(ids, path)
    out = pd.DataFrame({"essay_id": ids})
    out[source] = _scores(frame["llm_empathy"], ids, path, "llm_empathy")
    if "llm_empathy_plain" in frame.columns:
        out[f"{source}_plain"] = _scores(frame["llm_empathy_plain"], ids, path, "llm_empathy_plain")
    return out


def released_labels(dataset: str, split: str) -> pd.DataFrame:
    """Return the LLM labels Hasan et al. released for one NewsEmp split.

    Parameters
    ----------
    dataset : {"NewsEmp22", "NewsEmp23", "NewsEmp24"}
    split : {"train", "dev", "test"}

    Returns
    -------
    pandas.DataFrame
        One row per essay, in the files' order: ``essay_id`` (see the module docstring)
        and the label columns the split has, among ``gpt4o``, ``llama3_70b`` and
        ``llama3_70b_plain`` (floats on 1–7; NaN where the authors could not parse the
        model's answer). NewsEmp23 and NewsEmp24 test have Llama labels only.

    Raises
    ------
    DataFileError
        For an unknown dataset or split, a file that fails its hash, lacks an id column,
        has duplicate ids or a non-numeric label, or files of one split that disagree on
        their essays.

    Examples
    --------
    >>> labels = released_labels("NewsEmp24", "dev")
    >>> labels.columns.tolist(), len(labels)
    (['essay_id', 'gpt4o', 'llama3_70b', 'llama3_70b_plain'], 63)
    >>> int(released_labels("NewsEmp22", "train")["gpt4o"].isna().sum())
    5
    """
    _check_choice(dataset, DATASETS, "dataset")
    _check_choice(split, SPLITS, "split")
    fmt = _FORMATS[dataset]
    merged: pd.DataFrame | None = None
    first = ""
    for key, source in _LABEL_FILES[(dataset, split)]:
        frame = _read_label_file(key, source, fmt)
        if merged is None:
            merged, first = frame, key
            continue
        only_first = set(merged["essay_id"]) - set(frame["essay_id"])
        only_this = set(frame["essay_id"]) - set(merged["essay_id"])
        if only_first or only_this:
            raise DataFileError(
                f"The released {dataset} {split} label files disagree on their essays: "
                f"{_some(only_first) if only_first else 0} only in {first}, "
                f"{_some(only_this) if only_this else 0} only in {key}."
            )
        merged = merged.merge(frame, on="essay_id", how="left", validate="one_to_one")
    assert merged is not None
    order = ["essay_id", *[c for c in LLM_SOURCES if c in merged.columns]]
    return merged[order].reset_index(drop=True)


# ---------------------------------------------------------------- the public essays


def _join_report(essays: set[str], labels: set[str]) -> str:
    no_label = essays - labels
    no_essay = labels - essays
    parts = []
    if no_label:
        parts.append(f"{_some(no_label)} essay(s) have no released label row")
    if no_essay:
        parts.append(f"{_some(no_essay)} label row(s) match no essay")
    return "; ".join(parts)


def public_essays() -> pd.DataFrame:
    """Return the 1,860 public NewsEmp22 training essays with their released LLM labels.

    The essays of Buechel et al. (2018) (:func:`empathylab.data.load_essays`), joined by
    ``message_id`` with the released NewsEmp22 train GPT-4o and Llama-3-70B labels. The
    join is checked both ways: every essay has a row in both label files and every label
    row an essay. Empty label values (five GPT-4o answers the authors could not parse)
    stay NaN: they are missing labels, not a failed join.

    Returns
    -------
    pandas.DataFrame
        Columns ``essay_id`` (message_id), ``writer_id`` (response_id), ``article_id``,
        ``essay``, ``crowd`` (the crowd empathy on 1–7), ``gpt4o``, ``llama3_70b``.

    Raises
    ------
    DataFileError
        When a file is missing or corrupt, or essays and labels do not match one to one
        (naming up to five ids missing on each side, and how many).

    Examples
    --------
    >>> essays = public_essays()
    >>> essays.shape, int(essays["gpt4o"].isna().sum()), int(essays["llama3_70b"].isna().sum())
    ((1860, 7), 5, 0)
    >>> essays["writer_id"].nunique()
    372
    """
    raw = data.load_essays()
    essays = pd.DataFrame(
        {
            "essay_id": raw["message_id"].map(_norm_id),
            "writer_id": raw["response_id"].map(_norm_id),
            "article_id": raw["article_id"].map(_norm_id),
            "essay": raw["essay"].astype(str),
            "crowd": raw["empathy"].astype(float),
        }
    )
    labels = released_labels("NewsEmp22", "train")
    problem = _join_report(set(essays["essay_id"]), set(labels["essay_id"]))
    if problem:
        raise DataFileError(
            "The public essays (empathic_reactions/messages.csv) and the released NewsEmp22 "
            f"train labels do not match one to one: {problem}."
        )
    return essays.merge(labels, on="essay_id", how="left", validate="one_to_one")


# ---------------------------------------------------------------- bring-your-own files


def _gold_scores(path: Path, fmt: _Format, essays: pd.DataFrame, essays_path: Path) -> pd.Series:
    """Crowd empathy from a separate gold file, aligned with the essays' rows.

    A header-less gold file (NewsEmp22/23: ``empathy, distress, …`` with no names) lists
    one row per essay in the essays' order. A gold file with a header needs an empathy
    column; it is joined by the dataset's key columns when it has them, else by row.
    """
    first = re.split(r"[\t,]", _first_line(path), maxsplit=1)[0].strip().strip('"')
    headed = pd.isna(pd.to_numeric(first, errors="coerce")) and first not in _MISSING
    gold = _read_table(path, header=headed)
    if headed:
        column = _column(gold, fmt.empathy)
        if column is None:
            check_columns(gold, path, (fmt.empathy[0],))
        if all(col in gold.columns for col in fmt.key):
            ids = _essay_ids(gold, fmt.key, path)
            _check_unique(ids, path)
            missing = set(essays["essay_id"]) - set(ids)
            if missing:
                raise DataFileError(
                    f"{path} has no gold label for {_some(missing)} essay(s) of {essays_path}."
                )
            values = pd.Series(gold[column].to_numpy(), index=ids)
            text = essays["essay_id"].map(values)
            return _scores(text, essays["essay_id"], path, column)
    else:
        column = "column 1 (empathy)"
        gold = gold.rename(columns={0: column})
    if len(gold) != len(essays):
        raise DataFileError(
            f"{path} has {len(gold)} rows but {essays_path} has {len(essays)} essays; a gold "
            "file without ids must list one row per essay, in the same order."
        )
    return _scores(gold[column].reset_index(drop=True), essays["essay_id"], path, column)


def _person_demographics(path: Path, writers: pd.Series, essays_path: Path) -> pd.DataFrame:
    per = _read_table(path)
    check_columns(per, path, ("person_id", *DEMOGRAPHICS))
    per = per[["person_id", *DEMOGRAPHICS]].assign(person_id=per["person_id"].map(_norm_id))
    per = per.drop_duplicates()
    clash = set(per.loc[per["person_id"].duplicated(), "person_id"])
    if clash:
        raise DataFileError(
            f"{path} is malformed: {_some(clash)} person_id(s) have conflicting demographics."
        )
    missing = set(writers) - set(per["person_id"])
    if missing:
        raise DataFileError(
            f"{path} has no row for {_some(missing)} person_id(s) who wrote essays in "
            f"{essays_path}; give the PER file of the same split."
        )
    table = per.set_index("person_id")
    return pd.DataFrame({col: writers.map(table[col]).to_numpy() for col in DEMOGRAPHICS})


def read_newsemp(
    dataset: str,
    split: str,
    essays: str | Path,
    gold: str | Path | None = None,
    demographics: str | Path | None = None,
) -> pd.DataFrame:
    """Read a user's own copy of a NewsEmp split, in its original format, into the schema.

    Formats (column names as released by the WASSA shared tasks; extra columns are
    ignored; a TSV or CSV is recognised by a tab in its header line):

    - NewsEmp22 (TSV): ``message_id, response_id, article_id, [empathy, distress, …],
      essay, gender, education, race, age, income, …``; dev/test carry no labels, and
      the dev gold (``goldstandard_dev_2022.tsv``) is header-less, one row per essay in
      the same order, empathy in column 1.
    - NewsEmp23 (TSV): ``conversation_id, article_id, essay, [empathy, distress,]
      speaker_id, gender, education, race, age, income, …, speaker_number, split,
      essay_id``; dev gold ``goldstandard_dev.tsv`` header-less as for NewsEmp22.
    - NewsEmp24 (CSV, ``\\"`` escaped quotes): ``conversation_id, article_id, person_id,
      person_essay, [person_empathy, person_distress]``; demographics come from the PER
      track file (``trac4_PER_*.csv``, ``person_id, gender, education, race, age, income,
      …``) joined by ``person_id``. A separate gold file may be header-less (as above)
      or have a header with ``person_empathy`` (joined by conversation and person ids
      when it has them, else by row).

    Parameters
    ----------
    dataset : {"NewsEmp22", "NewsEmp23", "NewsEmp24"}
    split : {"train", "dev", "test"}
    essays : path of the essays file.
    gold : path of a separate gold-label file, for files without labels.
    demographics : NewsEmp24 only: path of the PER file of the same split.

    Returns
    -------
    pandas.DataFrame
        ``essay_id, writer_id, article_id, essay, crowd`` (see the module docstring),
        then ``gender, education, race, age, income`` when the data has them. ``crowd``
        is NaN for an unlabelled split.

    Raises
    ------
    DataFileError
        For a missing file (naming the profile path), a missing column (expected vs
        found), a non-numeric or out-of-range empathy, duplicate essay ids, a gold file
        whose rows do not match the essays, a person missing from the PER file, or a
        training split without labels.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "train.tsv").write_text(
    ...     "message_id\\tresponse_id\\tarticle_id\\tempathy\\tessay\\tgender\\n"
    ...     "R_1_1\\tR_1\\t67\\t5.5\\tSo sad.\\t2\\n"
    ... )
    >>> read_newsemp("NewsEmp22", "train", folder / "train.tsv").values.tolist()
    [['R_1_1', 'R_1', '67', 'So sad.', 5.5, 2.0]]
    """
    _check_choice(dataset, DATASETS, "dataset")
    _check_choice(split, SPLITS, "split")
    fmt = _FORMATS[dataset]
    path = _existing(essays, "essays", dataset, split)
    gold_path = None if gold is None else _existing(gold, "gold", dataset, split)
    if demographics is not None and dataset != "NewsEmp24":
        raise DataFileError(
            f"{dataset} essays carry their own demographics; a demographics file is only "
            "read for NewsEmp24. Remove `demographics` from the profile."
        )
    per_path = None if demographics is None else _existing(demographics, "demographics", dataset, split)

    raw = _read_table(path)
    essay_col = _column(raw, fmt.essay) or fmt.essay[0]
    check_columns(raw, path, (*dict.fromkeys((*fmt.key, fmt.writer, "article_id", essay_col)),))
    ids = _essay_ids(raw, fmt.key, path)
    _check_unique(ids, path)
    frame = pd.DataFrame(
        {
            "essay_id": ids,
            "writer_id": raw[fmt.writer].map(_norm_id),
            "article_id": raw["article_id"].map(_norm_id),
            "essay": raw[essay_col].astype(str),
        }
    )
    label_col = _column(raw, fmt.empathy)
    if label_col is not None and gold_path is not None:
        raise DataFileError(
            f"{path} has its own {label_col} column and a gold file {gold_path} was given "
            "too; remove `gold` from the profile or give the unlabelled essays file."
        )
    if label_col is not None:
        frame["crowd"] = _scores(raw[label_col], ids, path, label_col)
    elif gold_path is not None:
        frame["crowd"] = _gold_scores(gold_path, fmt, frame, path).to_numpy()
    elif split == "train":
        check_columns(raw, path, (fmt.empathy[0],))
    else:
        frame["crowd"] = np.nan

    if per_path is not None:
        demo = _person_demographics(per_path, frame["writer_id"], path)
    else:
        demo = raw[[c for c in DEMOGRAPHICS if c in raw.columns]]
    for col in demo.columns:
        frame[col] = _demographic(demo[col].reset_index(drop=True))
    return frame.reset_index(drop=True)


def attach_released(frame: pd.DataFrame, dataset: str, split: str, *, strict: bool = True) -> pd.DataFrame:
    """Add the released LLM labels of ``dataset``/``split`` to an essay frame.

    Parameters
    ----------
    frame : an essay frame with ``essay_id`` (e.g. from :func:`read_newsemp`).
    dataset, split : which released labels (see :func:`released_labels`).
    strict : if true, every essay must have a released label row.

    Returns
    -------
    pandas.DataFrame
        ``frame`` in its order, with the split's LLM columns (``gpt4o``, ``llama3_70b``,
        ``llama3_70b_plain`` as available) added or replaced; NaN where a label is missing
        (or, with ``strict=False``, where an essay has no label row).

    Raises
    ------
    DataFileError
        When ``frame`` has no ``essay_id`` column, or (``strict``) some essays have no
        released label row (naming up to five and their count).

    Examples
    --------
    >>> frame = pd.DataFrame({"essay_id": ["1_68"], "crowd": [5.0]})
    >>> attach_released(frame, "NewsEmp23", "dev").round(2).values.tolist()
    [['1_68', 5.0, 6.2, 5.63]]
    """
    if "essay_id" not in frame.columns:
        raise DataFileError(
            "The essay frame has no essay_id column; read it with read_newsemp(). Found: "
            f"{', '.join(map(str, frame.columns)) or 'none'}."
        )
    labels = released_labels(dataset, split)
    missing = set(frame["essay_id"]) - set(labels["essay_id"])
    if strict and missing:
        example = labels["essay_id"].iloc[0] if len(labels) else "?"
        raise DataFileError(
            f"{_some(missing)} essay(s) have no released {dataset} {split} LLM label "
            f"(released ids look like {example!r}). Check the dataset and split, or pass "
            "strict=False to keep them with NaN labels."
        )
    kept = frame.drop(columns=[c for c in LLM_SOURCES if c in frame.columns])
    merged = kept.merge(labels, on="essay_id", how="left", validate="many_to_one")
    merged.index = frame.index
    return merged
