"""The Ray engine: the chunks of a run answered by worker actors on a Ray cluster.

The driver puts the run (how to build the backend; per store folder, the store, how to
build chunk ``i``'s items from its index and how to answer them) in a named registry
actor; each worker fetches it, loads the backend once and then answers whole chunks
through the same step as the local engine (:func:`~empathylab.llm.runs.answer_chunk`:
claim, answer, write atomically with its checksum, release), writing into the store
itself. The store stays the single source of truth: a chunk exists complete or not at
all, a re-run skips finished chunks, and two runs (or a run and a restarted worker)
never both store one chunk.

The driver keeps the queue of chunks, so faults are bounded and reported: a chunk whose
worker died or raised is sent again up to ``llm.ray.retries`` times, then named in the
error that ends the run (every other chunk stored); a worker that cannot load the
backend ends the run with its reason. Ray's own task retries and checkpointing are not
used: the store's claims already make a resent chunk safe. The plan is not a Ray Dataset
either: on the same chunks, Ray Data's actor pool (``map_batches``, one chunk per batch)
answered 0.90 x as fast as this queue on the embedded model and 0.73 x on the fake
backend, and took 0.5-0.8 GB more memory (``bench/ray_engine.py``, BENCHMARKS.md); nor
can its retries after a worker's death be bounded per chunk and reported by chunk.

Ray is an optional extra (``pip install -e '.[ray]'``), imported only here and only when
``--engine ray`` is asked for.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
import warnings
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pandas as pd

from empathylab.errors import EmpathylabError, scrub
from empathylab.llm.backend import Backend
from empathylab.llm.runs import answer_chunk, provenance
from empathylab.llm.store import LEASE_SECONDS, ChunkStore

__all__ = ["RayJob", "require_ray", "run_on_ray", "TESTED_RAY"]

#: The Ray release the engine was written and tested against (the ``ray`` extra pins it).
TESTED_RAY = "2.60.0"

_IN_FLIGHT = 2  # chunks queued per worker: the next one is ready when a worker finishes
_HELD_RETRY = 5.0  # seconds before a chunk that another run holds is asked for again
#: How long a chunk may stay held by another run before it is reported: the longest a
#: claim outlives a dead owner on another host (its lease), and a margin.
_HELD_WAIT = LEASE_SECONDS + 60.0


@dataclass(frozen=True)
class RayJob:
    """One store's share of a run, sent to every worker once.

    ``items(index)`` builds chunk ``index``'s items; ``answer(backend, items)`` returns its
    rows; ``extra`` is stored with each chunk beside the backend's provenance. All three
    must pickle (module-level functions, ``functools.partial`` of them).
    """

    store: ChunkStore
    items: Callable[[int], Any]
    answer: Callable[[Backend, Any], pd.DataFrame]
    extra: dict[str, Any] = field(default_factory=dict)


def require_ray() -> Any:
    """Return the ``ray`` module, or raise EmpathylabError saying how to install it.

    Another Ray release than :data:`TESTED_RAY` is used with a warning.

    >>> require_ray().__version__ == TESTED_RAY
    True
    """
    try:
        import ray
    except ImportError:
        raise EmpathylabError(
            "--engine ray needs Ray, an optional extra: pip install -e '.[ray]' "
            f"(ray[data]=={TESTED_RAY}); or run with --engine local."
        ) from None
    if ray.__version__ != TESTED_RAY:
        warnings.warn(
            f"The Ray engine was tested with Ray {TESTED_RAY}; this is Ray {ray.__version__}.", stacklevel=2
        )
    return ray


@dataclass(frozen=True)
class _Run:
    """What every worker needs: how to build the backend, and the run's jobs."""

    make_backend: Callable[..., Backend]
    backend: str
    model: str
    options: dict[str, Any]
    jobs: dict[str, RayJob]


class _Registry:
    """A named actor holding the run, so that a worker (or its restart) fetches it by name.

    Ray keeps actor arguments for restarts, and warns that arguments held in its object
    store (a large run, even an actor handle) may be lost before one: a name is a string.
    """

    def __init__(self, run: _Run) -> None:
        self.run = run

    def get(self) -> _Run:
        return self.run


