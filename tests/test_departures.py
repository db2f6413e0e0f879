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
    assert row["delta_rounded"] == pytest.approx(delta(np.round(raw, 2)))
    assert row["abs_change"] == pytest.approx(abs(delta(raw) - delta(np.round(raw, 2))))


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
