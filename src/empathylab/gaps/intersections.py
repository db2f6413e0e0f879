"""Intersectional identities: do a shared race and a shared religion add up?

The ``race-religion`` grouping (:data:`~empathylab.gaps.design.RACE_RELIGION`) crosses
four races with five religions. A perceiver and an experiencer can share the race, the
religion, both or neither; :func:`interaction_model` fits
``intensity_z ~ same_race * same_religion + (1 | narrative)`` and :func:`additivity`
says whether the two gaps are additive, sub-additive or super-additive.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from empathylab.errors import EmpathylabError
from empathylab.gaps import design
from empathylab.gaps.checks import prepare_run

__all__ = ["shared_attributes", "interaction_model", "additivity", "TERMS"]

#: The fixed effects of :func:`interaction_model`, in the order it reports them.
TERMS = ("same_race", "same_religion", "same_race:same_religion")


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
    """Fit ``intensity_z ~ same_race * same_religion + (1 | item_id)`` to one race-religion run.

    The rows are those of the δ matrix (the baseline dropped, then the narratives
    complete in every pair), in the z units of δ (the affine map that z-normalises that
    matrix, as :func:`~empathylab.gaps.beyond.mixed_model`). ``same_race`` is the gap of
    a shared race alone, ``same_religion`` of a shared religion alone, and the interaction
    what sharing both adds beyond their sum. REML fit (statsmodels MixedLM).

    Returns
    -------
    pandas.DataFrame
        One row per term of :data:`TERMS`: ``term``, ``coef``, ``se``, ``ci_low``,
        ``ci_high`` (95 % Wald), ``p``, with ``n_obs``, ``n_items`` and ``converged``
        repeated on every row. NaN where the model cannot be fitted.

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
    run, kept, cells, _ = prepare_run(results, "interaction_model", baseline=False)
    if run.grouping != "race-religion":
        raise EmpathylabError(
            f"interaction_model needs a run of the race-religion grouping, not {run.grouping!r}."
        )
    raw = cells.mean(axis=0)
    mean, sd = raw.mean(), raw.std()
    ids = np.array(run.ids, dtype=object)
    shared = shared_attributes(ids[run.p[kept]], ids[run.e[kept]])
    data = pd.DataFrame(
        {
            "intensity_z": (run.intensity[kept] - mean) / (sd if sd > 0 else 1.0),
            "same_race": shared["same_race"].to_numpy(dtype=float),
            "same_religion": shared["same_religion"].to_numpy(dtype=float),
            "item_id": run.items[run.item[kept]],
        }
    )
    out = pd.DataFrame({"term": list(TERMS)})
    for column in ("coef", "se", "ci_low", "ci_high", "p"):
        out[column] = float("nan")
    out["n_obs"], out["n_items"], out["converged"] = len(data), int(data["item_id"].nunique()), False
    if sd == 0 or data["intensity_z"].std() == 0:
        return out
    import statsmodels.formula.api as smf

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            fit = smf.mixedlm("intensity_z ~ same_race * same_religion", data, groups=data["item_id"]).fit(
                reml=True
            )
        except (np.linalg.LinAlgError, ValueError):
            return out
    ci = fit.conf_int()
    out["coef"] = [float(fit.fe_params[t]) for t in TERMS]
    out["se"] = [float(fit.bse_fe[t]) for t in TERMS]
    out["ci_low"] = [float(ci.loc[t].iloc[0]) for t in TERMS]
    out["ci_high"] = [float(ci.loc[t].iloc[1]) for t in TERMS]
    out["p"] = [float(fit.pvalues[t]) for t in TERMS]
    out["converged"] = bool(fit.converged)
    return out


def additivity(terms: pd.DataFrame) -> str:
    """Return ``additive``, ``sub-additive`` or ``super-additive`` from :func:`interaction_model`.

    Super-additive: sharing both adds more than the sum of sharing each (the interaction's
    95 % interval lies above 0); sub-additive: less (below 0); additive: the interval
    holds 0 (no interaction detected at this size). ``undetermined`` when the model could
    not be fitted.

    >>> additivity(pd.DataFrame({"term": list(TERMS), "ci_low": [0.1, 0.1, -0.05], "ci_high": [0.3, 0.2, 0.04]}))
    'additive'
    """
    row = terms.set_index("term").loc["same_race:same_religion"]
    low, high = float(row["ci_low"]), float(row["ci_high"])
    if not (np.isfinite(low) and np.isfinite(high)):
        return "undetermined"
    if low > 0:
        return "super-additive"
    if high < 0:
        return "sub-additive"
    return "additive"
