"""Which labels a regressor is trained on (Hasan et al.'s uses of LLM labels).

- ``y``: the crowd labels (baseline);
- ``y'``: noise mitigation: a crowd label is replaced by the LLM label where they
  differ by more than α;
- ``y_llm``: the LLM labels only;
- ``y+y_llm``: augmentation: the crowd-labelled data plus another set of essays
  labelled by the LLM only (:func:`augment`).

Models are always evaluated against crowd labels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["STRATEGIES", "ALPHAS", "mitigate", "targets", "augment"]

STRATEGIES = ("y", "y'", "y_llm")
#: The α grid searched by Hasan et al.: 0.0, 0.5, ..., 5.5.
ALPHAS = tuple(float(a) for a in np.arange(0, 6, 0.5))


def mitigate(crowd: pd.Series, llm: pd.Series, alpha: float) -> tuple[pd.Series, int]:
    """Return ``(labels, n_replaced)``: crowd labels, replaced by ``llm`` where ``|crowd − llm|`` > α.

    A missing LLM label never replaces anything; the comparison is strict, so a
    difference of exactly α keeps the crowd label.

    Examples
    --------
    >>> crowd = pd.Series([1.0, 4.0, 7.0, 2.0])
    >>> llm = pd.Series([6.0, 4.5, 2.5, float("nan")])
    >>> labels, n = mitigate(crowd, llm, 4.5)
    >>> labels.tolist(), n
    ([6.0, 4.0, 7.0, 2.0], 1)
    """
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}.")
    replace = (crowd - llm).abs() > alpha
    return crowd.where(~replace, llm), int(replace.sum())


def targets(
    frame: pd.DataFrame, strategy: str, *, llm: str = "gpt4o", alpha: float | None = None
) -> tuple[pd.Series, int]:
    """Return ``(labels, n_replaced)`` for training under ``strategy``.

    ``labels`` is indexed like ``frame`` and may hold NaN (a missing LLM label under
    ``y_llm``): drop those rows before training. ``n_replaced`` counts the labels that
    differ from the crowd's (all non-missing ones under ``y_llm``).

    Examples
    --------
    >>> t = pd.DataFrame({"crowd": [1.0, 4.0], "gpt4o": [6.0, float("nan")]})
    >>> targets(t, "y'", alpha=4.5)[0].tolist(), targets(t, "y_llm")[0].tolist()
    ([6.0, 4.0], [6.0, nan])
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; valid: {', '.join(STRATEGIES)}.")
    needed = ["crowd"] + ([llm] if strategy != "y" else [])
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(
            f"strategy {strategy!r} needs column(s) {', '.join(missing)}; "
            f"found {', '.join(map(str, frame.columns))}."
        )
    if strategy == "y":
        return frame["crowd"].astype(float), 0
    if strategy == "y_llm":
        return frame[llm].astype(float), int(frame[llm].notna().sum())
    if alpha is None:
        raise ValueError('strategy "y\'" needs alpha (the SPEC grid is 0.0, 0.5, ..., 5.5).')
    return mitigate(frame["crowd"].astype(float), frame[llm].astype(float), alpha)


def augment(
    labelled: pd.DataFrame, extra: pd.DataFrame, *, llm: str = "gpt4o", label: str = "label"
) -> pd.DataFrame:
    """Return the training rows of ``y+y_llm``: crowd labels plus LLM-only labelled extra data.

    ``labelled`` keeps its crowd labels; ``extra`` contributes its ``llm`` labels (rows
    without one are dropped). The result has the columns of ``labelled`` plus
    ``label`` and ``source`` ("crowd" or "llm").

    Examples
    --------
    >>> a = pd.DataFrame({"essay": ["x"], "crowd": [3.0], "gpt4o": [5.0]})
    >>> b = pd.DataFrame({"essay": ["y", "z"], "crowd": [1.0, 2.0], "gpt4o": [6.0, None]})
    >>> augment(a, b)[["essay", "label", "source"]].to_dict("records")
    [{'essay': 'x', 'label': 3.0, 'source': 'crowd'}, {'essay': 'y', 'label': 6.0, 'source': 'llm'}]
    """
    if llm not in extra.columns:
        raise ValueError(f"the extra data has no {llm!r} labels; found {', '.join(map(str, extra.columns))}.")
    base = labelled.assign(**{label: labelled["crowd"].astype(float), "source": "crowd"})
    more = extra[extra[llm].notna()]
    more = more.assign(**{label: more[llm].astype(float), "source": "llm"})
    return pd.concat([base, more], ignore_index=True)
