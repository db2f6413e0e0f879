"""Part II's figures, one function per figure, each returning a matplotlib Figure."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "STRATEGY_NAMES",
    "LABELS",
    "strategy_name",
    "label_distributions",
    "agreement_heatmap",
    "alpha_sweep",
    "group_score_bars",
    "released_alpha",
    "fold_differences",
]


#: How a figure names each training set (the chapters write y, y′, y_llm, y + y_llm).
STRATEGY_NAMES = {
    "y": "crowd labels (y)",
    "y'": "mitigated labels (y′)",
    "y_llm": "LLM labels",
    "y+y_llm": "crowd + LLM-labelled essays",
    "y+y_crowd": "crowd + more crowd-labelled essays",
}

#: How a figure names a column on an axis (any other name: underscores as spaces).
LABELS = {"group_label": "group", "age_band": "age band"}


def strategy_name(strategy: str) -> str:
    """Return how a figure names a training set: ``STRATEGY_NAMES``, keeping a suffix such as α.

    >>> strategy_name("y_llm"), strategy_name("y' (α = 4.5)"), strategy_name("other")
    ('LLM labels', 'mitigated labels (y′) (α = 4.5)', 'other')
    """
    for key in sorted(STRATEGY_NAMES, key=len, reverse=True):
        if strategy == key or strategy.startswith(key + " "):
            return STRATEGY_NAMES[key] + strategy[len(key) :]
    return strategy


def label_distributions(frame: pd.DataFrame, sources: dict[str, str]) -> Figure:
    """Return histograms of the label sources side by side (one panel per source, 1–7).

    ``sources`` maps a column of ``frame`` to the name shown.

    >>> t = pd.DataFrame({"crowd": [1.0, 4.5, 7.0], "gpt4o": [2.0, 6.5, None]})
    >>> [a.get_title() for a in label_distributions(t, {"crowd": "crowd", "gpt4o": "GPT-4o"}).axes]
    ['crowd (n = 3)', 'GPT-4o (n = 2)']
    """
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(
        1,
        len(sources),
        figsize=(2.6 * len(sources) + 0.8, 2.8),
        sharey=True,
        layout="constrained",
        squeeze=False,
    )
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

    ``table`` is :func:`empathylab.metrics.pairwise_agreement`'s output; ``names`` renames sources.

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
    for ax, column, title in zip(
        axes, ("alpha", "pearson"), ("Krippendorff's α (interval)", "Pearson r"), strict=True
    ):
        matrix = pd.DataFrame(np.eye(len(order)), index=labels, columns=labels)
        for row in table.itertuples():
            i, j = order.index(row.a), order.index(row.b)
            matrix.iloc[i, j] = matrix.iloc[j, i] = getattr(row, column)
        sns.heatmap(
            matrix, vmin=0, vmax=1, cmap="viridis", annot=True, fmt=".2f", square=True, cbar=False, ax=ax
        )
        ax.set_title(title)
    return fig


def alpha_sweep(cv: pd.DataFrame, metric: str = "pcc") -> Figure:
    """Return ``metric`` of y' against α (mean ± sd over seeds), with y and y_llm as lines.

    ``cv`` is :func:`empathylab.llmpathy.probe.cross_validate`'s tidy output (fold rows are
    averaged within a seed first). A second panel shows how many labels y' replaced. The
    legend names the training sets in words (``STRATEGY_NAMES``).

    >>> cv = pd.DataFrame({"strategy": ["y", "y'", "y'", "y_llm"], "alpha": [None, 0, 1, None],
    ...                    "seed": 0, "fold": 0, "pcc": [.3, .2, .25, .1], "n_replaced": [0, 9, 4, 9]})
    >>> top = alpha_sweep(cv).axes[0]
    >>> top.get_xlabel(), [t.get_text() for t in top.get_legend().get_texts()]
    ('', ['crowd labels (y)', 'LLM labels', 'mitigated labels (y′)'])
    """
    import matplotlib.pyplot as plt

    per_seed = (
        cv.groupby(["strategy", "alpha", "seed"], dropna=False)[[metric, "n_replaced"]].mean().reset_index()
    )
    sweep = per_seed[per_seed["strategy"] == "y'"].groupby("alpha")[[metric, "n_replaced"]]
    mean, sd = sweep.mean(), sweep.std().fillna(0)
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(7.5, 4.8), sharex=True, height_ratios=[2, 1], layout="constrained"
    )
    top.errorbar(mean.index, mean[metric], yerr=sd[metric], fmt="o-", color="C0", label=strategy_name("y'"))
    for k, name in enumerate(("y", "y_llm"), start=1):
        level = per_seed.loc[per_seed["strategy"] == name, metric]
        if len(level):
            top.axhline(level.mean(), color=f"C{k}", linestyle="--", label=strategy_name(name))
    top.set_ylabel(f"{metric.upper()} against the crowd labels")
    top.legend(fontsize="small", ncols=3)
    bottom.bar(mean.index, mean["n_replaced"], width=0.35, color="0.6")
    bottom.set_ylabel("labels replaced")
    bottom.set_xlabel("α (replace the crowd label where |crowd − LLM| > α)")
    return fig


def group_score_bars(table: pd.DataFrame, by: str, metric: str = "ccc") -> Figure:
    """Return a horizontal bar chart of ``metric`` per group, with the group sizes.

    ``table`` is :func:`empathylab.metrics.scores_by_group`'s output (optionally with a
    ``strategy`` column, drawn as hue and named in words, ``STRATEGY_NAMES``).

    >>> t = pd.DataFrame({"age_band": ["a", "b"], "n": [5, 7], "ccc": [0.4, -0.1], "strategy": ["y_llm"] * 2})
    >>> ax = group_score_bars(t, "age_band").axes[0]
    >>> ax.get_xlabel(), ax.get_ylabel(), ax.get_legend().get_title().get_text()
    ('CCC', 'age band', 'trained on')
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    trained = "trained on"
    shown = table.assign(group=table[by].astype(str) + " (n = " + table["n"].astype(str) + ")")
    if "strategy" in shown:
        shown[trained] = shown["strategy"].astype(str).map(strategy_name)
    height = 0.35 * shown["group"].nunique() * (shown["strategy"].nunique() if "strategy" in shown else 1)
    fig, ax = plt.subplots(figsize=(7.5, height + 1.4), layout="constrained")
    sns.barplot(data=shown, y="group", x=metric, ax=ax, hue=trained if "strategy" in shown else None)
    ax.axvline(0, color="0.3", linewidth=0.8)
    ax.set_xlabel(metric.upper())
    ax.set_ylabel(LABELS.get(by, by.replace("_", " ")))
    if "strategy" in shown:  # beside the bars, not over them
        ax.legend(title=trained, bbox_to_anchor=(1.02, 1), loc="upper left", frameon=False)
    return fig


