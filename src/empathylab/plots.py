"""Figures of the book, one function per figure, each returning a matplotlib Figure."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "narrative_lengths", "intensities_by_emotion", "gap_heatmap", "heatmap_grid", "perceiver_map", "deltas",
    "label_distributions", "agreement_heatmap", "alpha_sweep", "group_scores",
]


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
        matrix.loc[labels, labels], mask=hide, cmap="RdBu_r", center=0, vmin=-limit, vmax=limit,
        annot=n <= 8 and colorbar, fmt=".2f", square=True, xticklabels=short, yticklabels=short,
        cbar=colorbar, cbar_kws={"label": "z-normalised intensity", "shrink": 0.7}, ax=ax,
    )  # fmt: skip
    for edge in _group_edges(labels, grouping):
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
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    mappable = axes.flat[0].collections[0]
    fig.colorbar(mappable, ax=axes, shrink=0.6, label="z-normalised intensity")
    fig.supxlabel("experiencer")
    fig.supylabel("perceiver")
    return fig


def perceiver_map(frame: pd.DataFrame) -> Figure:
    """Return a scatter of a 2-D perceiver map (:func:`empathylab.gaps.perceiver_map`).

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
    sns.scatterplot(data=frame, x="x", y="y", hue="cluster", hue_order=order, s=140, ax=ax,
                    palette="tab10")  # fmt: skip
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


def label_distributions(frame: pd.DataFrame, sources: dict[str, str]) -> Figure:
    """Return histograms of the label sources side by side (one panel per source, 1–7).

    ``sources`` maps a column of ``frame`` to the name shown.

    >>> t = pd.DataFrame({"crowd": [1.0, 4.5, 7.0], "gpt4o": [2.0, 6.5, None]})
    >>> [a.get_title() for a in label_distributions(t, {"crowd": "crowd", "gpt4o": "GPT-4o"}).axes]
    ['crowd (n = 3)', 'GPT-4o (n = 2)']
    """
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, len(sources), figsize=(2.6 * len(sources) + 0.8, 2.8),
                             sharey=True, layout="constrained", squeeze=False)  # fmt: skip
    bins = np.arange(1, 7.26, 0.25)
    for ax, (column, name) in zip(axes[0], sources.items(), strict=True):
        values = frame[column].dropna()
        ax.hist(values, bins=bins, color="C0", alpha=0.8)
        ax.axvline(values.mean(), color="0.2", linewidth=1, linestyle="--")
        ax.set_title(f"{name} (n = {len(values)})")
        ax.set_xlabel("empathy (1–7)")
    axes[0][0].set_ylabel("essays")
    return fig


def agreement_heatmap(table: pd.DataFrame, names: dict[str, str] | None = None) -> Figure:
    """Return two heatmaps, Krippendorff's α and Pearson r, for every pair of label sources.

    ``table`` is :func:`empathylab.metrics.agreement`'s output; ``names`` renames sources.

    >>> t = pd.DataFrame({"a": ["x"], "b": ["y"], "alpha": [0.5], "pearson": [0.6], "n": [3]})
    >>> [ax.get_title() for ax in agreement_heatmap(t).axes[:2]]
    ["Krippendorff's α (interval)", 'Pearson r']
    """
    import matplotlib.pyplot as plt
    import numpy as np
    import seaborn as sns

    names = names or {}
    order = list(dict.fromkeys([*table["a"], *table["b"]]))
    labels = [names.get(s, s) for s in order]
    size = 1.1 * len(order) + 1.5
    fig, axes = plt.subplots(1, 2, figsize=(2 * size + 0.6, size), layout="constrained")
    for ax, column, title in zip(axes, ("alpha", "pearson"),
                                 ("Krippendorff's α (interval)", "Pearson r"), strict=True):  # fmt: skip
        matrix = pd.DataFrame(np.eye(len(order)), index=labels, columns=labels)
        for row in table.itertuples():
            i, j = order.index(row.a), order.index(row.b)
            matrix.iloc[i, j] = matrix.iloc[j, i] = getattr(row, column)
        sns.heatmap(matrix, vmin=0, vmax=1, cmap="viridis", annot=True, fmt=".2f",
                    square=True, cbar=False, ax=ax)  # fmt: skip
        ax.set_title(title)
    return fig


