"""Tests of the empathy-gap statistics (synthetic data only, no model)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from empathylab import gaps
from empathylab.cli import main
from empathylab.errors import EmpathylabError
from empathylab.gaps import design
from empathylab.gaps.rows import COLUMNS
from empathylab.llm.store import ChunkStore

P = design.BASELINE


def _matrix(values, ids):
    return pd.DataFrame(np.asarray(values, dtype=float), index=ids, columns=ids)


def _rows(cells: dict[tuple[str, str], list[float]], grouping: str = "religion") -> pd.DataFrame:
    """Result rows from {(perceiver, experiencer): [intensity per item]}."""
    records = []
    for (perceiver, experiencer), values in cells.items():
        for item, value in enumerate(values):
            records.append(
                {
                    "model": "m",
                    "readout": "generate",
                    "grouping": grouping,
                    "variation": "origin",
                    "perceiver": perceiver,
                    "experiencer": experiencer,
                    "emotion": "joy",
                    "item_id": item,
                    "intensity": value,
                    "status": "ok" if np.isfinite(value) else "refusal",
                    "p_valid": np.nan,
                }
            )
    return pd.DataFrame(records)


# ----------------------------------------------------------------------- masks and δ


def test_delta_of_a_hand_computed_religion_matrix():
    ids = [P, "a Christian", "a Muslim", "a Jew"]
    m = _matrix(
        [[50, 60, 70, 80], [10, 9, 2, 4], [20, 3, 7, 1], [30, 5, 0, 8]],
        ids,
    )
    # in-group: 9, 7, 8 -> mean 8; out-group: 2, 4, 3, 1, 5, 0 -> mean 2.5; δ = 5.5
    assert gaps.delta(m, "religion") == pytest.approx(5.5)
    # the baseline row and column do not enter δ
    m2 = m.copy()
    m2.iloc[0, :] = [-1000, 999, -5, 3]
    m2.iloc[:, 0] = [7, 1e6, -1e6, 42]
    assert gaps.delta(m2, "religion") == pytest.approx(5.5)


def test_ethnicity_in_group_follows_race():
    ids = [P, "a white person", "a Caucasian", "a Black person", "an Asian"]
    mask = gaps.in_group(ids, "ethnicity").astype(int)
    expected = np.array([[0, 0, 0, 0, 0], [0, 1, 1, 0, 0], [0, 1, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1]])
    np.testing.assert_array_equal(mask, expected)
    out = gaps.out_group(ids, "ethnicity")
    assert not out[0].any() and not out[:, 0].any()  # baseline: neither in nor out
    assert out.sum() == 16 - 6  # 4x4 non-baseline cells minus 6 in-group cells
    values = np.arange(25, dtype=float).reshape(5, 5)
    # in-group cells: (1,1)=6 (1,2)=7 (2,1)=11 (2,2)=12 (3,3)=18 (4,4)=24 -> mean 13
    # out-group: 8 9 13 14 16 17 19 21 22 23 -> mean 16.2; δ = -3.2
    assert gaps.delta(_matrix(values, ids), "ethnicity") == pytest.approx(13 - 16.2)


def test_religion_and_nationality_in_group_is_the_diagonal():
    ids = design.identities("nationality")
    mask = gaps.in_group(ids, "nationality")
    expected = np.eye(22, dtype=bool)
    expected[0, 0] = False
    np.testing.assert_array_equal(mask, expected)


def test_mask_and_delta_errors():
    with pytest.raises(EmpathylabError, match="valid groupings"):
        gaps.in_group([P, "a Jew"], "caste")
    with pytest.raises(EmpathylabError, match="Unknown religion identity 'a Jedi'"):
        gaps.in_group([P, "a Jedi"], "religion")
    ids = [P, "a white person", "a Caucasian"]  # one race only: no out-group cell
    with pytest.raises(EmpathylabError, match="0 out-group"):
        gaps.delta(_matrix(np.eye(3), ids), "ethnicity")
    with pytest.raises(EmpathylabError, match="same identities"):
        gaps.delta(
            pd.DataFrame(np.eye(2), index=["a Jew", "a Hindu"], columns=["a Hindu", "a Jew"]), "religion"
        )


# ----------------------------------------------------------------------- matrix, exclusion


def test_emotion_matrix_means_and_population_z():
    ids = [P, "a Jew", "a Hindu"]
    cells = {(a, b): [10.0 * k + j, 10.0 * k + j + 2] for k, a in enumerate(ids) for j, b in enumerate(ids)}
    rows = _rows(cells)
    raw = gaps.emotion_matrix(rows, z=False)
    assert list(raw.index) == ids and list(raw.columns) == ids
    expected = np.array([[10.0 * k + j + 1 for j in range(3)] for k in range(3)])
    np.testing.assert_allclose(raw.to_numpy(), expected)
    z = gaps.emotion_matrix(rows).to_numpy()
    np.testing.assert_allclose(z, (expected - expected.mean()) / np.std(expected, ddof=0))
    assert not np.allclose(z, (expected - expected.mean()) / np.std(expected, ddof=1))


def test_rows_follow_design_order_whatever_the_input_order():
    rows = gaps.simulate_results("religion", n_items=3, seed=2).sample(frac=1, random_state=0)
    m = gaps.emotion_matrix(rows)
    assert list(m.index) == design.identities("religion") == list(m.columns)


def test_constant_matrix_z_normalises_to_zeros():
    rows = gaps.simulate_results("religion", n_items=3, seed=0).assign(intensity=50.0)
    assert (gaps.emotion_matrix(rows).to_numpy() == 0).all()
    res = gaps.permutation_test(gaps.emotion_matrix(rows), "religion", 100)
    assert res["delta"] == 0 and res["p_perm"] == 1.0 and not res["significant"]


def test_exclusion_drops_a_narrative_missing_in_one_pair_from_every_cell():
    rows = gaps.simulate_results("religion", n_items=8, seed=3)
    one_pair = (rows.perceiver == "a Muslim") & (rows.experiencer == P)
    rows.loc[one_pair & (rows.item_id == 2), "intensity"] = np.nan  # a refusal
    rows = rows[~(one_pair & (rows.item_id == 5))]  # a pair that lacks the row entirely
    kept, report = gaps.exclude_incomplete(rows)
    assert report == {"n_items": 8, "n_kept": 6, "n_excluded": 2, "excluded_share": 0.25}
    assert set(kept.item_id) == {0, 1, 3, 4, 6, 7}
    assert len(kept) == 6 * 36  # every cell keeps the same six narratives
    raw = gaps.emotion_matrix(rows, z=False)
    full = rows[rows.item_id.isin([0, 1, 3, 4, 6, 7])]
    expected = full.groupby(["perceiver", "experiencer"])["intensity"].mean()
    assert raw.loc["a Jew", "a Hindu"] == pytest.approx(expected["a Jew", "a Hindu"])
    # without the baseline only the other pairs decide: nothing is excluded
    _, report = gaps.exclude_incomplete(rows, baseline=False)
    assert report["n_excluded"] == 0
    no_base = gaps.emotion_matrix(rows, baseline=False)
    assert P not in no_base.index and no_base.to_numpy().std() == pytest.approx(1.0)


def test_no_complete_narrative_is_a_clear_error():
    rows = gaps.simulate_results("religion", n_items=2, seed=0)
    pair = (rows.perceiver == "a Jew") & (rows.experiencer == "a Hindu")
    refused = rows.assign(intensity=rows.intensity.mask(pair), status=rows.status.mask(pair, "refusal"))
    _, report = gaps.exclude_incomplete(refused)
    assert report["excluded_share"] == 1.0
    with pytest.raises(EmpathylabError, match="no narrative has an answer in every.*refusal"):
        gaps.emotion_matrix(refused)
    # the same pair never stored (an unfinished run) is not blamed on refusals
    with pytest.raises(EmpathylabError, match=r"the run is unfinished .*2 of 2 narratives lack"):
        gaps.emotion_matrix(rows[~pair])


def test_run_validation_messages():
    rows = gaps.simulate_results("religion", n_items=2, seed=0)
    with pytest.raises(EmpathylabError, match="needs column.* intensity"):
        gaps.emotion_matrix(rows.drop(columns="intensity"))
    with pytest.raises(EmpathylabError, match="selection is empty"):
        gaps.emotion_matrix(rows.iloc[:0])
    both = pd.concat([rows, gaps.simulate_results("ethnicity", n_items=2)])
    with pytest.raises(EmpathylabError, match="2 values of grouping"):
        gaps.emotion_matrix(both)
    single = rows[rows.perceiver.isin([P, "a Jew"]) & rows.experiencer.isin([P, "a Jew"])]
    with pytest.raises(EmpathylabError, match="1 identity besides 'a person'"):
        gaps.emotion_matrix(single)
    with pytest.raises(EmpathylabError, match="valid groupings"):
        gaps.emotion_matrix(rows.assign(grouping="caste"))
    with pytest.raises(EmpathylabError, match="Unknown religion identity 'a Jedi'"):
        gaps.emotion_matrix(rows.replace({"perceiver": {"a Jew": "a Jedi"}}))
    with pytest.raises(EmpathylabError, match="appear more than once"):
        gaps.emotion_matrix(pd.concat([rows, rows.iloc[:3]]))


def test_answer_stats_shares():
    rows = gaps.simulate_results("religion", n_items=2, seed=0)  # 72 rows
    rows.loc[:17, "status"] = "refusal"
    rows.loc[18:26, "status"] = "invalid"
    rows["p_valid"] = 0.5
    st = gaps.answer_stats(pd.concat([rows, rows.assign(variation="10-scale")]))
    assert st.variation.tolist() == ["origin", "10-scale"]  # design order
    first = st.iloc[0]
    assert first.n == 72
    assert (first.share_ok, first.share_refusal, first.share_invalid) == pytest.approx(
        (45 / 72, 18 / 72, 9 / 72)
    )
    assert first.mean_p_valid == pytest.approx(0.5)


# ----------------------------------------------------------------------- permutation test


def test_permutation_p_values_are_uniform_without_structure():
    rng = np.random.default_rng(123)
    ids = design.identities("religion")
    n_matrices, n_perm = 300, 199
    p = np.array(
        [
            gaps.permutation_test(
                _matrix(rng.normal(size=(6, 6)), ids), "religion", n_perm, seed=k, exact=False
            )["p_perm"]
            for k in range(n_matrices)
        ]
    )
    # P(p <= 0.05) is 0.05 (10/200 exactly); 3.5 binomial standard deviations either side
    sd = np.sqrt(0.05 * 0.95 / n_matrices)
    assert abs((p <= 0.05).mean() - 0.05) < 3.5 * sd
    assert abs((p <= 0.5).mean() - 0.5) < 3.5 * np.sqrt(0.25 / n_matrices)
    assert stats.kstest(p, "uniform").pvalue > 0.001


def test_strong_diagonal_is_significant():
    rng = np.random.default_rng(0)
    ids = design.identities("nationality")
    values = rng.normal(size=(22, 22)) + 3 * np.eye(22)
    res = gaps.permutation_test(_matrix(values, ids), "nationality", 2000, seed=1)
    assert res["p_perm"] < 0.01 and res["significant"]
    assert res["p_perm"] == pytest.approx(1 / 2001)  # the +1 correction, no permuted δ as large
    assert res["ci_low"] < 0 < res["ci_high"] < res["delta"]


def test_permutation_p_value_formula_and_seed():
    rng = np.random.default_rng(5)
    ids = design.identities("religion")
    m = _matrix(rng.normal(size=(6, 6)), ids)
    a = gaps.permutation_test(m, "religion", 500, seed=3, exact=False)
    assert a == gaps.permutation_test(m, "religion", 500, seed=3, exact=False)
    assert a != gaps.permutation_test(m, "religion", 500, seed=4, exact=False)
    assert not a["exact"] and a["n_permutations"] == 500
    count = a["p_perm"] * 501 - 1  # (1 + #extreme) / (n + 1)
    assert count == pytest.approx(round(count)) and 0 <= round(count) <= 500
    assert a["significant"] == (a["delta"] < a["ci_low"] or a["delta"] > a["ci_high"])
    with pytest.raises(EmpathylabError, match="at least 1"):
        gaps.permutation_test(m, "religion", 0)


def test_permutation_ignores_the_baseline():
    rng = np.random.default_rng(9)
    ids = design.identities("religion")
    values = rng.normal(size=(6, 6))
    a = gaps.permutation_test(_matrix(values, ids), "religion", 300, seed=0)
    values[0, :] = 1e6  # a wild baseline row would dominate permuted δs if it were permuted
    values[:, 0] = -1e6
    b = gaps.permutation_test(_matrix(values, ids), "religion", 300, seed=0)
    assert a == pytest.approx(b)


def test_exact_enumeration_equals_brute_force_over_row_and_column_orders():
    """Four religions: every (row order, column order) pair, 24 x 24, gives the m! = 24 values 24 times."""
    import itertools

    ids = [P, "a Christian", "a Muslim", "a Jew", "a Hindu"]
    rng = np.random.default_rng(11)
    values = rng.normal(size=(5, 5)) + 0.8 * np.eye(5)
    res = gaps.permutation_test(_matrix(values, ids), "religion")
    assert res["exact"] and res["n_permutations"] == 24
    sub = values[1:, 1:]
    brute = []
    for rows in itertools.permutations(range(4)):
        for cols in itertools.permutations(range(4)):
            shuffled = sub[np.ix_(rows, cols)]
            brute.append(np.diag(shuffled).mean() - shuffled[~np.eye(4, dtype=bool)].mean())
    brute = np.sort(brute)
    distinct = brute[::24]  # each relative arrangement comes back 24 times
    np.testing.assert_allclose(np.repeat(distinct, 24), brute, atol=1e-12)
    observed = res["delta"]
    assert res["p_perm"] == pytest.approx((np.abs(brute) >= abs(observed) - 1e-12).mean())
    assert (res["ci_low"], res["ci_high"]) == pytest.approx(tuple(np.percentile(distinct, [2.5, 97.5])))
    assert res["p_floor"] == pytest.approx(1 / 24) and res["n_groups"] == 4


def test_sampled_permutations_converge_to_the_exact_null():
    ids = design.identities("religion")
    m = _matrix(np.random.default_rng(4).normal(size=(6, 6)) + 0.6 * np.eye(6), ids)
    exact = gaps.permutation_test(m, "religion")
    drawn = gaps.permutation_test(m, "religion", 200_000, seed=1, exact=False)
    assert exact["exact"] and exact["n_permutations"] == 120 and not drawn["exact"]
    assert drawn["ci_low"] == pytest.approx(exact["ci_low"], abs=0.02)
    assert drawn["ci_high"] == pytest.approx(exact["ci_high"], abs=0.02)
    assert drawn["p_perm"] == pytest.approx(exact["p_perm"], abs=0.003)
    # the exact p counts the observed arrangement among the 120: a multiple of 1/120
    assert exact["p_perm"] * 120 == pytest.approx(round(exact["p_perm"] * 120))


def test_exact_only_where_the_space_allows_it():
    eth = [P, "a White person", "a Caucasian", "a Black person", "an African American"]
    m = _matrix(np.random.default_rng(0).normal(size=(5, 5)), eth)
    res = gaps.permutation_test(m, "ethnicity", 300)  # race blocks: sampled
    assert not res["exact"] and res["n_permutations"] == 300 and res["n_groups"] == 2
    with pytest.raises(EmpathylabError, match="in blocks of several"):
        gaps.permutation_test(m, "ethnicity", exact=True)
    nat = design.identities("nationality")
    big = _matrix(np.random.default_rng(0).normal(size=(22, 22)), nat)
    with pytest.raises(EmpathylabError, match="21 identities"):
        gaps.permutation_test(big, "nationality", exact=True)
    assert not gaps.permutation_test(big, "nationality", 100)["exact"]


def test_permutation_verdict_follows_the_sign_and_the_floor():
    ids = design.identities("religion")
    noise = np.random.default_rng(2).normal(scale=0.1, size=(6, 6))
    lower = gaps.permutation_test(_matrix(noise - 2 * np.eye(6), ids), "religion")
    assert lower["verdict"] == "in-group lower" and lower["significant"] and lower["delta"] < 0
    assert lower["p_perm"] == pytest.approx(1 / 120) == lower["p_floor"]
    higher = gaps.permutation_test(_matrix(noise + 2 * np.eye(6), ids), "religion")
    assert higher["verdict"] == "in-group higher"
    assert gaps.permutation_test(_matrix(noise, ids), "religion")["verdict"] == "not significant"
    # three religions: 3! = 6 arrangements, no p below 1/6, so no verdict
    three = [P, "a Christian", "a Muslim", "a Jew"]
    small = gaps.permutation_test(_matrix(noise[:4, :4] + 5 * np.eye(4), three), "religion")
    assert small["n_permutations"] == 6 and small["p_floor"] == pytest.approx(1 / 6)
    assert small["verdict"] == (
        "undetermined: the permutation test cannot reach significance with 3 groups (smallest p 1/6)"
    )
    assert not small["significant"]


def test_ten_thousand_permutations_of_a_22_by_22_matrix():
    """Timing lives in bench/gaps_statistics.py; here: shape of the result and the interval."""
    ids = design.identities("nationality")
    m = _matrix(np.random.default_rng(0).normal(size=(22, 22)), ids)
    out = gaps.permutation_test(m, "nationality", 10_000)
    assert out["n_permutations"] == 10_000 and out["ci_low"] < 0 < out["ci_high"]


# ----------------------------------------------------------------------- heatmap cell tests


def test_cell_tests_match_scipy_and_the_bonferroni_mask():
    rows = gaps.simulate_results("religion", n_items=15, effect=3.5, item_sd=5.0, noise_sd=3.0, seed=3)
    tests = gaps.cell_tests(rows)
    assert len(tests) == 5 * 4  # off-diagonal, baseline left out
    assert P not in set(tests.perceiver) | set(tests.experiencer)
    threshold = 0.05 / 6**2
    assert (tests.threshold == threshold).all()
    np.testing.assert_array_equal(
        tests.shown, (tests.p_perceiver < threshold) & (tests.p_experiencer < threshold)
    )
    # some cells pass 0.05 but not the Bonferroni threshold: the mask must not show them
    between = (tests[["p_perceiver", "p_experiencer"]].max(axis=1) < 0.05) & ~tests.shown
    assert between.any()
    assert tests.shown.any()
    wide = rows.pivot_table(index="item_id", columns=["perceiver", "experiencer"], values="intensity")
    for row in tests.itertuples():
        cell = wide[row.perceiver, row.experiencer]
        ref_p = stats.ttest_rel(wide[row.perceiver, row.perceiver], cell)
        ref_e = stats.ttest_rel(wide[row.experiencer, row.experiencer], cell)
        assert row.T_perceiver == pytest.approx(ref_p.statistic)
        assert row.p_perceiver == pytest.approx(ref_p.pvalue)
        assert row.T_experiencer == pytest.approx(ref_e.statistic)
        assert row.p_experiencer == pytest.approx(ref_e.pvalue)
        assert np.sign(row.cohen_d_perceiver) == np.sign(row.T_perceiver)
        assert abs(row.hedges_perceiver) < abs(row.cohen_d_perceiver)  # small-sample correction


# ----------------------------------------------------------------------- δ the authors' way


def _hand_table():
    """Three identities (baseline, two religions), three narratives, one refusal.

    The refusal sits in a baseline cell (a person -> a Muslim, narrative 2): the heatmap
    matrix drops narrative 2 everywhere, the δ matrix keeps it.
    """
    ids = ["a person", "a Christian", "a Muslim"]
    value = {  # (perceiver, experiencer) -> intensities of narratives 0, 1, 2
        (0, 0): [50, 60, 70],
        (0, 1): [40, 50, 60],
        (0, 2): [30, 40, None],
        (1, 0): [45, 55, 65],
        (1, 1): [80, 70, 90],
        (1, 2): [20, 30, 10],
        (2, 0): [35, 45, 55],
        (2, 1): [30, 40, 20],
        (2, 2): [60, 90, 30],
    }
    rows = [
        {
            "model": "m",
            "readout": "generate",
            "grouping": "religion",
            "variation": "origin",
            "perceiver": ids[i],
            "experiencer": ids[j],
            "item_id": k,
            "intensity": float("nan") if v is None else float(v),
            "status": "refusal" if v is None else "ok",
        }
        for (i, j), values in value.items()
        for k, v in enumerate(values)
    ]
    return pd.DataFrame(rows), value


def _independent_delta(value, cells_in, cells_out, items):
    """δ by hand: cell means over ``items``, population z over the listed cells."""
    means = {c: sum(value[c][k] for k in items) / len(items) for c in cells_in + cells_out}
    mu = sum(means.values()) / len(means)
    sd = (sum((m - mu) ** 2 for m in means.values()) / len(means)) ** 0.5
    z = {c: (m - mu) / sd for c, m in means.items()}
    return sum(z[c] for c in cells_in) / len(cells_in) - sum(z[c] for c in cells_out) / len(cells_out)


def test_delta_is_computed_on_the_matrix_without_the_baseline():
    rows, value = _hand_table()
    # the authors: baseline dropped, nothing missing among the other cells, all 3 narratives
    expected = _independent_delta(value, [(1, 1), (2, 2)], [(1, 2), (2, 1)], [0, 1, 2])
    # hand check of that number: means 80, 20, 30, 60 -> mean 47.5, sd 24.62...
    assert expected == pytest.approx((70 - 25) / np.std([80, 20, 30, 60]))
    assert gaps.delta(gaps.delta_matrix(rows), "religion") == pytest.approx(expected, abs=1e-9)
    [run] = gaps.analyze(rows, n_permutations=200, n_boot=50, mixed=True)
    assert run["delta"] == pytest.approx(expected, abs=1e-9)
    assert run["mixed_coef"] == pytest.approx(expected, abs=1e-6)
    assert run["delta_n_items"] == 3 and run["delta_excluded_share"] == 0
    # the heatmap matrix keeps the baseline: narrative 2 is excluded there
    assert run["n_items"] == 3 and run["n_excluded"] == 1
    heat = np.array(run["matrix"])
    kept_means = [55, 45, 35, 50, 75, 25, 40, 35, 75]  # narratives 0 and 1, row by row
    assert heat.shape == (3, 3)
    assert heat[1, 1] == pytest.approx((75 - np.mean(kept_means)) / np.std(kept_means))
    # the old computation (baseline in the exclusion and the normalisation) differs
    old = gaps.delta(gaps.emotion_matrix(rows), "religion")
    assert abs(old - expected) > 0.1


def test_rounding_cell_means_as_the_authors_moves_delta_little():
    rows = gaps.simulate_results("religion", n_items=20, effect=2.0, seed=3)
    exact = gaps.delta(gaps.delta_matrix(rows), "religion")
    rounded_matrix = gaps.delta_matrix(rows, z=False, round_means=2).to_numpy()
    means = gaps.delta_matrix(rows, z=False).to_numpy()
    np.testing.assert_array_equal(rounded_matrix, [[round(float(v), 2) for v in row] for row in means])
    rounded = gaps.delta(gaps.delta_matrix(rows, round_means=2), "religion")
    assert rounded != exact and rounded == pytest.approx(exact, abs=1e-3)


def _tie_rows():
    """40 narratives of integer intensities; one cell's mean is 107/40 = 2.675 (a float just below)."""
    ids = [P, "a Christian", "a Muslim"]
    cells = {(a, b): [5.0] * 40 for a in ids for b in ids}
    cells["a Christian", "a Christian"] = [6.0] * 40
    cells["a Christian", "a Muslim"] = [3.0] * 27 + [2.0] * 13
    cells["a Muslim", "a Christian"] = [1.0] * 40
    cells["a Muslim", "a Muslim"] = [4.0] * 40
    return _rows(cells)


