"""Tests of the human anchor: the crowd-enVent writers' and readers' own intensities."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from empathylab import data, gaps
from empathylab.cli import main
from empathylab.errors import DataFileError, EmpathylabError
from empathylab.gaps import anchor, design, human
from empathylab.gaps import premium as premiums
from empathylab.gaps.crossed import fit_crossed


@pytest.fixture(scope="module")
def humans() -> pd.DataFrame:
    return human.human_ratings()


@pytest.fixture(scope="module")
def readers() -> pd.DataFrame:
    return human.load_readers()


# ------------------------------------------------------------------------ the files


def test_files_load_with_their_documented_shapes(readers) -> None:
    writers = human.load_writers()
    assert writers.shape[0] == 6600 and writers["item_id"].is_unique
    assert readers.shape[0] == 6000 and readers.groupby("item_id").size().eq(5).all()
    assert set(writers["intensity"]) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert writers["age"].dropna().min() >= 18 and readers["age"].dropna().min() >= 18


def test_reader_mean_vs_writer_equals_an_independent_computation(humans, readers) -> None:
    """The done-means number: Pearson r over the 1,100 joined texts, read with csv and scipy."""

    def rows(key: str) -> list[dict[str, str]]:
        with open(data.fetch(key), encoding="cp1252", newline="") as handle:
            return list(csv.DictReader(handle))

    writer = {int(r["text_id"]): float(r["intensity"]) for r in rows(human.WRITERS_FILE)}
    ratings: dict[int, list[float]] = {}
    for r in rows(human.READERS_FILE):
        ratings.setdefault(int(r["text_id"]), []).append(float(r["intensity"]))
    narratives = set(data.load_narratives()["item_id"])
    ids = sorted(set(ratings) & narratives)
    assert len(ids) == 1100
    expected = stats.pearsonr([np.mean(ratings[i]) for i in ids], [writer[i] for i in ids])

    ceiling = anchor.human_ceiling(humans, readers, n_boot=200)
    row = ceiling[(ceiling["comparison"] == "readers' mean vs writer") & (ceiling["emotion"] == "all")].iloc[
        0
    ]
    assert row["n"] == 1100
    assert row["pearson"] == pytest.approx(expected.statistic, abs=1e-12)
    assert row["pearson_low"] < row["pearson"] < row["pearson_high"]


def test_join_catches_a_changed_text_id_or_emotion() -> None:
    narratives, writers = data.load_narratives(["shame", "guilt"]), human.load_writers()
    joined = human.join_narratives(narratives, writers)
    assert len(joined) == 550 and joined["writer_intensity"].notna().all()

    victim = int(narratives["item_id"].iloc[7])
    changed = writers.copy()
    changed.loc[changed["item_id"] == victim, "text"] = "Something else entirely."
    with pytest.raises(DataFileError, match=f"another text.*{victim}"):
        human.join_narratives(narratives, changed)

    changed = writers.copy()
    changed.loc[changed["item_id"] == victim, "emotion"] = "joy"
    with pytest.raises(DataFileError, match=f"another emotion.*{victim}"):
        human.join_narratives(narratives, changed)

    with pytest.raises(DataFileError, match=f"no writer row.*{victim}"):
        human.join_narratives(narratives, writers[writers["item_id"] != victim])


def test_text_normalisation_only_undoes_quoting_and_spacing() -> None:
    texts = pd.Series(['"She said ""go"" now"', 'She said "go"\n now', 'She said "go" later'])
    normal = human.normalise_text(texts)
    assert normal[0] == normal[1] == 'She said "go" now'
    assert normal[2] != normal[0]


# --------------------------------------------------------------------- harmonisation


def test_ethnicity_harmonisation_table() -> None:
    answers = pd.Series(
        [
            "European",
            " north american ",
            "White British",
            "Canadian",
            "Carribean",
            "Pakistani ",
            "mixed : asian & white",
            "Mixed North American (White) and Southeast Asian",
            "white",
            "Prefer not to answer",
            "Martian",
            None,
        ]
    )
    expected = [
        "European",
        "North American",
        "European",
        "North American",
        "Caribbean",
        "South Asian",
        "Mixed",
        "Mixed",
        None,
        None,
        None,
        None,
    ]
    got = human.harmonise_ethnicity(answers)
    assert [None if pd.isna(v) else v for v in got] == expected
    for option in human.FIXED_ETHNICITIES:  # every fixed option of the survey maps to itself
        assert human.harmonise_ethnicity(pd.Series([option])).iloc[0] == option
    table = human.ethnicity_table(answers.dropna())
    assert set(table.columns) == {"answer", "group", "n"}
    assert table.set_index("answer").loc["Martian", "group"] == "unknown"


def test_every_answer_in_the_files_is_placed_or_deliberately_unknown(readers) -> None:
    writers = human.load_writers()
    answers = pd.concat([writers["ethnicity_raw"], readers["ethnicity_raw"]]).dropna()
    unknown = set(
        human.ethnicity_table(answers).query("group == 'unknown'")["answer"].str.strip().str.lower()
    )
    assert unknown <= {
        "prefer not to answer",
        "white",
        "unsure?",
        "ashkenazi",
        "asian british",
        "caucasion",
        "hawaii",
        "jewish",
    }


def test_age_bands_and_unknown_demographics(readers) -> None:
    assert human.age_band(pd.Series([17, 18, 44, 45, np.nan])).tolist() == [
        pd.NA,
        "18–29",
        "30–44",
        "45+",
        pd.NA,
    ]
    assert "Prefer not to answer" not in set(readers["gender"].dropna())
    assert "Don't know / not applicable" not in set(readers["education"].dropna())


# ---------------------------------------------------------------------- the mixed model


def _crossed(premium: float, seed: int = 0, texts: int = 240, per_text: int = 5, n_readers: int = 150):
    rng = np.random.default_rng(seed)
    writers = pd.DataFrame(
        {"item_id": np.arange(texts), "ethnicity": rng.choice(["European", "African"], texts)}
    )
    n = texts * per_text
    readers = pd.DataFrame(
        {
            "item_id": np.repeat(np.arange(texts), per_text),
            "reader_id": rng.integers(0, n_readers, n).astype(str),
        }
    )
    reader_group = rng.choice(["European", "African"], n_readers)
    readers["ethnicity"] = reader_group[readers["reader_id"].astype(int)]
    same = readers["ethnicity"].to_numpy() == writers["ethnicity"].to_numpy()[readers["item_id"]]
    readers["intensity"] = (
        3
        + premium * same
        + rng.normal(0, 0.8, texts)[readers["item_id"]]
        + rng.normal(0, 0.4, n_readers)[readers["reader_id"].astype(int)]
        + rng.normal(0, 0.7, n)
    )
    return readers, writers


def test_mixed_model_recovers_a_planted_premium() -> None:
    readers, writers = _crossed(premium=0.5)
    fit = premiums.reader_premium(readers, writers, ["ethnicity"]).iloc[0]
    sd = readers["intensity"].std()
    assert fit["ci_low"] < 0.5 / sd < fit["ci_high"]
    assert fit["ci_low"] > 0 and fit["p"] < 0.001
    null = premiums.reader_premium(*_crossed(premium=0.0, seed=1), ["ethnicity"]).iloc[0]
    assert null["ci_low"] < 0 < null["ci_high"]


def test_crossed_fit_equals_statsmodels() -> None:
    import statsmodels.formula.api as smf

    readers, writers = _crossed(premium=0.3, texts=60, per_text=4, n_readers=40)
    frame = premiums.premium_data(readers, writers, "ethnicity").assign(one=1)
    ours = fit_crossed(
        frame["intensity_z"],
        frame[["same"]].assign(const=1.0)[["const", "same"]],
        frame["item_id"],
        frame["reader_id"],
    )
    theirs = smf.mixedlm(
        "intensity_z ~ same",
        frame,
        groups="one",
        re_formula="0",
        vc_formula={"text": "0 + C(item_id)", "reader": "0 + C(reader_id)"},
    ).fit(reml=True)
    assert ours["fixed"].loc["same", "coef"] == pytest.approx(theirs.params["same"], abs=1e-4)
    # Our se is the GLS one lme4 reports, σ²(X'V⁻¹X)⁻¹; statsmodels inverts the joint Hessian
    # of fixed effects and variances, which differs slightly on small samples.
    assert ours["fixed"].loc["same", "se"] == pytest.approx(theirs.bse["same"], rel=3e-2)
    assert ours["resid_sd"] ** 2 == pytest.approx(theirs.scale, rel=1e-3)
    assert ours["sd_a"] ** 2 == pytest.approx(
        theirs.vcomp[list(theirs.model.exog_vc.names).index("text")], rel=1e-2
    )


def test_crossed_fit_names_bad_input() -> None:
    with pytest.raises(EmpathylabError, match="missing or infinite"):
        fit_crossed([1.0, np.nan, 2.0, 3.0], pd.DataFrame({"c": [1.0] * 4}), [0, 0, 1, 1], [0, 1, 0, 1])
    with pytest.raises(EmpathylabError, match="unknown attribute 'race'.*ethnicity"):
        premiums.premium_data(pd.DataFrame(), pd.DataFrame(), "race")


def test_premium_cells_count_every_rating(readers) -> None:
    writers = human.load_writers()
    cells = premiums.premium_cells(readers, writers, "gender")
    kept = premiums.premium_data(readers, writers, "gender")
    assert cells.to_numpy().sum() == len(kept)
    assert np.trace(cells.to_numpy()) == kept["same"].sum()


# Group main effects and no premium: the largest group meets itself most often, so without
# the group terms its higher ratings show up as a premium.
MAIN_EFFECTS = {"European": 0.3, "North American": -0.2}


def test_group_main_effects_no_longer_make_a_premium() -> None:
    """Issue 22: the model without group terms found a premium in 39/40 null runs; with them, not."""
    old_hits, new_hits, estimates = 0, 0, []
    for seed in range(5):
        readers, writers = premiums.simulate_premium_data(
            400, 400, 0.0, writer_effects=MAIN_EFFECTS, reader_effects=MAIN_EFFECTS, seed=seed
        )
        old = premiums.reader_premium(readers, writers, ["ethnicity"], main_effects=False).iloc[0]
        new = premiums.reader_premium(readers, writers, ["ethnicity"]).iloc[0]
        assert old["model"] == "same only" and new["model"] == "same + group main effects"
        old_hits += old["ci_low"] > 0
        new_hits += new["ci_low"] > 0 or new["ci_high"] < 0
        estimates.append(new["premium"])
    assert old_hits >= 4  # 10 of 10 when measured
    assert new_hits <= 1  # 0 or 1 of 10 when measured
    assert abs(np.mean(estimates)) < 0.05


def test_a_planted_premium_is_found_beside_main_effects_and_its_sign_named() -> None:
    for planted, word in ((0.35, "premium:"), (-0.35, "reversed:")):
        readers, writers = premiums.simulate_premium_data(
            500, 500, planted, writer_effects=MAIN_EFFECTS, reader_effects=MAIN_EFFECTS, seed=7
        )
        fit = premiums.reader_premium(readers, writers, ["ethnicity"]).iloc[0]
        sd = premiums.premium_data(readers, writers, "ethnicity")["intensity"].std()
        assert fit["ci_low"] < planted / sd < fit["ci_high"]
        assert fit["verdict"].startswith(word) and np.sign(fit["premium"]) == np.sign(planted)
        assert ("premium" in fit["verdict"]) == (planted > 0)


def test_premium_is_undetermined_where_same_group_is_a_main_effect() -> None:
    readers, writers = premiums.simulate_premium_data(200, 200, 0.0, seed=2)
    readers["ethnicity"] = "European"  # every reader in one group: same = "the writer is European"
    plain = premiums.reader_premium(readers, writers, ["ethnicity"], main_effects=False).iloc[0]
    fit = premiums.reader_premium(readers, writers, ["ethnicity"]).iloc[0]
    assert np.isfinite(plain["premium"])
    assert np.isnan(fit["premium"]) and fit["verdict"].startswith("undetermined")


def test_simulated_premium_data_look_like_the_real_files() -> None:
    readers, writers = premiums.simulate_premium_data(300, 250, 0.2, seed=1)
    assert readers.groupby("item_id")["reader_id"].nunique().eq(5).all()
    assert set(readers.columns) >= {"item_id", "reader_id", "intensity", "reader_emotion", "ethnicity"}
    assert set(writers.columns) >= {"item_id", "emotion", "intensity", "ethnicity"}
    named = premiums.emotion_named(readers, writers)["named"].mean()
    assert 0.45 < named < 0.61
    discrete, _ = premiums.simulate_premium_data(50, 50, discrete=True, seed=1)
    assert set(discrete["intensity"]) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    with pytest.raises(EmpathylabError, match="ratings_per_text"):
        premiums.simulate_premium_data(10, 3)


def test_premium_on_ratings_where_the_reader_named_the_emotion(readers) -> None:
    """The sensitivity subset: about 53 % of the ratings of emotion texts, in the units of all ratings."""
    writers = human.load_writers()
    said = premiums.emotion_named(readers, writers)
    emotional = said[said["writer_emotion"] != premiums.NO_EMOTION]
    assert emotional["named"].mean() == pytest.approx(0.53, abs=0.01)
    assert not said.loc[said["writer_emotion"] == premiums.NO_EMOTION, "named"].any()
    full = premiums.premium_data(readers, writers, "gender")
    subset = premiums.premium_data(readers, writers, "gender", subset="emotion named")
    known = (
        said["named"]
        & readers["gender"].notna()
        & readers["item_id"].map(writers.set_index("item_id")["gender"]).notna()
    )
    assert len(subset) == int(known.sum())
    both = subset.merge(full, on=["item_id", "reader_id"], suffixes=("", "_full"))
    assert len(both) == len(subset)
    assert np.allclose(both["intensity_z"], both["intensity_z_full"])  # the same units as the main estimate
    with pytest.raises(EmpathylabError, match="unknown subset"):
        premiums.premium_data(readers, writers, "gender", subset="named")


def test_named_subset_fits_only_the_named_ratings() -> None:
    readers, writers = premiums.simulate_premium_data(300, 300, 0.0, seed=4)
    named = premiums.emotion_named(readers, writers)["named"]
    fit = premiums.reader_premium(readers, writers, ["ethnicity"], subset="emotion named").iloc[0]
    assert fit["subset"] == "emotion named" and fit["n_obs"] == int(named.sum())


def test_dense_and_sparse_factorisations_give_the_same_fit(monkeypatch) -> None:
    from empathylab.gaps import crossed

    readers, writers = premiums.simulate_premium_data(150, 120, 0.2, seed=5)
    frame = premiums.premium_data(readers, writers, "ethnicity")
    X = frame[["same"]].assign(const=1.0)[["const", "same"]]
    fits = []
    for fill in (-1.0, 2.0):  # every pattern dense; none
        monkeypatch.setattr(crossed, "DENSE_FILL", fill)
        fits.append(fit_crossed(frame["intensity_z"], X, frame["item_id"], frame["reader_id"]))
    # The same REML surface; the optimiser's finite differences see rounding of another size.
    assert fits[0]["fixed"].to_numpy() == pytest.approx(fits[1]["fixed"].to_numpy(), rel=1e-4, abs=1e-6)
    assert fits[0]["sd_a"] == pytest.approx(fits[1]["sd_a"], rel=1e-4)


# --------------------------------------------------------------------- model vs humans


def _results_on(items: list[int], value: dict[int, float], grouping: str = "religion") -> pd.DataFrame:
    """A complete run whose every cell of narrative i answers value[i] (the baseline 1 higher)."""
    people = design.identities(grouping)
    rows = [
        {
            "model": "m",
            "readout": "distribution",
            "grouping": grouping,
            "variation": "origin",
            "perceiver": p,
            "experiencer": e,
            "item_id": i,
            "emotion": "anger",
            "intensity": value[i] + (1.0 if p == e == design.BASELINE else 0.0),
        }
        for p in people
        for e in people
        for i in items
    ]
    return pd.DataFrame(rows)


def test_model_intensities_read_the_baseline_cell_and_the_mean_of_all() -> None:
    results = _results_on([1, 2], {1: 3.0, 2: 5.0})
    got = anchor.model_intensities(results).set_index(["measure", "item_id"])["model_intensity"]
    cells = len(design.identities("religion")) ** 2
    assert got[("baseline", 1)] == 4.0 and got[("baseline", 2)] == 6.0
    assert got[("all cells", 1)] == pytest.approx(3.0 + 1.0 / cells)


def test_tracking_finds_a_model_that_copies_the_writer(humans) -> None:
    read = humans[humans["reader_n"] > 0].groupby("emotion", observed=True).head(5)
    values = dict(
        zip(read["item_id"], read["writer_intensity"] + np.linspace(0, 0.01, len(read)), strict=True)
    )
    table = anchor.tracking(_results_on(list(values), values), humans, n_boot=100)
    writer = table[(table["target"] == "writer") & (table["emotion"] == "all")].set_index("measure")
    assert writer.loc["baseline", "n"] == len(read)
    assert writer.loc["baseline", "pearson"] == pytest.approx(1.0, abs=1e-3)
    readers = table[(table["target"] == "readers' mean") & (table["emotion"] == "all")].iloc[0]
    expected = stats.pearsonr(read["writer_intensity"] + np.linspace(0, 0.01, len(read)), read["reader_mean"])
    assert readers["pearson"] == pytest.approx(expected.statistic, abs=1e-9)
    assert readers["pearson_low"] <= readers["pearson"] <= readers["pearson_high"]
    per_emotion = table[(table["emotion"] != "all") & (table["target"] == "writer")]
    assert set(per_emotion["n"]) == {5}


def test_split_half_reliability_of_perfect_and_of_random_readers() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(1, 6, 200).astype(float)
    humans = pd.DataFrame(
        {
            "item_id": range(200),
            "emotion": "joy",
            "writer_intensity": truth,
            "reader_mean": truth,
            "reader_n": 5,
        }
    )
    agree = pd.DataFrame({"item_id": np.repeat(range(200), 5), "intensity": np.repeat(truth, 5)})
    noise = agree.assign(intensity=rng.integers(1, 6, 1000).astype(float))
    query = "comparison == 'split-half reliability (Spearman–Brown)' and emotion == 'all'"
    perfect = anchor.human_ceiling(humans, agree, n_boot=0).query(query)
    random = anchor.human_ceiling(humans, noise, n_boot=50).query(query)
    assert perfect["pearson"].iloc[0] == pytest.approx(1.0)
    assert abs(random["pearson"].iloc[0]) < 0.25


def _runs(**columns) -> pd.DataFrame:
    base = {
        "model": ["m"],
        "readout": ["generate"],
        "grouping": ["ethnicity"],
        "variation": ["origin"],
        "delta": [-1.58],
        "bootstrap_ci_low": [-2.0],
        "bootstrap_ci_high": [-1.0],
        "delta_raw": [-0.9],
        "raw_ci_low": [-1.5],
        "raw_ci_high": [-0.3],
        "rating_sd": [11.25],
    }
    return pd.DataFrame(base | columns)


def test_side_by_side_puts_the_model_in_sds_of_its_ratings() -> None:
    """A raw gap of 0.9 points is 1.58 in z-δ but 0.08 rating SDs: the table shows the latter."""
    premium = pd.DataFrame(
        {
            "attribute": ["ethnicity", "gender"],
            "premium": [0.1, -0.05],
            "ci_low": [0.0, -0.1],
            "ci_high": [0.2, 0.0],
        }
    )
    table = premiums.side_by_side(_runs(), premium)
    model = table[table["who"] == "model"].iloc[0]
    assert model["gap"] == pytest.approx(-0.9 / 11.25)
    assert (model["ci_low"], model["ci_high"]) == pytest.approx((-1.5 / 11.25, -0.3 / 11.25))
    assert model["interval"] == "narrative-level t interval, 95 %"
    assert "SD" in model["unit"]
    assert table["gap"].tolist()[1:] == [0.1, -0.05]
    assert (table["ci_low"] <= table["gap"]).all() and (table["gap"] <= table["ci_high"]).all()


def test_side_by_side_names_the_missing_raw_columns() -> None:
    premium = pd.DataFrame({"attribute": ["ethnicity"], "premium": [0.0], "ci_low": [-0.1], "ci_high": [0.1]})
    old = _runs().drop(columns=["delta_raw", "rating_sd"])
    with pytest.raises(EmpathylabError, match="delta_raw, rating_sd"):
        premiums.side_by_side(old, premium)


def test_ceiling_is_the_root_of_the_reliability_and_corrects_the_readers(humans, readers) -> None:
    """√R bounds a model's r with the readers' mean; r / √R is the readers' disattenuated r (about 0.46)."""
    ceiling = anchor.human_ceiling(humans, readers, n_boot=100)
    overall = ceiling[ceiling["emotion"] == "all"].set_index("comparison")
    split = overall.loc["split-half reliability (Spearman–Brown)"]
    rw = overall.loc["readers' mean vs writer"]
    assert split["ceiling"] == pytest.approx(np.sqrt(split["pearson"]))
    assert split["ceiling_low"] == pytest.approx(np.sqrt(split["pearson_low"]))
    assert 0.80 < split["ceiling"] < 0.87
    assert rw["disattenuated"] == pytest.approx(rw["pearson"] / np.sqrt(split["pearson"]))
    assert 0.43 < rw["disattenuated"] < 0.49
    assert rw["disattenuated_low"] < rw["disattenuated"] < rw["disattenuated_high"]
    assert np.isnan(rw["ceiling"]) and np.isnan(split["disattenuated"])
    per_emotion = ceiling[
        (ceiling["emotion"] != "all") & (ceiling["comparison"] == "readers' mean vs writer")
    ]
    assert per_emotion["disattenuated"].notna().all()


