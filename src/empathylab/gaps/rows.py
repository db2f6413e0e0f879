"""Part I's stored rows: the columns of one answered prompt, and reading a results folder back."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from empathylab.errors import EmpathylabError
from empathylab.gaps import design
from empathylab.llm.store import read_chunks, read_design

__all__ = ["COLUMNS", "read_results", "unfinished_runs"]

#: Columns of every stored row, in order.
COLUMNS = (
    "prompt_id",
    "model",
    "backend",
    "variation",
    "grouping",
    "perceiver",
    "experiencer",
    "emotion",
    "item_id",
    "readout",
    "intensity",
    "status",
    "response",
    "p_valid",
    "argmax",
)


def read_results(root: str | Path) -> pd.DataFrame:
    """Return every stored row under ``root`` (a results folder or any part of it).

    One row per prompt with the :data:`COLUMNS`, sorted by model, readout, variation,
    grouping and prompt id, so the order does not depend on how the run was chunked.
    """
    if not any(Path(root).rglob("chunk-*.parquet")):
        raise EmpathylabError(f"No stored results under {root}: run `empathylab gaps run` first.")
    frame = read_chunks(root)
    keys = ["model", "readout", "variation", "grouping", "prompt_id"]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def unfinished_runs(root: str | Path) -> pd.DataFrame:
    """Return the runs under ``root`` that hold fewer prompts than their design.

    One row per store folder (``folder``, ``stored``, ``expected``), read from each
    ``design.json`` and the chunks' Parquet footers; empty when every run is finished.
    An interrupted run or one shard of several shows here, so its missing prompts are
    not mistaken for refusals.

    >>> import tempfile
    >>> unfinished_runs(tempfile.mkdtemp()).empty
    True
    """
    import pyarrow.parquet as pq

    rows = []
    designs = sorted(Path(root).rglob("design.json")) if Path(root).is_dir() else []
    for path in designs:
        recorded = read_design(path)
        if "grouping" not in recorded or "narratives" not in recorded:
            continue  # not a Part I store
        expected = design.grid_size(
            int(recorded["narratives"]), recorded["grouping"], recorded.get("identities")
        )
        stored = sum(pq.ParquetFile(c).metadata.num_rows for c in path.parent.glob("chunk-*.parquet"))
        if stored < expected:
            rows.append({"folder": str(path.parent), "stored": stored, "expected": expected})
    return pd.DataFrame(rows, columns=["folder", "stored", "expected"])
