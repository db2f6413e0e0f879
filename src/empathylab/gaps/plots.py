"""Part I's figures, one function per figure, each returning a matplotlib Figure."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "LABELS",
    "group_edges",
    "axis_label",
    "narrative_lengths",
    "intensities_by_emotion",
    "gap_heatmap",
    "heatmap_grid",
    "perceiver_map",
    "deltas",
    "human_scatter",
    "gap_forest",
    "shift_forest",
    "delta_intervals",
]


#: How a figure names a column on an axis or a legend; any other name has its
#: underscores replaced by spaces (:func:`axis_label`).
LABELS = {
    "variation": "prompt variation",
    "writer_intensity": "writer's own intensity (1–5)",
    "reader_mean": "readers' mean intensity (1–5)",
    "readers_mean": "readers' mean intensity (1–5)",
    "model_intensity": "model's intensity",
    "delta": "δ",
    "n_items": "narratives",
}


def axis_label(name: str) -> str:
    """Return how a figure names the column ``name``: ``LABELS``, or the name in words.

    >>> axis_label("variation"), axis_label("age_band"), axis_label("delta")
    ('prompt variation', 'age band', 'δ')
    """
    return LABELS.get(name, name.replace("_", " "))


def narrative_lengths(lengths: pd.DataFrame) -> Figure:
    """Return a figure of narrative lengths (words, log scale) by emotion and text version.

    ``lengths`` is the long frame of :func:`empathylab.gaps.stimuli.text_lengths`.

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
        data=lengths,
        x="words",
        y="emotion",
        hue="version",
        log_scale=True,
        fliersize=1.5,
        linewidth=0.8,
        ax=ax,
    )
    ax.set_xlabel("length of the narrative (words, log scale)")
    ax.set_ylabel("")
    ax.legend(title="text version", loc="lower right", fontsize="small")
    return fig


