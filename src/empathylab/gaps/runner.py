"""Running the empathy-gap design on a model: plan, check, ask, store, resume.

:func:`plan_run` validates everything a run depends on (profile, overrides, shard,
model, stores) before any model is loaded; :func:`run_gaps` then asks the backend for
every prompt of the design that is not stored yet, chunk by chunk.
:func:`plan_second_readout` plans the profile's second readout (``gaps.second_readout``)
on the same narratives, for the chapter that compares the two readouts;
:func:`run_pair` runs such a pair reading each prompt once for both.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from empathylab.errors import EmpathylabError
from empathylab.gaps import design
from empathylab.gaps.matrices import in_group
from empathylab.gaps.reading import READOUTS, answer_bound, parse_many, reading_is_final
from empathylab.gaps.rows import COLUMNS
from empathylab.llm import Backend, Request, backend_options, load_backend
from empathylab.llm.runs import answer_chunks, answer_chunks_together, provenance
from empathylab.llm.store import ChunkStore, model_slug
from empathylab.llm.trie import summarize_distribution
from empathylab.profiles import Profile, load_profile

__all__ = [
    "RunPlan",
    "plan_run",
    "plan_second_readout",
    "compared_plan",
    "readout_pairs",
    "run_gaps",
    "run_pair",
    "combined_summary",
    "numerics",
    "ENGINES",
]

#: Where a run's chunks are answered: in this process, or by worker actors on a Ray cluster.
ENGINES = ("local", "ray")


@dataclass(frozen=True)
class RunPlan:
    """A validated run: the profile (with overrides applied), the shard and output root."""

    profile: Profile
    shard: design.Shard
    root: Path
    narratives: pd.DataFrame
    engine: str = "local"
    """``local`` (in this process) or ``ray`` (worker actors on a Ray cluster, ``llm.ray``)."""

    @property
    def cells(self) -> list[tuple[str, str]]:
        """The (variation, grouping) pairs to run, in order."""
        return [(v, g) for v in self.profile.gaps.variations for g in self.profile.gaps.groupings]

    def people(self, grouping: str) -> list[str]:
        """The identities of ``grouping`` this run uses."""
        return design.select_identities(grouping, self.profile.gaps.identities.get(grouping))

    def results(self) -> pd.DataFrame:
        """Return the stored rows of this plan only: its models, readout, variations, groupings.

        Other runs in the same results folder (another readout, grouping or model) are
        left out, so a chapter reads exactly what its plan asked. Raises when nothing of
        the plan is stored yet.
        """
        from empathylab.gaps.rows import read_results

        readout = self.profile.gaps.readout
        folders = [
            self.root / model_slug(m) / readout / v / g
            for m in self.profile.models.causal_lm
            for v, g in self.cells
        ]
        stored = [f for f in folders if any(f.glob("chunk-*.parquet"))]
        if not stored:
            raise EmpathylabError(
                f"No stored results of this plan under {self.root}: run `empathylab gaps run` first."
            )
        frame = pd.concat([read_results(f) for f in stored], ignore_index=True)
        keys = ["model", "readout", "variation", "grouping", "prompt_id"]
        return frame.sort_values(keys, kind="stable").reset_index(drop=True)

    def store(self, model: str, variation: str, grouping: str) -> ChunkStore:
        """The store of one model, variation and grouping (checked against its design).

        The design (fingerprint) names the reading range only where it changes readings:
        the generate readout on a scale whose bound the range moves (``authors`` on the
        10-point scale). Stores of the default reading keep their fingerprint, and a
        store read under one range is refused under the other.
        """
        gaps, llm = self.profile.gaps, self.profile.llm
        items = ",".join(f"{e}:{i}" for e, i in zip(self.narratives["emotion"], self.narratives["item_id"]))
        fingerprint = {
            "model": model,
            "backend": llm.backend,
            "readout": gaps.readout,
            "variation": variation,
            "grouping": grouping,
            "identities": self.people(grouping),
            "narratives": len(self.narratives),
            "narratives_sha256": hashlib.sha256(items.encode()).hexdigest()[:16],
            "chunk_size": gaps.chunk_size,
            "batch_size": llm.batch_size,
            "template_hash": design.template_hash(),
            "max_new_tokens": gaps.max_new_tokens if gaps.readout == "generate" else None,
        }
        if design.instruction_hash(variation) is not None:  # a perspective-taking variation
            fingerprint["instruction_sha256"] = design.instruction_hash(variation)
        if llm.backend == "fake":  # its settings move every answer
            fingerprint["fake"] = llm.fake.model_dump()
        fingerprint.update(numerics(self.profile))
        scale = design.VARIATIONS[variation][1]
        if gaps.readout == "generate" and answer_bound(scale, gaps.reading.range) != scale:
            fingerprint["reading_range"] = gaps.reading.range
        folder = self.root / model_slug(model) / gaps.readout / variation / grouping
        return ChunkStore(folder, fingerprint, columns=COLUMNS)


def numerics(profile: Profile) -> dict[str, str]:
    """Return what, besides the design, moves the numbers a local model gives: its precision
    and the kind of device, where they differ from float32 on a CPU.

    float32 on a CPU is what every store was written with before these entered the
    fingerprint, so those stores keep theirs. ``auto`` is float32 on a CPU and the
    checkpoint's own precision on a GPU; a GPU's kernels do not give a CPU's numbers bit for
    bit, so the device kind is recorded too. Endpoints and the fake backend record nothing.

    >>> numerics(load_profile("demo")), numerics(load_profile("demo", llm={"dtype": "bfloat16"}))
    ({}, {'dtype': 'bfloat16'})
    >>> numerics(load_profile("paper"))
    {'dtype': 'auto', 'device': 'cuda'}
    """
    from empathylab.llm.weights import pick_device

    llm = profile.llm
    if llm.backend not in ("transformers", "vllm"):
        return {}
    kind = "cuda" if llm.backend == "vllm" else pick_device(profile.device).split(":")[0]
    dtype = "float32" if llm.dtype == "auto" and kind == "cpu" else llm.dtype
    out = {}
    if dtype != "float32":
        out["dtype"] = dtype
    if kind != "cpu":
        out["device"] = kind
    return out


def plan_run(
    profile: str | Path | Profile = "demo",
    *,
    model: str | None = None,
    backend: str | None = None,
    readout: str | None = None,
    reading_range: str | None = None,
    groupings: list[str] | None = None,
    variations: list[str] | None = None,
    items_per_emotion: int | None = None,
    shard: str = "1/1",
    out: str | Path | None = None,
    engine: str = "local",
    ray_address: str | None = None,
    max_narratives: int | None = None,
    check_model: bool = True,
) -> RunPlan:
    """Validate a run and return its plan; nothing is loaded and nothing is written.

    Overrides replace the profile's values and are validated like the profile. Unknown
    names, a bad shard, a missing model or a store holding another design raise an
    :class:`~empathylab.errors.EmpathylabError` subclass with one clear message.
    ``reading_range`` sets ``gaps.reading.range``. A ``readout`` that is the profile's
    ``second_readout`` swaps the two, so that the plan's profile stays valid. ``engine``
    is ``local`` or ``ray`` (which needs the ``ray`` extra); ``ray_address`` sets
    ``llm.ray.address``. ``max_narratives`` keeps the first narratives of the profile's
    sample (a smaller design on the same stimuli).

    Returns
    -------
    RunPlan
        The profile with the overrides, the shard, the output root and the narratives.

    Examples
    --------
    >>> import tempfile
    >>> plan = plan_run("demo", readout="generate", out=tempfile.mkdtemp(), check_model=False)
    >>> plan.profile.gaps.readout, plan.profile.gaps.second_readout
    ('generate', 'distribution')
    """
    from empathylab.data import load_narratives
    from empathylab.gaps.stimuli import sample_narratives

    gaps: dict[str, Any] = {
        k: v
        for k, v in {
            "readout": readout,
            "groupings": groupings,
            "variations": variations,
        }.items()
        if v is not None
    }
    if reading_range is not None:
        gaps["reading"] = {"range": reading_range}
    if readout is not None:
        base = load_profile(profile).gaps
        if readout == base.second_readout:
            gaps["second_readout"] = base.readout
    overrides: dict[str, Any] = {"gaps": gaps} if gaps else {}
    if backend is not None:
        overrides["llm"] = {"backend": backend}
    if ray_address is not None:
        overrides.setdefault("llm", {})["ray"] = {"address": ray_address}
    if model is not None:  # a compared model asked on its own is this run's model
        compared = [m for m in load_profile(profile).models.compared if m != model]
        overrides["models"] = {"causal_lm": [model], "compared": compared}
    if items_per_emotion is not None:
        overrides["stimuli"] = {"items_per_emotion": items_per_emotion}
    checked = load_profile(profile, **overrides)
    parsed_shard = design.parse_shard(shard)
    if engine not in ENGINES:
        raise EmpathylabError(f"Unknown engine {engine!r}; valid engines: {', '.join(ENGINES)}.")
    if engine == "ray":
        from empathylab.llm.ray_engine import require_ray

        require_ray()  # before anything loads: one line saying how to install it
    root = Path(out) if out is not None else checked.output_path() / "gaps"
    narratives = sample_narratives(load_narratives(), checked.stimuli.items_per_emotion, seed=checked.seed)
    if max_narratives is not None:
        if max_narratives < 1:
            raise EmpathylabError(f"max_narratives must be at least 1, not {max_narratives}.")
        narratives = narratives.iloc[:max_narratives]
    plan = RunPlan(checked, parsed_shard, root, narratives, engine)
    for spec in checked.models.causal_lm:
        for variation, grouping in plan.cells:
            plan.store(spec, variation, grouping)  # raises if a store holds another design
        if check_model and checked.llm.backend in ("transformers", "vllm"):
            from empathylab.llm.weights import resolve_model

            resolve_model(spec, "causal_lm")
    return plan


def plan_second_readout(
    profile: str | Path | Profile = "demo", variations: list[str] | None = None, **overrides: Any
) -> RunPlan | None:
    """Plan the profile's second readout; return None when it has none.

    The plan asks ``gaps.second_readout`` on the profile's narratives, under
    ``variations`` (default: the profile's first variation), for the groupings of
    ``gaps.second_readout_groupings``; in its profile the two readouts swap places.
    ``overrides`` go to :func:`plan_run` (``out``, ``shard``, ``check_model``, ``model``...).

    Returns
    -------
    RunPlan or None
        The plan to give :func:`run_gaps`, or None when ``gaps.second_readout`` is null.

    Examples
    --------
    >>> import tempfile
    >>> plan = plan_second_readout("demo", out=tempfile.mkdtemp(), check_model=False)
    >>> plan.profile.gaps.readout, plan.cells
    ('generate', [('origin', 'religion')])
    """
    gaps = load_profile(profile).gaps
    if gaps.second_readout is None:
        return None
    return plan_run(
        profile,
        readout=gaps.second_readout,
        groupings=list(gaps.second_readout_groupings),
        variations=list(variations) if variations else gaps.variations[:1],
        **overrides,
    )


def compared_plan(
    profile: str | Path | Profile = "demo", *, readout: str | None = None, **overrides: Any
) -> RunPlan | None:
    """Plan the compared models' run; return None when the profile compares none.

    The models of ``models.compared`` answer ``gaps.compared_groupings`` under the
    profile's first variation with ``readout`` (default: the profile's readout; give
    ``gaps.second_readout`` for the readout comparison), on the profile's narratives and in
    the same results folder as the main models, so the model comparison reads them beside
    the main models' runs. ``overrides`` go to :func:`plan_run`.

    Returns
    -------
    RunPlan or None

    Examples
    --------
    >>> import tempfile
    >>> plan = compared_plan("demo", out=tempfile.mkdtemp(), check_model=False)
    >>> plan.profile.models.causal_lm, plan.cells
    (['embedded:smollm2-135m-instruct'], [('origin', 'religion')])
    """
    cfg = load_profile(profile)
    if not cfg.models.compared:
        return None
    swapped = load_profile(cfg, models={"causal_lm": list(cfg.models.compared), "compared": []})
    return plan_run(
        swapped,
        readout=readout,
        groupings=list(cfg.gaps.compared_groupings),
        variations=cfg.gaps.variations[:1],
        **overrides,
    )


def readout_pairs(
    profile: str | Path | Profile = "demo", variations: list[str] | None = None, **overrides: Any
) -> list[tuple[RunPlan, RunPlan]]:
    """Plan the readout comparison: for the main and the compared models, one plan per readout.

    The main models (``models.causal_lm``) answer ``gaps.second_readout_groupings`` under
    ``variations`` (default: the first variation) with both readouts; the compared models
    (``models.compared``) answer ``gaps.compared_groupings`` under the first variation with
    both. Empty when the profile has no second readout. ``overrides`` go to :func:`plan_run`.

    Returns
    -------
    list of (plan of the readout, plan of the second readout)

    >>> import tempfile
    >>> pairs = readout_pairs("demo", out=tempfile.mkdtemp(), check_model=False)
    >>> [(a.profile.models.causal_lm[0][9:], a.profile.gaps.readout, b.profile.gaps.readout) for a, b in pairs]
    [('gemma-3-270m', 'distribution', 'generate'), ('smollm2-135m-instruct', 'distribution', 'generate')]
    """
    cfg = load_profile(profile)
    second = plan_second_readout(cfg, variations=variations, **overrides)
    if second is None:
        return []
    first = plan_run(
        cfg,
        groupings=list(cfg.gaps.second_readout_groupings),
        variations=second.profile.gaps.variations,
        **overrides,
    )
    pairs = [(first, second)]
    compared = compared_plan(cfg, **overrides)
    if compared is not None:
        pairs.append((compared, compared_plan(cfg, readout=cfg.gaps.second_readout, **overrides)))
    return pairs


def _chunk_sizes(total: int, size: int, shard: design.Shard) -> dict[int, int]:
    return {i: min(size, total - i * size) for i in range((total + size - 1) // size) if i in shard}


def _requests(prompts: list[design.Prompt]) -> list[Request]:
    ids = list(dict.fromkeys([p.perceiver for p in prompts] + [p.experiencer for p in prompts]))
    same, at = in_group(ids, prompts[0].grouping), {name: k for k, name in enumerate(ids)}
    return [
        Request(p.system, p.user, tags={"in_group": bool(same[at[p.perceiver], at[p.experiencer]])})
        for p in prompts
    ]


def _stop(profile: Profile, scale: int) -> Callable[[str], bool] | None:
    # Stopping where the [0, S] reading is final also fixes the [0, 100] one, so the
    # stored responses can be read again under either reading range.
    return partial(reading_is_final, scale=scale) if profile.gaps.stop_early else None


def _answer(backend: Backend, profile: Profile, model: str, prompts: list[design.Prompt]) -> pd.DataFrame:
    scale = design.VARIATIONS[prompts[0].variation][1]
    requests = _requests(prompts)
    if profile.gaps.readout == "distribution":
        return _rows(profile, model, prompts, backend.score(requests, scale))
    return _rows(
        profile,
        model,
        prompts,
        backend.generate(requests, profile.gaps.max_new_tokens, _stop(profile, scale)),
    )


def _answer_both(
    backend: Backend,
    plans: tuple[RunPlan, RunPlan],
    model: str,
    prompts: list[design.Prompt],
    which: list[int],
) -> list[pd.DataFrame]:
    """The rows of ``plans[k]`` for each k in ``which``; both at once from one reading of the prompts."""
    if len(which) == 1:
        return [_answer(backend, plans[which[0]].profile, model, prompts)]
    scale = design.VARIATIONS[prompts[0].variation][1]
    text = next(p.profile for p in plans if p.profile.gaps.readout == "generate")
    probabilities, responses = backend.score_and_generate(
        _requests(prompts), scale, text.gaps.max_new_tokens, _stop(text, scale)
    )
    readings = {"distribution": probabilities, "generate": responses}
    return [_rows(plans[k].profile, model, prompts, readings[plans[k].profile.gaps.readout]) for k in which]


def _rows(profile: Profile, model: str, prompts: list[design.Prompt], answers: Any) -> pd.DataFrame:
    """The stored rows of ``prompts``: the answer distributions, or the responses, read."""
    gaps = profile.gaps
    scale = design.VARIATIONS[prompts[0].variation][1]
    if gaps.readout == "distribution":
        readings = summarize_distribution(answers)
        readings["response"] = None
    else:
        readings = parse_many(answers, scale, gaps.reading.range)
        readings["response"] = answers
        readings["p_valid"] = float("nan")
        readings["argmax"] = float("nan")
    keys = pd.DataFrame(
        [
            (p.prompt_id, p.variation, p.grouping, p.perceiver, p.experiencer, p.emotion, p.item_id)
            for p in prompts
        ],
        columns=["prompt_id", "variation", "grouping", "perceiver", "experiencer", "emotion", "item_id"],
    )
    keys.insert(1, "model", model)
    keys.insert(2, "backend", profile.llm.backend)
    keys["readout"] = gaps.readout
    return pd.concat([keys, readings.reset_index(drop=True)], axis=1)


def run_gaps(
    plan: RunPlan,
    *,
    progress: bool = True,
    make_backend: Callable[..., Backend] = load_backend,
) -> pd.DataFrame:
    """Ask every model of the plan for every prompt not stored yet; return a summary.

    The summary has one row per (model, variation, grouping): ``prompts`` in this
    shard, ``stored_before``, ``answered`` now and ``seconds``.
    """
    from tqdm import tqdm

    profile, gaps = plan.profile, plan.profile.gaps
    readout = gaps.readout
    rows = []
    for model in profile.models.causal_lm:
        todo = _todo(plan, model)
        remaining = sum(n for _, sizes, done in todo.values() for i, n in sizes.items() if i not in done)
        if remaining == 0:
            rows += [
                _summary(model, readout, v, g, sizes, done, 0, 0.0)
                for (v, g), (_, sizes, done) in todo.items()
            ]
            continue
        extra = _extra(plan)
        new_bar = partial(
            tqdm, total=remaining, desc=model, unit="prompt", disable=not progress, smoothing=0.1
        )
        if plan.engine == "ray":
            bar = new_bar()
            try:
                rows += _run_on_ray(plan, model, todo, make_backend, extra, bar)
            finally:
                bar.close()
            continue
        backend = make_backend(profile.llm.backend, model, **backend_options(profile))
        metadata = partial(_provenance, backend, **extra, engine="local")
        bar = new_bar()  # after the backend: a backend that fails to start leaves one clean line
        try:
            for (variation, grouping), (store, sizes, done) in todo.items():
                start = time.perf_counter()
                bar.set_postfix_str(f"{variation}/{grouping}")
                prompts = design.grid(plan.narratives, grouping, variation, plan.people(grouping))
                answered = answer_chunks(
                    store,
                    design.chunks(prompts, gaps.chunk_size, plan.shard),
                    partial(_answer, backend, profile, model),
                    metadata,
                    progress=bar.update,
                )
                seconds = time.perf_counter() - start
                rows.append(_summary(model, readout, variation, grouping, sizes, done, answered, seconds))
        finally:
            bar.close()
            backend.close()
    return pd.DataFrame(rows)


def run_pair(
    first: RunPlan,
    second: RunPlan,
    *,
    progress: bool = True,
    make_backend: Callable[..., Backend] = load_backend,
) -> pd.DataFrame:
    """Run two plans of one design that differ only in their readout, reading each prompt once.

    ``first`` and ``second`` as :func:`readout_pairs` gives them: the same models, cells,
    narratives, identities, shard and chunk size, one plan with each readout. A chunk
    missing from both stores is answered for both from one reading of its prompts
    (:meth:`~empathylab.llm.Backend.score_and_generate`), with the same answers as two runs;
    each store is written, resumed and checked as by :func:`run_gaps`, which runs the two
    plans one after the other where they are not such a pair (or run on Ray).

    Returns
    -------
    pandas.DataFrame
        Both plans' summaries (see :func:`run_gaps`), the ``readout`` column telling them apart.
    """
    from tqdm import tqdm

    if not _same_design(first, second):
        return pd.concat(
            [run_gaps(p, progress=progress, make_backend=make_backend) for p in (first, second)],
            ignore_index=True,
        )
    plans, profile = (first, second), first.profile
    rows = []
    for model in profile.models.causal_lm:
        todo = [_todo(plan, model) for plan in plans]
        missing = {
            (cell, i): n
            for cell in first.cells
            for plan_todo in todo
            for i, n in plan_todo[cell][1].items()
            if i not in plan_todo[cell][2]
        }
        if not missing:
            rows += [
                _summary(model, plan.profile.gaps.readout, v, g, sizes, done, 0, 0.0)
                for plan, plan_todo in zip(plans, todo)
                for (v, g), (_, sizes, done) in plan_todo.items()
            ]
            continue
        backend = make_backend(profile.llm.backend, model, **backend_options(profile))
        metadata = partial(_provenance, backend, **_extra(first), engine="local")
        bar = tqdm(
            total=sum(missing.values()), desc=model, unit="prompt", disable=not progress, smoothing=0.1
        )
        try:
            for variation, grouping in first.cells:
                start = time.perf_counter()
                bar.set_postfix_str(f"{variation}/{grouping}")
                cells = [plan_todo[variation, grouping] for plan_todo in todo]
                answered = answer_chunks_together(
                    [store for store, _, _ in cells],
                    design.chunks(
                        design.grid(first.narratives, grouping, variation, first.people(grouping)),
                        profile.gaps.chunk_size,
                        first.shard,
                    ),
                    partial(_answer_both, backend, plans, model),
                    metadata,
                    progress=bar.update,
                )
                seconds = time.perf_counter() - start
                rows += [
                    _summary(model, plan.profile.gaps.readout, variation, grouping, sizes, done, n, seconds)
                    for plan, (_, sizes, done), n in zip(plans, cells, answered)
                ]
        finally:
            bar.close()
            backend.close()
    return pd.DataFrame(rows)


def combined_summary(summaries: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Return one row per (model, readout, variation, grouping) of several runs' summaries.

    A cell asked by several runs (a readout pair, then the main plan) keeps its prompts,
    the prompts stored before the first of those runs, the prompts they answered together
    and their seconds together.

    >>> cell = {"model": "m", "readout": "distribution", "variation": "origin", "grouping": "religion"}
    >>> first = pd.DataFrame([{**cell, "prompts": 4, "stored_before": 0, "answered": 4, "seconds": 1.5}])
    >>> again = first.assign(stored_before=4, answered=0, seconds=0.0)
    >>> combined_summary([first, again])[["prompts", "stored_before", "answered", "seconds"]].values.tolist()
    [[4.0, 0.0, 4.0, 1.5]]
    """
    frame = pd.concat(summaries, ignore_index=True)
    return frame.groupby(["model", "readout", "variation", "grouping"], sort=False, as_index=False).agg(
        prompts=("prompts", "first"),
        stored_before=("stored_before", "first"),
        answered=("answered", "sum"),
        seconds=("seconds", "sum"),
    )