def test_rounding_is_pythons_round_not_numpys():
    """The authors round sum(list) / len(list) with Python's round(): 2.675 -> 2.67 (np.round: 2.68)."""
    rows = _tie_rows()
    mean = gaps.delta_matrix(rows, z=False).loc["a Christian", "a Muslim"]
    assert mean == sum([3] * 27 + [2] * 13) / 40 == 2.675  # their mean, the same float
    # the two rules differ here (round() of a numpy float is numpy's rule: their mean is a Python float)
    assert round(float(mean), 2) == 2.67 and np.round(mean, 2) == round(mean, 2) == 2.68
    assert gaps.delta_matrix(rows, z=False, round_means=2).loc["a Christian", "a Muslim"] == 2.67
    theirs = np.array([[6.0, 2.67], [1.0, 4.0]])  # the authors' rounded δ matrix, by hand
    z = (theirs - theirs.mean()) / theirs.std()
    expected = np.diag(z).mean() - (z[0, 1] + z[1, 0]) / 2
    [run] = gaps.analyze(rows, n_boot=0, round_means=2)
    assert run["delta"] == pytest.approx(expected, abs=1e-12)
    numpy_way = np.array([[6.0, 2.68], [1.0, 4.0]])
    zn = (numpy_way - numpy_way.mean()) / numpy_way.std()
    assert abs(run["delta"] - (np.diag(zn).mean() - (zn[0, 1] + zn[1, 0]) / 2)) > 1e-4
    [plain] = gaps.analyze(rows, n_boot=0)
    assert plain["delta"] != run["delta"]


