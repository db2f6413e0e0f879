"""The calibration harness: every verdict the book decides with keeps its level, and finds a planted effect."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from empathylab.errors import EmpathylabError
from empathylab.gaps import calibration
from empathylab.gaps.calibration import Scenario, calibrate, scenarios

N_SIMS = 100  # at 100 runs a true 5 % rate gives a Wilson lower bound above 5 % in under 3 % of seeds


def _demo(verdict: str, condition: str, n_items: int | None = None) -> Scenario:
    chosen = [
        s
        for s in scenarios(("demo",))
        if s.verdict == verdict and s.condition.startswith(condition) and n_items in (None, s.n_items)
    ]
    assert len(chosen) == 1, [s.condition for s in chosen]
    return chosen[0]


NULLS = [
    ("δ significant", "no in-group effect", None),
    ("narrative-level interval excludes 0", "no in-group effect", None),
    ("narrative-level interval excludes 0", "in-group effects vary", None),
    ("race-balanced δ: interval excludes 0", "race main effects", None),
    ("the gap moved (narrower, wider, toward a group)", "the same gap", None),
    ("super-, sub- or non-additive", "additive", 12),
]


@pytest.mark.parametrize(("verdict", "condition", "n_items"), NULLS)
def test_every_verdict_the_book_uses_keeps_its_level(
    verdict: str, condition: str, n_items: int | None
) -> None:
    scenario = _demo(verdict, condition, n_items)
    assert scenario.null and scenario.used
    row = calibrate([scenario], n_sims=N_SIMS, seed=1).iloc[0]
    assert row["mc_low"] <= 0.05, row.to_dict()


PLANTED = [  # (verdict, condition, n_items, floor): the power measured here, well above each floor
    ("δ significant", "planted gap of 2", None, 0.35),
    ("narrative-level interval excludes 0", "planted gap of 2", None, 0.25),
    ("race-balanced δ: interval excludes 0", "planted gap of 2", None, 0.5),
    ("the gap moved (narrower, wider, toward a group)", "planted", None, 0.5),
    ("super-, sub- or non-additive", "planted", 12, 0.7),
]


@pytest.mark.parametrize(("verdict", "condition", "n_items", "floor"), PLANTED)
def test_every_verdict_finds_a_planted_effect(
    verdict: str, condition: str, n_items: int | None, floor: float
) -> None:
    scenario = _demo(verdict, condition, n_items)
    assert not scenario.null
    row = calibrate([scenario], n_sims=60, seed=2).iloc[0]
    assert row["rate"] >= floor, row.to_dict()


def test_the_heatmap_mask_draws_no_cell_by_chance() -> None:
    row = calibrate([_demo("a heatmap cell drawn", "no in-group effect; identity")], n_sims=40, seed=3).iloc[
        0
    ]
    assert row["n_sims"] == 20 and row["mc_low"] <= 0.05  # share 0.25 of 40, at least 20


def test_additivity_with_the_demos_two_narratives_gives_no_verdict() -> None:
    planted = _demo("super-, sub- or non-additive", "planted", 2)
    assert calibrate([planted], n_sims=20).iloc[0]["hits"] == 0  # undetermined, even with an interaction


def test_the_harness_catches_a_test_that_ignores_narratives() -> None:
    """Every cell x narrative as independent evidence once narratives are centred: the old mixed model's fault."""

    def naive(rng: np.random.Generator) -> bool:
        ids, cells = calibration._delta_cells("religion", 12, rng, gap_sd=2.0, noise_sd=2.0, identity_sd=0.0)
        cells = cells - cells.mean(axis=(1, 2), keepdims=True)  # what a random intercept absorbs
        inside = np.eye(len(ids), dtype=bool)
        return bool(stats.ttest_ind(cells[:, inside].ravel(), cells[:, ~inside].ravel()).pvalue < 0.05)

    row = calibrate([Scenario("δ", "naive t", "varying gaps", True, "demo", 12, naive)], n_sims=N_SIMS).iloc[
        0
    ]
    assert row["mc_low"] > 0.05, row.to_dict()


def test_the_paper_size_is_simulated_with_the_papers_narratives() -> None:
    paper = [s for s in scenarios(("paper",)) if s.verdict == "narrative-level interval excludes 0"]
    assert {s.n_items for s in paper} == {6050}
    row = calibrate(paper[:1], n_sims=20).iloc[0]
    assert row["size"] == "paper" and row["n_sims"] == 20


def test_bad_settings_are_refused() -> None:
    with pytest.raises(EmpathylabError, match="unknown size 'huge'; valid: demo, paper"):
        scenarios(("huge",))
    with pytest.raises(EmpathylabError, match="n_sims must be at least 1"):
        calibrate(scenarios()[:1], n_sims=0)


def test_the_readers_premium_keeps_its_level_beside_group_main_effects() -> None:
    """With the group terms the premium's test holds; without them (the old model) main effects pass for one."""
    with_terms = Scenario(
        "premium", "groups", "main effects", True, "demo", 200, calibration._premium_found(200, 0.0)
    )
    without = Scenario(
        "premium",
        "no groups",
        "main effects",
        True,
        "demo",
        200,
        calibration._premium_found(200, 0.0, main_effects=False),
    )
    rows = calibrate([with_terms, without], n_sims=30, seed=4)
    assert rows["mc_low"].iloc[0] <= 0.05, rows.iloc[0].to_dict()
    assert rows["mc_low"].iloc[1] > 0.05, rows.iloc[1].to_dict()


def test_rate_of_names_what_did_not_match() -> None:
    table = calibrate(scenarios()[3:5], n_sims=20)
    assert 0 <= calibration.rate_of(table, "narrative-level interval excludes 0", "no in-group") <= 100
    with pytest.raises(EmpathylabError, match="2 rows match verdict 'narrative-level interval excludes 0'"):
        calibration.rate_of(table, "narrative-level interval excludes 0", "")
    with pytest.raises(EmpathylabError, match="0 rows match"):
        calibration.rate_of(table, "narrower", "no in-group")
