"""How often are Part I's verdicts wrong? Each verdict's test on simulated runs.

Every verdict the book prints about a gap (δ significant, a narrative-level interval that
excludes zero, a race-balanced δ, a cell drawn on a heatmap, a narrower or wider gap, an
additive or non-additive intersection, the readers' premium) is computed by a package
function; here those same functions meet simulated runs where the truth is known:

- under a **null** (no in-group effect, but what real runs have besides: narratives that
  differ, identity main effects, in-group effects that vary between narratives around zero,
  refusals), the share of runs in which the verdict is given anyway is its false-positive
  rate, which should be at most 5 %;
- under a **planted** effect, the share in which it is found is its power.

:func:`calibrate` returns one row per (verdict, condition, size) with a Monte Carlo
interval; :func:`scenarios` lists what is simulated. Runs are drawn with
:func:`~empathylab.gaps.simulate.simulate_cells` (arrays, fast) or
:func:`~empathylab.gaps.simulate.simulate_results` (tables, where the verdict's function
reads a table).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from empathylab.errors import EmpathylabError
from empathylab.gaps import design
from empathylab.gaps.checks import znorm
from empathylab.gaps.simulate import simulate_cells, simulate_results
from empathylab.verdicts import wilson

__all__ = ["Scenario", "scenarios", "calibrate", "rate_of", "SIZES"]

#: Narratives per run at each size: the demo profile's Part I (one per emotion), and the
#: paper's (all 6,050). ``intersectional`` sizes the race x religion design (the demo: 2).
SIZES = {
    "demo": {"narratives": 12, "intersectional": 2},
    "paper": {"narratives": 6050, "intersectional": 6050},
}

#: The demo profile's identity lists (5 religions; 2 forms per race) and the paper's.
RELIGION = design.identities("religion")[1:]

#: Race main effects (points) for the race-balanced δ's null: experiencers of one race are
#: rated higher than of another, by every perceiver alike, and no one favours their own race.
#: With the paper's unequal lists (6 Hispanic forms, 3 Asian) such effects move δ.
RACE_EFFECTS = {"White": 0.0, "Black": 0.0, "Asian": -3.0, "Hispanic": 3.0}

#: Texts (and readers) of a simulated readers' corpus in the book; crowd-enVent has about 1,200.
PREMIUM_TEXTS = 400

#: The realistic nuisance of every null: narratives differ (sd 10 points), cells are noisy
#: (sd 5), perceivers and experiencers differ in how they rate (sd 2), 1 % refusals.
NUISANCE = {"item_sd": 10.0, "noise_sd": 5.0, "identity_sd": 2.0, "missing": 0.01}


@dataclass(frozen=True)
class Scenario:
    """One verdict under one simulated truth: ``run(rng)`` says whether the verdict was given."""

    verdict: str  # the words the book prints
    test: str  # the test behind them
    condition: str  # the simulated truth
    null: bool  # True: any verdict given is a false positive
    size: str  # "demo" or "paper"
    n_items: int  # narratives per simulated run
    run: Callable[[np.random.Generator], bool]
    used: bool = True  # the book's verdict uses this test (False: shown for comparison)
    share: float = 1.0  # of ``n_sims`` to simulate (the slow verdicts run fewer; at least 20)


def _complete(cells: np.ndarray) -> np.ndarray:
    """The narratives answered in every cell (the exclusion rule of the δ matrix)."""
    return cells[~np.isnan(cells).any(axis=(1, 2))]


def _delta_cells(
    grouping: str, n_items: int, rng: np.random.Generator, ids: list[str] | None = None, **truth: float
) -> tuple[list[str], np.ndarray]:
    """A simulated δ matrix's cells: the baseline left out, incomplete narratives dropped."""
    ids = [design.BASELINE, *(ids or design.identities(grouping)[1:])]
    ids, cells = simulate_cells(grouping, n_items, identities=ids, rng=rng, **{**NUISANCE, **truth})
    return ids[1:], _complete(cells[:, 1:, 1:])


