"""How the gap moves between runs that differ in one setting: Δδ with a paired bootstrap.

Two runs of one design that differ only in a prompt variation (perspective-taking
against ``origin`` or ``pt-control``) or in the model (an instruction-tuned model against
its base) are compared on the narratives both answered completely: Δδ = δ(run) −
δ(reference), with an interval from resampling narratives, the same resample for both
runs (a paired bootstrap), and the shift of the mean intensity on the same resamples, so
that a narrower gap is not mistaken for a general move of the scale.

Δδ is given in three units, because the paper's z units can fake a change: z-δ is the raw
gap over the spread of the run's own cell means, so a run that adds perceiver-specific
offsets (a wider spread) has a smaller z-δ with the same raw gap. Beside the z version,
Δδ in raw scale points and with both runs scaled by the *reference* run's spread; a gap is
called narrower or wider only where the three agree, and only when ``|δ|`` shrinks or grows
(:func:`shift_verdict`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from empathylab.errors import EmpathylabError
from empathylab.gaps.checks import check_columns, prepare_run
from empathylab.gaps.matrices import cell_weights
from empathylab.verdicts import boot_t_half_width, side, too_few

__all__ = ["delta_shift", "compare_runs", "run_choices", "shift_verdict", "holm", "UNITS"]

_BLOCK = 256  # resamples per matrix product

#: The three units of Δδ, each with its label, its column of Δδ and interval columns, and the
#: column of the change of ``|δ|`` with its interval.
UNITS = {
    "z": ("delta_diff", "diff_ci_low", "diff_ci_high", "abs_diff", "abs_ci_low", "abs_ci_high"),
    "raw": (
        "delta_diff_raw",
        "diff_raw_ci_low",
        "diff_raw_ci_high",
        "abs_diff_raw",
        "abs_raw_ci_low",
        "abs_raw_ci_high",
    ),
    "reference-scaled": (
        "delta_diff_ref",
        "diff_ref_ci_low",
        "diff_ref_ci_high",
        "abs_diff_ref",
        "abs_ref_ci_low",
        "abs_ref_ci_high",
    ),
}


def delta_shift(
    results: pd.DataFrame,
    by: str = "variation",
    reference: str = "origin",
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Return Δδ (in three units), the change of ``|δ|`` and the mean shift of each run against ``reference``.

    ``results`` holds runs that differ only in the column ``by`` (``variation`` or
    ``model``): one grouping, and one value of every other run key. Each run is compared
    with the reference on the narratives complete in both (every perceiver x experiencer
    pair answered; the baseline left out, as for δ). Every interval is a bootstrap-t
    interval (:func:`empathylab.verdicts.boot_t_half_width`: Student's t with n - 1
    degrees of freedom on the standard error of ``n_boot`` paired resamples of the n
    narratives), every p its two-sided p (t = estimate / (SE_boot · sqrt(n / (n - 1)))).
    On each resample every statistic is recomputed whole (the spreads too).

    Returns
    -------
    pandas.DataFrame
        One row per run besides the reference (in order of appearance): ``by`` (the
        run's value), ``reference``, ``n_items``;

        - z units (each run over the SD of its own cell means, as the paper's δ):
          ``delta``, ``delta_reference``, ``delta_diff`` (Δδ) with ``diff_ci_low``/``diff_ci_high``;
        - raw scale points (in-group minus out-group mean): ``delta_raw`` with
          ``raw_ci_low``/``raw_ci_high``, ``delta_raw_reference`` with
          ``raw_reference_ci_low``/``raw_reference_ci_high``, ``delta_diff_raw`` with
          ``diff_raw_ci_low``/``diff_raw_ci_high``;
        - both runs over the reference run's SD of cell means: ``delta_diff_ref`` with
          ``diff_ref_ci_low``/``diff_ref_ci_high``;
        - the change of ``|δ|`` in each unit: ``abs_diff``, ``abs_diff_raw``, ``abs_diff_ref``
          with ``abs_ci_low``/``abs_ci_high``, ``abs_raw_ci_low``/..., ``abs_ref_ci_low``/...
          (negative: a narrower gap);
        - ``p_z``, ``p_raw``, ``p_ref`` (Δδ = 0 in each unit) and ``p``, their largest: a
          change is declared only where all three units declare it (an intersection-union
          test, whose p is the largest of its parts);
        - ``verdict`` (:func:`shift_verdict`) and ``toward`` (``in-group`` when Δδ > 0,
          ``out-group`` when Δδ < 0, in raw points);
        - ``mean``, ``mean_reference``, ``mean_shift`` with ``shift_ci_low``/``shift_ci_high``
          (the mean intensity over the same cells, in the run's units).

    Examples
    --------
    >>> from empathylab.gaps import simulate_results
    >>> runs = pd.concat([simulate_results("religion", n_items=30, effect=e, seed=0, variation=v)
    ...                   for v, e in [("origin", 6.0), ("pt-other", 2.0)]])
    >>> shift = delta_shift(runs, n_boot=500)
    >>> shift[["verdict", "toward"]].values.tolist()  # the gap narrowed in every unit
    [['narrower', 'out-group']]
    >>> bool(shift["diff_raw_ci_high"].iloc[0] < 0 and shift["diff_ref_ci_high"].iloc[0] < 0)
    True
    """
    what = "delta_shift"
    check_columns(results, (by,), what)
    if int(n_boot) < 1:
        raise EmpathylabError(f"n_boot must be at least 1, not {n_boot}.")
    levels = [str(v) for v in pd.unique(results[by].astype(str))]
    if reference not in levels:
        raise EmpathylabError(
            f"{what}: no run with {by} = {reference!r} to compare with; the rows hold {', '.join(levels)}."
        )
    runs = {level: _complete_cells(results[results[by].astype(str) == level], what) for level in levels}
    ref_ids, ref_items, ref_cells, grouping = runs[reference]
    weights = cell_weights(ref_ids, grouping, what).ravel()
    rng = np.random.default_rng(seed)
    rows = []
    for level in levels:
        if level == reference:
            continue
        ids, items, cells, run_grouping = runs[level]
        if (ids, run_grouping) != (ref_ids, grouping):
            raise EmpathylabError(
                f"{what}: the runs {by} = {level!r} and {reference!r} have other identities or "
                f"groupings ({run_grouping}: {len(ids)} identities; {grouping}: {len(ref_ids)}); "
                "compare runs of one design."
            )
        common = np.intersect1d(items, ref_items)
        if len(common) == 0:
            raise EmpathylabError(
                f"{what}: the runs {level!r} and {reference!r} share no complete narrative."
            )
        a = cells[np.searchsorted(items, common)].reshape(len(common), -1)
        b = ref_cells[np.searchsorted(ref_items, common)].reshape(len(common), -1)
        stats = _paired_bootstrap(a, b, weights, int(n_boot), rng)
        row = {by: level, "reference": reference, "n_items": len(common), **stats}
        row["verdict"] = shift_verdict(row)
        rows.append(row)
    return pd.DataFrame(rows)


