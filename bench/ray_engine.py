"""The Ray engine against the local one on the same design, in one run.

Run by hand (minutes; not part of the tests):

    EMPATHYLAB_DATA_DIR=../shared/data .venv/bin/python bench/ray_engine.py

For each backend (the embedded Gemma with the distribution readout on ``--items``
narratives per emotion, then the ``fake`` backend on ``--fake-items``), the religion x
origin design is run twice into fresh folders: ``--engine local`` and ``--engine ray``
(a local Ray cluster with one 1-CPU worker per core, started by the run as a user's
first run would). It reports wall time, prompts/s and their ratio, the startup (seconds
until the first chunk is stored), the peak memory of every process of the run (the
driver and, for Ray, its workers and daemons, sampled every 0.2 s), and checks that the
two stores hold the same rows (|Δintensity| <= 1e-6).

A third run, ``ray-data``, answers the same chunks with the plan as a Ray Dataset
(``map_batches`` over the chunk list, the same worker class in an actor pool, one chunk
per batch) instead of the engine's own queue: the alternative the engine was measured
against (BENCHMARKS.md says why it is not the engine).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import yaml


class Watch:
    """Peak summed RSS of this process and every process of the Ray session, and first-chunk time."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.peak, self.first, self.stop = folder, 0, None, False
        self.start = time.perf_counter()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self) -> None:
        me = psutil.Process()
        while not self.stop:
            procs = [me, *me.children(recursive=True)]
            for p in psutil.process_iter(["cmdline"]):
                line = " ".join(p.info["cmdline"] or [])
                if p.pid != me.pid and ("ray::" in line or "/ray/" in line or "raylet" in line):
                    procs.append(p)
            total = 0
            for p in {p.pid: p for p in procs}.values():
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            if self.first is None and any(self.folder.rglob("chunk-*.parquet")):
                self.first = time.perf_counter() - self.start
            time.sleep(0.2)

    def close(self) -> None:
        self.stop = True
        self.thread.join()


class DataWorker:
    """The engine's worker class as a Ray Data UDF: one row is one chunk."""

    def __init__(self, registry) -> None:
        from empathylab.llm.ray_engine import _Worker

        self.worker = _Worker(registry)

    def __call__(self, batch):
        status = [self.worker.answer(k, int(i))["status"] for k, i in zip(batch["key"], batch["index"])]
        return {"n": batch["n"], "status": status}


def run_on_ray_data(
    jobs, tasks, make_backend, backend, model, options, settings, *, progress=None, status=None
):
    """The engine's ``run_on_ray`` with the plan as a Ray Dataset (for comparison only)."""
    import ray

    from empathylab.llm.ray_engine import _Registry, _Run, _worker_count

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        ray.data.DataContext.get_current().enable_progress_bars = False
        run = _Run(make_backend, backend, model, options, jobs)
        registry = f"bench-{time.time_ns()}"
        keep = ray.remote(_Registry).options(num_cpus=0, name=registry).remote(run)  # noqa: F841 (alive while used)
        n_workers = settings.workers or _worker_count(ray, settings.num_cpus, settings.num_gpus)
        rows = [{"key": k, "index": i, "n": n} for k, i, n in tasks]
        ds = ray.data.from_items(rows).map_batches(
            DataWorker,
            fn_constructor_args=(registry,),
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=n_workers),
            num_cpus=settings.num_cpus,
            num_gpus=settings.num_gpus,
        )
        from collections import Counter

        stored = Counter()
        for row in ds.iter_rows():
            if row["status"] == "stored" and progress is not None:
                progress(int(row["n"]))
        key = tasks[0][0] if tasks else ""
        stored[key] = sum(n for _, _, n in tasks)
        return stored
    finally:
        if started_here:
            ray.shutdown()


def run(profile: Path, engine: str, folder: Path) -> dict:
    from empathylab.gaps.runner import plan_run, run_gaps
    from empathylab.llm import ray_engine

    plan = plan_run(profile, out=folder, engine="local" if engine == "local" else "ray")
    if engine == "ray-data":
        ray_engine.run_on_ray, engine_own = run_on_ray_data, ray_engine.run_on_ray
    watch = Watch(folder)
    start = time.perf_counter()
    try:
        summary = run_gaps(plan, progress=False)
    finally:
        if engine == "ray-data":
            ray_engine.run_on_ray = engine_own
    seconds = time.perf_counter() - start
    watch.close()
    prompts = int(summary["answered"].sum())
    return {
        "engine": engine,
        "prompts": prompts,
        "seconds": seconds,
        "rate": prompts / seconds,
        "first_chunk": watch.first,
        "peak_mb": watch.peak / 2**20,
    }


def compare(a: Path, b: Path) -> str:
    from empathylab.gaps.rows import read_results

    left, right = read_results(a), read_results(b)
    same = len(left) == len(right) and left["prompt_id"].is_unique
    diff = float(np.max(np.abs(left["intensity"].to_numpy() - right["intensity"].to_numpy())))
    same = same and (left["prompt_id"].to_numpy() == right["prompt_id"].to_numpy()).all()
    return f"same rows: {same}, max |Δintensity| {diff:.2g}"


def profile_file(root: Path, backend: str, items: int) -> Path:
    path = root / f"{backend}.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": f"bench-{backend}",
                "device": "cpu",
                "output_dir": str(root / "results"),
                "stimuli": {"items_per_emotion": items},
                "llm": {"backend": backend, "batch_size": 16},
                "gaps": {"groupings": ["religion"], "variations": ["origin"], "chunk_size": 64},
            }
        )
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=5, help="narratives per emotion, embedded model")
    parser.add_argument("--fake-items", type=int, default=100, help="narratives per emotion, fake backend")
    parser.add_argument("--fake-only", action="store_true", help="skip the embedded model")
    args = parser.parse_args()
    import ray

    print(
        f"{platform.platform()}; {os.cpu_count()} CPUs; Python {sys.version.split()[0]}; ray {ray.__version__}"
    )
    root = Path(tempfile.mkdtemp(prefix="ray-bench-"))
    runs = [("transformers", args.items), ("fake", args.fake_items)][args.fake_only :]
    for backend, items in runs:
        profile = profile_file(root, backend, items)
        engines = ("local", "ray", "ray-data")
        rows = [run(profile, engine, root / f"{backend}-{engine}") for engine in engines]
        print(f"\n{backend}, {rows[0]['prompts']:,} prompts (religion x origin, {items} per emotion)")
        for r in rows:
            print(
                f"  {r['engine']:8s}: {r['seconds']:7.1f} s, {r['rate']:8.1f} prompts/s, "
                f"first chunk after {r['first_chunk']:.1f} s, peak memory {r['peak_mb']:,.0f} MB"
            )
        for r in rows[1:]:
            print(f"  {r['engine']} / local prompts/s: {r['rate'] / rows[0]['rate']:.2f} x")
            print(
                f"  {r['engine']} against local: "
                + compare(root / f"{backend}-local", root / f"{backend}-{r['engine']}")
            )


if __name__ == "__main__":
    main()
