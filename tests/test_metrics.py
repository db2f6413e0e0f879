"""Metrics against scipy and published values; agreement tables; group metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from empathylab import metrics

RNG = np.random.default_rng(7)


@pytest.mark.parametrize("n", [2, 5, 100])
def test_pcc_matches_scipy(n: int) -> None:
    y, yhat = RNG.normal(size=n), RNG.normal(size=n)
    assert metrics.pcc(y, yhat) == pytest.approx(stats.pearsonr(y, yhat)[0], abs=1e-12)


def test_ccc_definition_on_known_vectors() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    yhat = np.array([1.5, 2.5, 2.5, 4.5, 6.0])
    expected = 2 * np.cov(y, yhat, bias=True)[0, 1] / (y.var() + yhat.var() + (y.mean() - yhat.mean()) ** 2)
    assert metrics.ccc(y, yhat) == pytest.approx(expected, abs=1e-12)
    # Same correlation, shifted or rescaled: CCC penalises, PCC does not.
    assert metrics.pcc(y, y + 1) == pytest.approx(1.0)
    assert metrics.ccc(y, y + 1) == pytest.approx(2 * 2 / (2 + 2 + 1))
    assert metrics.ccc(y, 2 * y) < 1


def test_rmse_against_numpy() -> None:
    y, yhat = RNG.normal(size=50), RNG.normal(size=50)
    assert metrics.rmse(y, yhat) == pytest.approx(np.sqrt(np.mean((y - yhat) ** 2)))


def test_metrics_are_float64_even_for_float32_input() -> None:
    y = np.linspace(1, 7, 1000, dtype=np.float32)
    yhat = y + np.float32(1e-4)
    exact = metrics.ccc(y.astype(np.float64), yhat.astype(np.float64))
    assert metrics.ccc(y, yhat) == exact
    assert isinstance(metrics.scores(y, yhat)["rmse"], float)


@pytest.mark.parametrize(
    "y, yhat, message",
    [
        ([1.0], [1.0], "at least two"),
        ([1.0, 2.0], [1.0], "differ in length"),
        ([1.0, np.nan], [1.0, 2.0], "finite"),
    ],
)
def test_bad_input_is_named(y, yhat, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        metrics.scores(y, yhat)


def test_constant_predictions_give_nan_pcc() -> None:
    assert np.isnan(metrics.pcc([1, 2, 3], [2, 2, 2]))


def _alpha_by_pairs(matrix: np.ndarray) -> float:
    """Krippendorff's interval α from the coincidence definition, with explicit loops."""
    values, observed = [], 0.0
    for unit in matrix:
        present = unit[np.isfinite(unit)]
        if len(present) < 2:
            continue
        values.extend(present)
        pairs = [(a - b) ** 2 for i, a in enumerate(present) for j, b in enumerate(present) if i != j]
        observed += sum(pairs) / (len(present) - 1)
    values = np.array(values)
    n = len(values)
    expected = sum((a - b) ** 2 for a in values for b in values) / (n * (n - 1))
    return 1 - (observed / n) / expected


def test_krippendorff_alpha_matches_the_definition_with_missing_values() -> None:
    matrix = RNG.integers(1, 8, size=(30, 3)).astype(float)
    matrix[RNG.random(matrix.shape) < 0.2] = np.nan
    assert metrics.krippendorff_alpha(matrix) == pytest.approx(_alpha_by_pairs(matrix), abs=1e-12)


def test_krippendorff_alpha_extremes() -> None:
    perfect = np.column_stack([np.arange(1, 8.0)] * 2)
    assert metrics.krippendorff_alpha(perfect) == 1.0
    unrelated = np.column_stack([RNG.normal(size=5000), RNG.normal(size=5000)])
    assert abs(metrics.krippendorff_alpha(unrelated)) < 0.05
    # A constant shift lowers α (absolute agreement) but not Pearson r.
    shifted = np.column_stack([np.arange(1, 8.0), np.arange(1, 8.0) + 2])
    assert metrics.krippendorff_alpha(shifted) < 0.8


def test_agreement_table_uses_each_pairs_common_essays() -> None:
    table = pd.DataFrame(
        {
            "crowd": [1.0, 2.0, 3.0, 4.0, 5.0],
            "gpt4o": [1.0, 2.0, np.nan, 4.0, 5.0],
            "llama3_70b": [2.0, 2.0, 3.0, 5.0, 5.0],
            "essay_id": list("abcde"),
        }
    )
    out = metrics.pairwise_agreement(table)
    assert out[["a", "b"]].values.tolist() == [
        ["crowd", "gpt4o"],
        ["crowd", "llama3_70b"],
        ["gpt4o", "llama3_70b"],
    ]
    assert out["n"].tolist() == [4, 5, 4]
    assert out.loc[0, "alpha"] == 1.0
    both = table[["gpt4o", "llama3_70b"]].dropna()
    assert out.loc[2, "pearson"] == pytest.approx(stats.pearsonr(both["gpt4o"], both["llama3_70b"])[0])


def test_agreement_names_missing_columns() -> None:
    with pytest.raises(ValueError, match="missing \\['nope'\\]"):
        metrics.pairwise_agreement(pd.DataFrame({"crowd": [1.0, 2.0]}), ["crowd", "nope"])


def test_group_scores_per_group_and_min_size() -> None:
    frame = pd.DataFrame(
        {"race": ["a"] * 3 + ["b"] * 3 + ["c"], "y": [1, 2, 3, 1, 2, 3, 4], "yhat": [1, 2, 3, 3, 2, 1, 4.0]}
    )
    out = metrics.scores_by_group(frame, "race", min_size=2)
    assert out["race"].tolist() == ["a", "b"]
    assert out["ccc"].tolist() == pytest.approx([1.0, -1.0])


def test_paired_ttest_matches_scipy() -> None:
    x, y = RNG.normal(size=20), RNG.normal(size=20)
    T, dof, p, d, _ = metrics.paired_ttest(x, y)
    reference = stats.ttest_rel(x, y)
    assert (T, p, dof) == pytest.approx((reference.statistic, reference.pvalue, 19))