def _permutation_significant(grouping: str, n_items: int, n_permutations: int = 2000, **truth: float):
    from empathylab.gaps.matrices import permutation_test

    def run(rng: np.random.Generator) -> bool:
        ids, cells = _delta_cells(grouping, n_items, rng, **truth)
        matrix = pd.DataFrame(znorm(cells.mean(axis=0)), index=ids, columns=ids)
        seed = int(rng.integers(2**31))
        return bool(permutation_test(matrix, grouping, n_permutations, seed)["significant"])

    return run


def _narrative_excludes_zero(
    grouping: str, n_items: int, *, balanced: bool = False, ids=None, **truth: float
):
    from empathylab.gaps.beyond import narrative_summary

    def run(rng: np.random.Generator) -> bool:
        kept, cells = _delta_cells(grouping, n_items, rng, ids=ids, **truth)
        verdict = narrative_summary(cells, kept, grouping, balanced=balanced)["verdict"]
        return verdict in ("in-group higher", "in-group lower")

    return run


def _paper_delta_significant(grouping: str, n_items: int, ids=None, **truth: float):
    from empathylab.gaps.matrices import permutation_test

    def run(rng: np.random.Generator) -> bool:
        kept, cells = _delta_cells(grouping, n_items, rng, ids=ids, **truth)
        matrix = pd.DataFrame(znorm(cells.mean(axis=0)), index=kept, columns=kept)
        return bool(permutation_test(matrix, grouping, 2000, int(rng.integers(2**31)))["significant"])

    return run


def _race_main_effects() -> dict[str, float]:
    return {form: RACE_EFFECTS[race] for form, race in design.ETHNICITY_RACE.items()}


def _mask_draws_a_cell(n_items: int, **truth: float):
    from empathylab.gaps.cells import cell_tests

    def run(rng: np.random.Generator) -> bool:
        rows = simulate_results("religion", n_items, seed=int(rng.integers(2**31)), **{**NUISANCE, **truth})
        return bool(cell_tests(rows)["shown"].any())

    return run


#: The verdicts of :func:`~empathylab.gaps.shifts.shift_verdict` that claim the gap moved.
SHIFT_CLAIMS = (
    "narrower",
    "wider",
    "reversed",
    "crosses zero",
    "toward the in-group",
    "toward the out-group",
)


def _shift_verdict(n_items: int, effect: float, effect_b: float, offsets_sd: float = 2.0):
    """Run A has ``effect``; run B, on the same narratives, ``effect_b``, fresh noise and
    perceiver-specific offsets (an instruction that moves some perceivers' ratings), which
    change the spread of B's cells and so its z units, but not its gap."""
    from empathylab.gaps.shifts import delta_shift

    def run(rng: np.random.Generator) -> bool:
        seed = int(rng.integers(2**31))
        a = simulate_results("religion", n_items, effect, seed=seed, gap_sd=2.0, **NUISANCE)
        b = a.assign(variation="pt-other")
        inside = (a["perceiver"] == a["experiencer"]) & (a["perceiver"] != design.BASELINE)
        offsets = dict(zip(design.identities("religion"), rng.normal(0.0, offsets_sd, 6)))
        noise = rng.normal(0.0, NUISANCE["noise_sd"], len(a))
        b["intensity"] = a["intensity"] + (effect_b - effect) * inside + a["perceiver"].map(offsets) + noise
        shift = delta_shift(pd.concat([a, b]), n_boot=400, seed=seed)
        return str(shift["verdict"].iloc[0]) in SHIFT_CLAIMS

    return run