# ----------------------------------------------------------------------- beyond the paper


def test_mixed_model_and_bootstrap_recover_a_planted_effect():
    rows = gaps.simulate_results("religion", n_items=30, effect=3.0, item_sd=10.0, noise_sd=2.0, seed=4)
    raw_sd = gaps.delta_matrix(rows, z=False).to_numpy().std()
    d = gaps.delta(gaps.delta_matrix(rows), "religion")
    fit = gaps.mixed_model(rows)
    assert fit["converged"] and fit["n_obs"] == 30 * 25 and fit["n_items"] == 30
    assert fit["coef"] == pytest.approx(d)  # balanced design: the fixed effect is δ
    assert fit["ci_low"] * raw_sd < 3.0 < fit["ci_high"] * raw_sd  # the planted +3
    assert fit["ci_low"] > 0 and fit["p"] < 1e-6
    assert 5 < fit["item_sd"] * raw_sd < 20  # item effects ~ N(0, 10)
    boot = gaps.bootstrap_delta(rows, n_boot=500, seed=0)
    assert boot["delta"] == pytest.approx(d)
    assert 0 < boot["ci_low"] < d < boot["ci_high"]
    assert boot["ci_low"] * raw_sd < 3.0 < boot["ci_high"] * raw_sd


def test_mixed_model_and_bootstrap_cover_zero_without_an_effect():
    rows = gaps.simulate_results("nationality", n_items=20, effect=0.0, seed=8)
    fit = gaps.mixed_model(rows)
    boot = gaps.bootstrap_delta(rows, n_boot=400, seed=1)
    assert fit["ci_low"] < 0 < fit["ci_high"]
    assert boot["ci_low"] < 0 < boot["ci_high"]
    assert abs(fit["coef"]) < 0.5 and fit["ci_high"] - fit["ci_low"] < 1.5


