"""Time the embedded Gemma 3 270M load: first (de-quantize + cache) versus cached.

Run by hand, not in the tests:  .venv/bin/python bench/model_load.py
Each load runs in a fresh Python process with an empty or warm cache of its own, so
the numbers include imports; peak RSS is that process's maximum resident set size.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import tempfile

CHILD = r"""
import json, resource, time
start = time.perf_counter()
from empathylab.llm.weights import load_causal_lm
model, tokenizer = load_causal_lm("embedded:gemma-3-270m", device="cpu")
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def load_once(cache: str) -> dict[str, float]:
    env = {"EMPATHYLAB_CACHE_DIR": cache, "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        first = load_once(cache)
        cached = [load_once(cache) for _ in range(3)]
    best = min(cached, key=lambda r: r["seconds"])
    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
        f"{__import__('os').cpu_count()} cores, Python {platform.python_version()}"
    )
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