def test_disattenuation_recovers_a_known_correlation() -> None:
    """Five readers = truth + noise (R = 5/6); writer = truth + noise: true r(truth, writer) = 1/√2."""
    rng = np.random.default_rng(3)
    truth = rng.normal(0, 1, 2000)
    ratings = pd.DataFrame(
        {"item_id": np.repeat(range(2000), 5), "intensity": np.repeat(truth, 5) + rng.normal(0, 1, 10000)}
    )
    humans = pd.DataFrame(
        {
            "item_id": range(2000),
            "emotion": "joy",
            "reader_n": 5,
            "writer_intensity": truth + rng.normal(0, 1, 2000),
            "reader_mean": ratings.groupby("item_id")["intensity"].mean(),
        }
    )
    table = anchor.human_ceiling(humans, ratings, n_boot=0).query("emotion == 'all'").set_index("comparison")
    assert table.loc["split-half reliability (Spearman–Brown)", "ceiling"] == pytest.approx(
        np.sqrt(5 / 6), abs=0.02
    )
    assert table.loc["readers' mean vs writer", "disattenuated"] == pytest.approx(1 / np.sqrt(2), abs=0.03)
    assert table.loc["readers' mean vs writer", "pearson"] < 0.68  # attenuated


# ------------------------------------------------------------------ the anchor run and the CLI


