"""Time the embedded causal LMs' loads: first (de-quantize + cache) versus cached.

Run by hand, not in the tests:  .venv/bin/python bench/model_load.py [--model SPEC ...]
(default: every embedded causal LM, Gemma 3 270M and SmolLM2-135M-Instruct).
Each load runs in a fresh Python process with an empty or warm cache of its own, so
the numbers include imports; peak RSS is that process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile

CHILD = r"""
import json, resource, sys, time
start = time.perf_counter()
from empathylab.llm.weights import load_causal_lm
model, tokenizer = load_causal_lm(sys.argv[1], device="cpu")
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def load_once(spec: str, cache: str) -> dict[str, float]:
    env = {"EMPATHYLAB_CACHE_DIR": cache, "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, spec], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    from empathylab.llm.weights import EMBEDDED

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+", default=list(EMBEDDED["causal_lm"]))
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
        f"{__import__('os').cpu_count()} cores, Python {platform.python_version()}"
    )
    for spec in args.model:
        report(spec)


def report(spec: str) -> None:
    with tempfile.TemporaryDirectory() as cache:
        first = load_once(spec, cache)
        cached = [load_once(spec, cache) for _ in range(3)]
    best = min(cached, key=lambda r: r["seconds"])
    print(f"\n{spec}")
    print(
        f"first load (de-quantize + write cache): {first['seconds']:.1f} s, "
        f"peak RSS {first['peak_rss_mb']:.0f} MB"
    )
    print(
        f"cached load (best of 3):              {best['seconds']:.1f} s, "
        f"peak RSS {best['peak_rss_mb']:.0f} MB"
    )
    print(f"speed-up: {first['seconds'] / best['seconds']:.1f}x")


if __name__ == "__main__":
    main()
