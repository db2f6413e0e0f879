"""Throughput of the empathy-gap readouts on the embedded models, all in one run.

Run by hand (minutes; not part of the tests):

    EMPATHYLAB_DATA_DIR=../shared/data .venv/bin/python bench/gaps_throughput.py
    # both embedded models in one run (the same prompts, each in its own format):
    .venv/bin/python bench/gaps_throughput.py --model embedded:gemma-3-270m embedded:smollm2-135m-instruct \
        --skip-bfloat16 --skip-grid

On one fixed set of prompts (the religion x origin design over one narrative per emotion,
drawn with seed 0: 432 prompts) it measures

(a) the paper's method transposed to transformers: batch 1, greedy ``generate`` up to 128
    new tokens, then the paper's parsing (on the first ``--paper-prompts`` prompts: it
    takes seconds per prompt);
(b) our ``generate`` readout: batched, stopping once the reading is final (first
    ``--generate-prompts`` prompts);
(c) our ``distribution`` readout (all prompts);
(p) a plain batched forward pass over the same prompts in the same batches of
    ``--batch-size`` (grid order, padded, one next-token distribution per prompt), the
    baseline for (c)'s effective rate (prompt tokens answered per second);
(d) both readouts of (b)'s prompts from one reading of each (``score_and_generate``,
    as the readout comparison runs them), against (b) plus (c) on the same prompts;

then the time and memory to enumerate the whole published grid, in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time

import numpy as np

GRID_CHILD = r"""
import json, sys, time
import pandas as pd
from empathylab.gaps import design
n = int(sys.argv[1]); variations = sys.argv[2].split(",")
frame = pd.DataFrame({"emotion": ["joy"] * n, "item_id": range(n), "generated_text": ["t"] * n,
                      "first_person_text": ["t"] * n, "third_person_text": ["t"] * n})
start = time.perf_counter(); count = 0
for variation in variations:
    for grouping in design.GROUPINGS:
        for prompt in design.grid(frame, grouping, variation):
            count += 1
# VmHWM: this process's own peak (ru_maxrss would include the parent's, inherited at fork)
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]
print(json.dumps({"prompts": count, "seconds": time.perf_counter() - start,
                  "peak_rss_mb": int(hwm) / 1024}))