def test_renormalising_the_bootstrap_shrinks_towards_zero():
    rows = gaps.simulate_results("religion", n_items=600, effect=1.0, item_sd=10.0, noise_sd=5.0, seed=0)
    fixed = gaps.bootstrap_delta(rows, n_boot=1000)
    renorm = gaps.bootstrap_delta(rows, n_boot=1000, renormalise=True)
    assert fixed["ci_low"] < fixed["delta"] < fixed["ci_high"]
    assert renorm["boot_mean"] < fixed["boot_mean"]


def test_delta_by_emotion_finds_the_emotion_with_the_gap():
    rows = gaps.simulate_results("religion", n_items=48, effect=0.0, item_sd=5.0, noise_sd=1.0, seed=6)
    inside = gaps.in_group(design.identities("religion"), "religion")
    pos = {label: k for k, label in enumerate(design.identities("religion"))}
    same = np.array([inside[pos[a], pos[b]] for a, b in zip(rows.perceiver, rows.experiencer)])
    planted = (rows.emotion == "joy").to_numpy() & same
    rows.loc[planted, "intensity"] += 5.0
    by = gaps.delta_by_emotion(rows, n_permutations=500).set_index("emotion")
    assert len(by) == 12 and (by.n_items == 4).all()
    assert by.loc["joy", "delta_raw"] == pytest.approx(5.0, abs=1.5)
    assert by.loc["joy", "significant"] and by.loc["joy", "p_perm"] < 0.01
    assert by.drop(index="joy").delta_raw.abs().max() < 1.5


