"""Planning a run: how many prompts a profile's design asks, and how long they take on N GPUs.

Pure arithmetic over a :class:`~empathylab.gaps.runner.RunPlan`: nothing is loaded or
asked. The time is computed from a per-GPU rate the caller gives (measured on their
hardware, or stated), so a table always says which rate it assumed.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from empathylab.errors import EmpathylabError
from empathylab.gaps import design
from empathylab.gaps.runner import RunPlan

__all__ = ["workload", "cluster_hours"]


def workload(plan: RunPlan) -> pd.DataFrame:
    """Return the prompts of the plan's design, one row per model and prompt variation.

    Columns: ``model``, ``readout``, ``variation``, ``groupings`` (those asked under it) and
    ``prompts`` (every perceiver x experiencer x narrative of those groupings, the
    baseline identity included, as :func:`~empathylab.gaps.design.grid` yields them; the
    whole design, whatever the plan's shard).

    >>> from empathylab.gaps.runner import plan_run
    >>> table = workload(plan_run("demo", check_model=False))  # doctest: +SKIP
    >>> int(table["prompts"].sum())  # doctest: +SKIP
    """
    n = len(plan.narratives)
    rows = []
    for model in plan.profile.models.causal_lm:
        for variation in dict.fromkeys(v for v, _ in plan.cells):
            groupings = [g for v, g in plan.cells if v == variation]
            prompts = sum(design.grid_size(n, g, plan.people(g)) for g in groupings)
            rows.append((model, plan.profile.gaps.readout, variation, ", ".join(groupings), prompts))
    return pd.DataFrame(rows, columns=["model", "readout", "variation", "groupings", "prompts"])


def cluster_hours(prompts: int, prompts_per_gpu_second: float, gpus: Sequence[int]) -> pd.DataFrame:
    """Return the hours ``prompts`` take on each number of GPUs at a per-GPU rate.

    The rate is the caller's (a measured one, or a stated assumption: say which). Hours
    scale as 1/N: the design splits into independent chunks, and the startup of a run
    (minutes, to load a model on each worker) is left out.

    >>> cluster_hours(3_600_000, 100.0, [1, 10])
       gpus  hours  gpu_hours
    0     1   10.0       10.0
    1    10    1.0       10.0
    """
    if prompts_per_gpu_second <= 0:
        raise EmpathylabError(f"The rate must be positive prompts/s per GPU, not {prompts_per_gpu_second}.")
    if not gpus or min(gpus) < 1:
        raise EmpathylabError(f"Numbers of GPUs must be whole numbers of at least 1, not {list(gpus)}.")
    hours = [prompts / (prompts_per_gpu_second * n) / 3600 for n in gpus]
    return pd.DataFrame(
        {"gpus": list(gpus), "hours": hours, "gpu_hours": [h * n for h, n in zip(hours, gpus)]}
    )
