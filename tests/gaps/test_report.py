from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from empathylab import gaps
from empathylab.errors import EmpathylabError
from empathylab.gaps import report


def _run(**values):
    base = dict(
        grouping="religion",
        delta=0.5,
        delta_raw=1.2,
        n_items=12,
        delta_n_items=12,
        excluded_share=0.0,
        ci_low=-0.2,
        ci_high=0.2,
        p_perm=0.001,
        p_floor=1e-5,
        n_groups=8,
        n_permutations=40_320,
        perm_exact=True,
        significant=True,
        narrative_ci_low=0.3,
        narrative_ci_high=0.7,
        narrative_p=0.002,
        bootstrap_ci_low=0.3,
        bootstrap_ci_high=0.7,
    )
    run = {**base, **values}
    # the old verdict read a mixed model: give it the narrative interval, so old code runs too
    run.update(
        mixed_coef=run["delta"], mixed_ci_low=run["narrative_ci_low"], mixed_ci_high=run["narrative_ci_high"]
    )
    if "perm_verdict" not in values:  # as permutation_test words it
        d = run["delta"]
        outside = d > run["ci_high"] or d < run["ci_low"]
        run["perm_verdict"] = (
            ("in-group higher" if d > 0 else "in-group lower") if outside else "not significant"
        )
        run["significant"] = outside
    return run


@pytest.mark.parametrize(
    "values, ending",
    [
        ({}, "Both analyses find the gap: in-group experiencers are rated higher."),
        ({"ci_high": 0.6, "narrative_ci_low": -0.1}, "Neither analysis finds a gap."),
        ({"narrative_ci_low": -0.1}, "the permutation test finds a gap that the narrative-level"),
        (
            {"ci_high": 0.6},
            "the narrative-level interval excludes zero, but δ stays inside the null interval",
        ),
    ],
)
def test_verdict_says_when_the_analyses_disagree(values, ending):
    assert ending in report.grouping_summary([_run(**values)], "religion")


def test_verdict_reports_the_numbers_and_the_direction():
    text = report.grouping_summary([_run(delta=-0.84, ci_low=-0.31)], "religion")
    assert "δ = -0.84" in text and "lower intensities" in text and "-0.31" in text


def test_a_negative_gap_is_called_the_reverse_of_the_paper():
    """Issue 22: 'Both analyses find the gap' was printed for δ < 0 without a word on its direction."""
    run = _run(delta=-0.84, ci_low=-0.31, narrative_ci_low=-1.2, narrative_ci_high=-0.4)
    text = report.grouping_summary([run], "religion")
    assert (
        "in-group experiencers get lower intensities than out-group ones, the reverse of the paper's" in text
    )
    assert text.endswith(
        "Both analyses find the gap: in-group experiencers are rated lower, the reverse of the paper's direction."
    )
    # both reject, on opposite sides: never "both find the gap"
    crossed = report.grouping_summary([_run(narrative_ci_low=-1.2, narrative_ci_high=-0.4)], "religion")
    assert "Both analyses" not in crossed and "disagree on the direction" in crossed


def test_p_values_are_printed_as_a_reader_reads_them():
    """Issue 22: 'p = 0.000', and a p at the test's floor with no word that it is the floor."""
    tiny = report.grouping_summary([_run(p_perm=0.00004)], "religion")
    assert "p < 0.001" in tiny and "p = 0.000" not in tiny
    floor = report.grouping_summary(
        [_run(p_perm=1 / 120, p_floor=1 / 120, n_groups=5, n_permutations=120)], "religion"
    )
    assert "p = 0.0083, the smallest this test can give with 5 groups (1/120 = 0.0083)" in floor
    assert "all 120 arrangements enumerated" in floor


def test_the_permutation_interval_is_named_the_null_interval():
    """Issue 22: the permuted-δ interval sat beside significant=True as ci_low/ci_high."""
    text = report.grouping_summary([_run()], "religion")
    assert "between -0.20 and 0.20 (the null interval" in text
    assert "δ between 0.30 and 0.70" in text and "per-narrative gaps" in text
    table = report.runs_table([_run()])
    assert {"null_low", "null_high", "narrative_ci_low", "narrative_ci_high", "p_floor"} <= set(table.columns)
    assert "ci_low" not in table.columns and table.loc[0, "null_low"] == -0.2