def test_pair_gaps_average_to_delta_and_locate_the_pair():
    ids = design.identities("religion")
    rows = gaps.simulate_results("religion", n_items=10, effect=0.0, noise_sd=0.5, seed=1)
    low = (rows.perceiver == "a Jew") & (rows.experiencer == "a Hindu")
    rows.loc[low, "intensity"] -= 10.0
    pairs = gaps.pair_gaps(rows)
    assert len(pairs) == 20 and set(pairs.columns) >= {"perceiver", "experiencer", "gap"}
    d = gaps.delta(gaps.delta_matrix(rows), "religion")
    assert pairs.gap.mean() == pytest.approx(d)
    top = pairs.sort_values("gap").iloc[-1]
    assert (top.perceiver, top.experiencer) == ("a Jew", "a Hindu")
    assert ids[0] not in set(pairs.perceiver)


def test_analyze_returns_one_entry_per_run():
    rows = pd.concat(
        [
            gaps.simulate_results("religion", n_items=6, effect=4.0, seed=0),
            gaps.simulate_results("religion", n_items=6, effect=4.0, seed=1, variation="10-scale"),
            gaps.simulate_results("ethnicity", n_items=3, effect=4.0, seed=2),
        ]
    )
    runs = gaps.analyze(rows, n_permutations=300, n_boot=100)
    assert [(r["grouping"], r["variation"]) for r in runs] == [
        ("religion", "origin"),
        ("religion", "10-scale"),
        ("ethnicity", "origin"),
    ]
    for r in runs:
        n = len(design.identities(r["grouping"]))
        assert len(r["matrix"]) == n and len(r["matrix"][0]) == n and r["identities"][0] == P
        assert r["delta_raw"] / r["raw_sd"] == pytest.approx(r["delta"])  # δ in scale points over the sd
        assert np.isnan(r["mixed_coef"])  # the mixed model only when asked for
        assert len(r["mask"]) == n and all(isinstance(x, bool) for row in r["mask"] for x in row)
        assert r["delta"] > 0 and r["significant"]
        json.dumps(gaps.jsonable(r), allow_nan=False)


