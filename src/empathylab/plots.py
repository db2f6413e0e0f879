"""Figures of the book, one function per figure, each returning a matplotlib Figure."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["narrative_lengths", "intensities_by_emotion"]


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
