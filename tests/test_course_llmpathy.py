"""The checks of Part II's exercises: right on the solution, "no answer" on None, a hint on typical mistakes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from empathylab.course import llmpathy as check
from empathylab.course.feedback import Feedback
from empathylab.profiles import load_profile

NO_ANSWER = "No answer yet"


def ok(feedback: Feedback) -> bool:
    assert isinstance(feedback, Feedback)
    assert repr(feedback).startswith("✓" if feedback.ok else "✗")
    return feedback.ok


def wrong(feedback: Feedback, *words: str) -> None:
    """Assert a ✗ whose message holds every one of ``words``."""
    assert not feedback.ok, feedback
    for word in words:
        assert word in feedback.message, feedback


@pytest.fixture
def essays() -> pd.DataFrame:
    """Synthetic essays: crowd labels in sixths on 1–7, two LLM columns with a few missing labels."""
    rng = np.random.default_rng(5)
    n = 200
    crowd = np.round(rng.uniform(1, 7, n) * 6) / 6
    gpt = np.clip(0.5 * crowd + rng.normal(2.8, 1.3, n), 1, 7).round(1)
    gpt[[3, 17, 60, 111]] = np.nan
    llama = np.clip(0.6 * crowd + rng.normal(2.0, 1.0, n), 1, 7).round(2)
    return pd.DataFrame(
        {"essay_id": [f"e{i}" for i in range(n)], "crowd": crowd, "gpt4o": gpt, "llama3_70b": llama},
        index=pd.RangeIndex(100, 100 + n),
    )


# ------------------------------------------------------------------------ labels chapter


def test_share_apart(essays: pd.DataFrame) -> None:
    both = essays.dropna(subset=["crowd", "gpt4o"])
    d = both["gpt4o"] - both["crowd"]
    right = (d.abs() > 1).mean()
    assert ok(check.check_share_apart(right, essays))
    assert "essays with both labels" in check.check_share_apart(right, essays).message
    wrong(check.check_share_apart(None, essays), NO_ANSWER)
    wrong(check.check_share_apart(100 * right, essays), "percentage")
    wrong(check.check_share_apart(int((d.abs() > 1).sum()), essays), "count")
    all_rows = ((essays["gpt4o"] - essays["crowd"]).abs() > 1).mean()
    wrong(check.check_share_apart(all_rows, essays), "divided by all 200 essays")
    wrong(check.check_share_apart((d > 1).mean(), essays), "only the essays the LLM rates higher")
    wrong(check.check_share_apart(1 - right, essays), "complement")
    llama = ((essays["llama3_70b"] - essays["crowd"]).abs() > 1).mean()
    wrong(check.check_share_apart(llama, essays), "llama3_70b")
    wrong(check.check_share_apart("0.5", essays), "remove the quotes")
    wrong(check.check_share_apart(d.abs() > 1, essays), "one number")
    wrong(check.check_share_apart(0.123456, essays), "average the booleans")


def test_share_apart_counts_ties_as_close() -> None:
    t = pd.DataFrame({"crowd": [1.0, 2.0, 3.0, 4.0], "gpt4o": [2.0, 2.0, 5.0, 4.5]})
    assert ok(check.check_share_apart(0.25, t))
    wrong(check.check_share_apart(0.5, t), "strictly more")


def test_mean_difference(essays: pd.DataFrame) -> None:
    right = (essays["gpt4o"] - essays["crowd"]).mean()
    assert ok(check.check_mean_difference(right, essays))
    assert ok(check.check_mean_difference(np.float64(right), essays))
    wrong(check.check_mean_difference(None, essays), NO_ANSWER)
    wrong(check.check_mean_difference(-right, essays), "sign is flipped")
    both = essays.dropna(subset=["gpt4o"])
    wrong(check.check_mean_difference((both["gpt4o"] - both["crowd"]).abs().mean(), essays), "absolute")
    wrong(
        check.check_mean_difference(essays["gpt4o"].mean() - essays["crowd"].mean(), essays),
        "means of different essays",
    )
    wrong(check.check_mean_difference((essays["llama3_70b"] - essays["crowd"]).mean(), essays), "llama3_70b")
    wrong(
        check.check_mean_difference(np.mean(essays["gpt4o"].to_numpy() - essays["crowd"].to_numpy()), essays),
        "NaN",
    )


# --------------------------------------------------------------------- agreement chapter


def test_pearson(essays: pd.DataFrame) -> None:
    both = essays[["crowd", "gpt4o"]].dropna()
    da, db = both["crowd"] - both["crowd"].mean(), both["gpt4o"] - both["gpt4o"].mean()
    right = (da * db).sum() / ((da**2).sum() * (db**2).sum()) ** 0.5
    assert ok(check.check_pearson(right, essays))
    assert ok(check.check_pearson(essays["crowd"].corr(essays["gpt4o"]), essays))  # pairwise: the same
    wrong(check.check_pearson(None, essays), NO_ANSWER)
    wrong(check.check_pearson(np.corrcoef(essays["crowd"], essays["gpt4o"])[0, 1], essays), "NaN", "dropna")
    wrong(check.check_pearson(right**2, essays), "r²")
    wrong(check.check_pearson(100 * right, essays), "percentage")
    wrong(check.check_pearson(both["crowd"].corr(both["gpt4o"], method="spearman"), essays), "Spearman")
    wrong(check.check_pearson(check.metrics.ccc(both["crowd"], both["gpt4o"]), essays), "CCC")
    wrong(check.check_pearson(essays["crowd"].corr(essays["llama3_70b"]), essays), "llama3_70b")
    wrong(check.check_pearson(essays["crowd"].corr(essays["gpt4o"].fillna(0)), essays), "filled the missing")


def test_ccc(essays: pd.DataFrame) -> None:
    both = essays[["crowd", "gpt4o"]].dropna()
    x, y = both["crowd"], both["gpt4o"]
    covariance = ((x - x.mean()) * (y - y.mean())).mean()
    right = 2 * covariance / (x.var(ddof=0) + y.var(ddof=0) + (x.mean() - y.mean()) ** 2)
    assert ok(check.check_ccc(right, essays))
    sample = 2 * x.cov(y) / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)  # n − 1 moments: accepted
    assert ok(check.check_ccc(sample, essays))
    wrong(check.check_ccc(None, essays), NO_ANSWER)
    wrong(check.check_ccc(x.corr(y), essays), "Pearson's r")
    wrong(check.check_ccc(2 * covariance / (x.var(ddof=0) + y.var(ddof=0)), essays), "(mean_a − mean_b)²")
    wrong(check.check_ccc(right / 2, essays), "factor 2")
    a, b = essays["crowd"], essays["gpt4o"]
    wrong(
        check.check_ccc(2 * a.cov(b) / (a.var() + b.var() + (a.mean() - b.mean()) ** 2), essays),
        "column by column",
    )
    wrong(check.check_ccc(float("nan"), essays), "NaN")
    wrong(check.check_ccc(check.metrics.ccc(essays["crowd"], essays["llama3_70b"]), essays), "llama3_70b")


def test_pearson_and_ccc_on_the_public_essays(mirror) -> None:
    from empathylab.llmpathy import newsemp

    labels = newsemp.public_essays()[["essay_id", "crowd", "gpt4o", "llama3_70b"]]
    both = labels[["crowd", "gpt4o"]].dropna()
    assert ok(check.check_pearson(both["crowd"].corr(both["gpt4o"]), labels))
    assert ok(check.check_ccc(check.metrics.ccc(both["crowd"], both["gpt4o"]), labels))
    wrong(check.check_ccc(both["crowd"].corr(both["gpt4o"]), labels), "Pearson's r")


# -------------------------------------------------------------------- mitigation chapter


def test_mitigated(essays: pd.DataFrame) -> None:
    alpha = 1.5
    d = (essays["crowd"] - essays["gpt4o"]).abs()
    right = essays["crowd"].mask(d > alpha, essays["gpt4o"])
    result = check.check_mitigated(right, essays, alpha)
    assert ok(result)
    assert f"{int((d > alpha).sum())} of the 200 crowd labels replaced" in result.message
    assert ok(check.check_mitigated(right.to_numpy(), essays, alpha))  # an array in the frame's order
    assert ok(check.check_mitigated(right.sample(frac=1, random_state=0), essays, alpha))  # aligned by index
    wrong(check.check_mitigated(None, essays, alpha), NO_ANSWER)
    wrong(
        check.check_mitigated(essays["crowd"].where(d <= alpha, essays["gpt4o"]), essays, alpha), "NaN where"
    )
    wrong(
        check.check_mitigated((essays["crowd"] + alpha * essays["gpt4o"]) / (1 + alpha), essays, alpha),
        "average",
    )
    wrong(check.check_mitigated(essays["crowd"].mask(d <= alpha, essays["gpt4o"]), essays, alpha), "reversed")
    wrong(check.check_mitigated(essays["gpt4o"].mask(d > alpha, essays["crowd"]), essays, alpha), "swapped")
    wrong(
        check.check_mitigated(essays["crowd"].mask(d >= alpha, essays["gpt4o"]), essays, alpha), "exactly α"
    )
    wrong(check.check_mitigated(essays["gpt4o"], essays, alpha), "y_llm")
    wrong(check.check_mitigated(essays["crowd"], essays, alpha), "crowd labels unchanged")
    wrong(check.check_mitigated(int((d > alpha).sum()), essays, alpha), "number of labels replaced")
    wrong(check.check_mitigated(right.dropna().loc[essays["gpt4o"].notna()], essays, alpha), "were dropped")
    llama = essays["crowd"].mask((essays["crowd"] - essays["llama3_70b"]).abs() > alpha, essays["llama3_70b"])
    wrong(check.check_mitigated(llama, essays, alpha), "llama3_70b")
    off = right.copy()
    off.iloc[5] += 1
    wrong(check.check_mitigated(off, essays, alpha), "1 of the 200 labels differ", "row 5")


def test_mitigated_strict_threshold() -> None:
    t = pd.DataFrame({"crowd": [1.0, 2.0, 7.0], "gpt4o": [2.0, 5.0, 2.0]})
    right = pd.Series([1.0, 5.0, 2.0])
    assert ok(check.check_mitigated(right, t, 1.0))
    wrong(check.check_mitigated(pd.Series([2.0, 5.0, 2.0]), t, 1.0), "exactly α")


@pytest.fixture
def summary() -> pd.DataFrame:
    alphas = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5]
    pcc = [0.30, 0.301, 0.302, 0.305, 0.303, 0.317, 0.318, 0.330, 0.336, 0.338, 0.3378, 0.3471]
    ccc = [0.21, 0.21, 0.21, 0.215, 0.209, 0.229, 0.198, 0.199, 0.193, 0.188, 0.187, 0.203]
    rmse = [2.02, 2.01, 2.0, 1.96, 1.93, 1.84, 1.81, 1.76, 1.745, 1.73, 1.72, 1.71]
    rows = [
        {"strategy": "y", "alpha": np.nan, "n_replaced": 0.0, "pcc": 0.3470, "ccc": 0.2028, "rmse": 1.714}
    ]
    rows += [
        {"strategy": "y'", "alpha": a, "n_replaced": 1650.0 / (1 + 3 * a), "pcc": p, "ccc": c, "rmse": r}
        for a, p, c, r in zip(alphas, pcc, ccc, rmse)
    ]
    rows += [
        {"strategy": "y_llm", "alpha": np.nan, "n_replaced": 1650.0, "pcc": 0.301, "ccc": 0.212, "rmse": 2.02}
    ]
    return pd.DataFrame(rows)


def test_best_alpha(summary: pd.DataFrame) -> None:
    mitigated = summary[summary["strategy"] == "y'"]
    right = mitigated.loc[mitigated["pcc"].idxmax(), "alpha"]
    result = check.check_best_alpha(right, summary)
    assert ok(result)
    assert "α = 5.5" in result.message and "y has 0.3470" in result.message
    wrong(check.check_best_alpha(None, summary), NO_ANSWER)
    wrong(check.check_best_alpha(mitigated.loc[mitigated["pcc"].idxmin(), "alpha"], summary), "lowest PCC")
    wrong(check.check_best_alpha(mitigated.loc[mitigated["ccc"].idxmax(), "alpha"], summary), "best by CCC")
    wrong(check.check_best_alpha(mitigated["pcc"].max(), summary), "the α of its row")
    wrong(check.check_best_alpha(mitigated["pcc"].idxmax(), summary), "row index")
    wrong(check.check_best_alpha(np.nan, summary), "y and y_llm rows")
    wrong(check.check_best_alpha("y'", summary), "not a strategy's name")
    wrong(check.check_best_alpha(4.5, summary), "another α of y′ does better")
    # RMSE: lower is better
    assert ok(check.check_best_alpha(5.5, summary, metric="rmse"))
    wrong(check.check_best_alpha(0.0, summary, metric="rmse"), "highest RMSE")


@pytest.fixture
def finetuned() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "strategy": ["y", "y'", "y_llm"] * 2,
            "seed": [0, 0, 0, 42, 42, 42],
            "pcc": [0.40, 0.36, 0.20, 0.30, 0.38, 0.25],
            "ccc": [0.20, 0.25, 0.10, 0.20, 0.21, 0.12],
            "rmse": [1.70, 1.80, 2.00, 1.75, 1.81, 2.10],
        }
    )


def test_best_strategy(finetuned: pd.DataFrame) -> None:
    right = finetuned.groupby("strategy")["pcc"].mean().idxmax()
    assert right == "y'"
    assert ok(check.check_best_strategy(right, finetuned))
    assert ok(check.check_best_strategy("y′", finetuned))  # the book's prime reads the same
    wrong(check.check_best_strategy(None, finetuned), NO_ANSWER)
    wrong(check.check_best_strategy("y_llm", finetuned), "lowest mean PCC")
    wrong(check.check_best_strategy("y", finetuned), "best RMSE")  # the best by RMSE, not PCC
    wrong(check.check_best_strategy(finetuned["pcc"].idxmax(), finetuned), "strategy's name")
    wrong(check.check_best_strategy("y prime", finetuned), "not a strategy")
    assert ok(check.check_best_strategy("y", finetuned, metric="rmse"))


def test_best_strategy_accepts_ties() -> None:
    runs = pd.DataFrame({"strategy": ["y", "y'", "y_llm"], "pcc": [0.3, 0.3, 0.1]})
    assert ok(check.check_best_strategy("y", runs)) and ok(check.check_best_strategy("y'", runs))


# ---------------------------------------------------------------------- fairness chapter


@pytest.fixture
def groups() -> pd.DataFrame:
    rows = []
    values = {
        "y": {"gender": [0.21, 0.19], "race": [0.22, 0.15, 0.21, 0.20, 0.18], "age": [0.23, 0.19, 0.14, 0.2]},
        "y'": {"gender": [0.2, 0.18], "race": [0.16, 0.10, 0.13, 0.14, 0.15], "age": [0.2, 0.18, 0.17, 0.21]},
    }
    for strategy, attributes in values.items():
        for attribute, cccs in attributes.items():
            for i, c in enumerate(cccs):
                rows.append(
                    {
                        "strategy": strategy,
                        "attribute": attribute,
                        "group": f"{attribute} {i}",
                        "n": 300,
                        "pcc": 1.5 * c + 0.1,
                        "ccc": c,
                        "rmse": 1.7 + 2 * c,
                    }
                )
    return pd.DataFrame(rows)


def test_gap(groups: pd.DataFrame) -> None:
    race = groups[(groups["strategy"] == "y") & (groups["attribute"] == "race")]
    right = race["ccc"].max() - race["ccc"].min()
    result = check.check_gap(right, groups)
    assert ok(result) and "race 0 0.220, race 1 0.150" in result.message
    wrong(check.check_gap(None, groups), NO_ANSWER)
    wrong(check.check_gap(-right, groups), "sign is flipped")
    y = groups[groups["strategy"] == "y"]
    wrong(check.check_gap(y["ccc"].max() - y["ccc"].min(), groups), "every attribute")
    every = groups[groups["attribute"] == "race"]
    wrong(check.check_gap(every["ccc"].max() - every["ccc"].min(), groups), "every strategy")
    other = groups[(groups["strategy"] == "y'") & (groups["attribute"] == "race")]
    wrong(check.check_gap(other["ccc"].max() - other["ccc"].min(), groups), "under y'")
    wrong(check.check_gap(race["pcc"].max() - race["pcc"].min(), groups), "PCC gap")
    wrong(check.check_gap(race["ccc"].max(), groups), "best group's CCC")
    wrong(check.check_gap(0.5, groups, attribute="religion"), "fewer than two religion groups")


def test_gap_change(groups: pd.DataFrame) -> None:
    race = groups[groups["attribute"] == "race"]
    gap = race.groupby("strategy")["ccc"].agg(lambda c: c.max() - c.min())
    right = gap["y'"] - gap["y"]
    result = check.check_gap_change(right, groups)
    assert ok(result) and "narrows" in result.message
    wrong(check.check_gap_change(None, groups), NO_ANSWER)
    wrong(check.check_gap_change(-right, groups), "sign is flipped")
    wrong(check.check_gap_change(gap["y'"], groups), "under y' alone")
    wrong(check.check_gap_change(gap["y"], groups), "under y alone")
    means = race.groupby("strategy")["ccc"].mean()
    wrong(check.check_gap_change(means["y'"] - means["y"], groups), "groups' mean")
    pcc = race.groupby("strategy")["pcc"].agg(lambda c: c.max() - c.min())
    wrong(check.check_gap_change(pcc["y'"] - pcc["y"], groups), "PCC gap")


# ------------------------------------------------------------------------- rerun chapter


@pytest.mark.parametrize("name", ["paper", "demo", "class"])
def test_finetune_runs(name: str) -> None:
    t = load_profile(name).llmpathy.training
    configurations = sum(len(t.alphas) if s == "y'" else 1 for s in t.finetune_strategies)
    right = configurations * len(t.seeds) * t.folds
    assert ok(check.check_finetune_runs(right, t))
    assert ok(check.check_finetune_runs(right, load_profile(name)))  # the profile itself also works
    wrong(check.check_finetune_runs(None, t), NO_ANSWER)
    wrong(check.check_finetune_runs(3 * len(t.seeds) * t.folds, t), "counted y′ once")
    wrong(check.check_finetune_runs(configurations * len(t.seeds), t), "left out the folds")
    wrong(check.check_finetune_runs(configurations * t.folds, t), "left out the seeds")
    wrong(check.check_finetune_runs(configurations, t), "number of configurations")


def test_finetune_runs_fixed_split_and_its_seeds() -> None:
    t = load_profile("demo").llmpathy.training  # finetune_seeds [0], seeds five
    wrong(check.check_finetune_runs(len(t.finetune_strategies) * len(t.finetune_seeds), t), "finetune_split")
    configurations = 2 + len(t.alphas)
    wrong(
        check.check_finetune_runs(configurations * len(t.finetune_seeds) * t.folds, t), "left out the seeds"
    )
    two = t.model_copy(update={"finetune_seeds": [0, 1]})
    wrong(check.check_finetune_runs(configurations * 2 * t.folds, two), "not its finetune_seeds")
    wrong(check.check_finetune_runs("700", t), "remove the quotes")
    wrong(check.check_finetune_runs(1, object()), "training settings")


def test_module_imports_without_the_package_names() -> None:
    import empathylab.course.llmpathy as module

    assert module.__all__ and all(name.startswith("check_") for name in module.__all__)
    assert all(callable(getattr(module, name)) for name in module.__all__)