def test_too_few_narratives_or_permutations_leave_the_verdict_undetermined():
    few = report.grouping_summary([_run(delta_n_items=3, n_items=3)], "religion")
    assert "**undetermined**: 3 narratives, and a verdict needs at least 5" in few
    assert "Both analyses" not in few
    three = "undetermined: the permutation test cannot reach significance with 3 groups (smallest p 1/6)"
    small = report.grouping_summary([_run(perm_verdict=three, significant=False)], "religion")
    assert "cannot reach significance with 3 groups" in small and "Both analyses" not in small


def test_ethnicity_gets_the_race_balanced_line():
    run = _run(grouping="ethnicity", delta_balanced=0.05, balanced_ci_low=-0.2, balanced_ci_high=0.3)
    text = report.grouping_summary([run], "ethnicity")
    assert "race-balanced δ is 0.05 (95 % interval over narratives -0.20 to 0.30): no gap detected" in text
    assert "race-balanced" not in report.grouping_summary([_run()], "religion")


def test_comparison_dagger_follows_the_narrative_interval_not_the_mixed_model():
    t = pd.DataFrame(
        {
            "model": ["m", "m"],
            "readout": ["generate"] * 2,
            "grouping": ["religion", "ethnicity"],
            "variation": ["origin"] * 2,
            "delta": [0.41, -0.3],
            "significant": [True, False],
            "narrative_ci_low": [-0.1, -0.5],
            "narrative_ci_high": [0.9, -0.1],
            "mixed_ci_low": [0.1, -0.05],
            "mixed_ci_high": [0.7, 0.2],
        }
    )
    wide = report.comparison_table(t)
    assert wide.iloc[0].tolist() == ["0.41*", "-0.30†"]


def test_variations_at_the_floor_of_the_test_say_so_once():
    rows = [
        _run(variation=v, p_perm=p, p_floor=1 / 120, n_groups=5, perm_exact=False, n_permutations=10_000)
        for v, p in zip(("origin", "10-scale", "persona-1"), (0.0096, 0.0090, 0.0084))
    ]
    text = report.variation_summary(report.runs_table(rows))
    assert "p = 0.0084 to 0.0096 for all 3 variations, the smallest this test can give with 5 groups" in text
    assert text.count("smallest") == 1
    assert "3 place δ above its null interval (in-group higher)" in text
    assert "of the 3 narrative-level intervals, 3 lie above zero" in text


def test_real_runs_through_the_report():
    rows = gaps.simulate_results("ethnicity", n_items=10, effect=4.0, seed=1)
    runs = gaps.analyze(rows, n_permutations=500, n_boot=100)
    table = report.runs_table(runs)
    assert table.loc[0, "delta"] == pytest.approx(runs[0]["delta"])
    assert table.loc[0, "delta_balanced"] == pytest.approx(runs[0]["delta_balanced"])
    wide = report.comparison_table(table)
    assert wide.shape == (1, 1) and wide.iloc[0, 0].startswith(f"{runs[0]['delta']:.2f}")
    text = report.grouping_summary(runs, "ethnicity")
    assert "race-balanced δ" in text and "10,000" not in text and "500 random permutations" in text


def test_heatmap_mask_follows_the_cell_tests():
    rows = gaps.simulate_results("religion", n_items=20, effect=6.0, seed=2)
    matrix, shown = gaps.heatmap_data(rows, "religion")
    tests = gaps.cell_tests(rows)
    for t in tests.itertuples():
        assert shown.loc[t.perceiver, t.experiencer] == t.shown
    assert np.diag(shown.to_numpy()).all() and shown.iloc[0].all()


def test_cluster_means_averages_the_right_cells():
    rows = gaps.simulate_results("nationality", n_items=4, effect=0.0, seed=3)
    table = gaps.cluster_means(rows)
    matrix = gaps.delta_matrix(rows)
    english = [f"a person from {c}" for c in ("the United States", "Canada", "the United Kingdom")]
    assert table.loc["English-speaking", "English-speaking"] == pytest.approx(
        matrix.loc[english, english].to_numpy().mean()
    )
    assert table.attrs["same_country"] == pytest.approx(np.diag(matrix.to_numpy()).mean())
    with pytest.raises(EmpathylabError, match="nationality grouping only"):
        gaps.cluster_means(gaps.simulate_results("religion", n_items=3))
