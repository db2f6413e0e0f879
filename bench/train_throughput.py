"""Training throughput of the empathy regressor (embedded MiniLM) on the public essays.

Run by hand (minutes; not part of the tests):

    EMPATHYLAB_DATA_DIR=../shared/data .venv/bin/python bench/train_throughput.py

On the 1,860 public essays (Buechel et al. 2018, target ``empathy``), with one model,
the SPEC's recipe and batch size 16, it measures in one run

(a) our batching: each batch padded only to its longest essay (dynamic padding), batches
    drawn from buckets of similar length (``train.length_batches``);
(r) dynamic padding over random batches (no buckets), which splits (a)'s gain in two;
(b) the naive way: random batches, every essay padded to 512 tokens;

each for ``--batches`` training steps (forward, backward, AdamW step, schedule step)
after 2 warm-up steps; then ``predict`` over all essays; then (unless ``--no-epoch``)
one real epoch of ``fine_tune`` on 1,500 essays with validation on the other 360.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time

import numpy as np


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20, help="timed batches per method")
    parser.add_argument("--warmup-batches", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--encoder", default="embedded:all-MiniLM-L6-v2")
    parser.add_argument(
        "--epoch",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time one real fine_tune epoch on 1,500 essays",
    )
    args = parser.parse_args()

    import torch
    from transformers import get_linear_schedule_with_warmup

    from empathylab.data import load_essays
    from empathylab.llm.weights import load_encoder
    from empathylab.llmpathy import train

    load_start = os.getloadavg()[0]
    essays = load_essays().sample(frac=1.0, random_state=0).reset_index(drop=True)
    recipe = train.Recipe(batch_size=args.batch_size)
    torch.manual_seed(0)
    base, tokenizer = load_encoder(args.encoder, device="cpu")
    model = train.Regressor(base, pooling=train.resolve_pooling(recipe.pooling, args.encoder))
    ids = train._tokenize(tokenizer, essays.essay.tolist(), recipe.max_length)
    lengths = np.array([len(x) for x in ids])
    y = torch.tensor(essays.empathy.to_numpy(), dtype=torch.float32)
    pad_id = train._pad_id(tokenizer)
    print(
        f"{len(ids)} essays, {lengths.mean():.1f} tokens on average (median {np.median(lengths):.0f}, "
        f"min {lengths.min()}, max {lengths.max()}, truncated at {recipe.max_length}: "
        f"{int((lengths >= recipe.max_length).sum())}); torch threads {torch.get_num_threads()}"
    )

    optimizer = torch.optim.AdamW(
        model.parameters(), lr=recipe.lr, betas=recipe.betas, eps=recipe.eps, weight_decay=recipe.weight_decay
    )
    steps = 3 * (args.warmup_batches + args.batches)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(recipe.warmup * steps), steps)

    def step(batch: list[int], pad_to: int | None) -> tuple[float, int]:
        """One training step; return (seconds, token slots)."""
        started = time.perf_counter()
        input_ids, mask = train._collate([ids[i] for i in batch], pad_id, pad_to)
        loss = torch.nn.functional.mse_loss(model(input_ids, mask), y[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        return time.perf_counter() - started, input_ids.numel()

    n = args.warmup_batches + args.batches
    random_batches = train.length_batches(lengths, args.batch_size, seed=0, bucket=False)
    methods = [
        (
            "(a) dynamic padding + length buckets",
            train.length_batches(lengths, args.batch_size, seed=0),
            None,
        ),
        ("(r) dynamic padding, random batches", random_batches, None),
        (f"(b) naive: random batches padded to {recipe.max_length}", random_batches, recipe.max_length),
    ]
    print(
        f"\ntraining steps: {args.warmup_batches} warm-up + {args.batches} timed batches of "
        f"{args.batch_size} per method (forward + backward + AdamW + schedule), the methods taking "
        "turns batch by batch so that a change in machine load hits all three alike"
    )
    seconds = {label: 0.0 for label, _, _ in methods}
    essays_done = dict.fromkeys(seconds, 0)
    slots = dict.fromkeys(seconds, 0)
    model.train()
    for k in range(n):
        for label, batches, pad_to in methods:
            batch = batches[k]
            took, used = step(batch, pad_to)
            if k >= args.warmup_batches:
                seconds[label] += took
                essays_done[label] += len(batch)
                slots[label] += used
    results = {}
    for label, _, _ in methods:
        results[label[:3]] = essays_done[label] / seconds[label]
        print(
            f"  {label}: {essays_done[label]} essays in {seconds[label]:.1f} s = "
            f"{results[label[:3]]:.1f} essays/s ({slots[label] / args.batches:.0f} token slots per batch)",
            flush=True,
        )

    fitted = train.FineTuned(model.eval(), tokenizer, None, 0, 0, args.encoder, recipe, 0)
    train.predict(fitted, essays.essay[:64])  # warm-up
    started = time.perf_counter()
    train.predict(fitted, essays.essay)
    predict_rate = len(essays) / (time.perf_counter() - started)
    print(f"  predict(): {len(essays)} essays at {predict_rate:.1f} essays/s (batch 64, longest first)")

    a, r, b = results["(a)"], results["(r)"], results["(b)"]
    print("\n| method | essays/s | one epoch of 1,500 essays (extrapolated) |")
    print("|---|---|---|")
    for label, _, _ in methods:
        rate = results[label[:3]]
        print(f"| {label} | {rate:.1f} | {1500 / rate / 60:.1f} min |")
    print(f"| predict() (no gradients, batch 64) | {predict_rate:.1f} | |")
    print(
        f"\n(a) vs (b): {a / b:.1f} x; (r) vs (b): {r / b:.1f} x; buckets on top of dynamic padding: "
        f"{a / r:.2f} x"
    )

    if args.epoch:
        from empathylab.llmpathy.train import fine_tune

        one = train.Recipe(max_epochs=1, batch_size=args.batch_size)
        started = time.perf_counter()
        real = fine_tune(
            essays.iloc[:1500],
            essays.iloc[1500:],
            encoder=args.encoder,
            target="empathy",
            recipe=one,
            device="cpu",
            progress=False,
        )
        total = time.perf_counter() - started
        row = real.history.iloc[0]
        print(
            f"\nfine_tune, one epoch on 1,500 essays + validation on {len(essays) - 1500}: "
            f"{row.seconds:.1f} s ({total:.1f} s with loading and tokenizing); "
            f"train loss {row.train_loss:.3f}, valid PCC {row.valid_pcc:.3f}, CCC {row.valid_ccc:.3f}, "
            f"RMSE {row.valid_rmse:.3f}"
        )
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads, "
        f"load average {load_start:.2f} at start, {os.getloadavg()[0]:.2f} at end; "
        f"Python {platform.python_version()}, torch {torch.__version__}; peak RSS {_rss_mb():.0f} MB"
    )


if __name__ == "__main__":
    main()
