import numpy as np
import pytest

from empathylab import departures, gaps
from empathylab.errors import EmpathylabError
from empathylab.gaps.runner import plan_run


@pytest.fixture
def profile(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(
        f"name: tiny\noutput_dir: {tmp_path / 'out'}\nstimuli: {{items_per_emotion: 1}}\n"
        "gaps: {groupings: [religion], variations: [origin], variation_groupings: [religion]}\n"
    )
    return path


def _store(profile, rows, readout="distribution", variation="origin"):
    plan = plan_run(profile, readout=readout, variations=[variation], check_model=False)
    store = plan.store(plan.profile.models.causal_lm[0], variation, "religion")
    model = plan.profile.models.causal_lm[0]
    store.write(0, rows.assign(model=model, readout=readout, variation=variation), {})


def _python_round(m):
    """The authors' rounding: Python's round() of each mean (a Python float)."""
    return np.array([[round(float(v), 2) for v in row] for row in m])


def test_rounding_effect_equals_an_independent_computation(profile):
    rows = gaps.simulate_results("religion", n_items=12, effect=0.3, noise_sd=3.0, seed=5)
    _store(profile, rows)
    [row] = departures.rounding_effect(profile, n_permutations=200).to_dict("records")
    raw = gaps.delta_matrix(rows, z=False).to_numpy()
    inside = np.eye(5, dtype=bool)

    def delta(m):
        z = (m - m.mean()) / m.std()
        return z[inside].mean() - z[~inside].mean()

    assert row["delta_exact"] == pytest.approx(delta(raw))
    assert row["delta_rounded"] == pytest.approx(delta(_python_round(raw)))
    assert row["abs_change"] == pytest.approx(abs(delta(raw) - delta(_python_round(raw))))
    assert row["cells_np_round_differs"] == int((_python_round(raw) != np.round(raw, 2)).sum())


def test_rounding_effect_counts_the_means_numpy_rounds_otherwise(profile):
    """A cell mean of 107/40 = 2.675 (stored just below): Python's round gives 2.67, np.round 2.68."""
    rows = gaps.simulate_results("religion", n_items=40, seed=1)
    rows["intensity"] = 5.0
    cell = (rows.perceiver == "a Jew") & (rows.experiencer == "a Hindu")
    rows.loc[cell, "intensity"] = np.where(rows.loc[cell, "item_id"] < 27, 3.0, 2.0)
    rows.loc[(rows.perceiver == rows.experiencer) & (rows.perceiver != "a person"), "intensity"] = 6.0
    _store(profile, rows)
    [row] = departures.rounding_effect(profile, n_permutations=100).to_dict("records")
    assert row["cells_np_round_differs"] == 1
    raw = gaps.delta_matrix(rows, z=False).to_numpy()
    inside = np.eye(5, dtype=bool)
    z = (_python_round(raw) - _python_round(raw).mean()) / _python_round(raw).std()
    assert row["delta_rounded"] == pytest.approx(z[inside].mean() - z[~inside].mean(), abs=1e-12)


def test_permutation_effect_sets_the_exact_test_beside_the_drawn_one(profile):
    rows = gaps.simulate_results("religion", n_items=12, effect=2.0, seed=3)
    _store(profile, rows)
    [row] = departures.permutation_effect(profile, n_permutations=2000).to_dict("records")
    exact = gaps.permutation_test(gaps.delta_matrix(rows), "religion")
    drawn = gaps.permutation_test(gaps.delta_matrix(rows), "religion", 2000, 0, exact=False)
    assert row["arrangements"] == 120 and exact["exact"] and not drawn["exact"]
    assert (row["null_low_exact"], row["p_exact"]) == (exact["ci_low"], exact["p_perm"])
    assert (row["null_high_drawn"], row["p_drawn"]) == (drawn["ci_high"], drawn["p_perm"])
    assert row["largest_end_shift"] == pytest.approx(
        max(abs(exact["ci_low"] - drawn["ci_low"]), abs(exact["ci_high"] - drawn["ci_high"]))
    )
    assert row["verdict_exact"] == "in-group higher"


def test_reading_range_effect_counts_the_ten_point_answers(profile):
    rows = gaps.simulate_results("religion", n_items=2, seed=0)
    rows["response"] = ["85"] * 10 + ["7"] * (len(rows) - 10)
    _store(profile, rows, readout="generate")
    found = departures.reading_range_effect(profile)
    # origin is a 0-100 scale: "85" is an answer under both rules
    assert found["answers"] == len(rows) and found["answers_10_scale"] == 0 and found["changed"] == 0
    _store(profile, rows, readout="generate", variation="10-scale")
    found = departures.reading_range_effect(profile)
    # on the 0-10 scale "85" is invalid by the paper's text and 85 by the authors' code
    assert found["answers"] == 2 * len(rows) and found["answers_10_scale"] == len(rows)
    assert found["changed"] == 10


def test_no_results_and_bad_parts_are_named(profile):
    with pytest.raises(EmpathylabError, match="No stored Part I results"):
        departures.rounding_effect(profile)
    assert departures.label_parser_effect(profile) == {"answers": 0, "valid_strict": 0, "valid_authors": 0}
    with pytest.raises(EmpathylabError, match="valid: followed, gaps, llmpathy"):
        departures.table("Part I")
    assert set(departures.table("llmpathy").index) >= {"label parser", "warm-up", "significance"}


@pytest.mark.parametrize("part", ["gaps", "llmpathy", "followed"])
def test_markdown_gives_every_departure_in_full_with_its_code_names(part):
    text = departures.markdown(part)
    rows = [d for d in departures.DEPARTURES if d["part"] == part]
    assert text.count("\n- **") + 1 == len(rows)
    for row in rows:
        assert f"- **{row['topic']}**" in text
        for key, label in departures.FIELDS.items():
            assert f"  - *{label}*: {row[key]}\n" in text  # whole, backticks and all
    assert "..." not in text
