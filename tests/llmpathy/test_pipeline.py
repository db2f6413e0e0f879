"""Part II: grouped splits, the α rule, the probe, the profile section and the commands."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from empathylab import cli, llmpathy
from empathylab.errors import ProfileError
from empathylab.llmpathy import fairness, newsemp, probe, splits, strategies
from empathylab.profiles import load_profile


@pytest.fixture(scope="module")
def public() -> pd.DataFrame:
    return newsemp.public_essays()


# ------------------------------------------------------------------ grouped splits


@pytest.mark.parametrize("seed", [0, 42, 1234])
def test_grouped_folds_never_split_a_writer(public: pd.DataFrame, seed: int) -> None:
    folds = splits.grouped_folds(public, 10, seed=seed)
    assert sorted(folds.unique()) == list(range(10))
    assert public.assign(fold=folds).groupby("writer_id")["fold"].nunique().max() == 1
    for _, train, test in splits.fold_indices(folds):
        assert not set(public["writer_id"].iloc[train]) & set(public["writer_id"].iloc[test])
    sizes = folds.value_counts()
    assert sizes.max() - sizes.min() <= public["writer_id"].value_counts().max()


def test_folds_depend_on_the_seed_only(public: pd.DataFrame) -> None:
    a = splits.grouped_folds(public, 10, seed=0)
    assert a.equals(splits.grouped_folds(public, 10, seed=0))
    assert not a.equals(splits.grouped_folds(public, 10, seed=1))


def test_holdout_split_keeps_writers_and_shares(public: pd.DataFrame) -> None:
    split = splits.holdout_split(public, valid=0.1, test=0.2, seed=0)
    assert public.assign(split=split).groupby("writer_id")["split"].nunique().max() == 1
    shares = split.value_counts(normalize=True)
    assert shares["test"] == pytest.approx(0.2, abs=0.01)
    assert shares["valid"] == pytest.approx(0.1, abs=0.01)


def test_split_errors_name_the_problem() -> None:
    frame = pd.DataFrame({"writer_id": ["a", "b", "c"]})
    with pytest.raises(ValueError, match="between 2 and the number of writers \\(3\\)"):
        splits.grouped_folds(frame, 4)
    with pytest.raises(ValueError, match="no column 'response_id'"):
        splits.grouped_folds(frame, 2, group="response_id")
    with pytest.raises(ValueError, match="summing below 1"):
        splits.holdout_split(frame, valid=0.5, test=0.5)


# ------------------------------------------------------------------ the α rule


@pytest.mark.parametrize(
    "crowd, llm, alpha, expected, replaced",
    [
        (1.0, 5.5, 4.5, 1.0, 0),  # difference exactly α: kept (strictly greater replaces)
        (1.0, 5.6, 4.5, 5.6, 1),
        (7.0, 2.4, 4.5, 2.4, 1),  # either direction
        (3.0, 3.0, 0.0, 3.0, 0),  # α = 0 replaces every label that differs, no others
        (3.0, 3.5, 0.0, 3.5, 1),
        (3.0, np.nan, 0.0, 3.0, 0),  # a missing LLM label never replaces
        (1.0, 7.0, 5.5, 7.0, 1),  # α = 5.5: only the extreme disagreements (6) are replaced
        (1.5, 7.0, 5.5, 1.5, 0),
    ],
)
def test_mitigate_edge_cases(crowd, llm, alpha, expected, replaced) -> None:
    labels, n = strategies.mitigate(pd.Series([crowd]), pd.Series([llm]), alpha)
    assert labels.iloc[0] == expected
    assert n == replaced


def test_alpha_grid_is_the_papers() -> None:
    assert strategies.ALPHAS == (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5)


def test_replacements_shrink_as_alpha_grows(public: pd.DataFrame) -> None:
    counts = [strategies.targets(public, "y'", alpha=a)[1] for a in strategies.ALPHAS]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] == int((public["crowd"] != public["gpt4o"]).sum() - public["gpt4o"].isna().sum())


def test_strategy_errors() -> None:
    frame = pd.DataFrame({"crowd": [1.0]})
    with pytest.raises(ValueError, match="unknown strategy 'z'; valid: y, y', y_llm"):
        strategies.targets(frame, "z")
    with pytest.raises(ValueError, match="needs column\\(s\\) gpt4o"):
        strategies.targets(frame, "y_llm")
    with pytest.raises(ValueError, match="needs alpha"):
        strategies.targets(frame.assign(gpt4o=2.0), "y'")
    with pytest.raises(ValueError, match=">= 0"):
        strategies.mitigate(frame["crowd"], frame["crowd"], -1)


# ------------------------------------------------------------------ the probe


def _synthetic(n: int = 200, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 40))
    signal = x[:, 0] + 0.5 * x[:, 1]
    frame = pd.DataFrame(
        {
            "writer_id": [str(i // 3) for i in range(n)],
            "crowd": 4 + signal + rng.normal(0, 3, n),  # noisy labels
            "gpt4o": 4 + signal,  # clean labels
        }
    )
    return frame, x


def test_cross_validate_shape_and_scoring_against_crowd() -> None:
    frame, x = _synthetic()
    cv = probe.cross_validate(frame, x, alphas=[0.0, 1.0, 5.5], k=5, seeds=[0, 1])
    assert len(cv) == 2 * 5 * (1 + 3 + 1)
    assert set(cv["n_test"].groupby([cv["strategy"], cv["alpha"], cv["seed"]], dropna=False).sum()) == {200}
    # α = 0 is y_llm; α above every difference is y.
    by = cv.set_index(["strategy", "alpha", "seed", "fold"])["pcc"]
    assert by.xs(("y'", 0.0), level=[0, 1]).values == pytest.approx(by.xs("y_llm", level=0).values)
    # Clean LLM labels beat noisy crowd labels here, even scored against the crowd.
    means = cv.groupby("strategy")["pcc"].mean()
    assert means["y_llm"] > means["y"]


def test_cross_validate_skips_missing_llm_labels() -> None:
    frame, x = _synthetic()
    frame.loc[:9, "gpt4o"] = np.nan
    cv = probe.cross_validate(frame, x, strategy_names=["y", "y_llm"], k=5)
    assert cv.groupby("strategy")["n_train"].sum().to_dict() == {"y": 800, "y_llm": 760}


def test_cross_validate_checks_feature_rows() -> None:
    frame, x = _synthetic()
    with pytest.raises(ValueError, match="199 feature rows for 200 essays"):
        probe.cross_validate(frame, x[:-1])


@pytest.mark.slow
def test_embed_is_cached_and_deterministic(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("EMPATHYLAB_CACHE_DIR", str(tmp_path))
    texts = ["I feel so sorry for the families.", "This is just news."]
    first = probe.embed(texts, device="cpu", progress=False)
    assert first.shape == (2, 384) and first.dtype == np.float32
    cached = list((tmp_path / "embeddings").glob("*.npy"))
    assert len(cached) == 1
    np.testing.assert_array_equal(probe.embed(texts, device="cpu", progress=False), first)
    assert not np.allclose(probe.embed(texts[::-1], device="cpu", progress=False), first)


# ------------------------------------------------------------------ study functions


def test_paired_tests_and_verdict() -> None:
    frame, x = _synthetic()
    cv = probe.cross_validate(frame, x, alphas=[4.5], k=5, seeds=[0, 1])
    tests = llmpathy.paired_tests(cv)
    assert set(tests["seed"]) == {"0", "1", "all"}
    pooled = tests[(tests["seed"] == "all") & (tests["strategy"] == "y_llm")].iloc[0]
    assert pooled["n"] == 10 and pooled["mean_diff"] > 0
    text = llmpathy.replacement_summary(llmpathy.cv_summary(cv), llmpathy.seed_tests(cv), 4.5)
    assert "y_llm gives a higher PCC than y" in text


def test_synthetic_demographics_are_per_writer_and_seeded(public: pd.DataFrame) -> None:
    a = fairness.synthetic_demographics(public, seed=3)
    assert a.groupby("writer_id")[list(fairness.SYNTHETIC_GROUPS)].nunique().max().max() == 1
    assert a["race"].equals(fairness.synthetic_demographics(public, seed=3)["race"])
    assert set(a["race"]) == set(fairness.SYNTHETIC_GROUPS["race"])


def test_fairness_table_per_attribute_and_strategy() -> None:
    frame = pd.DataFrame({"crowd": np.arange(40.0) % 7 + 1, "g": ["a", "b"] * 20, "h": ["x"] * 40})
    both = pd.concat(
        [
            frame.assign(prediction=frame["crowd"], strategy="y"),
            frame.assign(prediction=8 - frame["crowd"], strategy="y'"),
        ]
    )
    out = fairness.group_table(both, ["g", "h"])
    assert len(out) == 2 * 3
    assert out.loc[out["strategy"] == "y", "ccc"].tolist() == pytest.approx([1, 1, 1])
    assert (out.loc[out["strategy"] == "y'", "ccc"] < 0).all()


def test_essays_split_is_fixed_and_grouped() -> None:
    frame = llmpathy.essays("demo")
    assert frame.groupby("writer_id")["split"].nunique().max() == 1
    assert frame["split"].equals(llmpathy.essays("demo")["split"])


# ------------------------------------------------------------------ profile and commands


def test_profile_section_validation() -> None:
    cfg = load_profile("demo")
    assert cfg.llmpathy.training.alphas == list(strategies.ALPHAS)
    assert cfg.llmpathy.training.alpha == 4.5
    with pytest.raises(ProfileError, match="unknown key 'llmpathy.training.alpah'"):
        load_profile("demo", llmpathy={"training": {"alpah": 1.0}})
    with pytest.raises(ProfileError, match="unknown dataset\\(s\\) NewsEmp21; valid: NewsEmp22"):
        load_profile("demo", llmpathy={"newsemp": {"NewsEmp21": {}}})
    with pytest.raises(ProfileError, match="unknown split\\(s\\) validation; valid: train, dev, test"):
        load_profile("demo", llmpathy={"newsemp": {"NewsEmp24": {"validation": {"essays": "x"}}}})
    with pytest.raises(ProfileError, match="llmpathy.labelling.prompts"):
        load_profile("demo", llmpathy={"labelling": {"prompts": ["fancy"]}})


def test_overrides_merge_nested_sections() -> None:
    cfg = load_profile("demo", llmpathy={"training": {"max_epochs": 2}})
    assert cfg.llmpathy.training.max_epochs == 2
    assert cfg.llmpathy.training.finetune_seeds == [0]  # from demo.yaml, kept
    assert cfg.llmpathy.labelling.sample == 4


def test_user_data_names_a_missing_file(tmp_path) -> None:
    cfg = load_profile(
        "demo", llmpathy={"newsemp": {"NewsEmp24": {"train": {"essays": str(tmp_path / "no.csv")}}}}
    )
    with pytest.raises(Exception, match="no.csv"):
        llmpathy.user_data(cfg)


def test_labels_agreement_json(capsys) -> None:
    assert cli.main(["labels", "agreement", "--json"]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    rows = [r for r in printed if "dataset" not in r]  # the released-file rows: tests/test_released.py
    assert len(printed) > len(rows)
    assert {(r["a"], r["b"]) for r in rows} >= {
        ("crowd", "gpt4o"),
        ("crowd", "llama3_70b"),
        ("gpt4o", "llama3_70b"),
    }
    for row in rows:
        assert set(row) == {"a", "b", "alpha", "pearson", "n"}
        assert -1 <= row["alpha"] <= 1 and row["n"] > 0
    crowd_gpt = next(r for r in rows if (r["a"], r["b"]) == ("crowd", "gpt4o"))
    assert crowd_gpt["n"] == 1855  # five GPT-4o labels are missing


def test_train_rejects_a_bad_profile(capsys) -> None:
    assert cli.main(["train", "--profile", "nope"]) == 2
    assert "Unknown profile 'nope'" in capsys.readouterr().err


def test_probe_cv_is_stored_and_reused(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_profile(
        "demo",
        output_dir=str(tmp_path / "out"),
        llmpathy={"training": {"folds": 3, "seeds": [0], "alphas": [4.5]}},
    )
    frame = newsemp.public_essays()
    rng = np.random.default_rng(0)
    monkeypatch.setattr(probe, "embed", lambda texts, *a, **k: rng.normal(size=(len(texts), 8)))
    first = llmpathy.probe_cv(cfg, progress=False)
    assert len(first) == 3 * 3 and (tmp_path / "out/llmpathy/probe_cv.parquet").exists()
    monkeypatch.setattr(probe, "embed", lambda *a, **k: pytest.fail("recomputed"))
    pd.testing.assert_frame_equal(llmpathy.probe_cv(cfg, progress=False), first)
    assert len(frame) == first.groupby("strategy")["n_test"].sum().iloc[0]


# ------------------------------------------------------------------ seeds as Hasan et al. report them


def _constructed_cv(seeds: tuple[int, ...] = (0, 42, 100, 999, 1234), folds: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rows = []
    for seed in seeds:
        for fold in range(folds):
            for strategy, alpha, shift in (("y", np.nan, 0.0), ("y'", 4.5, 0.03), ("y_llm", np.nan, -0.05)):
                rows.append(
                    {
                        "strategy": strategy,
                        "alpha": alpha,
                        "seed": seed,
                        "fold": fold,
                        "n_replaced": 0,
                        "pcc": 0.35 + shift + rng.normal(0, 0.04),
                        "ccc": 0.25 + shift + rng.normal(0, 0.04),
                        "rmse": 1.1 - shift + rng.normal(0, 0.05),
                    }
                )
    return pd.DataFrame(rows)


def test_seed_summary_median_and_best_match_numpy() -> None:
    cv = _constructed_cv()
    summary = llmpathy.seed_summary(cv)
    assert len(summary) == 3 * 3
    for (strategy, metric), expected_best in {
        ("y", "pcc"): np.max,
        ("y'", "ccc"): np.max,
        ("y_llm", "rmse"): np.min,
    }.items():
        part = cv[cv["strategy"] == strategy]
        # seed-level score = the mean over that seed's folds, seeds in sorted order
        per_seed = np.array(
            [part.loc[part["seed"] == s, metric].to_numpy().mean() for s in sorted(set(cv["seed"]))]
        )
        row = summary[(summary["strategy"] == strategy) & (summary["metric"] == metric)].iloc[0]
        assert row["seeds"] == 5
        assert row["scores"] == pytest.approx(tuple(per_seed))
        assert row["median"] == pytest.approx(np.median(per_seed))
        assert row["best"] == pytest.approx(expected_best(per_seed))
        assert row["mean"] == pytest.approx(per_seed.mean())
        assert row["sd"] == pytest.approx(per_seed.std(ddof=1))
    # the best RMSE is the lowest, not the highest
    rmse = summary[(summary["strategy"] == "y") & (summary["metric"] == "rmse")].iloc[0]
    assert rmse["best"] == min(rmse["scores"]) < max(rmse["scores"])


def test_seed_scores_of_single_splits_are_the_runs_themselves() -> None:
    runs = pd.DataFrame(
        {
            "strategy": ["y", "y", "y_llm"],
            "alpha": np.nan,
            "seed": [0, 42, 0],
            "pcc": [0.3, 0.4, 0.2],
            "ccc": 0.1,
            "rmse": 1.0,
        }
    )
    per_seed = llmpathy.seed_scores(runs)
    assert per_seed[["strategy", "seed", "runs", "pcc"]].values.tolist() == [
        ["y", 0, 1, 0.3],
        ["y", 42, 1, 0.4],
        ["y_llm", 0, 1, 0.2],
    ]


def test_seed_tests_match_scipy_and_paired_tests() -> None:
    from scipy import stats

    cv = _constructed_cv()
    tests = llmpathy.seed_tests(cv, metric="ccc")
    assert tests.groupby("strategy")["test"].apply(set).map(len).to_dict() == {"y'": 2, "y_llm": 2}
    assert (tests["note"] == "").all()
    per_seed = cv.groupby(["strategy", "seed"])["ccc"].mean()
    seeds = tests[tests["test"] == llmpathy.TESTS["seeds"]].set_index("strategy")
    for strategy in ("y'", "y_llm"):
        expected = stats.ttest_ind(per_seed[strategy].to_numpy(), per_seed["y"].to_numpy())
        assert seeds.loc[strategy, "T"] == pytest.approx(expected.statistic)
        assert seeds.loc[strategy, "p_val"] == pytest.approx(expected.pvalue)
        assert seeds.loc[strategy, "n"] == 5
    ours = tests[tests["test"] == llmpathy.TESTS["ours"]].set_index("strategy")
    corrected = llmpathy.corrected_tests(cv, metric="ccc").set_index("strategy")
    assert ours.loc["y_llm", "p_val"] == pytest.approx(corrected.loc["y_llm", "p"])
    assert ours.loc["y_llm", "n"] == 20


def test_seed_ttest_on_constructed_numbers() -> None:
    from scipy import stats

    a, b = [0.41, 0.38, 0.44, 0.40, 0.43], [0.36, 0.37, 0.35, 0.39, 0.34]
    runs = pd.DataFrame(
        {
            "strategy": ["y_llm"] * 5 + ["y"] * 5,
            "alpha": np.nan,
            "seed": [0, 42, 100, 999, 1234] * 2,
            "pcc": a + b,
            "ccc": 0.0,
            "rmse": 1.0,
        }
    )
    row = llmpathy.seed_tests(runs).iloc[1]
    assert row["test"] == "independent t-test over seeds (Hasan et al.)"
    expected = stats.ttest_ind(a, b)
    assert (row["T"], row["p_val"]) == pytest.approx((expected.statistic, expected.pvalue))
    assert row["mean_diff"] == pytest.approx(np.mean(a) - np.mean(b))
    assert row["p_val"] < 0.01


def test_tests_that_cannot_run_say_why() -> None:
    runs = pd.DataFrame(
        {
            "strategy": ["y", "y'", "y_llm"],
            "alpha": [np.nan, 4.5, np.nan],
            "seed": 0,
            "pcc": [0.3, 0.32, 0.25],
            "ccc": 0.2,
            "rmse": 1.0,
        }
    )  # one seed, no folds
    tests = llmpathy.seed_tests(runs)
    assert tests["p_val"].isna().all()
    assert tests["note"].str.contains("needs at least two seeds|needs folds").all()
    text = llmpathy.compare_tests(tests)
    assert "independent t-test over seeds cannot run" in text and "needs at least two seeds" in text
    assert "nan" not in text.lower()
    table = llmpathy.side_by_side(runs)
    assert set(table[(llmpathy.SUMMARIES["authors"], "p")]) == {"baseline", "not run"}


def test_compare_tests_reports_disagreement() -> None:
    cv = _constructed_cv()
    tests = llmpathy.seed_tests(cv)
    text = llmpathy.compare_tests(tests)
    assert "of the 2 configurations compared with y" in text
    flipped = tests.assign(p_val=np.where(tests["test"] == llmpathy.TESTS["seeds"], 0.5, 0.001))
    assert "disagree on y' (α = 4.5)" in llmpathy.compare_tests(flipped)


def test_seed_functions_reject_bad_input() -> None:
    from empathylab.errors import EmpathylabError

    cv = _constructed_cv()
    with pytest.raises(EmpathylabError, match="needs column\\(s\\) seed"):
        llmpathy.seed_scores(cv.drop(columns="seed"))
    with pytest.raises(EmpathylabError, match="unknown metric 'r2'; valid: pcc, ccc, rmse"):
        llmpathy.seed_summary(cv, ["r2"])
    with pytest.raises(
        EmpathylabError, match="no 'y\\+y_llm' runs to compare with; found y, y' \\(α = 4.5\\), y_llm"
    ):
        llmpathy.seed_tests(cv, baseline="y+y_llm")
    with pytest.raises(EmpathylabError, match="level must lie strictly between 0 and 1"):
        llmpathy.compare_tests(llmpathy.seed_tests(cv), level=5)


# ------------------------------------------------------------------ augmentation on public data


@pytest.mark.parametrize("seed", [0, 42, 1234])
def test_augmentation_keeps_extra_train_and_test_writers_apart(public: pd.DataFrame, seed: int) -> None:
    design = llmpathy.augmentation_design(public, share=0.5, k=10, seed=seed)
    assert public.assign(part=design).groupby("writer_id")["part"].nunique().max() == 1
    extra_writers = set(public.loc[design == llmpathy.EXTRA, "writer_id"])
    assert len(extra_writers) / public["writer_id"].nunique() == pytest.approx(0.5, abs=0.01)
    assert sorted(set(design) - {llmpathy.EXTRA}) == list(range(10))
    for fold in (0, 9):
        sets = llmpathy.augmentation_sets(public, design, fold)
        test_writers = set(sets["test"]["writer_id"])
        assert not test_writers & extra_writers
        for name in llmpathy.AUGMENTATION:
            train = sets[name]
            assert not set(train["writer_id"]) & test_writers
            assert (
                set(train.loc[train["source"] == "crowd", "writer_id"]).isdisjoint(extra_writers)
                or name == "y+y_crowd"
            )
        crowd_part = sets["y"]
        assert set(crowd_part["writer_id"]).isdisjoint(extra_writers)
        assert set(crowd_part["writer_id"]) | test_writers | extra_writers == set(public["writer_id"])


def test_augmentation_extra_rows_carry_llm_labels_only(public: pd.DataFrame) -> None:
    design = llmpathy.augmentation_design(public, share=0.5, k=10, seed=0)
    sets = llmpathy.augmentation_sets(public, design, 3)
    both = sets["y+y_llm"]
    extra = both[both["source"] == "llm"]
    original = public.iloc[extra["row"]]
    assert set(extra["writer_id"]) == set(public.loc[design == llmpathy.EXTRA, "writer_id"])
    np.testing.assert_array_equal(extra["label"].to_numpy(), original["gpt4o"].to_numpy())
    assert extra["crowd"].isna().all()  # the extra writers' crowd labels are not even carried
    missing = int(public.loc[design == llmpathy.EXTRA, "gpt4o"].isna().sum())
    assert len(extra) == int((design == llmpathy.EXTRA).sum()) - missing
    crowd = both[both["source"] == "crowd"]
    np.testing.assert_array_equal(crowd["label"].to_numpy(), public.iloc[crowd["row"]]["crowd"].to_numpy())
    assert len(sets["y"]) == len(crowd)
    # the control trains on the same essays, in the same order, with their crowd labels
    control = sets["y+y_crowd"]
    assert control["row"].tolist() == both["row"].tolist()
    np.testing.assert_array_equal(
        control["label"].to_numpy(), public.iloc[control["row"]]["crowd"].to_numpy()
    )


def _planted(
    n_writers: int = 240, per_writer: int = 3, seed: int = 0, llm: str = "truth"
) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = n_writers * per_writer
    x = rng.normal(size=(n, 30))
    truth = 4 + x[:, 0] + 0.5 * x[:, 1]
    frame = pd.DataFrame(
        {"writer_id": [str(i // per_writer) for i in range(n)], "crowd": truth + rng.normal(0, 2.5, n)}
    )
    frame["gpt4o"] = truth if llm == "truth" else 8 - truth  # clean, or the scale read backwards
    return frame, x


def test_planted_llm_labels_equal_to_the_truth_help() -> None:
    frame, x = _planted()
    runs = llmpathy.augmentation_folds(frame, x, share=0.5, k=5, seeds=[0, 1, 2])
    means = llmpathy.seed_summary(runs, ["pcc"]).set_index("strategy")["mean"]
    assert means["y+y_llm"] > means["y"] + 0.02
    assert means["y+y_llm"] > means["y+y_crowd"]  # clean labels beat noisy ones on the same essays
    tests = llmpathy.seed_tests(runs).set_index(["strategy", "test"])["p_val"]
    assert tests["y+y_llm", llmpathy.TESTS["ours"]] < 0.05
    assert tests["y+y_llm", llmpathy.TESTS["seeds"]] < 0.05
    assert "The LLM-labelled essays improve the probe here." in llmpathy.augmentation_summary(runs)


def test_planted_backwards_llm_labels_hurt() -> None:
    frame, x = _planted(llm="backwards")
    runs = llmpathy.augmentation_folds(frame, x, share=0.5, k=5, seeds=[0, 1, 2])
    means = llmpathy.seed_summary(runs, ["pcc"]).set_index("strategy")["mean"]
    assert means["y+y_llm"] < means["y"] - 0.02 and means["y+y_crowd"] > means["y"]
    assert "The LLM-labelled essays worsen the probe here." in llmpathy.augmentation_summary(runs)


def test_augmentation_rejects_bad_input(public: pd.DataFrame) -> None:
    from empathylab.errors import EmpathylabError

    with pytest.raises(EmpathylabError, match="share must lie strictly between 0 and 1"):
        llmpathy.augmentation_design(public, share=1.0)
    with pytest.raises(EmpathylabError, match="k must be between 2 and the 19 writers left"):
        llmpathy.augmentation_design(public.head(100), share=0.05, k=40)
    design = llmpathy.augmentation_design(public, share=0.5, k=10)
    with pytest.raises(EmpathylabError, match="no fold 10 in the design; valid: 0, 1"):
        llmpathy.augmentation_sets(public, design, 10)
    with pytest.raises(EmpathylabError, match="needs column\\(s\\) mistral"):
        llmpathy.augmentation_sets(public, design, 0, llm="mistral")
    with pytest.raises(ProfileError, match="llmpathy.training.augment_share"):
        load_profile("demo", llmpathy={"training": {"augment_share": 1.0}})
    assert load_profile("demo").llmpathy.training.augment_share == 0.5


def test_probe_augmentation_is_stored_and_reused(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_profile(
        "demo", output_dir=str(tmp_path / "out"), llmpathy={"training": {"folds": 3, "seeds": [0, 42]}}
    )
    rng = np.random.default_rng(0)
    monkeypatch.setattr(probe, "embed", lambda texts, *a, **k: rng.normal(size=(len(texts), 8)))
    first = llmpathy.probe_augmentation(cfg, progress=False)
    assert len(first) == 2 * 3 * len(llmpathy.AUGMENTATION)
    assert (tmp_path / "out/llmpathy/probe_augmentation.parquet").exists()
    monkeypatch.setattr(probe, "embed", lambda *a, **k: pytest.fail("recomputed"))
    pd.testing.assert_frame_equal(llmpathy.probe_augmentation(cfg, progress=False), first)
    other = load_profile(cfg, llmpathy={"training": {"augment_share": 0.3}})
    with pytest.raises(pytest.fail.Exception, match="recomputed"):
        llmpathy.probe_augmentation(other, progress=False)