#: The run keys besides the grouping: one value of each per side and grouping in :func:`compare_runs`.
_SIDE_KEYS = ("model", "readout", "variation")


def run_choices(rows: pd.DataFrame) -> dict[str, list[str]]:
    """Return, for each run key other than the grouping, its values in ``rows`` where there are several.

    Empty when ``rows`` is one run per grouping.

    >>> from empathylab.gaps import simulate_results
    >>> rows = pd.concat([simulate_results(n_items=1, variation=v) for v in ("origin", "pt-self")])
    >>> run_choices(rows)
    {'variation': ['origin', 'pt-self']}
    """
    out = {}
    for key in _SIDE_KEYS:
        if key in rows.columns:
            values = sorted(map(str, pd.unique(rows[key])))
            if len(values) > 1:
                out[key] = values
    return out


def compare_runs(
    a: pd.DataFrame, b: pd.DataFrame, n_boot: int = 2000, seed: int = 0, labels: tuple[str, str] = ("A", "B")
) -> pd.DataFrame:
    """Return Δδ of run ``b`` against run ``a`` for every grouping both hold (:func:`delta_shift`).

    ``a`` and ``b`` are result rows (:func:`empathylab.gaps.read_result_table`) holding
    one run per grouping each (one model, readout and variation; they may differ between
    ``a`` and ``b`` in any of these, or come from different folders). Each grouping is
    compared on the narratives both answered completely.

    Returns
    -------
    pandas.DataFrame
        One row per grouping present in both (in ``a``'s order): ``grouping``, ``a`` and
        ``b`` (each run's ``model / readout / variation``), then :func:`delta_shift`'s
        columns from ``n_items`` on (the three units of Δδ, ``|δ|``, p, ``verdict``, ``toward``),
        and ``note`` (None, or why the raw units do not compare: the two variations ask
        for different scales).

    Raises
    ------
    EmpathylabError
        When a side holds more than one run of a grouping (naming the choices), the two
        share no grouping or no complete narrative, or their designs differ (identities).

    Examples
    --------
    >>> from empathylab.gaps import simulate_results
    >>> a = simulate_results("religion", n_items=20, effect=6.0, seed=0)
    >>> b = simulate_results("religion", n_items=20, effect=1.0, seed=0, variation="pt-other")
    >>> compare_runs(a, b, n_boot=300)[["grouping", "a", "b", "verdict"]].values.tolist()
    [['religion', 'synthetic / generate / origin', 'synthetic / generate / pt-other', 'narrower']]
    """
    what = "compare_runs"
    for rows in (a, b):
        check_columns(rows, ("grouping",), what)
    present = {label: [str(g) for g in pd.unique(rows["grouping"])] for label, rows in zip(labels, (a, b))}
    common = [g for g in present[labels[0]] if g in set(present[labels[1]])]
    if not common:
        raise EmpathylabError(
            f"{labels[0]} and {labels[1]} share no grouping ({labels[0]}: "
            f"{', '.join(present[labels[0]]) or 'none'}; {labels[1]}: {', '.join(present[labels[1]]) or 'none'})."
        )
    frames = []
    for grouping in common:
        parts = []
        for label, rows in zip(labels, (a, b)):
            part = rows[rows["grouping"].astype(str) == grouping]
            choices = run_choices(part)
            if choices:
                shown = "; ".join(f"{key}: {', '.join(values)}" for key, values in choices.items())
                runs = part.groupby(list(choices), sort=False).ngroups
                raise EmpathylabError(
                    f"{label} holds {runs} runs of the {grouping} grouping ({shown}); select one run per side."
                )
            name = " / ".join(str(part[k].iloc[0]) if k in part.columns else "?" for k in _SIDE_KEYS)
            parts.append(
                (name, part.drop(columns=[k for k in _SIDE_KEYS if k in part.columns]).assign(run=label))
            )
        people = [
            set(map(str, pd.unique(part[["perceiver", "experiencer"]].values.ravel()))) for _, part in parts
        ]
        if people[0] != people[1]:
            only = [
                ", ".join(sorted(x - y)) or "none"
                for x, y in ((people[0], people[1]), (people[1], people[0]))
            ]
            raise EmpathylabError(
                f"{labels[0]} and {labels[1]} are runs of different designs: their {grouping} identities differ "
                f"(only in {labels[0]}: {only[0]}; only in {labels[1]}: {only[1]}); compare runs of one design."
            )
        shift = delta_shift(
            pd.concat([parts[0][1], parts[1][1]], ignore_index=True),
            by="run",
            reference=labels[0],
            n_boot=n_boot,
            seed=seed,
        )
        shift = shift.drop(columns=["run", "reference"])
        frames.append(
            shift.assign(grouping=grouping, a=parts[0][0], b=parts[1][0], note=_scale_note(parts, labels))
        )
    out = pd.concat(frames, ignore_index=True)
    return out[["grouping", "a", "b", *[c for c in out.columns if c not in ("grouping", "a", "b")]]]


