"""The three experiments beyond the paper: their plans, and their analyses per grouping.

Each question of Part III is a design run with the same runner and store as the paper's
(:func:`~empathylab.gaps.runner.plan_run`), sized by the profile's ``gaps.beyond``:

1. perspective-taking: ``origin`` and the four variations of
   :data:`~empathylab.gaps.design.PERSPECTIVES` on ``perspective_groupings``;
2. intersectional identities: the ``race-religion`` grouping on the first
   ``intersectional_narratives`` narratives of the sample;
3. where the gap is learned: each (base, instruction-tuned) pair of ``model_pairs`` on the
   origin design with the distribution readout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from empathylab.errors import EmpathylabError
from empathylab.gaps import design
from empathylab.gaps.runner import RunPlan, plan_run
from empathylab.gaps.shifts import delta_shift
from empathylab.profiles import Profile, load_profile

__all__ = [
    "perspective_plan",
    "intersectional_plan",
    "pair_plan",
    "pair_status",
    "pair_results",
    "pair_deltas",
    "pair_shifts",
    "shifts_by_grouping",
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