def _additivity_verdict(n_items: int, interaction: float):
    """Shared race +3 points, shared religion +2, their interaction ``interaction`` on
    average, varying between narratives (sd 2); no refusals (441 cells a narrative)."""
    from empathylab.gaps.intersections import additivity, interaction_model, shared_attributes

    def run(rng: np.random.Generator) -> bool:
        seed = int(rng.integers(2**31))
        rows = simulate_results("race-religion", n_items, seed=seed, **{**NUISANCE, "missing": 0.0})
        shared = shared_attributes(rows["perceiver"], rows["experiencer"])
        race, religion = shared["same_race"].to_numpy(), shared["same_religion"].to_numpy()
        slope = rng.normal(0.0, 2.0, n_items)[rows["item_id"].to_numpy()]
        rows["intensity"] += 3.0 * race + 2.0 * religion + (interaction + slope) * (race & religion)
        verdict = additivity(interaction_model(rows))
        return verdict.startswith(("super-additive", "sub-additive", "non-additive"))

    return run


#: Group main effects (raw points, 1-5 scale) for the readers' premium's null: some writer
#: groups' texts are rated higher, some reader groups rate higher, no one favours their own.
WRITER_EFFECTS = {"European": 0.3, "North American": -0.2, "South Asian": 0.25}
READER_EFFECTS = {"European": 0.2, "North American": -0.3}


def _premium_found(n_texts: int, premium: float, *, main_effects: bool = True):
    """Simulated readers rating simulated writers; a premium or its reverse found counts."""
    from empathylab.gaps.premium import reader_premium, simulate_premium_data

    def run(rng: np.random.Generator) -> bool:
        readers, writers = simulate_premium_data(
            n_texts,
            n_texts,
            premium,
            writer_effects=WRITER_EFFECTS,
            reader_effects=READER_EFFECTS,
            seed=int(rng.integers(2**31)),
        )
        row = reader_premium(readers, writers, ["ethnicity"], main_effects=main_effects).iloc[0]
        return not str(row["verdict"]).startswith(("no difference", "undetermined"))

    return run


