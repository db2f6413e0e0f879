"""Reading result tables of Part I from anywhere: our store, plain tables, the authors' files.

:func:`read_result_table` turns a file or a folder into the rows that
:func:`empathylab.gaps.analysis.analyze` takes (one row per answered prompt, the store's
:data:`~empathylab.gaps.rows.COLUMNS`). It reads three kinds of input, alone or mixed in one
folder:

* **the store** of ``empathylab gaps run`` (``chunk-*.parquet`` files under
  ``<model>/<readout>/<variation>/<grouping>/``), through
  :func:`empathylab.gaps.rows.read_results`;
* **plain tables**: Parquet (``.parquet``) or CSV (``.csv``) files with the documented
  columns below, one file or every such file under a folder (recursively);
* **the authors' processed results** (Hou et al. 2025, ``processed_results/*.tsv``): one
  TSV per perceiver x experiencer cell (:func:`read_authors_results`).

Documented columns of a plain table
-----------------------------------
Required (the error names the missing ones):

``grouping``
    ``religion``, ``ethnicity`` or ``nationality`` (:data:`empathylab.gaps.design.GROUPINGS`).
``variation``
    a prompt variation of :data:`empathylab.gaps.design.VARIATIONS` (``origin``, ``persona-1``
    ... ``10-scale``).
``perceiver``, ``experiencer``
    identities of the grouping, spelled as in :func:`empathylab.gaps.design.identities`
    (the baseline ``a person`` included).
``item_id``
    the narrative's id (the crowd-enVent ``text_id`` in our runs); integers are kept as
    integers, other labels as strings.
``intensity``
    the rating, a number; empty (NaN) when the answer is missing (refusal or invalid).

Optional (filled when absent):

``model``, ``readout``
    which model and readout answered; ``"unknown"`` when absent (or empty). Tables of
    different models without these columns therefore count as one run and repeat
    prompts: add the columns to tell them apart.
``emotion``
    the narrative's emotion (needed by :func:`empathylab.gaps.beyond.delta_by_emotion`); NA.
``status``
    ``ok``, ``refusal`` or ``invalid``; derived when absent (or empty): ``invalid``
    where the intensity is NaN, else ``ok``.
``prompt_id``, ``backend``, ``response``, ``p_valid``, ``argmax``
    the store's bookkeeping (stable prompt id, engine, raw answer, valid probability
    mass and most likely answer of the distribution readout); NA when absent.

Other columns are ignored. Whatever the source, the rows are checked: every grouping,
variation and identity must be known, and each (model, readout, variation, grouping,
perceiver, experiencer, item_id) may appear only once; a violation, a missing column or
an unreadable file raises one :class:`~empathylab.errors.EmpathylabError` that names
the file and what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from empathylab.errors import EmpathylabError
from empathylab.gaps import design
from empathylab.gaps.reading import REFUSAL_PREFIXES
from empathylab.gaps.rows import COLUMNS

__all__ = [
    "REQUIRED_COLUMNS",
    "OPTIONAL_COLUMNS",
    "UNKNOWN",
    "STATUSES",
    "AUTHORS_FILE",
    "AUTHORS_COLUMNS",
    "read_result_table",
    "read_authors_results",
]

#: Columns every plain result table must have.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "grouping",
    "variation",
    "perceiver",
    "experiencer",
    "item_id",
    "intensity",
)
#: Columns a plain result table may have (see the module docstring for their defaults).
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "model",
    "readout",
    "emotion",
    "status",
    "prompt_id",
    "backend",
    "response",
    "p_valid",
    "argmax",
)
#: The model and readout of rows whose table does not say.
UNKNOWN = "unknown"
#: The values of ``status``.
STATUSES: tuple[str, ...] = ("ok", "refusal", "invalid")
#: The authors' file names: ``{grouping}_{variation}_{model}_{perceiver}_{experiencer}.tsv``
#: (identities hold spaces but no underscore; the model part may be empty).
AUTHORS_FILE = re.compile(
    r"^(?P<grouping>[^_]+)_(?P<variation>[^_]+)_(?P<model>.*)_"
    r"(?P<perceiver>[^_]+)_(?P<experiencer>[^_]+)\.tsv$"
)
#: The columns of the authors' files (those read: ``emotion``, ``response``, ``intensity``).
AUTHORS_COLUMNS: tuple[str, ...] = (
    "idx",
    "emotion",
    "system_prompt",
    "user_input",
    "response",
    "intensity",
)

_AUTHORS_READ = ("emotion", "response", "intensity")
_AUTHORS_MISSING = -1  # their code for a refusal or an invalid answer
_N_NARRATIVES = 6050  # rows of every authors' file (SPEC, Part I)
_PLAIN_SUFFIXES = (".parquet", ".csv")
_CHUNK = re.compile(r"^chunk-\d+\.parquet$")
_KEYS = ("model", "readout", "variation", "grouping", "perceiver", "experiencer", "item_id")
_STRINGS = (
    "model",
    "readout",
    "grouping",
    "variation",
    "perceiver",
    "experiencer",
    "emotion",
    "status",
    "backend",
    "response",
    "item_id",
)
_ACCEPTED = (
    "a results folder of `empathylab gaps run` (chunk-*.parquet), Parquet/CSV tables with "
    f"the columns {', '.join(REQUIRED_COLUMNS)} (optional: {', '.join(OPTIONAL_COLUMNS)}), "
    "or the authors' processed_results/*.tsv files"
)


# --------------------------------------------------------------------------- public


def read_result_table(path: str | Path) -> pd.DataFrame:
    """Read result rows from a results folder, a Parquet/CSV table or the authors' files.

    Parameters
    ----------
    path : str or pathlib.Path
        One file (``.parquet``, ``.csv``, or an authors' ``.tsv``) or one folder. A
        folder is searched recursively (hidden files and folders skipped): store chunks
        (``chunk-*.parquet``) are read with :func:`empathylab.gaps.rows.read_results`, other
        ``.parquet``/``.csv`` files as plain tables with the documented columns (see the
        module docstring), and ``.tsv`` files as the authors' processed results
        (:func:`read_authors_results`, one call per folder holding them). Everything
        found is concatenated.

    Returns
    -------
    pandas.DataFrame
        One row per prompt with the store's :data:`~empathylab.gaps.rows.COLUMNS`, in that
        order, sorted like :func:`~empathylab.gaps.rows.read_results` (model, readout,
        variation, grouping, prompt id; then perceiver and experiencer in design order
        and item id, for rows without a prompt id). ``intensity`` is float (NaN when
        missing). When authors' files were read, ``attrs["item_id_source"]`` says for
        each of their runs how item ids were assigned (see :func:`read_authors_results`).

    Raises
    ------
    EmpathylabError
        When the path does not exist or holds no result table, a file cannot be read,
        a table lacks required columns, holds an unknown grouping, variation, identity
        or status, or repeats a prompt.

    Examples
    --------
    >>> import tempfile
    >>> from empathylab.gaps import simulate_results
    >>> rows = simulate_results("religion", n_items=2)
    >>> mine = rows[["grouping", "variation", "perceiver", "experiencer", "item_id",
    ...              "intensity"]]
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     mine.to_csv(f"{tmp}/my_results.csv", index=False)
    ...     table = read_result_table(tmp)
    >>> len(table), table["model"].unique().tolist(), table["status"].unique().tolist()
    (72, ['unknown'], ['ok'])
    """
    path = Path(path)
    if not path.exists():
        raise EmpathylabError(f"No stored results at {path}: no such file or folder. Expected {_ACCEPTED}.")
    frames: list[pd.DataFrame] = []
    notes: dict[str, str] = {}
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in _PLAIN_SUFFIXES:
            frames.append(_read_plain(path))
        elif suffix == ".tsv":
            frame, notes = _read_authors_files([path], None, str(path))
            frames.append(frame)
        else:
            raise EmpathylabError(
                f"{path} is not a result table (suffix {path.suffix or 'none'}): expected {_ACCEPTED}."
            )
        return _finish(frames, str(path), notes)
    found = [p for p in sorted(path.rglob("*")) if p.is_file() and not _hidden(p, path)]
    chunks = [p for p in found if _CHUNK.match(p.name)]
    plain = [p for p in found if p.suffix.lower() in _PLAIN_SUFFIXES and not _CHUNK.match(p.name)]
    tsv = [p for p in found if p.suffix.lower() == ".tsv"]
    if not (chunks or plain or tsv):
        raise EmpathylabError(
            f"No stored results or result tables under {path}: expected {_ACCEPTED} "
            "(`empathylab gaps run` writes a results folder)."
        )
    if chunks:
        from empathylab.gaps.rows import read_results

        frames.append(_normalize(read_results(path), f"the stored results under {path}"))
    frames += [_read_plain(p) for p in plain]
    for folder in sorted({p.parent for p in tsv}):
        frame, more = _read_authors_files([p for p in tsv if p.parent == folder], None, str(folder))
        frames.append(frame)
        notes.update(more)
    return _finish(frames, str(path), notes)


def read_authors_results(folder: str | Path, model: str | None = None) -> pd.DataFrame:
    """Read the authors' ``processed_results/*.tsv`` files (Hou et al. 2025) as result rows.

    Each file is one perceiver x experiencer cell, named
    ``{grouping}_{variation}_{model}_{perceiver}_{experiencer}.tsv`` (:data:`AUTHORS_FILE`;
    e.g. ``religion_origin_llama-8b_a Christian_a person.tsv``), with the columns
    :data:`AUTHORS_COLUMNS` and one row per narrative in prompt order (6,050 rows);
    ``intensity`` −1 codes a refusal or an invalid answer. Their processing script
    accepted an integer in 0–100 even under the 10-point scale; values are kept as given.

    Parameters
    ----------
    folder : str or pathlib.Path
        The folder holding the ``.tsv`` files (not searched recursively), or one file.
    model : str, optional
        The model of files whose model part is empty (``religion_origin__a Jew_a Jew.tsv``,
        the default of the authors' processing script, which was Llama-3.1-8B); without
        it, ``"unknown"``. Files that name their model keep it.

    Returns
    -------
    pandas.DataFrame
        One row per (file, row) with the store's :data:`~empathylab.gaps.rows.COLUMNS`,
        sorted as by :func:`read_result_table`: ``readout`` ``"generate"`` (greedy text)
        and ``backend`` ``"vllm"``, as the authors ran; ``intensity`` NaN where the file
        says −1 (or nothing); ``status`` ``ok``, else ``refusal`` when the response starts
        (after leading white space) with one of
        :data:`~empathylab.gaps.reading.REFUSAL_PREFIXES`, else ``invalid``; ``response`` the
        raw answer; ``prompt_id``, ``p_valid``, ``argmax`` NA. ``item_id`` is the
        crowd-enVent ``text_id`` of :func:`empathylab.data.load_narratives`' k-th
        narrative for row k when every file of the run (model, grouping, variation) has
        exactly as many rows as there are narratives and its ``emotion`` column equals
        theirs, in order; otherwise it is the row position 0, 1, ... (which still lines
        up the cells of a run, as the authors' analysis does).
        ``attrs["item_id_source"]`` maps ``"model/grouping/variation"`` to ``"text_id"``
        or ``"row position (why)"``.

    Raises
    ------
    EmpathylabError
        When the folder holds no ``.tsv`` file, a file name does not follow the pattern
        or names an unknown grouping, variation or identity, or a file cannot be read or
        lacks the ``emotion``, ``response`` or ``intensity`` column.

    Examples
    --------
    >>> import tempfile
    >>> cell = pd.DataFrame({"idx": [0, 1, 2], "emotion": ["joy"] * 3,
    ...     "system_prompt": "s", "user_input": "u",
    ...     "response": ["70", "I cannot rate that.", "a lot"], "intensity": [70, -1, -1]})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     cell.to_csv(f"{tmp}/religion_origin__a Jew_a Hindu.tsv", sep="\\t", index=False)
    ...     rows = read_authors_results(tmp, model="llama-8b")
    >>> rows[["model", "perceiver", "experiencer"]].iloc[0].tolist(), rows["item_id"].tolist()
    (['llama-8b', 'a Jew', 'a Hindu'], [0, 1, 2])
    >>> rows["intensity"].tolist(), rows["status"].tolist()
    ([70.0, nan, nan], ['ok', 'refusal', 'invalid'])
    >>> rows.attrs["item_id_source"]
    {'llama-8b/religion/origin': 'row position (3 rows, not the 6,050 narratives)'}
    """
    folder = Path(folder)
    if folder.is_file():
        files = [folder]
    elif folder.is_dir():
        files = sorted(p for p in folder.glob("*.tsv") if p.is_file())
        if not files:
            raise EmpathylabError(
                f"No .tsv files in {folder}: the authors' processed results are files named "
                "{grouping}_{variation}_{model}_{perceiver}_{experiencer}.tsv."
            )
    else:
        raise EmpathylabError(f"No such file or folder: {folder}.")
    frame, notes = _read_authors_files(files, model, str(folder))
    return _finish([frame], str(folder), notes)


# --------------------------------------------------------------------------- plain tables


def _hidden(path: Path, root: Path) -> bool:
    """True when a part of ``path`` below ``root`` starts with a dot."""
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _read_plain(path: Path) -> pd.DataFrame:
    """Read one Parquet or CSV table and normalise it (see :func:`_normalize`)."""
    from pyarrow import ArrowException

    try:
        if path.suffix.lower() == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, dtype=dict.fromkeys(_STRINGS, str), low_memory=False)
    except (OSError, ValueError, ArrowException) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        kind = "Parquet" if path.suffix.lower() == ".parquet" else "CSV"
        raise EmpathylabError(f"{path} is not a readable {kind} file ({reason}).") from exc
    return _normalize(frame, str(path))


def _item_ids(values: pd.Series) -> pd.Series:
    """Integers when every id is a whole number, else strings."""
    if pd.api.types.is_integer_dtype(values):
        return values.astype("int64")
    if not pd.api.types.is_bool_dtype(values):
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers.notna().all() and np.all(np.mod(numbers.to_numpy(dtype=float), 1) == 0):
            return numbers.astype("int64")
    return values.astype(str)


def _numbers(values: pd.Series, column: str, source: str, dtype: str = "float64") -> pd.Series:
    """Numbers of a column; blank is NaN, anything else not numeric is an error."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype(dtype)
    numbers = pd.to_numeric(values, errors="coerce")
    text = values.astype(str).str.strip()
    bad = numbers.isna() & values.notna() & (text != "")
    if bad.any():
        shown = ", ".join(repr(v) for v in pd.unique(values[bad])[:3])
        raise EmpathylabError(
            f"{source}: column {column} must hold numbers (empty for a missing value); "
            f"found {shown} in {int(bad.sum())} row(s)."
        )
    return numbers.astype(dtype)


def _normalize(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Check a table's columns and values; return it with the store's columns and dtypes."""
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns)) or "none"
        raise EmpathylabError(
            f"{source} lacks the required column(s) {', '.join(missing)} (found: {found}). "
            f"A result table needs {', '.join(REQUIRED_COLUMNS)} and may have "
            f"{', '.join(OPTIONAL_COLUMNS)}; see empathylab.gaps.results."
        )
    frame = frame.reset_index(drop=True)
    out = pd.DataFrame(index=frame.index)
    for column in ("model", "readout"):
        values = frame[column].astype(str) if column in frame.columns else None
        if values is None:
            out[column] = UNKNOWN
        else:
            out[column] = values.where(values.notna() & (values.str.strip() != ""), UNKNOWN)
    for column in ("grouping", "variation", "perceiver", "experiencer"):
        out[column] = frame[column].astype(str)
    blank = (
        out[["grouping", "variation", "perceiver", "experiencer"]]
        .apply(lambda c: c.isna() | (c.str.strip() == ""))
        .any(axis=1)
        | frame["item_id"].isna()
    )
    if blank.any():
        raise EmpathylabError(
            f"{source}: {int(blank.sum())} row(s) lack a grouping, variation, perceiver, "
            "experiencer or item_id; every row needs all five."
        )
    out["item_id"] = _item_ids(frame["item_id"])
    out["intensity"] = _numbers(frame["intensity"], "intensity", source)
    out["emotion"] = frame["emotion"].astype(str) if "emotion" in frame.columns else None
    derived = pd.Series(np.where(out["intensity"].isna(), "invalid", "ok"), index=frame.index)
    if "status" in frame.columns:
        status = frame["status"].astype(str).str.strip()
        given = status.notna() & (status != "")
        unknown = sorted(set(status[given]) - set(STATUSES))
        if unknown:
            raise EmpathylabError(
                f"{source}: unknown status value(s) {', '.join(map(repr, unknown))}; "
                f"valid: {', '.join(STATUSES)} (or leave it empty to derive it)."
            )
        out["status"] = status.where(given, derived)
    else:
        out["status"] = derived
    if "prompt_id" in frame.columns:
        ids = _numbers(frame["prompt_id"], "prompt_id", source, "float64")
        if (np.mod(ids.dropna().to_numpy(), 1) != 0).any():
            raise EmpathylabError(f"{source}: column prompt_id must hold whole numbers.")
        out["prompt_id"] = (
            frame["prompt_id"].astype("int64")
            if pd.api.types.is_integer_dtype(frame["prompt_id"])
            else ids.astype("Int64")
        )
    else:
        out["prompt_id"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    for column in ("backend", "response"):
        out[column] = frame[column] if column in frame.columns else None
    for column in ("p_valid", "argmax"):
        out[column] = _numbers(frame[column], column, source) if column in frame.columns else np.nan
    _check_values(out, source)
    return out[list(COLUMNS)]


def _listing(values: Iterable[object], limit: int = 6) -> str:
    values = list(values)
    shown = ", ".join(map(repr, values[:limit]))
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def _check_values(frame: pd.DataFrame, source: str, files: pd.Series | None = None) -> None:
    """Raise one error naming unknown groupings, variations or identities (and valid ones).

    ``files``, aligned with ``frame``, names the file of each row for the message.
    """

    def where(mask: pd.Series) -> str:
        if files is None:
            return ""
        return f" (in {_listing(pd.unique(files[mask]), 3)})"

    groupings = frame["grouping"]
    bad = ~groupings.isin(list(design.GROUPINGS))
    if bad.any():
        raise EmpathylabError(
            f"{source}: unknown grouping(s) {_listing(pd.unique(groupings[bad]))}{where(bad)}; "
            f"valid groupings: {', '.join(design.GROUPINGS)}."
        )
    bad = ~frame["variation"].isin(list(design.VARIATIONS))
    if bad.any():
        raise EmpathylabError(
            f"{source}: unknown variation(s) {_listing(pd.unique(frame['variation'][bad]))}"
            f"{where(bad)}; valid variations: {', '.join(design.VARIATIONS)}."
        )
    problems = []
    for grouping in pd.unique(groupings):
        valid = design.identities(str(grouping))
        rows = groupings == grouping
        bad = rows & ~(frame["perceiver"].isin(valid) & frame["experiencer"].isin(valid))
        if bad.any():
            names = set(frame.loc[bad, "perceiver"]) | set(frame.loc[bad, "experiencer"])
            problems.append(
                f"unknown {grouping} identit{'y' if len(names - set(valid)) == 1 else 'ies'} "
                f"{_listing(sorted(names - set(valid)))}{where(bad)}; valid: {', '.join(valid)}"
            )
    if problems:
        raise EmpathylabError(f"{source}: " + ". ".join(problems) + ".")


# --------------------------------------------------------------------------- the authors'


def _read_authors_files(
    files: Sequence[Path], model: str | None, source: str
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Read the authors' cell files; return the rows and the item-id note per run."""
    matches = [(p, AUTHORS_FILE.match(p.name)) for p in files]
    odd = [p.name for p, m in matches if m is None]
    if odd:
        raise EmpathylabError(
            f"{source}: {len(odd)} .tsv file(s) do not follow the authors' naming "
            "{grouping}_{variation}_{model}_{perceiver}_{experiencer}.tsv (e.g. "
            f"'religion_origin_llama-8b_a Christian_a person.tsv'): {_listing(odd, 5)}."
        )
    names = pd.DataFrame([m.groupdict() for _, m in matches if m is not None])
    names["model"] = names["model"].where(names["model"] != "", model or UNKNOWN)
    _check_values(names, source, pd.Series([p.name for p in files]))
    cells = []
    for path, (_, name) in zip(files, names.iterrows()):
        table = _read_authors_file(path)
        cells.append((name, table))
    loaded: dict[str, pd.DataFrame | str] = {}  # the narratives, read once and only if needed

    def corpus() -> pd.DataFrame | str:
        if "corpus" not in loaded:
            from empathylab.data import load_narratives

            try:
                loaded["corpus"] = load_narratives()
            except EmpathylabError as exc:
                loaded["corpus"] = f"narratives unavailable: {exc}"
        return loaded["corpus"]

    notes: dict[str, str] = {}
    item_ids: dict[str, np.ndarray | None] = {}
    for run, members in names.groupby(["model", "grouping", "variation"], sort=False):
        label = "/".join(map(str, run))
        lengths = sorted({len(cells[i][1]) for i in members.index})
        ids, why = None, ""
        if lengths != [_N_NARRATIVES]:
            counts = ", ".join(f"{n:,}" for n in lengths)
            why = f"{counts} rows, not the {_N_NARRATIVES:,} narratives"
        elif isinstance(order := corpus(), str):
            why = order
        elif len(order) != _N_NARRATIVES:
            why = f"the corpus has {len(order):,} narratives"
        elif all(
            cells[i][1]["emotion"].tolist() == order["emotion"].astype(str).tolist() for i in members.index
        ):
            ids = order["item_id"].to_numpy(dtype=np.int64)
        else:
            why = "the emotion column differs from the narratives' order"
        notes[label] = "text_id" if ids is not None else f"row position ({why})"
        item_ids[label] = ids
    frames = []
    for name, table in cells:
        label = f"{name['model']}/{name['grouping']}/{name['variation']}"
        ids = item_ids[label]
        frames.append(
            pd.DataFrame(
                {
                    "model": name["model"],
                    "readout": "generate",
                    "backend": "vllm",
                    "variation": name["variation"],
                    "grouping": name["grouping"],
                    "perceiver": name["perceiver"],
                    "experiencer": name["experiencer"],
                    "emotion": table["emotion"],
                    "item_id": ids if ids is not None else np.arange(len(table), dtype=np.int64),
                    "intensity": table["intensity"],
                    "status": table["status"],
                    "response": table["response"],
                }
            )
        )
    return _normalize(pd.concat(frames, ignore_index=True), source), notes


def _read_authors_file(path: Path) -> pd.DataFrame:
    """Read one authors' cell: ``emotion``, ``response``, ``intensity`` (NaN) and ``status``."""
    try:
        table = pd.read_csv(
            path,
            sep="\t",
            usecols=lambda c: c in _AUTHORS_READ,
            dtype={"emotion": str, "response": str},
            keep_default_na=False,
        )
    except (OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EmpathylabError(f"{path} is not a readable TSV file ({reason}).") from exc
    missing = [c for c in _AUTHORS_READ if c not in table.columns]
    if missing:
        raise EmpathylabError(
            f"{path} lacks the column(s) {', '.join(missing)}: the authors' processed results "
            f"have {', '.join(AUTHORS_COLUMNS)} (emotion, response and intensity are read)."
        )
    intensity = _numbers(table["intensity"], "intensity", str(path))
    intensity = intensity.where(intensity != _AUTHORS_MISSING)
    refused = table["response"].astype(str).str.lstrip().str.startswith(REFUSAL_PREFIXES)
    status = np.where(intensity.notna(), "ok", np.where(refused, "refusal", "invalid"))
    return pd.DataFrame(
        {"emotion": table["emotion"], "response": table["response"], "intensity": intensity, "status": status}
    )


# --------------------------------------------------------------------------- together


def _finish(frames: list[pd.DataFrame], source: str, notes: dict[str, str]) -> pd.DataFrame:
    """Concatenate normalised tables, check for repeated prompts, sort, attach the notes."""
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if pd.api.types.infer_dtype(frame["item_id"]).startswith("mixed"):
        # whole-number ids in one table, labels in another
        frame["item_id"] = frame["item_id"].astype(str)
    if frame["prompt_id"].notna().all() and len(frame):
        frame["prompt_id"] = frame["prompt_id"].astype("int64")
    else:
        frame["prompt_id"] = frame["prompt_id"].astype("Int64")
    frame["intensity"] = frame["intensity"].astype("float64")
    repeated = frame.duplicated(list(_KEYS))
    if repeated.any():
        first = frame.loc[repeated].iloc[0]
        plain = {k: v.item() if isinstance(v, np.generic) else v for k, v in first[list(_KEYS)].items()}
        example = ", ".join(f"{k}={v!r}" for k, v in plain.items())
        raise EmpathylabError(
            f"{source}: {int(repeated.sum())} row(s) repeat a prompt already read ({example}); "
            "each (model, readout, variation, grouping, perceiver, experiencer, item_id) must "
            f"appear once. Tables without a model or readout column count as {UNKNOWN!r}: add "
            "those columns to tell runs apart."
        )
    frame = _sort(frame)
    frame.attrs = {"item_id_source": dict(notes)} if notes else {}
    return frame


def _sort(frame: pd.DataFrame) -> pd.DataFrame:
    """Sort like read_results, then by perceiver and experiencer in design order, item id."""
    p = np.zeros(len(frame), dtype=np.int64)
    e = np.zeros(len(frame), dtype=np.int64)
    for grouping in pd.unique(frame["grouping"]):
        rows = (frame["grouping"] == grouping).to_numpy()
        ids = design.identities(str(grouping))
        p[rows] = pd.Categorical(frame.loc[rows, "perceiver"], categories=ids).codes
        e[rows] = pd.Categorical(frame.loc[rows, "experiencer"], categories=ids).codes
    keys = pd.DataFrame(
        {
            "model": frame["model"].astype(str),
            "readout": frame["readout"].astype(str),
            "variation": frame["variation"].astype(str),
            "grouping": frame["grouping"].astype(str),
            "prompt_id": frame["prompt_id"],
            "p": p,
            "e": e,
            "item_id": frame["item_id"],
        }
    )
    order = keys.sort_values(list(keys.columns), kind="stable").index
    return frame.loc[order, list(COLUMNS)].reset_index(drop=True)