def _same_design(first: RunPlan, second: RunPlan) -> bool:
    """True when two local plans ask the same prompts in the same chunks, one with each readout."""
    a, b = first.profile, second.profile
    return (
        first.engine == second.engine == "local"
        and {a.gaps.readout, b.gaps.readout} == set(READOUTS)
        and a.models.causal_lm == b.models.causal_lm
        and first.cells == second.cells
        and first.shard == second.shard
        and a.gaps.chunk_size == b.gaps.chunk_size
        and a.llm.backend == b.llm.backend
        and backend_options(a) == backend_options(b)
        and first.narratives[["emotion", "item_id"]].equals(second.narratives[["emotion", "item_id"]])
        and all(first.people(g) == second.people(g) for _, g in first.cells)
    )


def _todo(plan: RunPlan, model: str) -> dict[tuple[str, str], tuple[ChunkStore, dict[int, int], set[int]]]:
    """Each cell's store (its leftovers cleaned), chunk sizes in this shard and chunks already stored."""
    todo = {}
    for variation, grouping in plan.cells:
        store = plan.store(model, variation, grouping)
        store.clean()
        total = design.grid_size(len(plan.narratives), grouping, plan.people(grouping))
        todo[variation, grouping] = (
            store,
            _chunk_sizes(total, plan.profile.gaps.chunk_size, plan.shard),
            store.done(),
        )
    return todo