def _scale_note(parts: list[tuple[str, pd.DataFrame]], labels: tuple[str, str]) -> str | None:
    """Say so when the two runs' variations ask for different scales (raw points then differ in meaning)."""
    from empathylab.gaps.design import VARIATIONS

    variations = [name.rsplit(" / ", 1)[-1] for name, _ in parts]
    scales = [VARIATIONS[v][1] if v in VARIATIONS else None for v in variations]
    if None in scales or scales[0] == scales[1]:
        return None
    return (
        f"{labels[0]} asks for a 0-{scales[0]} scale, {labels[1]} for 0-{scales[1]}: the raw and "
        "reference-scaled units compare different scales; read the z units"
    )


def _complete_cells(rows: pd.DataFrame, what: str) -> tuple[list[str], np.ndarray, np.ndarray, str]:
    """The run's identities, its complete narratives (sorted ids) and their cells."""
    run, kept, cells, _ = prepare_run(rows, what, baseline=False)
    items = run.items[np.unique(run.item[kept])]
    return run.ids, items, cells, run.grouping


def _gaps(means: np.ndarray, ref_means: np.ndarray, w: np.ndarray) -> dict[str, np.ndarray]:
    """δ of a run (``means``: resamples x cells) and of its reference, in the three units."""
    raw, raw_ref = means @ w, ref_means @ w
    sd, sd_ref = means.std(axis=-1), ref_means.std(axis=-1)  # population SD (ddof=0), as znorm
    sd, sd_ref = np.where(sd > 0, sd, 1.0), np.where(sd_ref > 0, sd_ref, 1.0)
    return {
        "z": (raw / sd, raw_ref / sd_ref),
        "raw": (raw, raw_ref),
        "reference-scaled": (raw / sd_ref, raw_ref / sd_ref),
    }


