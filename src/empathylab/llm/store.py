"""The results store: Parquet chunks, one row per answered item, written atomically.

A store is one folder (Part I: ``<root>/<model>/<readout>/<variation>/<grouping>/``; Part
II: ``<root>/<model>/<prompt>/``) holding ``design.json``
(the fingerprint of the design this folder answers) and ``chunk-<index>.parquet`` files.
A chunk is written to a temporary file and renamed into place only when complete, so
a run killed at any moment (even ``kill -9``) leaves only whole chunks; a new run skips
them and answers the rest. A folder is never written with a different design.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from empathylab.errors import EmpathylabError

__all__ = [
    "ChunkStore",
    "model_slug",
    "read_chunks",
    "read_metadata",
    "fingerprint",
    "write_frame",
    "read_frame",
]

_CHUNK = re.compile(r"^chunk-(\d+)\.parquet$")


def model_slug(spec: str) -> str:
    """Return a folder name for a model spec.

    >>> model_slug("meta-llama/Llama-3.1-8B-Instruct"), model_slug("embedded:gemma-3-270m")
    ('meta-llama__Llama-3.1-8B-Instruct', 'embedded_gemma-3-270m')
    """
    return re.sub(r"[^A-Za-z0-9._-]", "_", spec.replace("/", "__")).strip("._") or "model"


class ChunkStore:
    """The stored chunks of one (model, readout, variation, grouping).

    ``design`` is a JSON-able dict that identifies the design (model, backend, readout,
    identities, narratives, chunk size, templates...). Opening a folder that holds
    another design raises :class:`~empathylab.errors.EmpathylabError` and changes nothing.
    ``columns`` are the columns every chunk holds, in order.
    """

    def __init__(self, folder: str | Path, design: dict[str, Any], *, columns: tuple[str, ...]) -> None:
        self.folder = Path(folder)
        self.columns = tuple(columns)
        self.design = json.loads(json.dumps(design, sort_keys=True))
        stored = self.folder / "design.json"
        if stored.is_file():
            old = json.loads(stored.read_text(encoding="utf-8"))
            if old != self.design:
                keys = sorted(k for k in set(old) | set(self.design) if old.get(k) != self.design.get(k))
                diff = "; ".join(f"{k}: stored {old.get(k)!r}, now {self.design.get(k)!r}" for k in keys)
                raise EmpathylabError(
                    f"{self.folder} holds results of a different design ({diff}). Nothing was "
                    "changed: write elsewhere with --out, or delete that folder to start over."
                )

    def _write_design(self) -> None:
        path = self.folder / "design.json"
        if not path.is_file():
            self.folder.mkdir(parents=True, exist_ok=True)
            _atomic_write(path, json.dumps(self.design, indent=1, sort_keys=True).encode())

    def done(self) -> set[int]:
        """Return the indices of the chunks already stored."""
        if not self.folder.is_dir():
            return set()
        return {int(m.group(1)) for p in self.folder.iterdir() if (m := _CHUNK.match(p.name))}

    def write(self, index: int, rows: pd.DataFrame, metadata: dict[str, str]) -> Path:
        """Store chunk ``index`` atomically with ``metadata`` in the Parquet footer."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        missing = [c for c in self.columns if c not in rows.columns]
        if missing:
            raise ValueError(f"rows lack columns {missing}")
        self._write_design()
        table = pa.Table.from_pandas(rows[list(self.columns)], preserve_index=False)
        meta = {**(table.schema.metadata or {}), b"empathylab": json.dumps(metadata).encode()}
        table = table.replace_schema_metadata(meta)
        target = self.folder / f"chunk-{index:08d}.parquet"
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        try:
            pq.write_table(table, tmp)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return target

    def clean(self) -> int:
        """Delete temporary files left by killed runs; return how many."""
        if not self.folder.is_dir():
            return 0
        stale = list(self.folder.glob(".chunk-*.tmp-*"))
        for path in stale:
            path.unlink(missing_ok=True)
        return len(stale)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def read_chunks(
    folder: str | Path, columns: tuple[str, ...] | None = None, *, what: str = "chunks"
) -> pd.DataFrame:
    """Return every stored chunk under ``folder`` (at any depth) as one frame, in file order.

    ``columns`` selects and orders the columns; an empty folder raises
    :class:`~empathylab.errors.EmpathylabError` naming it and ``what`` was looked for.

    >>> import tempfile
    >>> store = ChunkStore(tempfile.mkdtemp(), {"task": "demo"}, columns=("a",))
    >>> _ = store.write(0, pd.DataFrame({"a": [1, 2]}), {})
    >>> read_chunks(store.folder)["a"].tolist()
    [1, 2]
    """
    import pyarrow.parquet as pq

    files = sorted(Path(folder).rglob("chunk-*.parquet"))
    if not files:
        raise EmpathylabError(f"No stored {what} under {folder}.")
    frame = pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
    return frame[list(columns)] if columns is not None else frame


def fingerprint(payload: dict[str, Any]) -> str:
    """Return a short SHA-256 of a JSON-able ``payload`` (the key of a stored result).

    >>> fingerprint({"a": 1}) == fingerprint({"a": 1}), len(fingerprint({"a": 1}))
    (True, 16)
    """
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def write_frame(frame: pd.DataFrame, path: str | Path, key: str) -> pd.DataFrame:
    """Store one finished result as ``path`` (Parquet, written atomically) under ``key``; return it.

    The one-file counterpart of :class:`ChunkStore` for results computed in one go (a
    training run): :func:`read_frame` returns it only while ``key`` still matches.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"empathylab_key": key.encode()})
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return frame


def read_frame(path: str | Path, key: str) -> pd.DataFrame | None:
    """Return the frame stored at ``path`` by :func:`write_frame` if its key is ``key``, else None.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.parquet"
    >>> _ = write_frame(pd.DataFrame({"pcc": [0.5]}), path, "k1")
    >>> read_frame(path, "k1")["pcc"].tolist(), read_frame(path, "k2")
    ([0.5], None)
    """
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.exists():
        return None
    meta = pq.read_schema(path).metadata or {}
    if meta.get(b"empathylab_key", b"").decode() != key:
        return None
    return pd.read_parquet(path)


def read_metadata(path: str | Path) -> dict[str, str]:
    """Return the run metadata stored in one chunk file."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta.get(b"empathylab", b"{}"))