def alpha_sweep(cv: pd.DataFrame, metric: str = "pcc") -> Figure:
    """Return ``metric`` of y' against α (mean ± sd over seeds), with y and y_llm as lines.

    ``cv`` is :func:`empathylab.probe.cross_validate`'s tidy output (fold rows are
    averaged within a seed first). A second panel shows how many labels y' replaced.

    >>> cv = pd.DataFrame({"strategy": ["y", "y'", "y'", "y_llm"], "alpha": [None, 0, 1, None],
    ...                    "seed": 0, "fold": 0, "pcc": [.3, .2, .25, .1], "n_replaced": [0, 9, 4, 9]})
    >>> alpha_sweep(cv).axes[0].get_xlabel()
    ''
    """
    import matplotlib.pyplot as plt

    per_seed = (cv.groupby(["strategy", "alpha", "seed"], dropna=False)[[metric, "n_replaced"]]
                .mean().reset_index())  # fmt: skip
    sweep = per_seed[per_seed["strategy"] == "y'"].groupby("alpha")[[metric, "n_replaced"]]
    mean, sd = sweep.mean(), sweep.std().fillna(0)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 4.8), sharex=True, height_ratios=[2, 1],
                                      layout="constrained")  # fmt: skip
    top.errorbar(mean.index, mean[metric], yerr=sd[metric], fmt="o-", color="C0", label="y'")
    for k, name in enumerate(("y", "y_llm"), start=1):
        level = per_seed.loc[per_seed["strategy"] == name, metric]
        if len(level):
            top.axhline(level.mean(), color=f"C{k}", linestyle="--", label=name)
    top.set_ylabel(f"{metric.upper()} against crowd")
    top.legend(fontsize="small", ncols=3)
    bottom.bar(mean.index, mean["n_replaced"], width=0.35, color="0.6")
    bottom.set_ylabel("labels replaced")
    bottom.set_xlabel("α (replace the crowd label where |crowd − LLM| > α)")
    return fig


