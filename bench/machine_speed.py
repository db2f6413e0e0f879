"""Locate a machine's speed for the book: the matrix products the build spends its time in.

Run by hand (about 20 seconds; not part of the tests):

    .venv/bin/python bench/machine_speed.py

The demo book is bound by float32 matrix products (88 % of the distribution readout's
time, and most of the fine-tuning's), so its build time scales with their rate. This
script times the three shapes that dominate it, with torch's threads as the build uses
them, and prints their geometric mean in GFLOP/s next to the CPU's vector units:

- the Gemma body: 1,100 token rows x 640 -> 2,048 (a batch of 16 prompts' MLP);
- the Gemma output layer, read in slices: 176 rows (16 prompts x 11 answer positions)
  x 640 -> 2,048 words;
- the MiniLM fine-tuning: 1,600 token rows x 384 -> 1,536.

Predict another machine's build time as ``book_seconds_here * gflops_here /
gflops_there`` (BENCHMARKS.md, "The book build", records both for the reference
machine). bfloat16 is timed too, for information: the demo computes in float32.
"""

from __future__ import annotations

import math
import platform
import time

SHAPES = {
    "Gemma body (1100 x 640 -> 2048)": (1100, 640, 2048),
    "Gemma output slice (176 x 640 -> 2048)": (176, 640, 2048),
    "MiniLM training (1600 x 384 -> 1536)": (1600, 384, 1536),
}


def gflops(m: int, k: int, n: int, dtype: object, seconds: float = 2.0) -> float:
    """Return the best rate of ``(m x k) @ (k x n)`` products over about ``seconds``, in GFLOP/s."""
    import torch

    a, b = torch.randn(m, k).to(dtype), torch.randn(k, n).to(dtype)
    for _ in range(3):
        a @ b
    best, spent = math.inf, 0.0
    while spent < seconds:
        start = time.perf_counter()
        for _ in range(10):
            a @ b
        took = (time.perf_counter() - start) / 10
        best, spent = min(best, took), spent + took * 10
    return 2 * m * k * n / best / 1e9


def cpu_units() -> str:
    """Return the CPU's model name and its matrix-relevant vector units (Linux only)."""
    try:
        info = open("/proc/cpuinfo").read()
    except OSError:
        return platform.processor() or "unknown"
    name = next(
        (line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?"
    )
    flags = set(
        next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    )
    units = [f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f in flags]
    return f"{name}; {', '.join(units) or 'no AVX2'}"


def main() -> None:
    import torch

    print(f"CPU: {cpu_units()}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    rates = {}
    for label, shape in SHAPES.items():
        rates[label] = gflops(*shape, torch.float32)
        bf16 = gflops(*shape, torch.bfloat16)
        print(
            f"  {label}: float32 {rates[label]:7.1f} GFLOP/s, bfloat16 {bf16:7.1f} ({bf16 / rates[label]:.1f} x)"
        )
    mean = math.exp(sum(math.log(r) for r in rates.values()) / len(rates))
    print(f"float32 speed index (geometric mean): {mean:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