def scenarios(sizes: Iterable[str] = ("demo",), *, heavy: bool = False) -> list[Scenario]:
    """Return the simulated (verdict, truth, size) combinations :func:`calibrate` runs.

    The verdicts read off arrays run at every size; those read off result tables (the
    heatmap mask, Δδ, additivity) at the demo's size, and at the paper's only with
    ``heavy`` (minutes a simulated run: ``bench/calibration.py``). Additivity at the demo
    size is simulated with the demo's 2 narratives (always undetermined) and with 12.

    >>> [s.verdict for s in scenarios()][:2]
    ['δ significant', 'δ significant, read beyond these narratives']
    """
    out: list[Scenario] = []
    for size in sizes:
        if size not in SIZES:
            raise EmpathylabError(f"unknown size {size!r}; valid: {', '.join(SIZES)}.")
        n = SIZES[size]["narratives"]
        nx = SIZES[size]["intersectional"]
        slow = 1.0 if n < 1000 else 0.25  # 18 ethnicity forms: 324 cells a narrative
        perm = "permutation test of δ (the paper's)"
        narr = "t interval over narratives"
        out += [
            Scenario(
                "δ significant",
                perm,
                "no in-group effect",
                True,
                size,
                n,
                _permutation_significant("religion", n),
            ),
            Scenario(
                "δ significant, read beyond these narratives",
                perm,
                "in-group effects vary by narrative, zero on average (sd 2)",
                True,
                size,
                n,
                _permutation_significant("religion", n, gap_sd=2.0),
                used=False,
            ),
            Scenario(
                "δ significant",
                perm,
                "planted gap of 2 points (sd 2 between narratives)",
                False,
                size,
                n,
                _permutation_significant("religion", n, effect=2.0, gap_sd=2.0),
            ),
            Scenario(
                "narrative-level interval excludes 0",
                narr,
                "no in-group effect",
                True,
                size,
                n,
                _narrative_excludes_zero("religion", n),
            ),
            Scenario(
                "narrative-level interval excludes 0",
                narr,
                "in-group effects vary by narrative, zero on average (sd 2)",
                True,
                size,
                n,
                _narrative_excludes_zero("religion", n, gap_sd=2.0),
            ),
            Scenario(
                "narrative-level interval excludes 0",
                narr,
                "planted gap of 2 points (sd 2 between narratives)",
                False,
                size,
                n,
                _narrative_excludes_zero("religion", n, effect=2.0, gap_sd=2.0),
            ),
            Scenario(
                "δ significant (ethnicity, the paper's 18 forms)",
                perm,
                "race main effects only, no in-group effect",
                True,
                size,
                n,
                _paper_delta_significant(
                    "ethnicity", n, experiencer_effects=_race_main_effects(), missing=0.0
                ),
                used=False,
                share=slow,
            ),
            Scenario(
                "race-balanced δ: interval excludes 0",
                narr + ", race blocks weighted equally",
                "race main effects only, no in-group effect",
                True,
                size,
                n,
                _narrative_excludes_zero(
                    "ethnicity", n, balanced=True, missing=0.0, experiencer_effects=_race_main_effects()
                ),
                share=slow,
            ),
            Scenario(
                "race-balanced δ: interval excludes 0",
                narr + ", race blocks weighted equally",
                "planted gap of 2 points (sd 2 between narratives)",
                False,
                size,
                n,
                _narrative_excludes_zero(
                    "ethnicity",
                    n,
                    balanced=True,
                    effect=2.0,
                    gap_sd=2.0,
                    missing=0.0,
                    experiencer_effects=_race_main_effects(),
                ),
                share=slow,
            ),
        ]
        if size == "demo" or heavy:  # verdicts read off tables: the paper's size only in bench/
            cell = "paired t-tests against both in-group cells, Bonferroni"
            shift = "Δδ in three units, paired bootstrap-t over narratives"
            inter = "interaction: t interval over narratives"
            out += [
                Scenario(
                    "a heatmap cell drawn",
                    cell,
                    "no in-group effect, no identity effects",
                    True,
                    size,
                    n,
                    _mask_draws_a_cell(n, identity_sd=0.0),
                    share=0.25,
                ),
                Scenario(
                    "a heatmap cell drawn",
                    cell,
                    "no in-group effect; identity main effects (sd 2)",
                    True,
                    size,
                    n,
                    _mask_draws_a_cell(n),
                    share=0.25,
                ),
                Scenario(
                    "a heatmap cell drawn",
                    cell,
                    "planted gap of 8 points",
                    False,
                    size,
                    n,
                    _mask_draws_a_cell(n, effect=8.0),
                    share=0.25,
                ),
                Scenario(
                    "the gap moved (narrower, wider, toward a group)",
                    shift,
                    "the same gap of 4 points; perceiver offsets added in run B (sd 2)",
                    True,
                    size,
                    n,
                    _shift_verdict(n, 4.0, 4.0),
                ),
                Scenario(
                    "the gap moved (narrower, wider, toward a group)",
                    shift,
                    "planted: the gap falls from 4 to 1 point",
                    False,
                    size,
                    n,
                    _shift_verdict(n, 4.0, 1.0),
                ),
            ]
            if size == "demo":  # the readers are the corpus's, whatever the design's size
                prem = "same + writer group + reader group + (1 | text) + (1 | reader)"
                out += [
                    Scenario(
                        "readers rate their own group differently",
                        prem,
                        "group main effects, no premium",
                        True,
                        size,
                        PREMIUM_TEXTS,
                        _premium_found(PREMIUM_TEXTS, 0.0),
                        share=0.1,
                    ),
                    Scenario(
                        "readers rate their own group differently (old model, no group terms)",
                        "same + (1 | text) + (1 | reader), without the group terms",
                        "group main effects, no premium",
                        True,
                        size,
                        PREMIUM_TEXTS,
                        _premium_found(PREMIUM_TEXTS, 0.0, main_effects=False),
                        used=False,
                        share=0.1,
                    ),
                    Scenario(
                        "readers rate their own group differently",
                        prem,
                        "planted premium of 0.3 points",
                        False,
                        size,
                        PREMIUM_TEXTS,
                        _premium_found(PREMIUM_TEXTS, 0.3),
                        share=0.1,
                    ),
                ]
            for k in sorted({nx, 12}) if size == "demo" else [nx]:
                out += [
                    Scenario(
                        "super-, sub- or non-additive",
                        inter,
                        "additive (interaction 0, sd 2 between narratives)",
                        True,
                        size,
                        k,
                        _additivity_verdict(k, 0.0),
                    ),
                    Scenario(
                        "super-, sub- or non-additive",
                        inter,
                        "planted interaction of 3 points",
                        False,
                        size,
                        k,
                        _additivity_verdict(k, 3.0),
                    ),
                ]
    return out