def _paired_bootstrap(
    a: np.ndarray, b: np.ndarray, w: np.ndarray, n_boot: int, rng: np.random.Generator
) -> dict[str, Any]:
    """δ and mean of ``a`` and ``b`` (narratives x cells), their differences and intervals."""
    n = a.shape[0]
    full = _gaps(a.mean(axis=0), b.mean(axis=0), w)
    item_shift = a.mean(axis=1) - b.mean(axis=1)
    boots = {
        k: np.empty(n_boot) for k in ("shift", "raw_a", "raw_b", *(f"{u}{s}" for u in UNITS for s in "da"))
    }
    for start in range(0, n_boot, _BLOCK):
        size = min(_BLOCK, n_boot - start)
        draws = rng.integers(0, n, size=(size, n)) + (np.arange(size) * n)[:, None]
        counts = np.bincount(draws.ravel(), minlength=size * n).reshape(size, n) / n
        part = slice(start, start + size)
        gaps = _gaps(counts @ a, counts @ b, w)
        for unit, (run, ref) in gaps.items():
            boots[f"{unit}d"][part] = run - ref
            boots[f"{unit}a"][part] = np.abs(run) - np.abs(ref)
        boots["raw_a"][part], boots["raw_b"][part] = gaps["raw"]
        boots["shift"][part] = counts @ item_shift

    out: dict[str, Any] = {}

    def add(name: str, value: float, draws: np.ndarray, low: str, high: str) -> float:
        half = boot_t_half_width(draws, n)
        out.update({name: float(value), low: float(value) - half, high: float(value) + half})
        return _boot_t_p(float(value), draws, n)

    z_run, z_ref = full["z"]
    out.update({"delta": float(z_run), "delta_reference": float(z_ref)})
    raw_run, raw_ref = full["raw"]
    add("delta_raw", raw_run, boots["raw_a"], "raw_ci_low", "raw_ci_high")
    add("delta_raw_reference", raw_ref, boots["raw_b"], "raw_reference_ci_low", "raw_reference_ci_high")
    p = {}
    for unit, (diff, low, high, absolute, abs_low, abs_high) in UNITS.items():
        run, ref = full[unit]
        p[unit] = add(diff, run - ref, boots[f"{unit}d"], low, high)
        add(absolute, abs(run) - abs(ref), boots[f"{unit}a"], abs_low, abs_high)
    out.update({"p_z": p["z"], "p_raw": p["raw"], "p_ref": p["reference-scaled"]})
    out["p"] = max(p.values()) if all(math.isfinite(v) for v in p.values()) else float("nan")
    diff_raw = out["delta_diff_raw"]
    out["toward"] = "in-group" if diff_raw > 0 else "out-group" if diff_raw < 0 else None
    out.update({"mean": float(a.mean()), "mean_reference": float(b.mean())})
    add("mean_shift", item_shift.mean(), boots["shift"], "shift_ci_low", "shift_ci_high")
    return out