def test_anchor_plan_asks_the_baseline_on_read_narratives(humans, tmp_path) -> None:
    plan = anchor.plan_anchor("demo", out=str(tmp_path), check_model=False)
    read = set(humans.loc[humans["reader_n"] > 0, "item_id"])
    assert set(plan.narratives["item_id"]) <= read
    assert plan.people("religion") == [design.BASELINE]
    prompts = list(design.grid(plan.narratives, "religion", "origin", plan.people("religion")))
    assert len(prompts) == len(plan.narratives) == 12 * 10
    assert anchor.plan_anchor(load_demo(anchor_items_per_emotion=0), check_model=False) is None
    paper = anchor.plan_anchor("paper", out=str(tmp_path / "paper"), check_model=False)
    assert len(paper.narratives) == len(read) == 1100 and paper.profile.gaps.readout == "generate"


def load_demo(**stimuli):
    from empathylab.profiles import load_profile

    return load_profile("demo", stimuli=stimuli)


def test_cli_human_json(tmp_path, capsys, humans) -> None:
    read = humans[humans["reader_n"] > 0].groupby("emotion", observed=True).head(2)
    values = dict(zip(read["item_id"], read["reader_mean"], strict=True))
    path = tmp_path / "run.parquet"
    _results_on(list(values), values).to_parquet(path)
    assert main(["gaps", "human", str(path), "--json", "--bootstrap", "20"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    kinds = {r["kind"] for r in rows}
    assert kinds == {"tracking", "ceiling", "premium"}
    track = [
        r
        for r in rows
        if r["kind"] == "tracking"
        and r["emotion"] == "all"
        and r["target"] == "readers' mean"
        and r["measure"] == "all cells"
    ]
    assert len(track) == 1 and track[0]["pearson"] == pytest.approx(1.0) and track[0]["n"] == len(read)
    premium = {r["attribute"]: r for r in rows if r["kind"] == "premium"}
    assert set(premium) == set(human.ATTRIBUTES)
    assert all(r["ci_low"] < r["premium"] < r["ci_high"] for r in premium.values())


def test_cli_human_names_a_bad_table(tmp_path, capsys) -> None:
    path = tmp_path / "bad.csv"
    pd.DataFrame({"grouping": ["religion"], "intensity": [3]}).to_csv(path, index=False)
    assert main(["gaps", "human", str(path), "--json"]) != 0
    assert "lacks the required column(s)" in capsys.readouterr().err


def test_simulated_runs_have_no_human_counterpart(humans) -> None:
    """Ids that are not crowd-enVent narratives leave the tracking table empty, not wrong."""
    rows = gaps.simulate_results("religion", n_items=4).assign(item_id=lambda f: f["item_id"] + 10**9)
    table = anchor.tracking(rows, humans, n_boot=0)
    assert table.empty