def calibrate(
    chosen: Iterable[Scenario] | None = None, n_sims: int = 200, seed: int = 0, *, progress: bool = False
) -> pd.DataFrame:
    """Return how often each scenario's verdict is given, with a 95 % Monte Carlo interval.

    Returns
    -------
    pandas.DataFrame
        One row per scenario: ``label`` (verdict, condition and size in words), ``verdict``, ``test``, ``condition``, ``null``, ``size``,
        ``n_items``, ``used``, ``n_sims``, ``hits``, ``rate`` (false-positive rate under a
        null, power under a planted effect), ``mc_low``, ``mc_high`` (Wilson 95 %) and
        ``within_5`` (under a null: the Monte Carlo interval reaches 5 % or below).

    >>> table = calibrate(scenarios()[3:4], n_sims=40)
    >>> table[["verdict", "null", "n_sims"]].values.tolist()
    [['narrative-level interval excludes 0', True, 40]]
    """
    chosen = list(scenarios() if chosen is None else chosen)
    if int(n_sims) < 1:
        raise EmpathylabError(f"n_sims must be at least 1, not {n_sims}.")
    rows = []
    for k, scenario in enumerate(chosen):
        rng = np.random.default_rng([seed, k])
        sims = min(int(n_sims), max(20, round(int(n_sims) * scenario.share)))
        hits = sum(scenario.run(rng) for _ in range(sims))
        low, high = wilson(hits, sims)
        rows.append(
            {
                "label": f"{scenario.verdict}: {scenario.condition} ({scenario.n_items:,} narratives)",
                "verdict": scenario.verdict,
                "test": scenario.test,
                "condition": scenario.condition,
                "null": scenario.null,
                "size": scenario.size,
                "n_items": scenario.n_items,
                "used": scenario.used,
                "n_sims": sims,
                "hits": int(hits),
                "rate": hits / sims,
                "mc_low": low,
                "mc_high": high,
                "within_5": bool(low <= 0.05) if scenario.null else None,
            }
        )
    return pd.DataFrame(rows)


def rate_of(
    table: pd.DataFrame, verdict: str, condition: str, size: str = "demo", n_items: int | None = None
) -> float:
    """Return the rate, in per cent, of the one row of :func:`calibrate`'s table that matches.

    ``condition`` matches the start of the row's condition; ``n_items`` picks among sizes of
    one verdict (additivity is simulated at 2 and 12 narratives).

    >>> t = calibrate(scenarios()[3:4], n_sims=20)
    >>> 0 <= rate_of(t, "narrative-level interval excludes 0", "no in-group") <= 100
    True
    """
    rows = table[
        (table["verdict"] == verdict) & table["condition"].str.startswith(condition) & (table["size"] == size)
    ]
    if n_items is not None:
        rows = rows[rows["n_items"] == n_items]
    if len(rows) != 1:
        raise EmpathylabError(
            f"rate_of: {len(rows)} rows match verdict {verdict!r}, condition {condition!r}, size {size!r}"
            f"{'' if n_items is None else f', {n_items} narratives'}; exactly one must."
        )
    return float(100 * rows["rate"].iloc[0])
