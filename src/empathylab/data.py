"""The public data files of the compendium: a registry of pinned URLs and hashes, and loaders.

Files are downloaded once into the user cache (``cache_root() / "data"``) and checked
against their sha256. When ``EMPATHYLAB_DATA_DIR`` is set, files are read from that
folder instead (laid out as ``<source>/<file>``, the keys of :func:`registry`), still
checked against the hashes, and nothing is downloaded: this is how tests and CI run.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import os
from functools import cache
from importlib.resources import files
from pathlib import Path

import pandas as pd

from empathylab.cache import cache_root
from empathylab.errors import DataFileError

__all__ = [
    "EMOTIONS",
    "registry",
    "fetch",
    "fetch_all",
    "read_narratives_file",
    "load_narratives",
    "load_essays",
    "check_columns",
]

#: The twelve crowd-enVent emotions, in the order of Hou et al. (2025).
EMOTIONS: tuple[str, ...] = (
    "anger",
    "disgust",
    "fear",
    "guilt",
    "sadness",
    "shame",
    "boredom",
    "joy",
    "pride",
    "trust",
    "relief",
    "surprise",
)

NARRATIVE_COLUMNS = ("emotion", "text_id", "generated_text", "first_person_text", "third_person_text")
ESSAY_COLUMNS = ("message_id", "response_id", "article_id", "empathy", "distress", "essay")


@cache
def registry() -> pd.DataFrame:
    """Return the registry of data files: one row per file, indexed by ``key``.

    Columns: ``sha256``, ``bytes``, ``url`` (raw file at a pinned commit), ``license``.

    >>> registry().loc["empathic_reactions/messages.csv", "license"]
    'CC BY 4.0 (Buechel et al. 2018)'
    """
    text = files("empathylab").joinpath("registry.tsv").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    rows = list(csv.DictReader(lines, delimiter="\t"))
    return pd.DataFrame(rows).astype({"bytes": int}).set_index("key")


def _entry(key: str) -> pd.Series:
    reg = registry()
    if key not in reg.index:
        close = difflib.get_close_matches(key, reg.index, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise DataFileError(f"Unknown data file {key!r}.{hint} Known files: `empathylab data list`.")
    return reg.loc[key]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(key: str, *, progress: bool = False) -> Path:
    """Return the local path of the data file ``key``, verified against its sha256.

    With ``EMPATHYLAB_DATA_DIR`` set, the file is taken from that folder (no network);
    otherwise it is downloaded once into the cache. A missing file, a failed download or
    a hash mismatch raises :class:`~empathylab.errors.DataFileError` naming the file,
    what was expected and how to fix it; a failed download leaves nothing in the cache.

    >>> fetch("crowd-enVent/crowd-enVent_joy.tsv").name
    'crowd-enVent_joy.tsv'
    """
    entry = _entry(key)
    data_dir = os.environ.get("EMPATHYLAB_DATA_DIR")
    if data_dir:
        path = Path(data_dir).expanduser() / key
        if not path.is_file():
            raise DataFileError(
                f"Data file {key} is missing: EMPATHYLAB_DATA_DIR={data_dir} has no {path}. "
                f"Put the file from {entry.url} there, or unset EMPATHYLAB_DATA_DIR to "
                "download it into the cache."
            )
        actual = _sha256(path)
        if actual != entry.sha256:
            raise DataFileError(
                f"Data file {path} is corrupt or a different version: sha256 {actual}, "
                f"expected {entry.sha256} ({entry.url}). Replace it with the pinned file, "
                "or unset EMPATHYLAB_DATA_DIR to download it."
            )
        return path
    return _download(key, entry, progress=progress)


def _download(key: str, entry: pd.Series, *, progress: bool) -> Path:
    import pooch  # only needed when downloading

    target = cache_root() / "data" / key
    try:
        # pooch downloads to a temporary file and moves it into place only after the hash
        # check, and re-downloads a cached file whose hash no longer matches.
        name = pooch.retrieve(
            entry.url,
            known_hash=f"sha256:{entry.sha256}",
            fname=target.name,
            path=target.parent,
            progressbar=progress,
        )
    except ValueError as exc:  # pooch's hash mismatch
        raise DataFileError(
            f"Downloaded {key} from {entry.url} but its sha256 does not match the pinned "
            f"{entry.sha256}; nothing was kept. The source may have changed: report it, or "
            "point EMPATHYLAB_DATA_DIR at a folder holding the pinned file."
        ) from exc
    except Exception as exc:  # network errors come from requests, urllib3, OS
        raise DataFileError(
            f"Could not download {key} from {entry.url}: {type(exc).__name__}: {exc}. "
            "Offline? Set EMPATHYLAB_DATA_DIR to a folder holding the data files "
            "(laid out as <source>/<file>; see `empathylab data list`)."
        ) from exc
    return Path(name)


def fetch_all(*, progress: bool = False) -> list[Path]:
    """Fetch and verify every registered file; return their local paths in registry order.

    >>> len(fetch_all()) == len(registry())
    True
    """
    from tqdm import tqdm

    keys = list(registry().index)
    return [fetch(key) for key in tqdm(keys, desc="data files", disable=not progress)]


def check_columns(frame: pd.DataFrame, path: Path, expected: tuple[str, ...]) -> None:
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        raise DataFileError(
            f"{path} is malformed: missing column(s) {', '.join(missing)}; expected "
            f"{', '.join(expected)}, found {', '.join(map(str, frame.columns)) or 'none'}."
        )


def read_narratives_file(path: str | Path) -> pd.DataFrame:
    """Read one crowd-enVent TSV of Hou et al. (2025) and check its format.

    Returns a DataFrame with columns ``emotion, item_id, generated_text,
    first_person_text, third_person_text`` (``item_id`` is the corpus' ``text_id``).

    >>> read_narratives_file(fetch("crowd-enVent/crowd-enVent_shame.tsv")).shape
    (275, 5)
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path, sep="\t", quoting=csv.QUOTE_NONE, keep_default_na=False, dtype=str)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataFileError(f"{path} is not a readable TSV file: {exc}") from exc
    check_columns(frame, path, NARRATIVE_COLUMNS)
    frame = frame[list(NARRATIVE_COLUMNS)]
    ids = pd.to_numeric(frame["text_id"], errors="coerce")
    unknown = sorted(set(frame["emotion"]) - set(EMOTIONS))
    empty = (frame[list(NARRATIVE_COLUMNS[2:])] == "").any(axis=1)
    if ids.isna().any() or unknown or empty.any():
        problem = (
            "non-integer text_id"
            if ids.isna().any()
            else f"unknown emotion(s) {', '.join(unknown)}"
            if unknown
            else f"{int(empty.sum())} row(s) with an empty text"
        )
        raise DataFileError(f"{path} is malformed: {problem}. Valid emotions: {', '.join(EMOTIONS)}.")
    return frame.assign(text_id=ids.astype(int)).rename(columns={"text_id": "item_id"})