def intensities_by_emotion(results: pd.DataFrame) -> Figure:
    """Return a figure of the stored intensities by emotion, one box per model and readout.

    ``results`` is the frame of :func:`empathylab.gaps.rows.read_results`.

    >>> import pandas as pd
    >>> demo = pd.DataFrame({"emotion": ["joy", "fear"], "intensity": [60.0, 30.0],
    ...                      "model": ["m", "m"], "readout": ["distribution"] * 2})
    >>> intensities_by_emotion(demo).axes[0].get_xlabel()
    'intensity'
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    from empathylab.data import EMOTIONS

    run = "model / readout"
    data = results.assign(**{run: results["model"] + " / " + results["readout"]})
    order = [e for e in EMOTIONS if e in set(data["emotion"])]
    n_emotions = len(order)
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * n_emotions + 1.6), layout="constrained")
    sns.boxplot(
        data=data,
        x="intensity",
        y="emotion",
        order=order,
        hue=run if data[run].nunique() > 1 else None,
        fliersize=1.5,
        linewidth=0.8,
        ax=ax,
    )
    ax.set_xlabel("intensity")
    ax.set_ylabel("")
    return fig


def group_edges(labels: list[str], grouping: str) -> list[int]:
    """Return the positions after which a heatmap's separator line goes: after the baseline, between groups.

    >>> group_edges(["a person", "a White person", "a White American", "a Black person"], "ethnicity")
    [1, 3]
    """
    from empathylab.gaps.design import BASELINE, ETHNICITY_RACE, NATIONALITY_CLUSTERS, RACE_RELIGION

    if grouping == "ethnicity":
        key = {label: ETHNICITY_RACE.get(label, label) for label in labels}
    elif grouping == "race-religion":
        key = {label: race for label, (race, _) in RACE_RELIGION.items()}
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
    *,
    ax: Any = None,
    limit: float | None = None,
    colorbar: bool = True,
) -> Figure:
    """Return a heatmap of a (z-normalised) emotion matrix in the layout of Hou et al. (2025).

    Rows are perceivers, columns experiencers, the baseline ``a person`` first; white
    lines separate the baseline and, for ethnicity and nationality, races and cultural
    clusters. Cells where ``shown`` is False are left blank (the paper's Bonferroni mask).
    ``ax`` draws into an existing axis (see :func:`heatmap_grid`), ``limit`` fixes the
    colour scale to ±limit (default: the matrix's largest absolute value).

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
    if ax is None:
        fig, ax = plt.subplots(figsize=(size + 1.0, size), layout="constrained")
    else:
        fig = ax.figure
    hide = None if shown is None else ~shown.loc[labels, labels].to_numpy(dtype=bool)
    if limit is None:
        limit = float(np.nanmax(np.abs(matrix.to_numpy()))) or 1.0
    sns.heatmap(
        matrix.loc[labels, labels],
        mask=hide,
        cmap="RdBu_r",
        center=0,
        vmin=-limit,
        vmax=limit,
        annot=n <= 8 and colorbar,
        fmt=".2f",
        square=True,
        xticklabels=short,
        yticklabels=short,
        cbar=colorbar,
        cbar_kws={"label": "z-normalised intensity", "shrink": 0.7},
        ax=ax,
    )
    for edge in group_edges(labels, grouping):
        ax.axhline(edge, color="white", linewidth=2.5)
        ax.axvline(edge, color="white", linewidth=2.5)
    ax.set_xlabel("experiencer")
    ax.set_ylabel("perceiver")
    if title:
        ax.set_title(title)
    return fig


def heatmap_grid(
    panels: list[tuple[str, pd.DataFrame, pd.DataFrame | None]], grouping: str, columns: int = 4
) -> Figure:
    """Return one heatmap per panel ``(title, matrix, shown)`` on a grid with one colour scale.

    Every panel is drawn as :func:`gap_heatmap` (same masking rule); the colour scale is
    shared, ±the largest absolute z value of all panels, and drawn once.

    >>> import pandas as pd
    >>> m = pd.DataFrame([[0.0, 1.0], [-1.0, 0.5]], index=["a person", "a Jew"],
    ...                  columns=["a person", "a Jew"])
    >>> len(heatmap_grid([("one", m, None), ("two", -m, None)], "religion").axes)
    3
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if not panels:
        raise ValueError("heatmap_grid needs at least one panel")
    columns = max(1, min(columns, len(panels)))
    rows = -(-len(panels) // columns)
    n = len(panels[0][1])
    side = max(2.4, 0.2 * n + 1.2)
    fig, axes = plt.subplots(
        rows, columns, figsize=(side * columns + 1.0, side * rows), layout="constrained", squeeze=False
    )
    limit = max(float(np.nanmax(np.abs(m.to_numpy()))) for _, m, _ in panels) or 1.0
    for ax, (title, matrix, shown) in zip(axes.flat, panels):
        gap_heatmap(matrix, grouping, shown, title, ax=ax, limit=limit, colorbar=False)
        ax.set_xlabel("")
        ax.set_ylabel("")
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    mappable = axes.flat[0].collections[0]
    fig.colorbar(mappable, ax=axes, shrink=0.6, label="z-normalised intensity")
    fig.supxlabel("experiencer")
    fig.supylabel("perceiver")
    return fig


def perceiver_map(frame: pd.DataFrame) -> Figure:
    """Return a scatter of a 2-D perceiver map (:func:`empathylab.gaps.culture.perceiver_map`).

    Points are coloured by cultural cluster and labelled with the country.

    >>> import pandas as pd
    >>> f = pd.DataFrame({"perceiver": ["a person from Japan"], "country": ["Japan"],
    ...                   "cluster": ["Confucian"], "x": [0.0], "y": [1.0]})
    >>> perceiver_map(f).axes[0].get_xlabel()
    't-SNE 1'
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(8, 5.5), layout="constrained")
    order = list(dict.fromkeys(frame["cluster"]))
    sns.scatterplot(data=frame, x="x", y="y", hue="cluster", hue_order=order, s=140, ax=ax, palette="tab10")
    for row in frame.itertuples(index=False):
        ax.annotate(f"  {row.country}", (row.x, row.y), fontsize=9, color="#434343", va="center")
    ax.set_xlabel("t-SNE 1")
    ax.set_ylabel("t-SNE 2")
    ax.legend(title="cultural cluster", bbox_to_anchor=(1.02, 1), loc="upper left", frameon=False)
    return fig


def deltas(table: pd.DataFrame, x: str = "variation", hue: str | None = None) -> Figure:
    """Return a point plot of δ with its permutation interval, one point per row of ``table``.

    ``table`` has columns ``delta``, ``ci_low``, ``ci_high`` (the permuted-δ interval,
    drawn as a band around zero: δ outside it is significant) and ``x`` (and ``hue``).

    >>> import pandas as pd
    >>> t = pd.DataFrame({"variation": ["origin", "10-scale"], "delta": [0.5, 0.1],
    ...                   "ci_low": [-0.2, -0.2], "ci_high": [0.2, 0.2]})
    >>> deltas(t).axes[0].get_ylabel(), deltas(t).axes[0].get_xlabel()
    ('δ (in-group − out-group, z units)', 'prompt variation')
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
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel("δ (in-group − out-group, z units)")
    if hue is not None:
        ax.legend(title=axis_label(hue), fontsize="small")
    return fig


def human_scatter(panels: list[tuple[pd.DataFrame, str, str, str]]) -> Figure:
    """Return one scatter panel per ``(frame, x, y, title)``: jittered points and a fitted line.

    Used for the human anchor: the readers' mean against the writer's own intensity, and
    a model's intensity against the readers' mean. Ratings on 1–5 are jittered a little
    so that equal ratings stay visible; each title gets the Pearson r and n. The axes
    name the columns in words (:func:`axis_label`).

    >>> frame = pd.DataFrame({"writer_intensity": [1.0, 2, 3, 4], "b_c": [1.5, 2, 2.5, 4]})
    >>> ax = human_scatter([(frame, "writer_intensity", "b_c", "demo")]).axes[0]
    >>> ax.get_title(), ax.get_xlabel(), ax.get_ylabel()
    ('demo\\nr = 0.96, n = 4', "writer's own intensity (1–5)", 'b c')
    """
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(
        1, len(panels), figsize=(3.9 * len(panels), 3.6), layout="constrained", squeeze=False
    )
    rng = np.random.default_rng(0)
    for ax, (frame, x, y, title) in zip(axes[0], panels, strict=True):
        part = frame[[x, y]].dropna()
        xs, ys = part[x].to_numpy(float), part[y].to_numpy(float)
        ax.scatter(
            xs + rng.uniform(-0.15, 0.15, len(xs)),
            ys + rng.uniform(-0.05, 0.05, len(ys)),
            s=8,
            alpha=0.35,
            color="C0",
            linewidths=0,
        )
        r = np.corrcoef(xs, ys)[0, 1] if len(xs) > 2 and np.ptp(xs) > 0 and np.ptp(ys) > 0 else np.nan
        if np.isfinite(r):
            slope, intercept = np.polyfit(xs, ys, 1)
            grid = np.linspace(xs.min(), xs.max(), 2)
            ax.plot(grid, intercept + slope * grid, color="C3", linewidth=1.2)
        ax.set_title(f"{title}\nr = {r:.2f}, n = {len(xs)}", fontsize="medium")
        ax.set_xlabel(axis_label(x))
        ax.set_ylabel(axis_label(y))
    return fig


def gap_forest(table: pd.DataFrame) -> Figure:
    """Return the models' δ and the human readers' premium as points with 95 % intervals.

    ``table`` is :func:`empathylab.gaps.premium.side_by_side`'s: one row per gap (``who,
    source, grouping, gap, ci_low, ci_high``). Both are in-group minus out-group
    differences in standard deviations of one rating; the line at zero is "no difference".

    >>> t = pd.DataFrame({"who": ["model", "human readers"], "source": ["m", "readers"],
    ...                   "grouping": ["ethnicity", "ethnicity"], "gap": [0.3, 0.0],
    ...                   "ci_low": [0.1, -0.05], "ci_high": [0.5, 0.05]})
    >>> [t.get_text() for t in gap_forest(t).axes[0].get_yticklabels()]
    ['model: m (ethnicity)', 'human readers: readers (ethnicity)']
    """
    import matplotlib.pyplot as plt

    labels = table["who"] + ": " + table["source"] + " (" + table["grouping"] + ")"
    fig, ax = plt.subplots(figsize=(7.5, 0.38 * len(table) + 1.3), layout="constrained")
    for row, (_, r) in enumerate(table.iterrows()):
        color = "C0" if r["who"] == "model" else "C2"
        ax.errorbar(
            r["gap"],
            row,
            xerr=[[r["gap"] - r["ci_low"]], [r["ci_high"] - r["gap"]]],
            fmt="o",
            color=color,
            capsize=3,
        )
    ax.axvline(0, color="0.3", linewidth=0.8)
    ax.set_yticks(range(len(table)), labels)
    ax.invert_yaxis()
    ax.set_xlabel("in-group minus out-group (SDs of one rating; 95 % interval)")
    return fig


def shift_forest(table: pd.DataFrame, by: str = "variation") -> Figure:
    """Return Δδ and the mean-intensity shift of each run against its reference, with intervals.

    ``table`` is :func:`empathylab.gaps.shifts.delta_shift`'s (a ``grouping`` column, if
    present, labels the rows, and so does the reference where the table holds more than
    one). Panels: Δδ in z units, Δδ in raw scale points (where the table has
    ``delta_diff_raw``; the z units can move with the spread of a run's cells alone) and
    the shift of the mean intensity (the run's units). A gap that narrows without the mean
    moving is a narrower gap, not a scale shift.

    >>> t = pd.DataFrame({"variation": ["pt-self"], "reference": ["origin"], "delta_diff": [-0.2],
    ...                   "diff_ci_low": [-0.4], "diff_ci_high": [0.0], "mean_shift": [1.0],
    ...                   "shift_ci_low": [0.5], "shift_ci_high": [1.5]})
    >>> [a.get_xlabel()[:2] for a in shift_forest(t).axes]
    ['Δδ', 'me']
    """
    import matplotlib.pyplot as plt

    labels = table[by].astype(str)
    if table["reference"].nunique() > 1:
        labels = labels + " vs " + table["reference"].astype(str)
    if "grouping" in table.columns:
        labels = labels + " (" + table["grouping"].astype(str) + ")"
    panels = [("delta_diff", "diff_ci_low", "diff_ci_high", "Δδ (z units; 95 % interval)")]
    if "delta_diff_raw" in table.columns:
        panels.append(
            ("delta_diff_raw", "diff_raw_ci_low", "diff_raw_ci_high", "Δδ (scale points; 95 % interval)")
        )
    panels.append(("mean_shift", "shift_ci_low", "shift_ci_high", "mean intensity shift (95 % interval)"))
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.2 * len(panels), 0.4 * len(table) + 1.4), layout="constrained", sharey=True
    )
    for ax, (value, low, high, label) in zip(axes, panels):
        for row, (_, r) in enumerate(table.iterrows()):
            ax.errorbar(
                r[value],
                row,
                xerr=[[r[value] - r[low]], [r[high] - r[value]]],
                fmt="o",
                color="C0",
                capsize=3,
            )
        ax.axvline(0, color="0.3", linewidth=0.8)
        ax.set_xlabel(label)
    axes[0].set_yticks(range(len(table)), labels)
    axes[0].invert_yaxis()
    return fig


def delta_intervals(deltas: pd.DataFrame) -> Figure:
    """Return δ per model and grouping as points with their intervals.

    ``deltas`` is :func:`empathylab.gaps.experiments.pair_deltas`'s (``model, grouping,
    delta, ci_low, ci_high``).

    >>> t = pd.DataFrame({"model": ["m"], "grouping": ["religion"], "delta": [0.3],
    ...                   "ci_low": [0.1], "ci_high": [0.5]})
    >>> [t.get_text() for t in delta_intervals(t).axes[0].get_yticklabels()]
    ['m (religion)']
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 0.45 * max(len(deltas), 1) + 1.3), layout="constrained")
    ax.errorbar(
        deltas["delta"],
        range(len(deltas)),
        xerr=[deltas["delta"] - deltas["ci_low"], deltas["ci_high"] - deltas["delta"]],
        fmt="o",
        capsize=3,
    )
    ax.axvline(0, color="0.3", linewidth=0.8)
    ax.set_yticks(range(len(deltas)), deltas["model"] + " (" + deltas["grouping"] + ")")
    ax.invert_yaxis()
    ax.set_xlabel("δ (z units; 95 % bootstrap interval)")
    return fig