def _extra(plan: RunPlan) -> dict[str, str]:
    return {"template_hash": design.template_hash(), "profile": plan.profile.name, "shard": str(plan.shard)}


def _answer_chunk(
    backend: Backend, prompts: list[design.Prompt], *, profile: Profile, model: str
) -> pd.DataFrame:
    return _answer(backend, profile, model, prompts)


def _run_on_ray(
    plan: RunPlan,
    model: str,
    todo: dict[tuple[str, str], tuple[ChunkStore, dict[int, int], set[int]]],
    make_backend: Callable[..., Backend],
    extra: dict[str, str],
    bar: Any,
) -> list[dict[str, Any]]:
    """Answer one model's remaining chunks on Ray; return the summary rows."""
    from empathylab.llm.ray_engine import RayJob, run_on_ray

    profile = plan.profile
    jobs, tasks = {}, []
    for (variation, grouping), (store, sizes, done) in todo.items():
        key = f"{variation}/{grouping}"
        items = partial(
            design.grid_chunk,
            plan.narratives,
            grouping,
            variation,
            plan.people(grouping),
            profile.gaps.chunk_size,
        )
        jobs[key] = RayJob(store, items, partial(_answer_chunk, profile=profile, model=model), extra)
        tasks += [(key, i, n) for i, n in sizes.items() if i not in done]
    start = time.perf_counter()
    answered = run_on_ray(
        jobs,
        tasks,
        make_backend,
        profile.llm.backend,
        model,
        backend_options(profile),
        profile.llm.ray,
        progress=bar.update,
        status=bar.set_postfix_str,
    )
    seconds = time.perf_counter() - start  # the whole model's: the cells ran side by side
    return [
        _summary(model, profile.gaps.readout, v, g, sizes, done, answered[f"{v}/{g}"], seconds)
        for (v, g), (_, sizes, done) in todo.items()
    ]


def _provenance(backend: Backend, **extra: Any) -> dict[str, str]:
    return provenance(backend.info(), **extra)


def _summary(
    model: str,
    readout: str,
    variation: str,
    grouping: str,
    sizes: dict[int, int],
    done: set[int],
    answered: int,
    seconds: float,
) -> dict[str, Any]:
    return {
        "model": model,
        "readout": readout,
        "variation": variation,
        "grouping": grouping,
        "prompts": sum(sizes.values()),
        "stored_before": sum(n for i, n in sizes.items() if i in done),
        "answered": answered,
        "seconds": round(seconds, 1),
    }