def group_scores(table: pd.DataFrame, by: str, metric: str = "ccc") -> Figure:
    """Return a horizontal bar chart of ``metric`` per group, with the group sizes.

    ``table`` is :func:`empathylab.metrics.group_scores`'s output (optionally with a
    ``strategy`` column, drawn as hue).

    >>> t = pd.DataFrame({"race": ["a", "b"], "n": [5, 7], "ccc": [0.4, -0.1]})
    >>> group_scores(t, "race").axes[0].get_xlabel()
    'CCC'
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    shown = table.assign(group=table[by].astype(str) + " (n = " + table["n"].astype(str) + ")")
    height = 0.35 * shown["group"].nunique() * (shown["strategy"].nunique() if "strategy" in shown else 1)
    fig, ax = plt.subplots(figsize=(7.5, height + 1.4), layout="constrained")
    sns.barplot(data=shown, y="group", x=metric, ax=ax,
                hue="strategy" if "strategy" in shown else None)  # fmt: skip
    ax.axvline(0, color="0.3", linewidth=0.8)
    ax.set_xlabel(metric.upper())
    ax.set_ylabel(by)
    return fig


def released_alpha(table: pd.DataFrame, names: dict[str, str] | None = None) -> Figure:
    """Return α with its bootstrap 95 % interval for every released pair, one row each.

    ``table`` is :func:`empathylab.released.released_agreement`'s output; pairs with the
    crowd, pairs of two LLMs and the same LLM under two prompts get their own colour,
    and a cross marks the value Hasan et al. report where they report one
    (``paper_alpha``). ``names`` maps source columns to display names.

    >>> t = pd.DataFrame({"dataset": ["D"] * 2, "split": ["train"] * 2, "a": ["crowd", "x"],
    ...                   "b": ["x", "x_plain"], "alpha": [0.3, 0.8], "alpha_ci_low": [0.2, 0.7],
    ...                   "alpha_ci_high": [0.4, 0.9], "paper_alpha": [float("nan"), 0.8]})
    >>> released_alpha(t).axes[0].get_xlabel()
    "Krippendorff's α, 95 % CI"
    """
    import matplotlib.pyplot as plt

    names = names or {}
    rows = table.reset_index(drop=True)
    kinds = {"crowd": ("crowd vs LLM", "C2"), "prompt": ("same LLM, two prompts", "C1"),
             "llm": ("LLM vs LLM", "C0")}  # fmt: skip
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(rows) + 1.4), layout="constrained")
    shown: set[str] = set()
    for y, row in rows.iterrows():
        kind = ("crowd" if row["a"] == "crowd" else
                "prompt" if row["b"] == f"{row['a']}_plain" else "llm")  # fmt: skip
        label, color = kinds[kind]
        err = [[row["alpha"] - row["alpha_ci_low"]], [row["alpha_ci_high"] - row["alpha"]]]
        ax.errorbar(row["alpha"], y, xerr=None if pd.isna(err[0][0]) else err, fmt="o",
                    color=color, capsize=3, label=None if label in shown else label)  # fmt: skip
        shown.add(label)
        if "paper_alpha" in rows and pd.notna(row["paper_alpha"]):
            ax.plot(row["paper_alpha"], y, "x", color="C3", markersize=11, mew=2, zorder=3,
                    label=None if "paper" in shown else "reported by Hasan et al.")  # fmt: skip
            shown.add("paper")
    ax.set_yticks(range(len(rows)), [
        f"{r['dataset']} {r['split']}: {names.get(r['a'], r['a'])} vs {names.get(r['b'], r['b'])}"
        for _, r in rows.iterrows()
    ])  # fmt: skip
    ax.invert_yaxis()
    low = pd.concat([rows["alpha"], rows["alpha_ci_low"]]).min()  # NaN intervals are skipped
    ax.set_xlim(min(0.0, float(low)) - 0.02, 1.02)
    ax.set_xlabel("Krippendorff's α, 95 % CI")
    fig.legend(fontsize="small", loc="outside upper right", ncols=2, frameon=False)
    return fig


__all__.append("released_alpha")


def fold_differences(runs: pd.DataFrame, baseline: str = "y", metric: str = "pcc") -> Figure:
    """Return each configuration's ``metric`` minus the ``baseline``'s, fold by fold.

    ``runs`` is a tidy cross-validation table (e.g.
    :func:`empathylab.llmpathy.probe_augmentation`'s): one row per strategy, seed and
    fold. Each configuration other than ``baseline`` gets a row of the figure: a dot per
    fold (the paired difference on the same test writers, coloured by seed), a diamond
    per seed (its mean difference) and a bar for the mean over seeds; the line at zero
    is "no change".

    >>> runs = pd.DataFrame({"strategy": ["y", "y+y_llm"] * 4, "alpha": None, "seed": [0] * 4 + [1] * 4,
    ...                      "fold": [0, 0, 1, 1] * 2, "pcc": [.3, .35, .3, .32, .3, .31, .3, .29]})
    >>> fold_differences(runs).axes[0].get_xlabel()
    'PCC minus y (positive: better than y)'
    """
    import matplotlib.pyplot as plt
    import numpy as np

    names = runs["strategy"].astype(str) + runs["alpha"].map(lambda a: "" if pd.isna(a) else f" (α = {a:g})")
    wide = runs.assign(config=names).pivot_table(index=["seed", "fold"], columns="config", values=metric)
    if baseline not in wide:
        raise ValueError(f"no {baseline!r} runs to compare with; found {', '.join(wide.columns)}.")
    configs = [c for c in dict.fromkeys(names) if c != baseline]
    seeds = list(dict.fromkeys(wide.index.get_level_values("seed")))
    jitter = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(7.5, 0.9 * len(configs) + 1.4), layout="constrained")
    for row, config in enumerate(configs):
        diff = (wide[config] - wide[baseline]).dropna()
        by_seed = diff.groupby(level="seed").mean()
        ax.barh(row, by_seed.mean(), height=0.6, color="0.85", zorder=0)
        for k, seed in enumerate(seeds):
            part = diff.xs(seed, level="seed")
            ax.scatter(part, row + jitter.uniform(-0.22, 0.22, len(part)), s=12, color=f"C{k % 10}",
                       alpha=0.6, label=f"seed {seed}" if row == 0 else None)  # fmt: skip
            ax.scatter(by_seed[seed], row, marker="D", s=40, color=f"C{k % 10}", edgecolor="black", zorder=3)
    ax.axvline(0, color="0.3", linewidth=0.8)
    ax.set_yticks(range(len(configs)), configs)
    ax.invert_yaxis()
    sign = "better" if metric != "rmse" else "worse"
    ax.set_xlabel(f"{metric.upper()} minus {baseline} (positive: {sign} than {baseline})")
    ax.legend(fontsize="small", ncols=min(len(seeds), 5), loc="upper center", bbox_to_anchor=(0.5, -0.25))
    return fig


__all__.append("fold_differences")


def human_scatter(panels: list[tuple[pd.DataFrame, str, str, str]]) -> Figure:
    """Return one scatter panel per ``(frame, x, y, title)``: jittered points and a fitted line.

    Used for the human anchor: the readers' mean against the writer's own intensity, and
    a model's intensity against the readers' mean. Ratings on 1–5 are jittered a little
    so that equal ratings stay visible; each title gets the Pearson r and n.

    >>> frame = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [1.5, 2, 2.5, 4]})
    >>> human_scatter([(frame, "a", "b", "demo")]).axes[0].get_title()
    'demo\\nr = 0.96, n = 4'
    """
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, len(panels), figsize=(3.9 * len(panels), 3.6), layout="constrained", squeeze=False)
    rng = np.random.default_rng(0)
    for ax, (frame, x, y, title) in zip(axes[0], panels, strict=True):
        part = frame[[x, y]].dropna()
        xs, ys = part[x].to_numpy(float), part[y].to_numpy(float)
        ax.scatter(xs + rng.uniform(-0.15, 0.15, len(xs)), ys + rng.uniform(-0.05, 0.05, len(ys)),
                   s=8, alpha=0.35, color="C0", linewidths=0)  # fmt: skip
        r = np.corrcoef(xs, ys)[0, 1] if len(xs) > 2 and np.ptp(xs) > 0 and np.ptp(ys) > 0 else np.nan
        if np.isfinite(r):
            slope, intercept = np.polyfit(xs, ys, 1)
            grid = np.linspace(xs.min(), xs.max(), 2)
            ax.plot(grid, intercept + slope * grid, color="C3", linewidth=1.2)
        ax.set_title(f"{title}\nr = {r:.2f}, n = {len(xs)}", fontsize="medium")
        ax.set_xlabel(x.replace("_", " "))
        ax.set_ylabel(y.replace("_", " "))
    return fig


def gap_forest(table: pd.DataFrame) -> Figure:
    """Return the models' δ and the human readers' premium as points with 95 % intervals.

    ``table`` is :func:`empathylab.human.side_by_side`'s: one row per gap (``who,
    source, grouping, gap, ci_low, ci_high``). Both are standardised in-group minus
    out-group differences; the line at zero is "no in-group premium".

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
        ax.errorbar(r["gap"], row, xerr=[[r["gap"] - r["ci_low"]], [r["ci_high"] - r["gap"]]],
                    fmt="o", color=color, capsize=3)  # fmt: skip
    ax.axvline(0, color="0.3", linewidth=0.8)
    ax.set_yticks(range(len(table)), labels)
    ax.invert_yaxis()
    ax.set_xlabel("in-group minus out-group (standardised; 95 % interval)")
    return fig


__all__ += ["human_scatter", "gap_forest"]