class _Worker:
    """A worker actor: loads the backend once, then answers and stores whole chunks."""

    def __init__(self, registry: str) -> None:
        import ray

        run: _Run = ray.get(ray.get_actor(registry).get.remote())
        self.jobs = run.jobs
        self.tags = {"engine": "ray", "ray_version": ray.__version__, "worker_host": socket.gethostname()}
        self.broken = ""
        try:
            self.backend = run.make_backend(run.backend, run.model, **run.options)
        except Exception as exc:  # a worker that cannot load the backend: said once, not retried
            self.broken = f"{scrub(f'{type(exc).__name__}: {exc}')[:500]} (on {self.tags['worker_host']})"

    def pid(self) -> int:
        return os.getpid()

    def answer(self, key: str, index: int) -> dict[str, str]:
        """Answer chunk ``index`` of job ``key``; return its status.

        ``stored``; ``elsewhere`` (another run stored it); ``held`` (another run holds
        it); ``failed`` (with its error); ``broken`` (this worker could not load the backend).
        """
        if self.broken:
            return {"status": "broken", "error": self.broken}
        job = self.jobs[key]

        def metadata() -> dict[str, str]:
            return provenance(self.backend.info(), **job.extra, **self.tags)

        try:
            stored = answer_chunk(
                job.store, index, job.items(index), partial(job.answer, self.backend), metadata
            )
        except Exception as exc:  # reported by the driver with the chunk's id
            return {"status": "failed", "error": scrub(f"{type(exc).__name__}: {exc}")[:500]}
        if stored:
            return {"status": "stored"}
        # Claimed elsewhere: stored by another run, or still held (by a live run, or by a
        # worker that died on another host, whose lease has not expired yet).
        return {"status": "elsewhere" if index in job.store.done() else "held"}


