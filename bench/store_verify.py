"""Time what verifying the store costs on resume, at the published design's size.

Run by hand:  .venv/bin/python bench/store_verify.py [CHUNKS]

Every resume verifies every stored chunk against its SHA-256 (``ChunkStore.done``), and
``read_results`` verifies again while reading. This writes a synthetic Part I store of
CHUNKS chunks of 256 rows (default 2,000 = 512,000 prompts, the same columns and a
distribution-readout response) and times ``done()`` and ``read_chunks`` against a scan
that skips the checksum, so the cost of verification is a ratio measured in one run.
The published nationality run is 2.9 M prompts per model and variation (11,344 chunks).
"""

from __future__ import annotations

import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def timed(label: str, fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    print(f"  {label}: {best:.3f} s (best of {repeat})", flush=True)
    return best


def main(n_chunks: int) -> None:
    import pyarrow.parquet as pq

    from empathylab.gaps.rows import COLUMNS
    from empathylab.llm.store import ChunkStore, read_chunks

    rng = np.random.default_rng(0)
    root = Path(tempfile.mkdtemp(prefix="store-verify-"))
    store = ChunkStore(root, {"bench": "verify"}, columns=COLUMNS)
    start = time.perf_counter()
    for k in range(n_chunks):
        n = 256
        rows = pd.DataFrame(
            {
                "prompt_id": np.arange(k * n, (k + 1) * n),
                "model": "embedded:gemma-3-270m",
                "backend": "transformers",
                "variation": "origin",
                "grouping": "nationality",
                "perceiver": rng.choice(["an American", "a Mexican", "a person"], n),
                "experiencer": rng.choice(["an American", "a Mexican", "a person"], n),
                "emotion": rng.choice(["anger", "joy", "sadness"], n),
                "item_id": rng.integers(0, 6050, n),
                "readout": "distribution",
                "intensity": rng.uniform(0, 100, n),
                "status": "ok",
                "response": "",
                "p_valid": rng.uniform(0.5, 1, n),
                "argmax": rng.integers(0, 100, n),
            }
        )
        store.write(k, rows, {"backend": "transformers"})
    size = sum(p.stat().st_size for p in root.glob("chunk-*.parquet"))
    print(
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}: "
        f"{n_chunks:,} chunks ({n_chunks * 256:,} rows, {size / 1e6:.0f} MB) written in "
        f"{time.perf_counter() - start:.1f} s",
        flush=True,
    )
    files = sorted(root.glob("chunk-*.parquet"))
    listed = timed("list the chunks only (no verification)", lambda: [p.name for p in files])
    verified = timed("done(): verify every chunk", store.done)
    plain = timed(
        "read every chunk into one frame without verifying",
        lambda: pd.concat([pq.read_table(p).to_pandas() for p in files], ignore_index=True),
    )
    checked = timed("read_chunks: read and verify", lambda: read_chunks(root))
    print(
        f"  verification on resume: {verified * 1e3 / n_chunks:.2f} ms a chunk "
        f"(listing {listed * 1e3 / n_chunks:.3f} ms); read_chunks / plain reads = {checked / plain:.2f}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
