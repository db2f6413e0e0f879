"""Part I's stored rows: the columns of one answered prompt, and reading a results folder back."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from empathylab.errors import EmpathylabError
from empathylab.llm.store import read_chunks

__all__ = ["COLUMNS", "read_results"]

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
