"""The results store: Parquet chunks, one row per answered prompt, written atomically.

Layout: ``<root>/<model>/<readout>/<variation>/<grouping>/``, holding ``design.json``
(the fingerprint of the design this folder answers) and ``chunk-<index>.parquet`` files.
A chunk is written to a temporary file and renamed into place only when complete, so
a run killed at any moment (even ``kill -9``) leaves only whole chunks; a new run skips
them and answers the rest. A folder is never written with a different design.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from empathylab.errors import EmpathylabError

__all__ = ["COLUMNS", "ChunkStore", "model_slug", "read_results", "read_metadata"]

#: Columns of every stored row, in order.
COLUMNS = (
    "prompt_id", "model", "backend", "variation", "grouping", "perceiver", "experiencer",
    "emotion", "item_id", "readout", "intensity", "status", "response", "p_valid", "argmax",
)  # fmt: skip
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
    ``columns`` are the columns every chunk holds, in order (Part I's :data:`COLUMNS`).
    """

    def __init__(
        self, folder: str | Path, design: dict[str, Any], *, columns: tuple[str, ...] = COLUMNS
    ) -> None:
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


def read_results(root: str | Path) -> pd.DataFrame:
    """Return every stored row under ``root`` (a results folder or any part of it).

    One row per prompt with the :data:`COLUMNS`, sorted by model, readout, variation,
    grouping and prompt id, so the order does not depend on how the run was chunked.
    """
    import pyarrow.parquet as pq

    files = sorted(Path(root).rglob("chunk-*.parquet"))
    if not files:
        raise EmpathylabError(f"No stored results under {root}: run `empathylab gaps run` first.")
    frame = pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
    keys = ["model", "readout", "variation", "grouping", "prompt_id"]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def read_metadata(path: str | Path) -> dict[str, str]:
    """Return the run metadata stored in one chunk file."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta.get(b"empathylab", b"{}"))