def test_analyze_carries_the_mask_the_narrative_interval_and_the_rating_sd():
    rows = gaps.simulate_results("religion", n_items=15, effect=3.0, gap_sd=2.0, missing=0.005, seed=4)
    [run] = gaps.analyze(rows, n_boot=400)
    _, shown = gaps.heatmap_data(rows, "religion")
    assert run["mask"] == shown.to_numpy().tolist()  # the heatmap's Bonferroni mask, cell for cell
    story = gaps.narrative_delta(rows)
    assert run["narrative_ci_low"] == pytest.approx(story["ci_low"])
    assert run["narrative_ci_high"] == pytest.approx(story["ci_high"])
    assert run["narrative_verdict"] == story["verdict"] and run["delta_raw"] == pytest.approx(
        story["delta_raw"]
    )
    # rating_sd: the individual intensities of the δ matrix's kept cells (baseline out, complete narratives)
    kept = rows[(rows.perceiver != P) & (rows.experiencer != P)]
    complete = kept.groupby("item_id")["intensity"].apply(lambda x: x.notna().all())
    ratings = kept[kept.item_id.isin(complete[complete].index)]["intensity"]
    assert run["rating_sd"] == pytest.approx(ratings.std(ddof=1))
    # the bootstrap-t interval is centred on δ
    assert (run["bootstrap_ci_low"] + run["bootstrap_ci_high"]) / 2 == pytest.approx(run["delta"])
    assert run["perm_exact"] and run["n_permutations"] == 120 and run["p_floor"] == pytest.approx(1 / 120)
    assert run["delta_balanced"] != run["delta_balanced"] and run["balanced_verdict"] is None  # NaN: religion
    [drawn] = gaps.analyze(rows, n_permutations=300, n_boot=0, exact=False)
    assert not drawn["perm_exact"] and drawn["n_permutations"] == 300 and np.isnan(drawn["bootstrap_ci_low"])