def load_narratives(emotions: list[str] | tuple[str, ...] | None = None) -> pd.DataFrame:
    """Return the crowd-enVent narratives with their reframings, one row per narrative.

    Columns: ``emotion`` (categorical, in :data:`EMOTIONS` order), ``item_id``,
    ``generated_text`` (the original), ``first_person_text``, ``third_person_text``.

    >>> load_narratives(["guilt", "shame"]).groupby("emotion", observed=True).size().tolist()
    [275, 275]
    """
    chosen = list(EMOTIONS if emotions is None else emotions)
    unknown = [e for e in chosen if e not in EMOTIONS]
    if unknown:
        raise DataFileError(f"Unknown emotion(s) {', '.join(unknown)}; valid: {', '.join(EMOTIONS)}.")
    frames = [read_narratives_file(fetch(f"crowd-enVent/crowd-enVent_{e}.tsv")) for e in chosen]
    frame = pd.concat(frames, ignore_index=True)
    frame["emotion"] = pd.Categorical(frame["emotion"], categories=chosen, ordered=True)
    return frame


def load_essays() -> pd.DataFrame:
    """Return the 1,860 essays of Buechel et al. (2018) with their crowd empathy and distress.

    Columns: ``message_id, response_id, article_id, empathy, distress, essay``
    (empathy and distress are floats on 1–7).

    >>> load_essays()[["empathy", "distress"]].dtypes.tolist()
    [dtype('float64'), dtype('float64')]
    """
    path = fetch("empathic_reactions/messages.csv")
    frame = pd.read_csv(path, dtype={"message_id": str, "response_id": str, "essay": str})
    check_columns(frame, path, ESSAY_COLUMNS)
    frame = frame[list(ESSAY_COLUMNS)]
    for col in ("empathy", "distress"):
        values = pd.to_numeric(frame[col], errors="coerce")
        if values.isna().any() or not values.between(1, 7).all():
            raise DataFileError(f"{path} is malformed: column {col} has values outside 1–7.")
        frame[col] = values.astype(float)
    return frame
