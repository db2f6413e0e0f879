import numpy as np
import pandas as pd
import pytest

from empathylab import gaps
from empathylab.errors import EmpathylabError
from empathylab.gaps.compare import compare_readouts


def _pair(effect_a=5.0, effect_b=5.0, missing=0.0, seed=0):
    a = gaps.simulate_results("religion", n_items=20, effect=effect_a, missing=missing, seed=seed)
    b = gaps.simulate_results("religion", n_items=20, effect=effect_b, seed=seed + 1, readout="distribution")
    return pd.concat([a, b], ignore_index=True)


def test_the_same_answers_agree_perfectly():
    a = gaps.simulate_results("religion", n_items=10, effect=4.0, seed=2)
    b = a.assign(readout="distribution")
    [row] = compare_readouts(pd.concat([a, b]), n_permutations=300).to_dict("records")
    assert row["n_prompts"] == len(a) and row["r_prompts"] == pytest.approx(1.0)
    assert row["mean_abs_diff"] == 0 and row["r_cells"] == pytest.approx(1.0)
    assert row["delta_generate"] == pytest.approx(row["delta_distribution"])
    assert row["delta_generate"] == pytest.approx(gaps.delta(gaps.delta_matrix(a), "religion"))
    assert row["same_sign"] and row["significant_generate"]


def test_opposite_gaps_are_reported_as_a_changed_conclusion():
    [row] = compare_readouts(_pair(effect_a=6.0, effect_b=-6.0), n_permutations=300).to_dict("records")
    assert row["delta_generate"] > 0 > row["delta_distribution"] and not row["same_sign"]


def test_refusals_lower_the_usable_share_and_can_leave_no_complete_narrative():
    [row] = compare_readouts(_pair(missing=0.2), n_permutations=100).to_dict("records")
    assert row["share_ok_generate"] == pytest.approx(0.8, abs=0.05)
    assert row["share_ok_distribution"] == 1.0
    # with 36 cells and 20 % refusals no narrative is complete: δ is NaN, with the reason
    assert np.isnan(row["delta_generate"]) and "no narrative" in row["why_generate"]
    assert not row["same_sign"]


def test_bad_input_is_named():
    rows = _pair()
    with pytest.raises(EmpathylabError, match="no rows with readout"):
        compare_readouts(rows[rows.readout == "generate"])
    with pytest.raises(EmpathylabError, match="needs column"):
        compare_readouts(rows.drop(columns="status"))
    with pytest.raises(EmpathylabError, match="two different readouts"):
        compare_readouts(rows, "generate", "generate")
