"""Time the Part I statistics on a full-size synthetic run (no model needed).

Run by hand:  .venv/bin/python bench/gaps_statistics.py

Measures 10,000 permutations of a 22 x 22 matrix (target: well under a second) and
each step of ``empathylab.gaps.analysis.analyze`` on a synthetic nationality run of the
published size (22 x 22 identities x 6,050 narratives = 2.9 million rows).
"""

from __future__ import annotations

import platform
import resource
import time

import numpy as np


def timed(label: str, fn, repeat: int = 1):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    print(f"  {label}: {best:.3f} s" + (f" (best of {repeat})" if repeat > 1 else ""), flush=True)
    return result


def main() -> None:
    import pandas as pd

    from empathylab import gaps
    from empathylab.gaps import design

    ids = design.identities("nationality")
    matrix = pd.DataFrame(np.random.default_rng(0).normal(size=(22, 22)), index=ids, columns=ids)
    gaps.permutation_test(matrix, "nationality", 100)  # warm-up
    print("permutation test, 22 x 22:")
    timed("10,000 permutations", lambda: gaps.permutation_test(matrix, "nationality", 10_000), repeat=5)

    print("synthetic nationality run, 6,050 narratives:")
    rows = timed(
        "simulate 2.9 M rows", lambda: gaps.simulate_results("nationality", n_items=6050, effect=1.0, seed=0)
    )
    timed("emotion_matrix", lambda: gaps.emotion_matrix(rows))
    timed("bootstrap_delta (1,000)", lambda: gaps.bootstrap_delta(rows, n_boot=1000))
    timed("cell_tests", lambda: gaps.cell_tests(rows))
    timed("mixed_model", lambda: gaps.mixed_model(rows))
    timed("analyze (all of it)", lambda: gaps.analyze(rows))
    print(f"  peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")


if __name__ == "__main__":
    main()
