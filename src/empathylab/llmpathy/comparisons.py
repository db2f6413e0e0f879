"""Comparing label strategies: summaries over folds or seeds, paired tests, and the verdict text."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from empathylab import metrics
from empathylab.errors import EmpathylabError

__all__ = [
    "paired_tests",
    "cv_summary",
    "replacement_summary",
    "HIGHER_IS_BETTER",
    "TESTS",
    "SUMMARIES",
    "seed_scores",
    "seed_summary",
    "seed_tests",
    "compare_tests",
    "side_by_side",
]


def paired_tests(cv: pd.DataFrame, baseline: str = "y", metric: str = "pcc") -> pd.DataFrame:
    """Return paired t-tests (pingouin) of every configuration against ``baseline``, per seed.

    Pairs are the folds of one seed (same test essays); a final row per configuration
    (``seed`` = "all") pools every seed's folds.

    Returns
    -------
    DataFrame
        ``strategy, alpha, seed, n, mean_diff, T, p_val, cohen_d``; ``mean_diff`` is
        configuration minus baseline.
    """
    keyed = cv.assign(config=cv["strategy"] + cv["alpha"].map(lambda a: "" if pd.isna(a) else f"@{a}"))
    wide = keyed.pivot_table(index=["seed", "fold"], columns="config", values=metric)
    if baseline not in wide:
        raise ValueError(f"no {baseline!r} rows to compare with; found {', '.join(wide.columns)}.")
    rows = []
    for config in (c for c in wide.columns if c != baseline):
        strategy, _, alpha = config.partition("@")
        for seed, part in [*wide.groupby(level="seed"), ("all", wide)]:
            T, _, p, d, _ = metrics.paired_ttest(part[config], part[baseline])
            rows.append(
                {
                    "strategy": strategy,
                    "alpha": float(alpha) if alpha else np.nan,
                    "seed": str(seed),
                    "n": len(part),
                    "mean_diff": float((part[config] - part[baseline]).mean()),
                    "T": T,
                    "p_val": p,
                    "cohen_d": d,
                }
            )
    return pd.DataFrame(rows)


def cv_summary(cv: pd.DataFrame) -> pd.DataFrame:
    """Return one row per configuration: metrics averaged over folds, then mean and sd over seeds.

    Columns: ``strategy, alpha, n_replaced, pcc, pcc_sd, ccc, ccc_sd, rmse, rmse_sd, seeds``.

    >>> cv = pd.DataFrame({"strategy": "y", "alpha": np.nan, "seed": [0, 0, 1, 1], "fold": [0, 1] * 2,
    ...                    "n_replaced": 0, "pcc": [.1, .3, .3, .5], "ccc": .1, "rmse": 1.0})
    >>> cv_summary(cv)[["strategy", "pcc", "pcc_sd", "seeds"]].round(3).to_dict("records")
    [{'strategy': 'y', 'pcc': 0.3, 'pcc_sd': 0.141, 'seeds': 2}]
    """
    per_seed = (
        cv.groupby(["strategy", "alpha", "seed"], dropna=False)[["n_replaced", "pcc", "ccc", "rmse"]]
        .mean()
        .reset_index()
    )
    grouped = per_seed.groupby(["strategy", "alpha"], dropna=False)
    out = grouped[["n_replaced", "pcc", "ccc", "rmse"]].mean()
    for metric in ("pcc", "ccc", "rmse"):
        out[f"{metric}_sd"] = grouped[metric].std()
    out["seeds"] = grouped.size()
    out = out.reset_index()
    return out[
        ["strategy", "alpha", "n_replaced", "pcc", "pcc_sd", "ccc", "ccc_sd", "rmse", "rmse_sd", "seeds"]
    ]


def replacement_summary(summary: pd.DataFrame, tests: pd.DataFrame, alpha: float, metric: str = "pcc") -> str:
    """Return a sentence saying whether y' (at ``alpha``) and y_llm beat y, from the numbers.

    ``summary`` is :func:`cv_summary`'s output, ``tests`` :func:`paired_tests`' output
    (the pooled ``seed == "all"`` rows are used; significance at p < 0.05).
    """

    def row(strategy: str, a: float | None = None) -> pd.Series:
        part = summary[summary["strategy"] == strategy]
        return (part if a is None else part[np.isclose(part["alpha"], a)]).iloc[0]

    def test(strategy: str, a: float | None = None) -> pd.Series:
        part = tests[(tests["strategy"] == strategy) & (tests["seed"] == "all")]
        return (part if a is None else part[np.isclose(part["alpha"], a)]).iloc[0]

    base = row("y")[metric]
    parts = []
    for strategy, a, name in (("y'", alpha, f"y' (α = {alpha:g})"), ("y_llm", None, "y_llm")):
        value, t = row(strategy, a)[metric], test(strategy, a)
        direction = "higher" if value > base else "lower"
        significant = "significantly" if t["p_val"] < 0.05 else "not significantly"
        parts.append(
            f"{name} gives a {direction} {metric.upper()} than y ({value:.3f} against "
            f"{base:.3f}; paired t-test over folds, p = {t['p_val']:.2g}: {significant} "
            f"different)"
        )
    best = summary.loc[summary[metric].idxmax()]
    best_name = best["strategy"] + (f" (α = {best['alpha']:g})" if best["strategy"] == "y'" else "")
    return (
        "; ".join(parts) + f". The highest mean {metric.upper()} is {best_name}'s, "
        f"{best[metric]:.3f}, replacing {best['n_replaced']:.0f} training labels per fold on average."
    )


#: Whether a larger value of each metric is better: the best seed has the highest PCC and
#: CCC and the lowest RMSE (as Hasan et al. pick it).
HIGHER_IS_BETTER = {"pcc": True, "ccc": True, "rmse": False}

#: The two significance tests, as :func:`seed_tests` labels them.
TESTS = {
    "seeds": "independent t-test over seeds (Hasan et al.)",
    "folds": "paired t-test over folds (ours)",
}

#: The two ways of reporting seeds, as :func:`side_by_side` labels them.
SUMMARIES = {
    "ours": "ours: mean ± sd, paired over folds",
    "authors": "as Hasan et al. report: median and best of seeds, independent t-test over seeds",
}


def require_columns(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise EmpathylabError(
            f"{what} needs column(s) {', '.join(missing)}; found {', '.join(map(str, frame.columns))}."
        )


def check_metric(metric: str) -> str:
    if metric not in HIGHER_IS_BETTER:
        raise EmpathylabError(f"unknown metric {metric!r}; valid: {', '.join(HIGHER_IS_BETTER)}.")
    return metric


def _keys(frame: pd.DataFrame) -> list[tuple[str, float]]:
    """Return ``(strategy, alpha)`` per row, a missing α as -1 (so that keys compare equal)."""
    return list(zip(frame["strategy"], frame["alpha"].astype(float).fillna(-1.0), strict=True))


def _configurations(frame: pd.DataFrame) -> list[tuple[str, float]]:
    """Return the (strategy, alpha) pairs of ``frame`` in the order they first appear."""
    return [(s, np.nan if a == -1.0 else a) for s, a in dict.fromkeys(_keys(frame))]


def _select(frame: pd.DataFrame, strategy: str, alpha: float) -> pd.DataFrame:
    wanted = (strategy, -1.0 if pd.isna(alpha) else float(alpha))
    return frame[[k == wanted for k in _keys(frame)]]


def _config_name(strategy: str, alpha: float) -> str:
    return strategy if pd.isna(alpha) else f"{strategy} (α = {alpha:g})"


def seed_scores(runs: pd.DataFrame) -> pd.DataFrame:
    """Return one score per configuration and seed: the mean over that seed's folds.

    ``runs`` holds one row per run: the folds of a cross-validation
    (:func:`cross_validation`, :func:`probe_augmentation`; a seed's score is the mean
    over its folds) or single test splits (:func:`finetune_split`; a seed's score is its
    test score).

    Returns
    -------
    DataFrame
        ``strategy, alpha, seed, runs, pcc, ccc, rmse``: one row per configuration
        (strategy, α) and seed, configurations in the order they first appear, seeds
        sorted; ``runs`` counts the folds averaged.

    Examples
    --------
    >>> cv = pd.DataFrame({"strategy": "y", "alpha": np.nan, "seed": [0, 0, 1, 1],
    ...                    "fold": [0, 1] * 2, "pcc": [.1, .3, .3, .5], "ccc": .2, "rmse": 1.0})
    >>> seed_scores(cv)[["seed", "runs", "pcc"]].round(3).to_dict("records")
    [{'seed': 0, 'runs': 2, 'pcc': 0.2}, {'seed': 1, 'runs': 2, 'pcc': 0.4}]
    """
    require_columns(runs, ["strategy", "alpha", "seed", *HIGHER_IS_BETTER], "seed_scores")
    if runs.empty:
        raise EmpathylabError("seed_scores got no runs: the table is empty.")
    grouped = runs.groupby(["strategy", "alpha", "seed"], dropna=False, sort=False)
    out = grouped[list(HIGHER_IS_BETTER)].mean()
    out.insert(0, "runs", grouped.size())
    out = out.reset_index()
    rank = {key: i for i, key in enumerate(dict.fromkeys(_keys(runs)))}
    out["_rank"] = [rank[key] for key in _keys(out)]
    return out.sort_values(["_rank", "seed"], kind="stable").drop(columns="_rank").reset_index(drop=True)


def seed_summary(
    runs: pd.DataFrame, metrics: tuple[str, ...] | list[str] = ("pcc", "ccc", "rmse")
) -> pd.DataFrame:
    """Return, per configuration and metric, the seed-level scores and four summaries of them.

    Seed-level scores are :func:`seed_scores`' (the mean over a seed's folds, or a seed's
    test score). We report their mean ± sd; Hasan et al. report their median and their
    best (the highest PCC or CCC, the lowest RMSE: :data:`HIGHER_IS_BETTER`).

    Returns
    -------
    DataFrame
        ``strategy, alpha, metric, seeds, scores, mean, sd, median, best``: one row per
        configuration and metric; ``scores`` is the tuple of seed-level scores (seeds
        sorted) and ``sd`` the sample standard deviation (NaN for a single seed).

    Examples
    --------
    >>> cv = pd.DataFrame({"strategy": "y", "alpha": np.nan, "seed": [0, 0, 1, 1, 2, 2],
    ...                    "fold": [0, 1] * 3, "pcc": [.1, .3, .3, .5, .6, .6], "ccc": .2,
    ...                    "rmse": [1.0, 1.2, 0.8, 1.0, 1.1, 1.1]})
    >>> seed_summary(cv, ["pcc", "rmse"])[["metric", "mean", "median", "best"]].round(3).to_dict("records")
    [{'metric': 'pcc', 'mean': 0.4, 'median': 0.4, 'best': 0.6}, {'metric': 'rmse', 'mean': 1.033, 'median': 1.1, 'best': 0.9}]
    """
    wanted = [check_metric(m) for m in metrics]
    if not wanted:
        raise EmpathylabError(
            f"seed_summary needs at least one metric; valid: {', '.join(HIGHER_IS_BETTER)}."
        )
    per_seed = seed_scores(runs)
    rows = []
    for strategy, alpha in _configurations(per_seed):
        part = _select(per_seed, strategy, alpha)
        for metric in wanted:
            values = part[metric].to_numpy(dtype=np.float64)
            rows.append(
                {
                    "strategy": strategy,
                    "alpha": alpha,
                    "metric": metric,
                    "seeds": len(values),
                    "scores": tuple(float(v) for v in values),
                    "mean": float(values.mean()),
                    "sd": float(values.std(ddof=1)) if len(values) > 1 else np.nan,
                    "median": float(np.median(values)),
                    "best": float(values.max() if HIGHER_IS_BETTER[metric] else values.min()),
                }
            )
    return pd.DataFrame(rows)


def seed_tests(runs: pd.DataFrame, baseline: str = "y", metric: str = "pcc") -> pd.DataFrame:
    """Return two significance tests of every configuration against ``baseline``, labelled.

    Per configuration, one row per test (``test``, see :data:`TESTS`):

    - Hasan et al.'s: an independent two-sample t-test (``scipy.stats.ttest_ind``: equal
      variances, two-sided) of the configuration's seed-level scores
      (:func:`seed_scores`) against the baseline's;
    - ours: the paired t-test over folds, every seed's folds pooled (the ``seed ==
      "all"`` rows of :func:`paired_tests`).

    A test that cannot run gets NaN statistics and says why in ``note``: the first needs
    at least two seeds per configuration, the second needs folds (:func:`finetune_split`
    has one test split per seed).

    Returns
    -------
    DataFrame
        ``strategy, alpha, baseline, test, n, mean_diff, T, p_val, note``: ``n`` counts
        the configuration's seeds or the fold pairs; ``mean_diff`` is configuration minus
        baseline (difference of seed means, or mean paired difference); ``note`` is empty
        when the test ran.

    Examples
    --------
    >>> from scipy import stats
    >>> cv = pd.DataFrame({"strategy": ["y"] * 6 + ["y_llm"] * 6, "alpha": np.nan,
    ...                    "seed": [0, 0, 1, 1, 2, 2] * 2, "fold": [0, 1] * 6, "ccc": .2, "rmse": 1.0,
    ...                    "pcc": [.1, .3, .2, .4, .2, .2, .3, .3, .4, .4, .5, .4]})
    >>> t = seed_tests(cv)
    >>> t[["test", "n"]].to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'test': 'independent t-test over seeds (Hasan et al.)', 'n': 3},
     {'test': 'paired t-test over folds (ours)', 'n': 6}]
    >>> bool(np.isclose(t["p_val"][0], stats.ttest_ind([.3, .4, .45], [.2, .3, .2]).pvalue))
    True
    """
    from scipy import stats

    check_metric(metric)
    per_seed = seed_scores(runs)
    configurations = _configurations(per_seed)
    if (baseline, -1.0) not in dict.fromkeys(_keys(per_seed)):
        raise EmpathylabError(
            f"no {baseline!r} runs to compare with; found "
            f"{', '.join(_config_name(s, a) for s, a in configurations)}."
        )
    base = _select(per_seed, baseline, np.nan)[metric].to_numpy(dtype=np.float64)
    has_folds = "fold" in runs.columns and runs["fold"].notna().all()
    pooled = None
    if has_folds:
        paired = paired_tests(runs, baseline, metric)
        pooled = paired[paired["seed"] == "all"]
    rows = []
    for strategy, alpha in configurations:
        if (strategy, alpha if not pd.isna(alpha) else -1.0) == (baseline, -1.0):
            continue
        values = _select(per_seed, strategy, alpha)[metric].to_numpy(dtype=np.float64)
        row = {"strategy": strategy, "alpha": alpha, "baseline": baseline}
        T = p = np.nan
        if len(values) < 2 or len(base) < 2:
            note = (
                f"needs at least two seeds per configuration ({_config_name(strategy, alpha)}: "
                f"{len(values)}, {baseline}: {len(base)})"
            )
        else:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = stats.ttest_ind(values, base)
            T, p = float(result.statistic), float(result.pvalue)
            note = "" if np.isfinite(p) else "no variation over seeds in either configuration"
        rows.append(
            row
            | {
                "test": TESTS["seeds"],
                "n": len(values),
                "mean_diff": float(values.mean() - base.mean()),
                "T": T,
                "p_val": p,
                "note": note,
            }
        )
        if pooled is None:
            rows.append(
                row
                | {
                    "test": TESTS["folds"],
                    "n": 0,
                    "mean_diff": np.nan,
                    "T": np.nan,
                    "p_val": np.nan,
                    "note": "needs folds; these runs have one test split per seed",
                }
            )
            continue
        fold = _select(pooled, strategy, alpha).iloc[0]
        note = "" if np.isfinite(fold["p_val"]) else "identical scores in every fold"
        rows.append(
            row
            | {
                "test": TESTS["folds"],
                "n": int(fold["n"]),
                "mean_diff": float(fold["mean_diff"]),
                "T": float(fold["T"]),
                "p_val": float(fold["p_val"]),
                "note": note,
            }
        )
    return pd.DataFrame(rows)


def compare_tests(tests: pd.DataFrame, level: float = 0.05) -> str:
    """Return a sentence saying whether the two tests of :func:`seed_tests` reach the same decisions.

    A difference counts as significant at p < ``level``. When a test could not run the
    sentence says so, with the reason, instead of reporting a missing p-value.

    Examples
    --------
    >>> tests = pd.DataFrame({"strategy": "y_llm", "alpha": np.nan, "baseline": "y",
    ...                       "test": list(TESTS.values()), "p_val": [0.2, 0.01], "note": ""})
    >>> compare_tests(tests)
    'The two tests disagree on y_llm against y: p = 0.01 paired over folds (ours), p = 0.2 over seeds (Hasan et al.), at the 0.05 level.'
    """
    require_columns(tests, ["strategy", "alpha", "baseline", "test", "p_val", "note"], "compare_tests")
    if not 0 < level < 1:
        raise EmpathylabError(f"level must lie strictly between 0 and 1, got {level}.")
    if tests.empty:
        raise EmpathylabError("compare_tests got no tests: the table is empty.")
    seeds = tests[tests["test"] == TESTS["seeds"]].reset_index(drop=True)
    folds = tests[tests["test"] == TESTS["folds"]].reset_index(drop=True)
    if len(seeds) != len(folds) or _keys(seeds) != _keys(folds):
        raise EmpathylabError(
            "compare_tests needs both tests for every configuration, as seed_tests gives them."
        )
    baseline = str(tests["baseline"].iloc[0])
    names = [_config_name(s, a) for s, a in _configurations(seeds)]
    ran_s, ran_f = (seeds["note"] == "").to_numpy(), (folds["note"] == "").to_numpy()
    sig_s, sig_f = (seeds["p_val"] < level).to_numpy(), (folds["p_val"] < level).to_numpy()
    parts = []
    if not ran_s.all():
        parts.append(
            f"Hasan et al.'s independent t-test over seeds cannot run on these runs: it "
            f"{seeds.loc[~ran_s, 'note'].iloc[0]}"
        )
    if not ran_f.all():
        parts.append(
            f"our paired t-test over folds cannot run on these runs: it {folds.loc[~ran_f, 'note'].iloc[0]}"
        )
    both = ran_s & ran_f
    if len(names) == 1 and both[0]:
        p_text = (
            f"p = {folds['p_val'][0]:.2g} paired over folds (ours), "
            f"p = {seeds['p_val'][0]:.2g} over seeds (Hasan et al.)"
        )
        if sig_s[0] == sig_f[0]:
            word = "significantly" if sig_f[0] else "not significantly"
            return (
                f"The two tests agree: both find {names[0]} {word} different from {baseline} "
                f"at the {level:g} level ({p_text})."
            )
        return f"The two tests disagree on {names[0]} against {baseline}: {p_text}, at the {level:g} level."
    if both.any():
        m = int(both.sum())
        agree = both & (sig_s == sig_f)
        text = (
            f"at the {level:g} level, of the {m} configurations compared with {baseline}, the paired "
            f"t-test over folds finds {int((sig_f & both).sum())} significantly different and the "
            f"independent t-test over seeds {int((sig_s & both).sum())}; the two tests agree on "
            f"{int(agree.sum())} of {m}"
        )
        differ = [
            f"{names[i]} (p = {folds['p_val'][i]:.2g} over folds, {seeds['p_val'][i]:.2g} over seeds)"
            for i in np.flatnonzero(both & ~agree)
        ]
        if differ:
            more = f" and {len(differ) - 3} more" if len(differ) > 3 else ""
            text += f" and disagree on {', '.join(differ[:3])}{more}"
        parts.append(text)
    elif ran_s.any() or ran_f.any():
        ran, sig, label = (ran_s, sig_s, TESTS["seeds"]) if ran_s.any() else (ran_f, sig_f, TESTS["folds"])
        parts.append(
            f"the {label} finds {int((sig & ran).sum())} of the {int(ran.sum())} "
            f"configurations significantly different from {baseline} at the {level:g} level"
        )
    return ". ".join(p[0].upper() + p[1:] for p in parts) + "."


def side_by_side(runs: pd.DataFrame, baseline: str = "y", metric: str = "pcc") -> pd.DataFrame:
    """Return both ways of reporting seeds, and both tests against ``baseline``, in one table.

    One row per configuration. Under :data:`SUMMARIES` ``["ours"]``: mean and sd of the
    seed-level scores and the p-value of the paired t-test over folds; under
    ``["authors"]``: their median and best, and the p-value of the independent t-test
    over seeds (:func:`seed_summary`, :func:`seed_tests`). p-values are text: two
    significant digits, "< 0.001" below that, "not run" for a test that cannot run
    (:func:`compare_tests` says why) and "baseline" on the baseline's own row.

    Returns
    -------
    DataFrame
        Two-level columns: ``("", "configuration")``, ``("", "seeds")``, then ``mean,
        sd, p`` and ``median, best, p`` under the two labels.

    Examples
    --------
    >>> cv = pd.DataFrame({"strategy": ["y", "y_llm"] * 4, "alpha": np.nan, "seed": [0, 0, 0, 0, 1, 1, 1, 1],
    ...                    "fold": [0, 0, 1, 1] * 2, "pcc": [.1, .2, .3, .3, .2, .4, .3, .4], "ccc": .2, "rmse": 1.0})
    >>> side_by_side(cv).iloc[:, [0, 2, 5]].to_dict("list")  # doctest: +NORMALIZE_WHITESPACE
    {('', 'configuration'): ['y', 'y_llm'], ('ours: mean ± sd, paired over folds', 'mean'): [0.225, 0.325],
     ('as Hasan et al. report: median and best of seeds, independent t-test over seeds', 'median'): [0.225, 0.325]}
    """
    summary = seed_summary(runs, [metric])
    tests = seed_tests(runs, baseline, metric)
    ours, authors = SUMMARIES["ours"], SUMMARIES["authors"]

    def p_value(strategy: str, alpha: float, test: str) -> Any:
        if strategy == baseline and pd.isna(alpha):
            return "baseline"
        row = _select(tests[tests["test"] == TESTS[test]], strategy, alpha).iloc[0]
        if row["note"]:
            return "not run"
        return "< 0.001" if row["p_val"] < 0.001 else f"{row['p_val']:.2g}"

    rows = []
    for _, r in summary.iterrows():
        rows.append(
            {
                ("", "configuration"): _config_name(r["strategy"], r["alpha"]),
                ("", "seeds"): int(r["seeds"]),
                (ours, "mean"): r["mean"],
                (ours, "sd"): r["sd"],
                (ours, "p"): p_value(r["strategy"], r["alpha"], "folds"),
                (authors, "median"): r["median"],
                (authors, "best"): r["best"],
                (authors, "p"): p_value(r["strategy"], r["alpha"], "seeds"),
            }
        )
    return pd.DataFrame(rows, columns=pd.MultiIndex.from_tuples(list(rows[0])))
