"""Intersectional identities: do a shared race and a shared religion add up?

The ``race-religion`` grouping (:data:`~empathylab.gaps.design.RACE_RELIGION`) crosses
four races with five religions. A perceiver and an experiencer can share the race, the
religion, both or neither; :func:`interaction_model` estimates the gap of each and their
interaction from per-narrative contrasts (a t interval over narratives: the claim is about
narratives, and the gaps vary between them), and :func:`additivity` says whether the two
gaps add up, for either sign of the gaps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from empathylab import verdicts
from empathylab.errors import EmpathylabError
from empathylab.gaps import design
from empathylab.gaps.checks import check_columns, prepare_run

__all__ = ["shared_attributes", "interaction_model", "additivity", "TERMS", "SUM_TERM"]

#: The effects of :func:`interaction_model`, in the order it reports them.
TERMS = ("same_race", "same_religion", "same_race:same_religion")

#: The sum of the two single effects, reported after :data:`TERMS` (:func:`additivity` reads
#: its sign off its interval).
SUM_TERM = "same_race+same_religion"

# per cell type (neither, race only, religion only, both), the weight of its mean in each term
_CONTRASTS = {
    "same_race": (-1.0, 1.0, 0.0, 0.0),
    "same_religion": (-1.0, 0.0, 1.0, 0.0),
    "same_race:same_religion": (1.0, -1.0, -1.0, 1.0),
    SUM_TERM: (-2.0, 1.0, 1.0, 0.0),
}
_TYPES = ("neither", "race only", "religion only", "both")


def shared_attributes(perceivers: Sequence[str], experiencers: Sequence[str]) -> pd.DataFrame:
    """Return, per pair, whether perceiver and experiencer share the race and the religion.

    Both must be identities of the ``race-religion`` grouping (the baseline shares
    nothing). Columns: ``same_race``, ``same_religion`` (bool).

    >>> shared_attributes(["a Black Muslim", "an Asian Jew"], ["a Black Christian", "a White Jew"])
       same_race  same_religion
    0       True          False
    1      False           True
    """
    known = design.RACE_RELIGION
    unknown = sorted({str(i) for i in [*perceivers, *experiencers]} - set(known) - {design.BASELINE})
    if unknown:
        raise EmpathylabError(
            f"Not identities of the race-religion grouping: {', '.join(map(repr, unknown))}; "
            f"valid: {', '.join(known)}."
        )
    none = (None, None)
    p = [known.get(str(i), none) for i in perceivers]
    e = [known.get(str(i), none) for i in experiencers]
    return pd.DataFrame(
        {
            "same_race": [a[0] is not None and a[0] == b[0] for a, b in zip(p, e)],
            "same_religion": [a[1] is not None and a[1] == b[1] for a, b in zip(p, e)],
        }
    )


def interaction_model(results: pd.DataFrame) -> pd.DataFrame:
    """Return the gaps of a shared race, a shared religion and both, with t intervals over narratives.

    The cells are those of the δ matrix (the baseline dropped, then the narratives complete
    in every pair). Per narrative, in the z units of δ (each cell divided by s, the
    standard deviation of the mean raw matrix; s = 0 gives contrasts 0), the cells are
    averaged within their type: neither shared, race only, religion only, both (the same
    identity). Then per narrative ``same_race`` = race only − neither (the gap of a shared
    race alone), ``same_religion`` = religion only − neither, the interaction
    ``same_race:same_religion`` = both − race only − religion only + neither (what sharing
    both adds beyond the sum of the two), and ``same_race+same_religion`` their sum. Each
    is averaged over narratives with a Student t interval (n_items − 1 df,
    :func:`empathylab.verdicts.t_interval`): the gaps vary between narratives, and an
    interval that ignored it (a random intercept per narrative, which cancels out of these
    within-narrative contrasts) called a null interaction in 28 of 50 runs of 12
    narratives. In this balanced design the means equal the fixed effects of
    ``intensity_z ~ same_race * same_religion`` and the interval that of a model with a
    random slope per narrative for every term.

    Returns
    -------
    pandas.DataFrame
        One row per term of :data:`TERMS`, then :data:`SUM_TERM`: ``term``, ``coef``,
        ``se``, ``ci_low``, ``ci_high`` (95 %), ``p``, with ``n_obs`` (cells used),
        ``n_items`` (narratives) and ``converged`` (False when there are fewer than 2
        narratives: NaN interval) repeated on every row.

    Examples
    --------
    >>> from empathylab.gaps import simulate_results
    >>> rows = simulate_results("race-religion", n_items=12, seed=0)
    >>> shared = shared_attributes(rows["perceiver"], rows["experiencer"])
    >>> rows["intensity"] += 4.0 * shared["same_race"] + 2.0 * shared["same_religion"]
    >>> fit = interaction_model(rows)  # z units: race's gap twice religion's, no interaction
    >>> additivity(fit), bool(fit["coef"].iloc[0] > fit["coef"].iloc[1] > 0)
    ('additive', True)
    """
    run, _, cells, _ = prepare_run(results, "interaction_model", baseline=False)
    if run.grouping != "race-religion":
        raise EmpathylabError(
            f"interaction_model needs a run of the race-religion grouping, not {run.grouping!r}."
        )
    attrs = [design.RACE_RELIGION[i] for i in run.ids]
    race = np.array([a[0] for a in attrs], dtype=object)
    religion = np.array([a[1] for a in attrs], dtype=object)
    kind = (race[:, None] == race[None, :]).astype(int) + 2 * (religion[:, None] == religion[None, :])
    missing = [name for k, name in enumerate(_TYPES) if not (kind == k).any()]
    if missing:
        raise EmpathylabError(
            f"interaction_model: the identities {', '.join(run.ids)} give no pair that shares "
            f"{' or '.join(missing)}; the interaction needs pairs of all four kinds "
            "(neither, race only, religion only, both)."
        )
    n = cells.shape[0]
    s = float(cells.mean(axis=0).std())
    flat = cells.reshape(n, -1) / (s if s > 0 else 1.0)
    if s == 0:
        flat = np.zeros_like(flat)
    means = np.stack([flat[:, kind.ravel() == k].mean(axis=1) for k in range(4)], axis=1)  # (n, 4)
    rows = []
    for term, weights in _CONTRASTS.items():
        t = verdicts.t_interval(means @ np.asarray(weights))
        rows.append({"term": term, **{k: t[k] for k in ("se", "ci_low", "ci_high", "p")}, "coef": t["mean"]})
    out = pd.DataFrame(rows)[["term", "coef", "se", "ci_low", "ci_high", "p"]]
    out["n_obs"], out["n_items"], out["converged"] = int(flat.size), n, n >= 2
    return out


def additivity(terms: pd.DataFrame) -> str:
    """Return whether a shared race and a shared religion add up, for either sign of the gaps.

    Read off :func:`interaction_model`'s frame. S is the sum of the two single effects
    (``same_race`` + ``same_religion``; its interval is the :data:`SUM_TERM` row, or,
    when the frame lacks it, the sum of the two intervals' ends, a wider interval).

    - ``super-additive``: the interaction's 95 % interval excludes 0 on the same side as
      S: sharing both moves the rating further, in the direction of the single effects,
      than their sum (with negative single effects: lower still).
    - ``sub-additive``: the interval excludes 0 on the side opposite to S: sharing both
      moves it less far than the sum, or back the other way.
    - ``additive``: the interval holds 0; no interaction is detected at this size, which
      is not proof that there is none.
    - ``non-additive (interaction above zero; the single effects add to about zero)``
      (or ``below zero``): the interaction excludes 0 but the sign of S is unclear (its
      interval holds 0), so "more" or "less" than the sum has no direction.
    - ``undetermined: ...``: fewer than :data:`~empathylab.verdicts.MIN_UNITS` narratives
      (``n_items``), or no interval for the interaction.

    >>> frame = pd.DataFrame({"term": list(TERMS), "ci_low": [-0.5, -0.4, -0.6],
    ...                       "ci_high": [-0.2, -0.1, -0.1], "n_items": 12})
    >>> additivity(frame)  # all three negative: sharing both lowers it further still
    'super-additive'
    >>> additivity(frame.assign(n_items=2))
    'undetermined: 2 narratives, and a verdict needs at least 5'
    """
    check_columns(terms, ["term", "ci_low", "ci_high", "n_items"], "additivity")
    table = terms.set_index("term")
    absent = [t for t in TERMS if t not in table.index]
    if absent:
        raise EmpathylabError(f"additivity needs the terms {', '.join(TERMS)}; missing: {', '.join(absent)}.")
    reason = verdicts.too_few(pd.to_numeric(terms["n_items"], errors="coerce").min())
    if reason:
        return reason
    row = table.loc["same_race:same_religion"]
    interaction = verdicts.side(row["ci_low"], row["ci_high"])
    if interaction is None:
        return "undetermined: the interaction has no interval (the model could not be fitted)"
    if interaction == 0:
        return "additive"
    if SUM_TERM in table.index:
        low, high = table.loc[SUM_TERM, "ci_low"], table.loc[SUM_TERM, "ci_high"]
    else:
        singles = table.loc[["same_race", "same_religion"]]
        low, high = singles["ci_low"].sum(), singles["ci_high"].sum()
    total = verdicts.side(low, high)
    if total is None or total == 0:
        where = "above" if interaction > 0 else "below"
        return f"non-additive (interaction {where} zero; the single effects add to about zero)"
    return "super-additive" if interaction == total else "sub-additive"
