"""The three experiments beyond the paper: their plans, and their analyses per grouping.

Each question of Part III is a design run with the same runner and store as the paper's
(:func:`~empathylab.gaps.runner.plan_run`), sized by the profile's ``gaps.beyond``:

1. perspective-taking: ``origin`` and the four variations of
   :data:`~empathylab.gaps.design.PERSPECTIVES` on ``perspective_groupings``; each
   instruction is compared with ``pt-control`` (the contrast the chapter interprets) and
   with ``origin``, Holm-corrected over all comparisons (:func:`perspective_shifts`);
2. intersectional identities: the ``race-religion`` grouping on the first
   ``intersectional_narratives`` narratives of the sample;
3. where the gap is learned: each (base, instruction-tuned) pair of ``model_pairs`` on the
   origin design with the distribution readout. The base model reads the plain format and
   the tuned one its chat template (:func:`~empathylab.llm.backend.format_prompt` picks
   the format from the tokenizer), so Δδ of a pair is tuning *together with* the format
   change; :func:`pair_formats` reads the format each stored run used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from empathylab.errors import EmpathylabError
from empathylab.gaps import design
from empathylab.gaps.runner import RunPlan, plan_run
from empathylab.gaps.shifts import delta_shift, holm, shift_verdict
from empathylab.profiles import Profile, load_profile

__all__ = [
    "perspective_plan",
    "intersectional_plan",
    "pair_plan",
    "pair_status",
    "pair_results",
    "pair_deltas",
    "pair_shifts",
    "pair_formats",
    "stored_formats",
    "shifts_by_grouping",
    "perspective_shifts",
]


def perspective_plan(profile: str | Path | Profile = "demo", **overrides: Any) -> RunPlan:
    """Return the plan of the perspective-taking experiment: origin and the four ``pt-`` variations.

    ``overrides`` go to :func:`~empathylab.gaps.runner.plan_run` (``out``, ``check_model``...).

    >>> import tempfile
    >>> perspective_plan("demo", out=tempfile.mkdtemp(), check_model=False).cells[:2]
    [('origin', 'religion'), ('pt-other', 'religion')]
    """
    cfg = load_profile(profile)
    variations = ["origin", *design.PERSPECTIVES]
    return plan_run(
        cfg, groupings=list(cfg.gaps.beyond.perspective_groupings), variations=variations, **overrides
    )


def intersectional_plan(profile: str | Path | Profile = "demo", **overrides: Any) -> RunPlan:
    """Return the plan of the race x religion design under ``origin``.

    >>> import tempfile
    >>> plan = intersectional_plan("demo", out=tempfile.mkdtemp(), check_model=False)
    >>> plan.cells, len(plan.people("race-religion"))
    ([('origin', 'race-religion')], 21)
    """
    cfg = load_profile(profile)
    return plan_run(
        cfg,
        groupings=["race-religion"],
        variations=["origin"],
        max_narratives=cfg.gaps.beyond.intersectional_narratives,
        **overrides,
    )


def pair_plan(profile: str | Path | Profile, model: str, **overrides: Any) -> RunPlan:
    """Return the plan of one model of a pair: the profile's groupings under origin, distribution readout.

    >>> import tempfile
    >>> plan = pair_plan("demo", "embedded:gemma-3-270m", out=tempfile.mkdtemp(), check_model=False)
    >>> plan.profile.gaps.readout, plan.cells[0]
    ('distribution', ('origin', 'religion'))
    """
    cfg = load_profile(profile)
    return plan_run(cfg, model=model, readout="distribution", variations=["origin"], **overrides)


def pair_status(profile: str | Path | Profile = "demo") -> pd.DataFrame:
    """Return, for every model of ``gaps.beyond.model_pairs``, whether it can run here.

    Columns: ``pair`` (its index), ``role`` (``base`` or ``instruction-tuned``), ``model``,
    ``available`` (the model resolves on this machine: embedded, a local folder, or a hub
    id in the cache or reachable) and ``command`` (the one command that runs it).

    >>> pair_status("demo")[["role", "available"]].values.tolist()  # doctest: +SKIP
    [['base', True], ['instruction-tuned', False]]
    """
    from empathylab.llm.weights import resolve_model

    cfg = load_profile(profile)
    rows = []
    for k, pair in enumerate(cfg.gaps.beyond.model_pairs):
        for role, model in zip(("base", "instruction-tuned"), pair):
            try:
                resolve_model(model, "causal_lm")
                available = True
            except EmpathylabError:
                available = False
            command = (
                f"empathylab gaps run --profile {cfg.name} --model {model} --readout distribution "
                "--variation origin"
            )
            rows.append({"pair": k, "role": role, "model": model, "available": available, "command": command})
    return pd.DataFrame(rows, columns=["pair", "role", "model", "available", "command"])


def pair_results(profile: str | Path | Profile = "demo", *, run: bool = True) -> pd.DataFrame:
    """Return the stored rows of every model of ``gaps.beyond.model_pairs`` (origin, distribution).

    With ``run``, each model that is available here (:func:`pair_status`) is run first
    (resumed: a finished run asks nothing); a model that is not available contributes its
    rows only if they were stored elsewhere into the results folder. The frame may hold
    one model of a pair, or none (then it is empty, with the store's columns).

    >>> pair_results("demo", run=False)["model"].unique().tolist()  # doctest: +SKIP
    ['embedded:gemma-3-270m']
    """
    from empathylab.gaps.rows import COLUMNS
    from empathylab.gaps.runner import run_gaps

    status = pair_status(profile)
    frames = []
    for model, available in zip(status["model"], status["available"]):
        plan = pair_plan(profile, model, check_model=False)
        if run and available:
            run_gaps(plan, progress=False)
        try:
            frames.append(plan.results())
        except EmpathylabError:  # nothing of this model is stored
            continue
    if not frames:
        return pd.DataFrame(columns=list(COLUMNS))
    return pd.concat(frames, ignore_index=True)


def shifts_by_grouping(
    results: pd.DataFrame, by: str, reference: str, n_boot: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """Return :func:`~empathylab.gaps.shifts.delta_shift` for each grouping of ``results``.

    The rows of each grouping are compared as one design (runs differing only in ``by``);
    a ``grouping`` column is added first.

    >>> from empathylab.gaps import simulate_results
    >>> runs = pd.concat([simulate_results(g, n_items=8, effect=e, seed=0, variation=v)
    ...                   for g in ("religion", "ethnicity") for v, e in [("origin", 5.0), ("pt-self", 5.0)]])
    >>> shifts_by_grouping(runs, "variation", "origin", n_boot=200)[["grouping", "variation"]].values.tolist()
    [['religion', 'pt-self'], ['ethnicity', 'pt-self']]
    """
    frames = []
    for grouping, rows in results.groupby("grouping", sort=False):
        shift = delta_shift(rows, by=by, reference=reference, n_boot=n_boot, seed=seed)
        frames.append(shift.assign(grouping=grouping)[["grouping", *shift.columns]])
    if not frames:
        raise EmpathylabError("shifts_by_grouping: the selection is empty (no result rows).")
    return pd.concat(frames, ignore_index=True)


def perspective_shifts(results: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Return the perspective-taking chapter's table: every instruction against ``pt-control`` and ``origin``.

    For each grouping of ``results`` (runs differing only in ``variation``), each ``pt-``
    instruction is compared with the control instruction ``pt-control`` (same added
    length, no perspective: the contrast that isolates the perspective asked for) and
    every ``pt-`` variation, the control included, with ``origin`` (no added sentence).
    Holm's correction runs over all these comparisons together (7 per grouping).

    Returns
    -------
    pandas.DataFrame
        :func:`shifts_by_grouping`'s columns, the rows against ``pt-control`` first in
        each grouping, with ``p`` (unadjusted; the largest over the three units),
        ``p_holm`` (Holm-adjusted over every row) and ``verdict``
        (:func:`~empathylab.gaps.shifts.shift_verdict` read with ``p_holm``).

    >>> from empathylab.gaps import simulate_results
    >>> runs = pd.concat([simulate_results("religion", n_items=12, effect=e, seed=0, variation=v)
    ...     for v, e in [("origin", 6.0), ("pt-other", 2.0), ("pt-self", 6.0), ("pt-objective", 6.0),
    ...                  ("pt-control", 6.0)]])
    >>> table = perspective_shifts(runs, n_boot=300)
    >>> table[["variation", "reference"]].values.tolist()[:4]
    [['pt-other', 'pt-control'], ['pt-self', 'pt-control'], ['pt-objective', 'pt-control'], ['pt-other', 'origin']]
    >>> bool((table["p_holm"] >= table["p"]).all()), len(table)
    (True, 7)
    """
    check = results["variation"].astype(str) if "variation" in results.columns else pd.Series(dtype=str)
    missing = [v for v in ("origin", "pt-control") if v not in set(check)]
    if missing:
        raise EmpathylabError(
            f"perspective_shifts compares with origin and pt-control; the rows lack {', '.join(missing)} "
            f"(they hold {', '.join(sorted(set(check))) or 'no variation'})."
        )
    frames = []
    for _, rows in results.groupby("grouping", sort=False):
        instructions = rows[rows["variation"].astype(str) != "origin"]
        frames.append(shifts_by_grouping(instructions, "variation", "pt-control", n_boot=n_boot, seed=seed))
        frames.append(shifts_by_grouping(rows, "variation", "origin", n_boot=n_boot, seed=seed))
    table = pd.concat(frames, ignore_index=True)
    order = {v: k for k, v in enumerate(design.PERSPECTIVES)}  # the design's order, not the store's
    groupings = {g: k for k, g in enumerate(pd.unique(table["grouping"]))}
    keys = {"_g": table["grouping"].map(groupings), "_r": table["reference"] != "pt-control"}
    table = table.assign(**keys, _v=table["variation"].map(order))
    table = table.sort_values(["_g", "_r", "_v"], kind="stable").drop(columns=["_g", "_r", "_v"])
    table = table.reset_index(drop=True)
    table["p_holm"] = holm(table["p"].to_numpy(dtype=float))
    table["verdict"] = [shift_verdict(row, p=row["p_holm"]) for row in table.to_dict("records")]
    return table


def stored_formats(root: str | Path) -> pd.DataFrame:
    """Return the prompt format of every model, readout and variation stored under ``root``.

    Read from the provenance of each run's first chunk (``root/<model>/<readout>/<variation>/
    <grouping>/chunk-*.parquet``): ``plain`` (no chat template), ``chat`` (the tokenizer's
    chat template) or ``chat-system-in-user``; empty where the backend records none (the
    fake and API backends).

    Returns
    -------
    DataFrame
        ``model`` (the spec), ``readout``, ``variation``, ``format``, one row each, sorted.

    >>> stored_formats("no/such/folder").columns.tolist()
    ['model', 'readout', 'variation', 'format']
    """
    from empathylab.llm.store import read_metadata

    rows = {}
    for chunk in sorted(Path(root).glob("*/*/*/*/chunk-*.parquet")):
        readout, variation = chunk.parts[-4], chunk.parts[-3]
        meta = read_metadata(chunk)
        key = (meta.get("spec") or chunk.parts[-5], readout, variation)
        rows.setdefault(key, meta.get("prompt_mode", ""))
    frame = pd.DataFrame(
        [(*k, v) for k, v in rows.items()], columns=["model", "readout", "variation", "format"]
    )
    return frame.sort_values(["model", "readout", "variation"], ignore_index=True)


def pair_formats(profile: str | Path | Profile = "demo") -> dict[str, str | None]:
    """Return the prompt format each model of ``gaps.beyond.model_pairs`` was run with, where stored.

    The format is the backend's record in the stored chunks (``plain``: no chat template,
    system text and user text as plain text; ``chat``: the tokenizer's chat template;
    ``chat-system-in-user``: the template without a system role); None where the model has
    no stored run or its backend records no format (the fake and API backends).

    >>> pair_formats("demo")  # doctest: +SKIP
    {'embedded:gemma-3-270m': 'plain', 'google/gemma-3-270m-it': None}
    """
    cfg = load_profile(profile)
    models = [model for pair in cfg.gaps.beyond.model_pairs for model in pair]
    if not models:
        return {}
    stored = stored_formats(pair_plan(cfg, models[0], check_model=False).root)
    origin = stored[(stored["readout"] == "distribution") & (stored["variation"] == "origin")]
    found = dict(zip(origin["model"], origin["format"]))
    return {model: found.get(model) or None for model in models}


def pair_deltas(results: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Return δ with its bootstrap interval for every model and grouping in ``results``.

    Columns: ``model``, ``grouping``, ``delta``, ``ci_low``, ``ci_high`` (2.5 and 97.5
    percentiles over narratives, :func:`~empathylab.gaps.beyond.bootstrap_delta`) and
    ``n_items``. Empty when ``results`` is.

    >>> from empathylab.gaps import simulate_results
    >>> pair_deltas(simulate_results("religion", n_items=10, effect=4.0), n_boot=200)[["model", "grouping"]].values.tolist()
    [['synthetic', 'religion']]
    """
    from empathylab.gaps.beyond import bootstrap_delta

    rows = []
    for (model, grouping), run in results.groupby(["model", "grouping"], sort=False):
        boot = bootstrap_delta(run, n_boot=n_boot, seed=seed)
        rows.append(
            {
                "model": model,
                "grouping": grouping,
                **{k: boot[k] for k in ("delta", "ci_low", "ci_high", "n_items")},
            }
        )
    return pd.DataFrame(rows, columns=["model", "grouping", "delta", "ci_low", "ci_high", "n_items"])


def pair_shifts(
    results: pd.DataFrame, status: pd.DataFrame, n_boot: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """Return Δδ (instruction-tuned minus base) per grouping for every pair stored whole.

    ``status`` is :func:`pair_status`'s; a pair with a model not stored in ``results`` is
    left out. Columns: ``pair`` and those of :func:`shifts_by_grouping` (``by`` = model).
    """
    frames = []
    stored = set(results["model"]) if len(results) else set()
    for pair, part in status.groupby("pair", sort=True):
        base, tuned = part["model"].tolist()
        if {base, tuned} <= stored:
            rows = results[results["model"].isin([base, tuned])]
            frames.append(shifts_by_grouping(rows, "model", base, n_boot=n_boot, seed=seed).assign(pair=pair))
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    return out[["pair", *[c for c in out.columns if c != "pair"]]]