def _worker_count(ray: Any, num_cpus: float, num_gpus: float) -> int:
    resources = ray.cluster_resources()
    if num_gpus > 0:
        count = int(resources.get("GPU", 0) // num_gpus)
        if count < 1:
            raise EmpathylabError(
                f"llm.ray.num_gpus is {num_gpus:g} per worker, but the Ray cluster has "
                f"{resources.get('GPU', 0):g} GPU(s); set llm.ray.num_gpus: 0 to run on CPUs."
            )
        return count
    return max(1, int(resources.get("CPU", 1) // num_cpus))


def run_on_ray(
    jobs: dict[str, RayJob],
    tasks: list[tuple[str, int, int]],
    make_backend: Callable[..., Backend],
    backend: str,
    model: str,
    options: dict[str, Any],
    settings: Any,
    *,
    progress: Callable[[int], object] | None = None,
    status: Callable[[str], object] | None = None,
) -> Counter:
    """Answer ``tasks`` (``(job key, chunk index, items)``) on Ray; return items stored per job key.

    ``settings`` is the profile's ``llm.ray`` section (address, workers, num_cpus,
    num_gpus, retries). A Ray connection made by the caller is used as it is; otherwise
    one is made (``address`` null: a local cluster) and closed at the end. ``progress(n)``
    is called with each stored chunk's size, ``status(text)`` with the workers alive.

    Raises EmpathylabError naming every chunk that failed ``retries + 1`` times (every
    other chunk is stored), when a worker cannot load the backend, or when no worker is left.

    Examples
    --------
    Two chunks of squares, stored by one worker of a Ray cluster started for the call:

    >>> import tempfile
    >>> from empathylab.llm import load_backend
    >>> from empathylab.profiles import Ray
    >>> store = ChunkStore(tempfile.mkdtemp(), {"task": "squares"}, columns=("x", "y"))
    >>> def pair(index):
    ...     return [2 * index, 2 * index + 1]
    >>> def square(backend, xs):
    ...     return pd.DataFrame({"x": xs, "y": [x * x for x in xs]})
    >>> tasks = [("squares", 0, 2), ("squares", 1, 2)]
    >>> run_on_ray({"squares": RayJob(store, pair, square)}, tasks, load_backend, "fake", "m", {},
    ...            Ray(workers=1))
    Counter({'squares': 4})
    >>> sorted(store.done())
    [0, 1]
    """
    ray = require_ray()
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(
                address=settings.address,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.ERROR,
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise EmpathylabError(
                f"Cannot join the Ray cluster at {settings.address!r}: {scrub(str(exc))[:300]}. "
                "Start one with `ray start --head`, or leave llm.ray.address null for a local one."
            ) from None
    workers: list[Any] = []
    try:
        n_workers = settings.workers or _worker_count(ray, settings.num_cpus, settings.num_gpus)
        actor = ray.remote(_Worker).options(
            num_cpus=settings.num_cpus,
            num_gpus=settings.num_gpus,
            max_restarts=settings.retries + 1,  # a killed worker comes back (its chunk is sent again)
            max_task_retries=0,
        )
        run = _Run(make_backend, backend, model, options, jobs)
        name = f"empathylab-run-{uuid.uuid4().hex}"
        workers = [ray.remote(_Registry).options(num_cpus=0, name=name).remote(run)]
        workers += [actor.remote(name) for _ in range(n_workers)]
        return _drive(ray, workers[1:], tasks, settings.retries, progress, status)
    finally:
        for worker in workers:
            ray.kill(worker, no_restart=True)
        if started_here:
            ray.shutdown()


def _drive(
    ray: Any,
    workers: list[Any],
    tasks: list[tuple[str, int, int]],
    retries: int,
    progress: Callable[[int], object] | None,
    status: Callable[[str], object] | None,
) -> Counter:
    """Keep every live worker busy until the queue is empty; the bookkeeping of faults."""
    pending = deque(tasks)
    load = Counter()  # chunks in flight per worker
    deaths = Counter()  # deaths per worker since its last success
    attempts: Counter = Counter()
    failed: dict[tuple[str, int], str] = {}
    stored: Counter = Counter()
    in_flight: dict[Any, tuple[int, tuple[str, int, int]]] = {}
    waiting: list[tuple[float, tuple[str, int, int]]] = []  # held elsewhere: (ask again at, task)
    held_since: dict[tuple[str, int], float] = {}
    dead: set[int] = set()
    last_error = ""
    shown = -1
    while pending or in_flight or waiting:
        now = time.monotonic()
        pending.extend(task for at, task in waiting if at <= now)
        waiting = [(at, task) for at, task in waiting if at > now]
        for w, worker in enumerate(workers):
            while w not in dead and load[w] < _IN_FLIGHT and pending:
                task = pending.popleft()
                in_flight[worker.answer.remote(task[0], task[1])] = (w, task)
                load[w] += 1
        alive = len(workers) - len(dead)
        if status is not None and alive != shown:
            status(f"{alive} worker{'s' * (alive != 1)} alive")
            shown = alive
        if not in_flight:
            if waiting and len(dead) < len(workers):
                time.sleep(max(0.0, min(at for at, _ in waiting) - time.monotonic()))
                continue
            break  # every worker is gone; what is left is reported below
        ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=5.0)
        for ref in ready:
            w, task = in_flight.pop(ref)
            load[w] -= 1
            try:
                result = ray.get(ref)
            except ray.exceptions.RayError as exc:  # the worker died (killed, out of memory...)
                deaths[w] += 1
                last_error = _first_line(exc)
                if deaths[w] > retries + 1:
                    dead.add(w)
                result = {"status": "failed", "error": f"its worker died ({last_error})"}
            if result["status"] == "broken":
                raise EmpathylabError(
                    f"A Ray worker could not load the backend: {result['error']}. Every chunk stored "
                    "so far is kept: make the model available on every node and run the same command again."
                )
            if result["status"] == "failed":
                attempts[task[:2]] += 1
                if attempts[task[:2]] > retries:
                    failed[task[:2]] = f"failed {retries + 1} time(s), the last with {result['error']}"
                else:
                    pending.append(task)
                continue
            deaths[w] = 0
            if result["status"] == "held":
                since = held_since.setdefault(task[:2], time.monotonic())
                if time.monotonic() - since > _HELD_WAIT:
                    failed[task[:2]] = f"held by another run for over {_HELD_WAIT / 60:.0f} minutes"
                else:
                    waiting.append((time.monotonic() + _HELD_RETRY, task))
            if result["status"] == "stored":
                stored[task[0]] += task[2]
                if progress is not None:
                    progress(task[2])
    if pending:
        raise EmpathylabError(
            f"Every Ray worker died ({last_error}); {len(pending)} chunk(s) were not answered. "
            "Every chunk stored so far is kept: run the same command again to resume."
        )
    if failed:
        shown_failures = "; ".join(
            f"{key} chunk {index}: {error}" for (key, index), error in sorted(failed.items())[:3]
        )  # in store and chunk order: workers finish in any order
        more = f"; and {len(failed) - 3} more" if len(failed) > 3 else ""
        raise EmpathylabError(
            f"{len(failed)} chunk(s) were not stored: {shown_failures}{more}. "
            "Every other chunk is stored: fix the cause and run the same command again to answer these."
        )
    return stored


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return scrub(f"{type(exc).__name__}: {text}")[:200]