"""


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(label: str, n: int, fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    print(f"  {label}: {n} prompts in {seconds:.1f} s = {seconds / n:.3f} s/prompt", flush=True)
    return seconds / n, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paper-prompts", type=int, default=4)
    parser.add_argument("--generate-prompts", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--skip-grid", action="store_true")
    parser.add_argument("--skip-bfloat16", action="store_true")
    parser.add_argument(
        "--model", nargs="+", default=["embedded:gemma-3-270m"], help="one or more model specs"
    )
    args = parser.parse_args()
    import torch

    from empathylab import data
    from empathylab.gaps import design, stimuli
    from empathylab.llm import Request

    narratives = stimuli.sample_narratives(data.load_narratives(), 1, seed=0)
    prompts = list(design.grid(narratives, "religion", "origin"))
    requests = [Request(p.system, p.user) for p in prompts]
    for spec in args.model:
        measure(spec, requests, args)

    if not args.skip_grid:
        published = ",".join(design.VARIATIONS)
        for label, variations in [("one variation", "origin"), ("seven variations", published)]:
            done = subprocess.run(
                [sys.executable, "-c", GRID_CHILD, "6050", variations],
                capture_output=True,
                text=True,
                check=True,
            )
            grid = json.loads(done.stdout)
            print(
                f"  grid, {label}: {grid['prompts']:,} prompts in {grid['seconds']:.1f} s, "
                f"peak RSS {grid['peak_rss_mb']:.0f} MB"
            )
    print(
        f"\nmachine: {platform.machine()}, {torch.get_num_threads()} threads, "
        f"Python {platform.python_version()}, torch {torch.__version__}"
    )


def measure(spec: str, requests: list, args: argparse.Namespace) -> None:
    """Time the paper's method and the readouts of one model on ``requests``; print them."""

    from functools import partial

    import torch

    from empathylab.gaps.reading import parse_many, reading_is_final
    from empathylab.llm import format_prompt
    from empathylab.llm.transformers_backend import TransformersBackend
    from empathylab.llm.trie import summarize_distribution

    prompts = requests
    backend = TransformersBackend(spec, device="cpu", batch_size=args.batch_size)
    model, tokenizer = backend.model, backend.tokenizer
    texts = [format_prompt(tokenizer, r)[0] for r in requests]
    special = format_prompt(tokenizer, requests[0])[1] == "plain"  # a chat template writes its own BOS
    lengths = [len(tokenizer(t, add_special_tokens=special)["input_ids"]) for t in texts]
    tokens = sum(lengths)
    print(
        f"\n{spec} ({format_prompt(tokenizer, requests[0])[1]} format): {len(prompts)} prompts, "
        f"{np.mean(lengths):.1f} tokens on average (min {min(lengths)}, max {max(lengths)}); "
        f"torch threads {torch.get_num_threads()}"
    )
    backend.score(requests[:2], 100)  # warm-up: builds the answer trie

    def paper() -> list[str]:
        out = []
        for text in texts[: args.paper_prompts]:
            ids = tokenizer(text, return_tensors="pt", add_special_tokens=special)
            with torch.inference_mode():
                gen = model.generate(
                    **ids, max_new_tokens=128, do_sample=False, top_p=None, top_k=None, temperature=None
                )
            out.append(tokenizer.decode(gen[0, ids["input_ids"].shape[1] :], skip_special_tokens=True))
        return out

    def plain() -> None:
        for i in range(0, len(texts), args.batch_size):
            batch = tokenizer(
                texts[i : i + args.batch_size], return_tensors="pt", padding=True, add_special_tokens=special
            )
            with torch.inference_mode():
                logits = model(**batch, logits_to_keep=1).logits[:, -1].double()
                torch.log_softmax(logits, dim=-1)

    print("measuring (one run, same prompts):")
    a, paper_out = _timed("(a) paper: batch 1, 128 new tokens", args.paper_prompts, paper)
    b, gen_out = _timed(
        "(b) our generate",
        args.generate_prompts,
        lambda: backend.generate(
            requests[: args.generate_prompts], 128, stop=partial(reading_is_final, scale=100)
        ),
    )
    p, _ = _timed("(p) plain batched forward", len(prompts), plain)
    c, probs = _timed("(c) our distribution", len(prompts), lambda: backend.score(requests, 100))
    n = args.generate_prompts
    c_n, probs_n = _timed("(c) on (b)'s prompts", n, lambda: backend.score(requests[:n], 100))
    d, (probs_d, texts_d) = _timed(
        "(d) both readouts, each prompt read once",
        n,
        lambda: backend.score_and_generate(requests[:n], 100, 128, stop=partial(reading_is_final, scale=100)),
    )
    same = texts_d == gen_out and np.array_equal(probs_d, probs_n)
    backend.share_prefix = False
    c0, _ = _timed(
        "(c') distribution without the shared prefix", len(prompts), lambda: backend.score(requests, 100)
    )
    backend.share_prefix = True
    summary = summarize_distribution(probs)
    parsed_a = parse_many(paper_out, 100)
    parsed_b = parse_many(gen_out, 100)
    print(f"  (b) readings: {parsed_b.status.value_counts().to_dict()}")
    print("\nresults")
    print(f"  (a) paper method       {a:8.3f} s/prompt; readings: {parsed_a.status.value_counts().to_dict()}")
    print(
        f"  (b) our generate       {b:8.3f} s/prompt = {a / b:6.1f} x (a); "
        f"mean response {np.mean([len(tokenizer(t)['input_ids']) for t in gen_out]):.1f} tokens"
    )
    print(
        f"  (c) our distribution   {c:8.3f} s/prompt = {a / c:6.1f} x (a); "
        f"mean p_valid {summary.p_valid.mean():.3f}"
    )
    print(
        f"  effective rate: (c) {tokens / (c * len(prompts)):.0f} prompt tokens/s, "
        f"(p) {tokens / (p * len(prompts)):.0f} tokens/s: ratio {p / c:.2f}"
    )
    print(f"  (c') without shared prefix: {c0:.3f} s/prompt ({c0 / c:.2f} x slower than (c))")
    print(
        f"  (d) both readouts      {d:8.3f} s/prompt against (b) + (c) {b + c_n:.3f} on the same "
        f"prompts: {(b + c_n) / d:.2f} x; the same answers as (b) and (c): {same}"
    )
    print(f"  peak RSS so far {_rss_mb():.0f} MB")
    if args.skip_bfloat16:
        return
    model.to(torch.bfloat16)
    a16, _ = _timed("(a, bfloat16) paper method", args.paper_prompts, paper)
    p16, _ = _timed("(p, bfloat16) plain batched forward", len(prompts), plain)
    c16, probs16 = _timed(
        "(c, bfloat16) our distribution", len(prompts), lambda: backend.score(requests, 100)
    )
    summary16 = summarize_distribution(probs16)
    agreement = np.corrcoef(summary.intensity, summary16.intensity)[0, 1]
    print(
        f"  bfloat16 (AMX where the CPU has it): (a) {a16:.3f}, (p) {p16:.3f}, (c) {c16:.3f} "
        f"s/prompt: (c) = {a16 / c16:.1f} x (a), {p16 / c16:.2f} x (p); intensities vs "
        f"float32: r = {agreement:.3f}, max |diff| {np.abs(summary.intensity - summary16.intensity).max():.2f}"
    )
    model.to(torch.float32)


if __name__ == "__main__":
    main()