def _boot_t_p(estimate: float, boots: np.ndarray, n: int) -> float:
    """Two-sided p of ``estimate = 0`` from its bootstrap-t statistic (n - 1 df).

    The same t as :func:`~empathylab.verdicts.boot_t_half_width`, so p < 0.05 exactly when
    the 95 % interval excludes zero.
    """
    from scipy import stats

    if n < 2 or len(boots) < 2 or not math.isfinite(estimate):
        return float("nan")
    se = float(np.std(boots, ddof=1) * math.sqrt(n / (n - 1)))
    if se == 0:
        return 1.0 if estimate == 0 else 0.0
    return float(2 * stats.t.sf(abs(estimate) / se, n - 1))


def shift_verdict(row: Mapping[str, Any], p: float | None = None, alpha: float = 0.05) -> str:
    """Return the verdict word of one row of :func:`delta_shift`: how the gap moved.

    ``p`` replaces the row's ``p`` (a multiplicity-adjusted one, :func:`holm`). The rules:

    - fewer than :data:`~empathylab.verdicts.MIN_UNITS` narratives: ``undetermined: ...``;
    - a change is found when ``p < alpha`` and the three units' Δδ intervals exclude zero
      on the same side; otherwise ``no change detected`` (no unit finds one), ``the units
      disagree`` (some do, or they point different ways), or ``no change detected after
      Holm's correction`` (all three would, unadjusted);
    - a found change where the two runs' δ (raw points) have opposite signs is
      ``reversed`` when both exclude zero, ``crosses zero`` when one does not; with the
      same sign it is ``narrower`` or ``wider`` when the change of ``|δ|`` excludes zero,
      below (narrower) or above (wider), in all three units, and otherwise ``toward the
      in-group`` (Δδ > 0) or ``toward the out-group`` (Δδ < 0).

    The row's ``toward`` says which way a reversed or crossing gap moved. Near zero ``|δ|``
    is biased upward on resamples, which makes narrower (a run's δ near zero) and wider
    (the reference's near zero) harder to call, not easier.

    >>> row = {"n_items": 12, "p": 0.003, "delta_raw": -2.4, "raw_ci_low": -3.0, "raw_ci_high": -1.8,
    ...        "delta_raw_reference": -2.09, "raw_reference_ci_low": -2.6, "raw_reference_ci_high": -1.6}
    >>> for diff, low, high, absolute, abs_low, abs_high in UNITS.values():
    ...     row |= {diff: -0.31, low: -0.5, high: -0.1, absolute: 0.31, abs_low: 0.1, abs_high: 0.5}
    >>> shift_verdict(row)  # δ −2.09 → −2.40: a wider gap (toward the out-group), not a narrower one
    'wider'
    >>> shift_verdict(row, p=0.08)
    "no change detected after Holm's correction"
    >>> shift_verdict(row | {"n_items": 3})
    'undetermined: 3 narratives, and a verdict needs at least 5'
    """
    few = too_few(row.get("n_items"))
    if few:
        return few
    units = [side(row[low], row[high]) for _, low, high, *_ in UNITS.values()]
    if None in units:
        return "undetermined: an interval of Δδ is not available"
    p_row = row.get("p", float("nan"))
    p = p_row if p is None else p
    agree = len(set(units)) == 1 and units[0] != 0
    if not (agree and p is not None and p < alpha):
        if agree and p_row < alpha:
            return "no change detected after Holm's correction"
        return "no change detected" if set(units) == {0} else "the units disagree"
    toward = "toward the in-group" if units[0] > 0 else "toward the out-group"
    s_run = side(row["raw_ci_low"], row["raw_ci_high"])
    s_ref = side(row["raw_reference_ci_low"], row["raw_reference_ci_high"])
    if row["delta_raw"] * row["delta_raw_reference"] < 0:
        return "reversed" if s_run and s_ref and s_run != s_ref else "crosses zero"
    absolute = {side(row[low], row[high]) for *_, low, high in UNITS.values()}
    if absolute == {-1}:
        return "narrower"
    if absolute == {1}:
        return "wider"
    return toward


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Return Holm's step-down adjusted p-values (family-wise error), in the input order.

    The k-th smallest of m p-values is multiplied by m - k + 1, the running maximum is
    taken and the result capped at 1; a NaN stays NaN and does not count in m.

    >>> holm([0.01, 0.04, 0.03, float("nan")]).round(3).tolist()
    [0.03, 0.06, 0.06, nan]
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = len(order)
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out[order] = adjusted
    return out