def test_analyze_gives_ethnicity_the_race_balanced_delta():
    ids = [P, "a white person", "a White person", "a Caucasian", "a Black person", "an Asian"]
    rows = gaps.simulate_results(
        "ethnicity", n_items=12, identities=ids, experiencer_effects={"a Black person": 8.0}, seed=5
    )
    [run] = gaps.analyze(rows, n_boot=0)
    balanced = gaps.narrative_delta(rows, balanced=True)
    assert run["delta_balanced"] == pytest.approx(balanced["delta"])
    assert (run["balanced_ci_low"], run["balanced_ci_high"]) == pytest.approx(
        (balanced["ci_low"], balanced["ci_high"])
    )
    assert run["balanced_verdict"] == balanced["verdict"]
    assert not run["perm_exact"] and run["n_groups"] == 3


# ----------------------------------------------------------------------- command line


def _store(root, rows):
    for (model, readout, variation, grouping), part in rows.groupby(
        ["model", "readout", "variation", "grouping"]
    ):
        folder = root / model / readout / variation / grouping
        ChunkStore(folder, {"test": True}, columns=COLUMNS).write(0, part.reset_index(drop=True), {})


EXPECTED_KEYS = {
    "model",
    "readout",
    "grouping",
    "variation",
    "delta",
    "ci_low",
    "ci_high",
    "p_perm",
    "n_items",
    "excluded_share",
    "mixed_coef",
    "mixed_ci_low",
    "mixed_ci_high",
    "bootstrap_ci_low",
    "bootstrap_ci_high",
    "identities",
    "matrix",
    "mask",
    "significant",
    "p_floor",
    "perm_exact",
    "perm_verdict",
    "narrative_se",
    "narrative_ci_low",
    "narrative_ci_high",
    "narrative_p",
    "narrative_verdict",
    "delta_raw",
    "raw_ci_low",
    "raw_ci_high",
    "rating_sd",
    "delta_balanced",
    "balanced_ci_low",
    "balanced_ci_high",
    "balanced_verdict",
}