def released_alpha(table: pd.DataFrame, names: dict[str, str] | None = None) -> Figure:
    """Return α with its bootstrap 95 % interval for every released pair, one row each.

    ``table`` is :func:`empathylab.llmpathy.released.released_agreement`'s output; pairs with the
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
    kinds = {
        "crowd": ("crowd vs LLM", "C2"),
        "prompt": ("same LLM, two prompts", "C1"),
        "llm": ("LLM vs LLM", "C0"),
    }
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(rows) + 1.4), layout="constrained")
    shown: set[str] = set()
    for y, row in rows.iterrows():
        kind = "crowd" if row["a"] == "crowd" else "prompt" if row["b"] == f"{row['a']}_plain" else "llm"
        label, color = kinds[kind]
        err = [[row["alpha"] - row["alpha_ci_low"]], [row["alpha_ci_high"] - row["alpha"]]]
        ax.errorbar(
            row["alpha"],
            y,
            xerr=None if pd.isna(err[0][0]) else err,
            fmt="o",
            color=color,
            capsize=3,
            label=None if label in shown else label,
        )
        shown.add(label)
        if "paper_alpha" in rows and pd.notna(row["paper_alpha"]):
            ax.plot(
                row["paper_alpha"],
                y,
                "x",
                color="C3",
                markersize=11,
                mew=2,
                zorder=3,
                label=None if "paper" in shown else "reported by Hasan et al.",
            )
            shown.add("paper")
    ax.set_yticks(
        range(len(rows)),
        [
            f"{r['dataset']} {r['split']}: {names.get(r['a'], r['a'])} vs {names.get(r['b'], r['b'])}"
            for _, r in rows.iterrows()
        ],
    )
    ax.invert_yaxis()
    low = pd.concat([rows["alpha"], rows["alpha_ci_low"]]).min()  # NaN intervals are skipped
    ax.set_xlim(min(0.0, float(low)) - 0.02, 1.02)
    ax.set_xlabel("Krippendorff's α, 95 % CI")
    fig.legend(fontsize="small", loc="outside upper right", ncols=2, frameon=False)
    return fig


def fold_differences(runs: pd.DataFrame, baseline: str = "y", metric: str = "pcc") -> Figure:
    """Return each configuration's ``metric`` minus the ``baseline``'s, fold by fold.

    ``runs`` is a tidy cross-validation table (e.g.
    :func:`empathylab.llmpathy.augmenting.probe_augmentation`'s): one row per strategy, seed and
    fold. Each configuration other than ``baseline`` gets a row of the figure: a dot per
    fold (the paired difference on the same test writers, coloured by seed), a diamond
    per seed (its mean difference) and a bar for the mean over seeds; the line at zero
    is "no change".

    >>> runs = pd.DataFrame({"strategy": ["y", "y+y_llm"] * 4, "alpha": None, "seed": [0] * 4 + [1] * 4,
    ...                      "fold": [0, 0, 1, 1] * 2, "pcc": [.3, .35, .3, .32, .3, .31, .3, .29]})
    >>> ax = fold_differences(runs).axes[0]
    >>> ax.get_xlabel(), [t.get_text() for t in ax.get_yticklabels()]
    ('PCC minus that of crowd labels (y); positive: better', ['crowd + LLM-labelled essays'])
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
            ax.scatter(
                part,
                row + jitter.uniform(-0.22, 0.22, len(part)),
                s=12,
                color=f"C{k % 10}",
                alpha=0.6,
                label=f"seed {seed}" if row == 0 else None,
            )
            ax.scatter(by_seed[seed], row, marker="D", s=40, color=f"C{k % 10}", edgecolor="black", zorder=3)
    ax.axvline(0, color="0.3", linewidth=0.8)
    ax.set_yticks(range(len(configs)), [strategy_name(c) for c in configs])
    ax.invert_yaxis()
    sign = "better" if metric != "rmse" else "worse"
    ax.set_xlabel(f"{metric.upper()} minus that of {strategy_name(baseline)}; positive: {sign}")
    ax.legend(fontsize="small", ncols=min(len(seeds), 5), loc="upper center", bbox_to_anchor=(0.5, -0.25))
    return fig
