"""Figures of the book, one function per figure, each returning a matplotlib Figure."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["narrative_lengths", "intensities_by_emotion", "gap_heatmap", "deltas"]


def narrative_lengths(lengths: pd.DataFrame) -> Figure:
    """Return a figure of narrative lengths (words, log scale) by emotion and text version.

    ``lengths`` is the long frame of :func:`empathylab.stimuli.text_lengths`.

    >>> import pandas as pd
    >>> demo = pd.DataFrame({"emotion": ["joy"] * 3, "version": ["original", "1-person",
    ...                      "3-person"], "words": [3, 6, 7]})
    >>> narrative_lengths(demo).axes[0].get_xscale()
    'log'
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    n_emotions = lengths["emotion"].nunique()
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * n_emotions + 1.6), layout="constrained")
    sns.boxplot(
        data=lengths, x="words", y="emotion", hue="version",
        log_scale=True, fliersize=1.5, linewidth=0.8, ax=ax,
    )  # fmt: skip
    ax.set_xlabel("length of the narrative (words, log scale)")
    ax.set_ylabel("")
    ax.legend(title="text version", loc="lower right", fontsize="small")
    return fig


def intensities_by_emotion(results: pd.DataFrame) -> Figure:
    """Return a figure of the stored intensities by emotion, one box per model and readout.

    ``results`` is the frame of :func:`empathylab.store.read_results`.

    >>> import pandas as pd
    >>> demo = pd.DataFrame({"emotion": ["joy", "fear"], "intensity": [60.0, 30.0],
    ...                      "model": ["m", "m"], "readout": ["distribution"] * 2})
    >>> intensities_by_emotion(demo).axes[0].get_xlabel()
    'intensity'
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    from empathylab.data import EMOTIONS

    data = results.assign(run=results["model"] + " / " + results["readout"])
    order = [e for e in EMOTIONS if e in set(data["emotion"])]
    n_emotions = len(order)
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * n_emotions + 1.6), layout="constrained")
    sns.boxplot(
        data=data, x="intensity", y="emotion", order=order,
        hue="run" if data["run"].nunique() > 1 else None,
        fliersize=1.5, linewidth=0.8, ax=ax,
    )  # fmt: skip
    ax.set_xlabel("intensity")
    ax.set_ylabel("")
    return fig


def _group_edges(labels: list[str], grouping: str) -> list[int]:
    """Positions after which a separator line goes: after the baseline, between groups."""
    from empathylab.design import BASELINE, ETHNICITY_RACE, NATIONALITY_CLUSTERS

    if grouping == "ethnicity":
        key = {label: ETHNICITY_RACE.get(label, label) for label in labels}
    elif grouping == "nationality":
        key = {
            f"a person from {country}": cluster
            for cluster, countries in NATIONALITY_CLUSTERS.items()
            for country in countries
        }
    else:
        key = {}
    edges = [1] if labels and labels[0] == BASELINE else []
    for i in range(1, len(labels)):
        if labels[i] != BASELINE and labels[i - 1] != BASELINE:
            if key.get(labels[i], labels[i]) != key.get(labels[i - 1], labels[i - 1]) and key:
                edges.append(i)
    return edges


def gap_heatmap(
    matrix: pd.DataFrame,
    grouping: str,
    shown: pd.DataFrame | None = None,
    title: str | None = None,
) -> Figure:
    """Return a heatmap of a (z-normalised) emotion matrix in the layout of Hou et al. (2025).

    Rows are perceivers, columns experiencers, the baseline ``a person`` first; white
    lines separate the baseline and, for ethnicity and nationality, races and cultural
    clusters. Cells where ``shown`` is False are left blank (the paper's Bonferroni mask).

    >>> import pandas as pd
    >>> m = pd.DataFrame([[0.0, 1.0], [-1.0, 0.5]], index=["a person", "a Jew"],
    ...                  columns=["a person", "a Jew"])
    >>> gap_heatmap(m, "religion").axes[0].get_ylabel()
    'perceiver'
    """
    import matplotlib.pyplot as plt
    import numpy as np
    import seaborn as sns

    labels = list(matrix.index)
    short = [label.removeprefix("a person from ") for label in labels]
    n = len(labels)
    size = max(4.0, 0.32 * n + 2.2)
    fig, ax = plt.subplots(figsize=(size + 1.0, size), layout="constrained")
    hide = None if shown is None else ~shown.loc[labels, labels].to_numpy(dtype=bool)
    limit = float(np.nanmax(np.abs(matrix.to_numpy()))) or 1.0
    sns.heatmap(
        matrix.loc[labels, labels], mask=hide, cmap="RdBu_r", center=0, vmin=-limit, vmax=limit,
        annot=n <= 8, fmt=".2f", square=True, xticklabels=short, yticklabels=short,
        cbar_kws={"label": "z-normalised intensity", "shrink": 0.7}, ax=ax,
    )  # fmt: skip
    for edge in _group_edges(labels, grouping):
        ax.axhline(edge, color="white", linewidth=2.5)
        ax.axvline(edge, color="white", linewidth=2.5)
    ax.set_xlabel("experiencer")
    ax.set_ylabel("perceiver")
    if title:
        ax.set_title(title)
    return fig


def deltas(table: pd.DataFrame, x: str = "variation", hue: str | None = None) -> Figure:
    """Return a point plot of δ with its permutation interval, one point per row of ``table``.

    ``table`` has columns ``delta``, ``ci_low``, ``ci_high`` (the permuted-δ interval,
    drawn as a band around zero: δ outside it is significant) and ``x`` (and ``hue``).

    >>> import pandas as pd
    >>> t = pd.DataFrame({"variation": ["origin", "10-scale"], "delta": [0.5, 0.1],
    ...                   "ci_low": [-0.2, -0.2], "ci_high": [0.2, 0.2]})
    >>> deltas(t).axes[0].get_ylabel()
    'δ (in-group − out-group, z units)'
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 3.6), layout="constrained")
    groups = [(None, table)] if hue is None else list(table.groupby(hue, sort=False))
    width = 0.8 / max(len(groups), 1)
    positions = {value: i for i, value in enumerate(dict.fromkeys(table[x]))}
    for k, (name, part) in enumerate(groups):
        offset = (k - (len(groups) - 1) / 2) * width
        xs = [positions[v] + offset for v in part[x]]
        ax.vlines(xs, part["ci_low"], part["ci_high"], color="0.75", linewidth=6)
        ax.plot(xs, part["delta"], "o", label=name)
    ax.axhline(0, color="0.3", linewidth=0.8)
    ax.set_xticks(range(len(positions)), list(positions))
    ax.set_xlabel(x)
    ax.set_ylabel("δ (in-group − out-group, z units)")
    if hue is not None:
        ax.legend(title=hue, fontsize="small")
    return fig
