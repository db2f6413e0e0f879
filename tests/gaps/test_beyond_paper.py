"""Beyond the paper: perspective-taking variations, the race x religion grouping, Δδ, additivity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from empathylab.errors import EmpathylabError
from empathylab.gaps import (
    additivity,
    delta_matrix,
    delta_shift,
    design,
    in_group,
    interaction_model,
    plan_run,
    shared_attributes,
    simulate_results,
)

# ---------------------------------------------------------------- perspective-taking


def test_perspective_instructions_word_for_word():
    assert design.PERSPECTIVES == {
        "pt-other": "While you read the narrative, imagine how the person in it feels about what happened "
        "and how it affects their life.",
        "pt-self": "While you read the narrative, imagine how you yourself would feel if you were in that "
        "situation.",
        "pt-objective": "While you read the narrative, stay objective and detached, without getting caught "
        "up in how the person feels.",
        "pt-control": "While you read the narrative, note the order in which the events happened and the "
        "place where they happened.",
    }


@pytest.mark.parametrize("variation", list(design.PERSPECTIVES))
def test_a_perspective_variation_is_origin_with_its_instruction_after_the_persona(variation):
    origin = design.system_prompt("origin", "a Jew").splitlines()
    lines = design.system_prompt(variation, "a Jew").splitlines()
    assert lines == [origin[0], design.PERSPECTIVES[variation], *origin[1:]]
    assert design.user_prompt(variation, "a Hindu", "joy", "t") == design.user_prompt(
        "origin", "a Hindu", "joy", "t"
    )
    assert design.VARIATIONS[variation] == design.VARIATIONS["origin"]


def test_the_control_instruction_is_about_as_long_as_the_others():
    words = {k: len(v.split()) for k, v in design.PERSPECTIVES.items()}
    others = np.mean([n for k, n in words.items() if k != "pt-control"])
    assert abs(words["pt-control"] - others) <= 0.15 * others


def test_the_paper_templates_and_their_hash_are_unchanged():
    assert list(design.PAPER_VARIATIONS) == [
        "origin",
        "persona-1",
        "persona-2",
        "persona-3",
        "1-person",
        "3-person",
        "10-scale",
    ]
    assert design.template_hash() == "0c84748d0dc22d3d"  # stores written before keep their fingerprint
    assert design.instruction_hash("origin") is None
    assert len({design.instruction_hash(v) for v in design.PERSPECTIVES}) == 4


def test_a_perspective_run_is_fingerprinted_with_its_instruction(tmp_path, mirror):
    plan = plan_run("demo", out=tmp_path, variations=["origin", "pt-self"], check_model=False)
    model = plan.profile.models.causal_lm[0]
    origin = plan.store(model, "origin", "religion")
    self_ = plan.store(model, "pt-self", "religion")
    assert "instruction_sha256" not in origin.design
    assert self_.design["instruction_sha256"] == design.instruction_hash("pt-self")


# ---------------------------------------------------------------- race x religion


def test_the_intersectional_grouping_crosses_four_races_with_five_religions():
    ids = design.identities("race-religion")
    assert len(ids) == 21 and ids[0] == design.BASELINE and len(set(ids)) == 21
    for label in (
        "a Black Muslim",
        "a White Christian",
        "an Asian Buddhist",
        "a Hispanic Jew",
        "an Asian Hindu",
    ):
        assert label in ids
    assert set(design.RACE_RELIGION.values()) == {
        (race, religion)
        for race in ("White", "Black", "Asian", "Hispanic")
        for religion in ("Christian", "Muslim", "Jew", "Buddhist", "Hindu")
    }
    assert list(design.design_sizes(10)["grouping"]) == list(design.PAPER_GROUPINGS)


def test_in_group_is_per_attribute_and_the_matrix_in_group_is_both():
    shared = shared_attributes(
        ["a Black Muslim", "a Black Muslim", "a Black Muslim", "a Black Muslim", "a person"],
        ["a Black Muslim", "a Black Jew", "a White Muslim", "an Asian Hindu", "a Black Muslim"],
    )
    assert shared.values.tolist() == [
        [True, True],
        [True, False],
        [False, True],
        [False, False],
        [False, False],
    ]
    ids = design.identities("race-religion")
    assert (in_group(ids, "race-religion")[1:, 1:] == np.eye(20, dtype=bool)).all()
    with pytest.raises(EmpathylabError, match="Not identities of the race-religion grouping: 'a Jedi'"):
        shared_attributes(["a Jedi"], ["a Black Jew"])


# ---------------------------------------------------------------- Δδ with a paired bootstrap


def _runs(
    effects: dict[str, float], *, n_items: int = 40, shift: dict[str, float] | None = None, seed: int = 1
) -> pd.DataFrame:
    """Runs of one design sharing narratives and perceiver/experiencer effects; fresh noise per run.

    The perceiver and experiencer effects give the matrix a spread of its own, as real runs
    have, so that δ in z units moves with the planted in-group effect.
    """
    base = simulate_results("religion", n_items=n_items, effect=0.0, noise_sd=0.0, seed=seed)
    inside = in_group(design.identities("religion"), "religion")
    ids = {label: k for k, label in enumerate(design.identities("religion"))}
    p, e = base["perceiver"].map(ids).to_numpy(), base["experiencer"].map(ids).to_numpy()
    mask = inside[p, e]
    cells = np.random.default_rng(seed + 1).normal(0, 5, (2, len(ids)))
    base["intensity"] += cells[0][p] + cells[1][e]
    frames = []
    for k, (variation, effect) in enumerate(effects.items()):
        rng = np.random.default_rng(100 * seed + k)
        run = base.assign(variation=variation)
        run["intensity"] = (
            base["intensity"]
            + effect * mask
            + (shift or {}).get(variation, 0.0)
            + rng.normal(0, 5, len(base))
        )
        frames.append(run)
    return pd.concat(frames, ignore_index=True)


def test_a_planted_narrower_gap_is_recovered_with_an_interval_that_excludes_zero():
    runs = _runs({"origin": 8.0, "pt-other": 2.0, "pt-control": 8.0})
    shift = delta_shift(runs, n_boot=1000).set_index("variation")
    other, control = shift.loc["pt-other"], shift.loc["pt-control"]
    assert other["diff_ci_high"] < 0 and other["delta"] < other["delta_reference"]
    assert control["diff_ci_low"] < 0 < control["diff_ci_high"]  # the null: no change found
    truth = {
        v: float(delta_matrix(runs[runs["variation"] == v], z=True).pipe(lambda m: _delta(m)))
        for v in ("origin", "pt-other")
    }
    assert other["delta_diff"] == pytest.approx(truth["pt-other"] - truth["origin"])
    assert other["n_items"] == 40


def test_with_no_change_the_interval_excludes_zero_about_one_time_in_twenty():
    rejections = 0
    for seed in range(120):
        runs = _runs({"origin": 6.0, "pt-control": 6.0}, n_items=20, seed=seed)
        row = delta_shift(runs, n_boot=300, seed=seed).iloc[0]
        rejections += bool(row["diff_ci_low"] > 0 or row["diff_ci_high"] < 0)
    assert rejections / 120 <= 0.09  # nominal 5 % (3 % with this generator and seeds)


def _delta(matrix: pd.DataFrame) -> float:
    from empathylab.gaps import delta

    return delta(matrix, "religion")


def test_a_general_scale_shift_moves_the_mean_not_the_gap():
    runs = _runs({"origin": 6.0, "pt-objective": 6.0}, shift={"pt-objective": -10.0})
    row = delta_shift(runs, n_boot=1000).iloc[0]
    assert row["shift_ci_high"] < 0 and row["mean_shift"] == pytest.approx(-10.0, abs=1.0)
    assert row["diff_ci_low"] < 0 < row["diff_ci_high"]


def test_delta_shift_compares_models_and_refuses_bad_input():
    runs = _runs({"origin": 6.0, "pt-self": 6.0})
    by_model = runs.assign(
        model=runs["variation"].map({"origin": "base", "pt-self": "instruct"}), variation="origin"
    )
    assert delta_shift(by_model, by="model", reference="base", n_boot=200)["model"].tolist() == ["instruct"]
    with pytest.raises(EmpathylabError, match="no run with variation = 'pt-other' to compare with"):
        delta_shift(runs, reference="pt-other")
    with pytest.raises(EmpathylabError, match="n_boot must be at least 1"):
        delta_shift(runs, n_boot=0)
    other = simulate_results("ethnicity", n_items=4, seed=0, variation="pt-self")
    with pytest.raises(EmpathylabError, match="other identities or groupings"):
        delta_shift(pd.concat([runs[runs["variation"] == "origin"], other]), n_boot=10)


# ---------------------------------------------------------------- additive or not


def _intersectional(race: float, religion: float, both: float, seed: int = 0) -> tuple[pd.DataFrame, float]:
    rows = simulate_results("race-religion", n_items=16, noise_sd=4.0, seed=seed)
    shared = shared_attributes(rows["perceiver"], rows["experiencer"])
    r, g = shared["same_race"].to_numpy(float), shared["same_religion"].to_numpy(float)
    rows["intensity"] = rows["intensity"].to_numpy() + race * r + religion * g + both * r * g
    sd = float(delta_matrix(rows, z=False).to_numpy().std())
    return rows, sd


@pytest.mark.parametrize(
    ("planted", "verdict"),
    [((4.0, 2.0, 0.0), "additive"), ((4.0, 2.0, 6.0), "super-additive"), ((4.0, 2.0, -5.0), "sub-additive")],
)
def test_the_interaction_model_recovers_planted_effects(planted, verdict):
    rows, sd = _intersectional(*planted)
    fit = interaction_model(rows).set_index("term")
    for term, value in zip(("same_race", "same_religion", "same_race:same_religion"), planted):
        assert fit.loc[term, "ci_low"] * sd <= value <= fit.loc[term, "ci_high"] * sd, (term, fit)
    assert additivity(fit.reset_index()) == verdict
    assert fit["converged"].all() and (fit["n_items"] == 16).all()


def test_the_interaction_model_needs_the_intersectional_grouping():
    with pytest.raises(EmpathylabError, match="needs a run of the race-religion grouping, not 'religion'"):
        interaction_model(simulate_results("religion", n_items=4))


def test_the_chapter_renders_the_instructions_from_the_code():
    from conftest import ROOT

    source = (ROOT / "notebooks" / "beyond" / "perspective.md").read_text()
    assert "gaps.design.PERSPECTIVES" in source and 'gaps.design.system_prompt("pt-other"' in source
    for sentence in design.PERSPECTIVES.values():  # shown from the code, never typed: they cannot drift
        assert sentence not in source and sentence[:40] not in source


# ---------------------------------------------------------------- the plans of Part III


def test_the_plans_follow_the_profile(mirror, tmp_path):
    from empathylab.gaps import experiments
    from empathylab.profiles import load_profile

    demo = load_profile("demo")
    perspective = experiments.perspective_plan(demo, out=tmp_path, check_model=False)
    assert [v for v, _ in perspective.cells] == ["origin", *design.PERSPECTIVES]
    intersectional = experiments.intersectional_plan(demo, out=tmp_path, check_model=False)
    assert len(intersectional.narratives) == demo.gaps.beyond.intersectional_narratives
    assert intersectional.narratives.equals(perspective.narratives.iloc[: len(intersectional.narratives)])
    with pytest.raises(EmpathylabError, match="max_narratives must be at least 1"):
        plan_run(demo, out=tmp_path, check_model=False, max_narratives=0)


def test_a_pair_names_the_missing_half_and_its_command(mirror):
    from empathylab.gaps import experiments

    status = experiments.pair_status("demo")  # HF_HUB_OFFLINE: the hub sibling is not here
    assert status[["role", "available"]].values.tolist() == [["base", True], ["instruction-tuned", False]]
    assert status["command"].iloc[1] == (
        "empathylab gaps run --profile demo --model google/gemma-3-270m-it --readout distribution "
        "--variation origin"
    )


def test_a_model_pair_must_be_two_models():
    from empathylab.errors import ProfileError
    from empathylab.profiles import load_profile

    with pytest.raises(ProfileError, match="gaps.beyond.model_pairs.0: List should have at least 2 items"):
        load_profile("demo", gaps={"beyond": {"model_pairs": [["only-one"]]}})
