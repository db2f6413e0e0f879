from __future__ import annotations

import numpy as np
import pytest

from empathylab import gaps
from empathylab.errors import EmpathylabError
from empathylab.gaps import report


def _run(**values):
    base = dict(
        grouping="religion",
        delta=0.5,
        n_items=12,
        excluded_share=0.0,
        ci_low=-0.2,
        ci_high=0.2,
        p_perm=0.001,
        significant=True,
        mixed_coef=0.5,
        mixed_ci_low=0.3,
        mixed_ci_high=0.7,
        bootstrap_ci_low=0.3,
        bootstrap_ci_high=0.7,
    )
    return {**base, **values}


@pytest.mark.parametrize(
    "values, ending",
    [
        ({}, "Both analyses find the gap."),
        ({"significant": False, "mixed_ci_low": -0.1}, "Neither analysis finds a gap."),
        ({"mixed_ci_low": -0.1}, "the permutation test finds a gap that the narrative-level"),
        ({"significant": False}, "the narrative-level interval excludes zero, but δ"),
    ],
)
def test_verdict_says_when_the_analyses_disagree(values, ending):
    assert ending in report.grouping_summary([_run(**values)], "religion")


def test_verdict_reports_the_numbers_and_the_direction():
    text = report.grouping_summary([_run(delta=-0.84, ci_low=-0.31)], "religion")
    assert "δ = -0.84" in text and "lower intensities" in text and "-0.31" in text


def test_real_runs_through_the_report():
    rows = gaps.simulate_results("ethnicity", n_items=10, effect=4.0, seed=1)
    runs = gaps.analyze(rows, n_permutations=500, n_boot=100)
    table = report.runs_table(runs)
    assert table.loc[0, "delta"] == pytest.approx(runs[0]["delta"])
    wide = report.comparison_table(table)
    assert wide.shape == (1, 1) and wide.iloc[0, 0].startswith(f"{runs[0]['delta']:.2f}")


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