def test_cli_json_lines(tmp_path, capsys):
    rows = pd.concat(
        [
            gaps.simulate_results("religion", n_items=4, effect=3.0, missing=0.01, seed=0),
            gaps.simulate_results("nationality", n_items=2, effect=3.0, seed=1),
        ]
    )
    _store(tmp_path, rows)
    argv = ["gaps", "analyze", str(tmp_path), "--permutations", "200", "--bootstrap", "50", "--json"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    runs = [json.loads(line) for line in lines]
    for run in runs:
        assert EXPECTED_KEYS <= set(run)
    # five religions: all 120 arrangements enumerated; 21 countries: the 200 asked for, drawn
    assert [(r["n_permutations"], r["perm_exact"]) for r in runs] == [(120, True), (200, False)]
    assert [r["grouping"] for r in runs] == ["religion", "nationality"]
    assert main([*argv, "--grouping", "nationality"]) == 0
    assert [json.loads(x)["grouping"] for x in capsys.readouterr().out.splitlines()] == ["nationality"]
    assert (
        main(["gaps", "analyze", str(tmp_path), "--permutations", "100", "--bootstrap", "0", "--no-mixed"])
        == 0
    )
    table = capsys.readouterr().out
    assert "delta" in table and "religion" in table and "nationality" in table


def _one_line_error(capsys, argv, match):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("empathylab: error: ")
    assert match in lines[0]


def test_cli_bad_inputs(tmp_path, capsys):
    _one_line_error(capsys, ["gaps", "analyze", str(tmp_path / "nothing"), "--json"], "No stored results")
    good = tmp_path / "good"
    _store(good, gaps.simulate_results("religion", n_items=2, seed=0))
    _one_line_error(
        capsys, ["gaps", "analyze", str(good), "--grouping", "caste", "--json"], "Unknown grouping 'caste'"
    )
    _one_line_error(
        capsys,
        ["gaps", "analyze", str(good), "--variation", "persona-1", "--json"],
        "No results with variation persona-1",
    )
    single = tmp_path / "single"
    rows = gaps.simulate_results("religion", n_items=2, seed=0)
    _store(single, rows[rows.perceiver.isin([P, "a Jew"]) & rows.experiencer.isin([P, "a Jew"])])
    _one_line_error(capsys, ["gaps", "analyze", str(single), "--json"], "a gap needs at least two")
    broken = tmp_path / "broken" / "x"
    broken.mkdir(parents=True)
    rows.drop(columns=["intensity"]).to_parquet(broken / "chunk-00000000.parquet")
    _one_line_error(capsys, ["gaps", "analyze", str(tmp_path / "broken"), "--json"], "intensity")
    assert set(COLUMNS) - set(rows.columns) == set()


def test_analyze_can_report_a_run_without_a_complete_narrative_instead_of_failing():
    good = gaps.simulate_results("religion", n_items=6, effect=4.0, seed=0)
    bad = gaps.simulate_results("religion", n_items=6, seed=1, readout="distribution")
    bad.loc[bad.perceiver == "a Jew", "intensity"] = float("nan")
    rows = pd.concat([good, bad])
    with pytest.raises(EmpathylabError, match="no narrative has an answer"):
        gaps.analyze(rows, n_permutations=100, n_boot=0, mixed=False)
    runs = gaps.analyze(rows, n_permutations=100, n_boot=0, mixed=False, skip_incomplete=True)
    assert [r["readout"] for r in runs] == ["distribution", "generate"]
    assert np.isnan(runs[0]["delta"]) and "no narrative" in runs[0]["error"]
    assert np.isnan(runs[0]["narrative_ci_low"]) and np.isnan(runs[0]["rating_sd"]) and runs[0]["mask"] == []
    assert runs[0]["perm_verdict"].startswith("undetermined")
    assert runs[1]["delta"] > 0 and "error" not in runs[1]
    json.dumps(gaps.jsonable(runs[0]), allow_nan=False)


def test_cli_analyze_of_a_plain_parquet_table_gives_the_authors_delta(tmp_path, capsys):
    from empathylab.cli import main

    rows, value = _hand_table()
    expected = _independent_delta(value, [(1, 1), (2, 2)], [(1, 2), (2, 1)], [0, 1, 2])
    folder = tmp_path / "mine"
    folder.mkdir()
    documented = [
        "model",
        "readout",
        "grouping",
        "variation",
        "perceiver",
        "experiencer",
        "item_id",
        "intensity",
    ]
    rows[documented].to_parquet(folder / "answers.parquet")  # no prompt_id, no store layout
    assert main(["gaps", "analyze", str(folder), "--json", "--permutations", "200", "--bootstrap", "0"]) == 0
    [line] = capsys.readouterr().out.strip().splitlines()
    run = json.loads(line)
    assert abs(run["delta"] - expected) < 1e-6 and run["delta_n_items"] == 3 and run["n_excluded"] == 1
