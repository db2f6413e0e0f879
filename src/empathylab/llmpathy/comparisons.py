"""Comparing label strategies: summaries over folds or seeds, calibrated tests, and the verdict text.

Part II's verdicts (does y′ or y_llm train a better regressor than the crowd labels y? do
LLM-labelled essays help?) are read off :func:`corrected_tests`: under cross-validation
repeated over seeds, the corrected resampled t-test of Nadeau & Bengio (2003), as
Bouckaert & Frank (2004) recommend for r × k-fold cross-validation; on one fixed split, a
t-test over seeds, whose verdict holds for that split's test essays only. The authors'
test (Hasan et al.: an independent t-test over the seed-level scores) is kept beside it,
labelled as theirs (:func:`seed_tests`). A paired t-test over every seed's folds pooled
(:func:`paired_tests`' ``seed == "all"`` rows) treats the seeds' folds as independent
although they hold the same essays: for two equally good label sets it rejects in about
a third of simulated tables (:mod:`empathylab.llmpathy.calibration`), so no verdict uses it.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from empathylab import metrics
from empathylab.errors import EmpathylabError
from empathylab.verdicts import format_p

__all__ = [
    "paired_tests",
    "cv_summary",
    "corrected_t",
    "corrected_tests",
    "comparison_text",
    "replacement_summary",
    "HIGHER_IS_BETTER",
    "LEVEL",
    "TESTS",
    "SUMMARIES",
    "seed_scores",
    "seed_summary",
    "seed_tests",
    "compare_tests",
    "side_by_side",
]

#: Whether a larger value of each metric is better: the best seed has the highest PCC and
#: CCC and the lowest RMSE (as Hasan et al. pick it).
HIGHER_IS_BETTER = {"pcc": True, "ccc": True, "rmse": False}

#: The significance level of every verdict in Part II.
LEVEL = 0.05

#: The two significance tests of :func:`seed_tests`, by role, as it labels them: ours
#: decides (:func:`corrected_tests`); the authors' is shown beside it.
TESTS = {
    "ours": "our calibrated test",
    "seeds": "independent t-test over seeds (Hasan et al.)",
}

#: The two ways of reporting seeds, as :func:`side_by_side` labels them.
SUMMARIES = {
    "ours": "ours: mean ± sd of seeds, calibrated test",
    "authors": "as Hasan et al. report: median and best of seeds, independent t-test over seeds",
}


def paired_tests(cv: pd.DataFrame, baseline: str = "y", metric: str = "pcc") -> pd.DataFrame:
    """Return paired t-tests (pingouin) of every configuration against ``baseline``, per seed.

    Pairs are the folds of one seed (same test essays); a final row per configuration
    (``seed`` = "all") pools every seed's folds. That pooled row is **uncalibrated**: it
    counts the seeds' folds as independent pairs although every seed holds the same
    essays, so for two equally good label sets it rejects far more often than its level
    (:mod:`empathylab.llmpathy.calibration`); verdicts use :func:`corrected_tests`.

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


def corrected_t(differences: Any, ratio: float, level: float = 0.95) -> dict[str, Any]:
    """Return the corrected resampled t-test (Nadeau & Bengio 2003) of paired differences.

    ``differences`` holds the r × k differences of one cross-validation repeated over r
    seeds with k folds each (configuration minus baseline), on its last axis (leading
    axes are independent tables, as the calibration harness passes them). With n = r k
    pairs and ``ratio`` = n_test / n_train of a fold, the variance of the mean difference
    is taken as (1/n + ratio) times the variance of the differences, not 1/n of it: the
    folds share training essays and the seeds share every essay, so the differences are
    correlated. ``t = mean / se`` with ``df = n - 1``; a zero variance gives t = 0 and
    p = 1 for a zero mean (identical scores), else an infinite t and p = 0.

    Returns
    -------
    dict
        ``mean, se, t, df, p, ci_low, ci_high`` (floats for one table, arrays for many;
        the interval at ``level``).

    >>> d = np.array([0.02, 0.01, 0.03, 0.00, 0.02, 0.01, 0.02, 0.03, 0.01, 0.02])
    >>> r = corrected_t(d, ratio=1 / 9)
    >>> round(r["t"], 2), r["df"], round(r["p"], 4)
    (3.9, 9, 0.0036)
    >>> from scipy import stats
    >>> round(float(stats.ttest_1samp(d, 0).statistic), 2)  # uncorrected: se too small
    5.67
    """
    from scipy import stats

    d = np.asarray(differences, dtype=np.float64)
    n = d.shape[-1]
    if n < 2:
        raise EmpathylabError(f"corrected_t needs at least two paired differences, got {n}.")
    if not (math.isfinite(ratio) and ratio >= 0):
        raise EmpathylabError(f"ratio (n_test / n_train) must be a finite number >= 0, got {ratio}.")
    mean = d.mean(axis=-1)
    se = np.sqrt((1 / n + ratio) * d.var(axis=-1, ddof=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(
            se > 0, mean / np.where(se > 0, se, 1.0), np.where(mean == 0, 0.0, np.sign(mean) * np.inf)
        )
    p = 2 * stats.t.sf(np.abs(t), n - 1)
    q = float(stats.t.ppf(0.5 + level / 2, n - 1))
    out = {
        "mean": mean,
        "se": se,
        "t": t,
        "df": n - 1,
        "p": p,
        "ci_low": mean - q * se,
        "ci_high": mean + q * se,
    }
    return {k: (float(v) if np.ndim(v) == 0 and k != "df" else v) for k, v in out.items()}


def _fold_ratio(runs: pd.DataFrame, baseline: str) -> tuple[float, str]:
    """Return n_test / n_train of a fold and where it comes from.

    From the baseline's runs when the table records ``n_test`` and ``n_train`` (for the
    augmentation experiment, the crowd-labelled part the folds resample; the extra set
    is the same in every fold of a seed); else 1/(k − 1) for k folds per seed, said so.
    """
    base = _select(runs, baseline, np.nan)
    sizes = ["n_test", "n_train"]
    if set(sizes) <= set(runs.columns) and len(base) and base[sizes].notna().all().all():
        n_test, n_train = float(base["n_test"].mean()), float(base["n_train"].mean())
        if n_train > 0:
            return n_test / n_train, f"fold sizes: n_test / n_train = {n_test:.0f} / {n_train:.0f}"
    k = int(runs.groupby("seed")["fold"].nunique().max())
    if k < 2:
        return float("nan"), "needs at least two folds per seed"
    return 1 / (k - 1), f"assumed 1/(k − 1) = 1/{k - 1} for k = {k} folds (the table records no fold sizes)"


def _verdict(mean_diff: float, p: float, metric: str, level: float) -> str:
    """Return ``better``, ``worse`` or ``not significant`` from a difference and its p."""
    if not math.isfinite(p):
        return "undetermined: the test gives no p-value"
    if p >= level:
        return "not significant"
    return "better" if (mean_diff > 0) == HIGHER_IS_BETTER[metric] else "worse"


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise EmpathylabError(f"level must lie strictly between 0 and 1, got {level}.")


def _check_baseline(per_seed: pd.DataFrame, baseline: str) -> None:
    if (baseline, -1.0) not in dict.fromkeys(_keys(per_seed)):
        raise EmpathylabError(
            f"no {baseline!r} runs to compare with; found "
            f"{', '.join(_config_name(s, a) for s, a in _configurations(per_seed))}."
        )


def _has_folds(runs: pd.DataFrame) -> bool:
    return "fold" in runs.columns and bool(runs["fold"].notna().all())


def _cv_row(
    runs: pd.DataFrame, strategy: str, alpha: float, baseline: str, metric: str, ratio: float, level: float
) -> dict[str, Any]:
    keys = ["seed", "fold"]
    pairs = pd.concat(
        [
            _select(runs, strategy, alpha).groupby(keys)[metric].mean(),
            _select(runs, baseline, np.nan).groupby(keys)[metric].mean(),
        ],
        axis=1,
        keys=["config", "base"],
        join="inner",
    ).dropna()
    seeds = int(pairs.index.get_level_values("seed").nunique())
    folds = int(pairs.groupby(level="seed").size().max()) if len(pairs) else 0
    row: dict[str, Any] = {"design": "cross-validation", "seeds": seeds, "folds": folds, "n": len(pairs)}
    if len(pairs) < 2 or not math.isfinite(ratio):
        why = (
            "needs at least two folds per seed"
            if not math.isfinite(ratio)
            else f"needs at least two folds scored for both {_config_name(strategy, alpha)} and {baseline}"
        )
        return row | {"method": "", "verdict": f"undetermined: the test {why}", "note": why}
    r = corrected_t((pairs["config"] - pairs["base"]).to_numpy(), ratio)
    note = "identical scores in every fold" if r["se"] == 0 and r["mean"] == 0 else ""
    return row | {
        "method": f"corrected resampled t-test (Nadeau & Bengio) over {seeds} seeds × {folds} folds",
        "mean_diff": r["mean"],
        "se": r["se"],
        "ci_low": r["ci_low"],
        "ci_high": r["ci_high"],
        "t": r["t"],
        "df": r["df"],
        "p": r["p"],
        "verdict": _verdict(r["mean"], r["p"], metric, level),
        "note": note,
    }


def _split_row(
    per_seed: pd.DataFrame, strategy: str, alpha: float, baseline: str, metric: str, level: float
) -> dict[str, Any]:
    from scipy import stats

    from empathylab.verdicts import t_interval

    a = _select(per_seed, strategy, alpha).set_index("seed")[metric].dropna()
    b = _select(per_seed, baseline, np.nan).set_index("seed")[metric].dropna()
    row: dict[str, Any] = {"design": "one split", "seeds": len(a), "folds": 1}
    if len(a) < 2 or len(b) < 2:
        why = (
            f"needs at least two seeds of each configuration on one split "
            f"({_config_name(strategy, alpha)}: {len(a)}, {baseline}: {len(b)})"
        )
        return row | {
            "method": "",
            "n": min(len(a), len(b)),
            "verdict": "undetermined: one split and fewer than two seeds, so nothing varies to test against",
            "note": why,
        }
    if set(a.index) == set(b.index):
        # The same seeds: pair them (same initialisation and batch order), df = seeds - 1.
        r = t_interval((a - b.loc[a.index]).to_numpy())
        t = (
            r["mean"] / r["se"]
            if r["se"] > 0
            else (0.0 if r["mean"] == 0 else math.copysign(math.inf, r["mean"]))
        )
        method = f"paired t-test over {len(a)} seeds on one split"
        out = {"n": len(a), "mean_diff": r["mean"], "se": r["se"], "t": t, "df": r["df"], "p": r["p"]}
        out |= {"ci_low": r["ci_low"], "ci_high": r["ci_high"]}
    else:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = stats.ttest_ind(a.to_numpy(), b.to_numpy(), equal_var=False)
            ci = res.confidence_interval()
        method = f"Welch t-test over seeds on one split ({len(a)} and {len(b)} seeds)"
        diff = float(a.mean() - b.mean())
        out = {"n": min(len(a), len(b)), "mean_diff": diff, "t": float(res.statistic), "df": float(res.df)}
        out |= {"p": float(res.pvalue), "ci_low": float(ci.low), "ci_high": float(ci.high)}
        out["se"] = diff / out["t"] if out["t"] else float("nan")
    return (
        row
        | out
        | {
            "method": method,
            "verdict": _verdict(out["mean_diff"], out["p"], metric, level),
            "note": "",
        }
    )


CORRECTED_COLUMNS = [
    "strategy", "alpha", "baseline", "metric", "design", "method", "seeds", "folds", "n",
    "mean_diff", "se", "ci_low", "ci_high", "t", "df", "p", "ratio", "ratio_source", "verdict", "note",
]  # fmt: skip


def corrected_tests(
    runs: pd.DataFrame, baseline: str = "y", metric: str = "pcc", level: float = LEVEL
) -> pd.DataFrame:
    """Return the calibrated test of every configuration against ``baseline``, with its verdict.

    Under cross-validation (``runs`` has folds: :func:`~empathylab.llmpathy.cross_validation`,
    :func:`~empathylab.llmpathy.augmentation_folds`): the corrected resampled t-test
    (:func:`corrected_t`) over every seed's folds, paired by (seed, fold), with
    n_test / n_train from the table's fold sizes (else 1/(k − 1), said in
    ``ratio_source``). On one split (:func:`~empathylab.llmpathy.finetune_split`: one
    test split, several seeds): a paired t-test over seeds when both configurations ran
    the same seeds, else Welch's; that verdict holds for the split's test essays only
    (the seeds vary the training, not the essays). With one seed it is undetermined.

    Returns
    -------
    DataFrame
        One row per configuration other than ``baseline``: ``strategy, alpha, baseline,
        metric, design`` ("cross-validation" or "one split"), ``method`` (the test, in
        words), ``seeds, folds, n`` (pairs of folds, or seeds), ``mean_diff`` (configuration
        minus baseline), ``se, ci_low, ci_high`` (95 % interval of the difference), ``t, df,
        p, ratio, ratio_source, verdict`` ("better", "worse" — by :data:`HIGHER_IS_BETTER`,
        so a lower RMSE is better — "not significant" at ``level``, or "undetermined: ..."),
        ``note`` (why a test did not run, or "identical scores in every fold").

    Examples
    --------
    >>> cv = pd.DataFrame({"strategy": ["y"] * 6 + ["y_llm"] * 6, "alpha": np.nan,
    ...                    "seed": [0, 0, 0, 1, 1, 1] * 2, "fold": [0, 1, 2] * 4,
    ...                    "pcc": [.30, .32, .28, .31, .29, .30, .36, .35, .33, .34, .36, .35]})
    >>> r = corrected_tests(cv).iloc[0]
    >>> r["ratio_source"]
    'assumed 1/(k − 1) = 1/2 for k = 3 folds (the table records no fold sizes)'
    >>> float(r["mean_diff"].round(3)), int(r["df"]), float(r["p"].round(3)), r["verdict"]
    (0.048, 5, 0.014, 'better')
    """
    check_metric(metric)
    _check_level(level)
    require_columns(runs, ["strategy", "alpha", "seed", metric], "corrected_tests")
    if runs.empty:
        raise EmpathylabError("corrected_tests got no runs: the table is empty.")
    configurations = _configurations(runs)
    _check_baseline(runs, baseline)
    folds = _has_folds(runs)
    ratio, source = _fold_ratio(runs, baseline) if folds else (float("nan"), "")
    per_seed = None if folds else seed_scores(runs)
    rows = []
    for strategy, alpha in configurations:
        if strategy == baseline and pd.isna(alpha):
            continue
        head = {"strategy": strategy, "alpha": alpha, "baseline": baseline, "metric": metric}
        if folds:
            body = _cv_row(runs, strategy, alpha, baseline, metric, ratio, level)
            body |= {"ratio": ratio, "ratio_source": source}
        else:
            body = _split_row(per_seed, strategy, alpha, baseline, metric, level)
        rows.append(head | body)
    return pd.DataFrame(rows).reindex(columns=CORRECTED_COLUMNS)


def seed_scores(runs: pd.DataFrame) -> pd.DataFrame:
    """Return one score per configuration and seed: the mean over that seed's folds.

    ``runs`` holds one row per run: the folds of a cross-validation
    (:func:`cross_validation`, :func:`probe_augmentation`; a seed's score is the mean
    over its folds) or single test splits (:func:`finetune_split`; a seed's score is its
    test score). The metrics are those of :data:`HIGHER_IS_BETTER` that ``runs`` has.

    Returns
    -------
    DataFrame
        ``strategy, alpha, seed, runs`` and the metrics (``pcc, ccc, rmse``): one row per
        configuration (strategy, α) and seed, configurations in the order they first
        appear, seeds sorted; ``runs`` counts the folds averaged.

    Examples
    --------
    >>> cv = pd.DataFrame({"strategy": "y", "alpha": np.nan, "seed": [0, 0, 1, 1],
    ...                    "fold": [0, 1] * 2, "pcc": [.1, .3, .3, .5], "ccc": .2, "rmse": 1.0})
    >>> seed_scores(cv)[["seed", "runs", "pcc"]].round(3).to_dict("records")
    [{'seed': 0, 'runs': 2, 'pcc': 0.2}, {'seed': 1, 'runs': 2, 'pcc': 0.4}]
    """
    present = [m for m in HIGHER_IS_BETTER if m in runs.columns]
    require_columns(runs, ["strategy", "alpha", "seed", *(present or HIGHER_IS_BETTER)], "seed_scores")
    if runs.empty:
        raise EmpathylabError("seed_scores got no runs: the table is empty.")
    grouped = runs.groupby(["strategy", "alpha", "seed"], dropna=False, sort=False)
    out = grouped[present].mean()
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


def seed_tests(
    runs: pd.DataFrame, baseline: str = "y", metric: str = "pcc", level: float = LEVEL
) -> pd.DataFrame:
    """Return two significance tests of every configuration against ``baseline``, labelled.

    Per configuration, one row per test (``test``, see :data:`TESTS`):

    - ours, which decides: :func:`corrected_tests` (the corrected resampled t-test over
      folds and seeds, or a t-test over seeds on one split);
    - Hasan et al.'s: an independent two-sample t-test (``scipy.stats.ttest_ind``: equal
      variances, two-sided) of the configuration's seed-level scores
      (:func:`seed_scores`) against the baseline's. It takes the seeds as independent
      samples, which under cross-validation they are not (they reuse the same essays):
      :mod:`empathylab.llmpathy.calibration` measures how often it errs.

    A test that cannot run gets NaN statistics and says why in ``note``; its verdict
    is "undetermined: ...".

    Returns
    -------
    DataFrame
        ``strategy, alpha, baseline, test, method, n, mean_diff, ci_low, ci_high, T, df,
        p_val, verdict, note``: ``method`` names the test exactly; ``n`` counts the paired
        folds or seeds (ours) or the configuration's seeds (theirs); ``mean_diff`` is
        configuration minus baseline, with our test's 95 % interval (NaN on theirs);
        ``verdict`` as :func:`corrected_tests`' (at ``level``); ``note`` is empty when
        the test ran.

    Examples
    --------
    >>> from scipy import stats
    >>> cv = pd.DataFrame({"strategy": ["y"] * 6 + ["y_llm"] * 6, "alpha": np.nan,
    ...                    "seed": [0, 0, 1, 1, 2, 2] * 2, "fold": [0, 1] * 6, "ccc": .2, "rmse": 1.0,
    ...                    "pcc": [.30, .36, .31, .34, .30, .35, .34, .37, .35, .35, .33, .36]})
    >>> t = seed_tests(cv)
    >>> t[["test", "n", "verdict"]].to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'test': 'our calibrated test', 'n': 6, 'verdict': 'not significant'},
     {'test': 'independent t-test over seeds (Hasan et al.)', 'n': 3, 'verdict': 'better'}]
    >>> bool(np.isclose(t["p_val"][1], stats.ttest_ind([.355, .35, .345], [.33, .325, .325]).pvalue))
    True
    """
    from scipy import stats

    check_metric(metric)
    _check_level(level)
    per_seed = seed_scores(runs)
    require_columns(per_seed, [metric], "seed_tests")
    _check_baseline(per_seed, baseline)
    ours = corrected_tests(runs, baseline, metric, level)
    base = _select(per_seed, baseline, np.nan)[metric].dropna().to_numpy(dtype=np.float64)
    rows = []
    for _, c in ours.iterrows():
        strategy, alpha = c["strategy"], c["alpha"]
        row = {"strategy": strategy, "alpha": alpha, "baseline": baseline}
        rows.append(
            row
            | {
                "test": TESTS["ours"],
                "method": c["method"],
                "n": int(c["n"]),
                "mean_diff": c["mean_diff"],
                "ci_low": c["ci_low"],
                "ci_high": c["ci_high"],
                "T": c["t"],
                "df": c["df"],
                "p_val": c["p"],
                "verdict": c["verdict"],
                "note": c["note"] if c["verdict"].startswith("undetermined") else "",
            }
        )
        values = _select(per_seed, strategy, alpha)[metric].dropna().to_numpy(dtype=np.float64)
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
            note = "" if np.isfinite(p) else "finds no variation over seeds in either configuration"
        diff = float(values.mean() - base.mean()) if len(values) and len(base) else np.nan
        rows.append(
            row
            | {
                "test": TESTS["seeds"],
                "method": "independent t-test over seeds (Hasan et al.)",
                "n": len(values),
                "mean_diff": diff,
                "ci_low": np.nan,
                "ci_high": np.nan,
                "T": T,
                "df": len(values) + len(base) - 2 if not note else np.nan,
                "p_val": p,
                "verdict": f"undetermined: it {note}" if note else _verdict(diff, p, metric, level),
                "note": note,
            }
        )
    return pd.DataFrame(rows)


def _signed(value: float) -> str:
    """Return ``value`` with its sign and a typographic minus: ``+0.012``, ``−0.004``."""
    return f"{value:+.3f}".replace("-", "−")


def comparison_text(
    tests: pd.DataFrame,
    strategy: str,
    alpha: float | None,
    value: float,
    base_value: float,
    metric: str = "pcc",
    detail: str = "",
) -> str:
    """Return one clause comparing a configuration with the baseline, from :func:`seed_tests`.

    ``value`` and ``base_value`` are the two scores shown (means over seeds); ``detail``
    is added inside the parentheses. The verdict is our calibrated test's; Hasan et
    al.'s test follows, labelled as theirs. The direction word ("higher", "lower")
    describes the score, the verdict ("better", "worse") follows :data:`HIGHER_IS_BETTER`.

    >>> tests = pd.DataFrame({"strategy": "y_llm", "alpha": np.nan, "baseline": "y",
    ...     "test": list(TESTS.values()), "method": ["corrected resampled t-test", "theirs"],
    ...     "mean_diff": [-0.02, -0.02], "p_val": [0.3, 0.004], "verdict": ["not significant", "worse"],
    ...     "note": ""})
    >>> comparison_text(tests, "y_llm", None, 0.31, 0.33)  # doctest: +NORMALIZE_WHITESPACE
    "y_llm gives a lower PCC than y (0.310 against 0.330): not significantly different from y by our
     calibrated test, the corrected resampled t-test (p = 0.3); Hasan et al.'s independent t-test over
     seeds: p = 0.004"
    """
    check_metric(metric)
    alpha = np.nan if alpha is None else alpha
    mine = _select(tests, strategy, alpha)
    ours = mine[mine["test"] == TESTS["ours"]]
    theirs = mine[mine["test"] == TESTS["seeds"]]
    if ours.empty or theirs.empty:
        raise EmpathylabError(
            f"no tests of {_config_name(strategy, alpha)} in the table; pass seed_tests(runs) for these runs."
        )
    o, s = ours.iloc[0], theirs.iloc[0]
    baseline = str(o["baseline"])
    name = _config_name(strategy, alpha).replace("+", " + ")
    how = "the same" if value == base_value else "a higher" if value > base_value else "a lower"
    inside = f"{value:.3f} against {base_value:.3f}"
    if "ci_low" in o.index and pd.notna(o.get("ci_low")):
        ci = f"{_signed(o['ci_low'])} to {_signed(o['ci_high'])}"
        inside += f"; difference {_signed(o['mean_diff'])}, 95 % CI {ci}"
    if detail:
        inside += f"; {detail}"
    text = (
        f"{name} gives {how} {metric.upper()} {'as' if how == 'the same' else 'than'} {baseline} ({inside}): "
    )
    scope = " on this split" if "one split" in str(o["method"]) else ""
    verdict = str(o["verdict"])
    if verdict.startswith("undetermined"):
        text += f"our calibrated test leaves it {verdict}"
    else:
        word = {
            "better": f"better than {baseline}",
            "worse": f"worse than {baseline}",
            "not significant": f"not significantly different from {baseline}",
        }[verdict]
        text += f"{word}{scope} by our calibrated test, the {o['method']} ({format_p(o['p_val'])})"
    if s["note"]:
        return text + f"; Hasan et al.'s independent t-test over seeds cannot run (it {s['note']})"
    return text + f"; Hasan et al.'s independent t-test over seeds: {format_p(s['p_val'])}"


def replacement_summary(summary: pd.DataFrame, tests: pd.DataFrame, alpha: float, metric: str = "pcc") -> str:
    """Return sentences saying whether y' (at ``alpha``) and y_llm beat y, from the numbers.

    ``summary`` is :func:`cv_summary`'s output, ``tests`` :func:`seed_tests`' for the same
    runs and ``metric``: our calibrated test decides (:func:`corrected_tests`), Hasan et
    al.'s test is given beside it (:func:`comparison_text`). The last sentence names the
    configuration with the best mean (highest PCC or CCC, lowest RMSE), a description:
    the best of many configurations is not tested as such.

    >>> cv = pd.DataFrame({"strategy": ["y", "y'", "y_llm"] * 4, "alpha": [np.nan, 4.5, np.nan] * 4,
    ...     "seed": [0] * 6 + [1] * 6, "fold": [0, 0, 0, 1, 1, 1] * 2, "n_replaced": [0, 3, 9] * 4,
    ...     "pcc": [.30, .31, .20, .32, .33, .22, .31, .32, .21, .29, .30, .19], "ccc": .2, "rmse": 1.0})
    >>> text = replacement_summary(cv_summary(cv), seed_tests(cv), 4.5)
    >>> text.split(": ")[1].split(" by ")[0]
    'better than y'
    >>> text.split(". ")[-1]  # doctest: +NORMALIZE_WHITESPACE
    "The highest mean PCC is y' (α = 4.5)'s, 0.315, replacing 3 training labels per fold
     on average."
    """
    check_metric(metric)
    require_columns(
        tests, ["strategy", "alpha", "test", "method", "p_val", "verdict", "note"], "replacement_summary"
    )

    def row(strategy: str, a: float | None = None) -> pd.Series:
        part = summary[summary["strategy"] == strategy]
        return (part if a is None else part[np.isclose(part["alpha"], a)]).iloc[0]

    base = row("y")[metric]
    parts = [
        comparison_text(tests, strategy, a, row(strategy, a)[metric], base, metric)
        for strategy, a in (("y'", alpha), ("y_llm", None))
    ]
    higher = HIGHER_IS_BETTER[metric]
    best = summary.loc[summary[metric].idxmax() if higher else summary[metric].idxmin()]
    best_name = _config_name(best["strategy"], best["alpha"])
    return (
        "; ".join(parts)
        + f". The {'highest' if higher else 'lowest'} mean {metric.upper()} is {best_name}'s, "
        f"{best[metric]:.3f}, replacing {best['n_replaced']:.0f} training labels per fold on average."
    )


def compare_tests(tests: pd.DataFrame, level: float = LEVEL) -> str:
    """Return a sentence saying whether the two tests of :func:`seed_tests` reach the same decisions.

    A difference counts as significant at p < ``level``. Ours (:func:`corrected_tests`)
    decides; the sentence says where Hasan et al.'s test differs. When a test could not
    run the sentence says so, with the reason, instead of reporting a missing p-value.

    Examples
    --------
    >>> tests = pd.DataFrame({"strategy": "y_llm", "alpha": np.nan, "baseline": "y",
    ...                       "test": list(TESTS.values()), "p_val": [0.2, 0.01], "note": "",
    ...                       "method": ["corrected resampled t-test", "theirs"]})
    >>> compare_tests(tests)  # doctest: +NORMALIZE_WHITESPACE
    "The two tests disagree on y_llm against y at the 0.05 level: our calibrated test (the corrected
     resampled t-test) gives p = 0.2, Hasan et al.'s independent t-test over seeds p = 0.01."
    """
    require_columns(tests, ["strategy", "alpha", "baseline", "test", "p_val", "note"], "compare_tests")
    _check_level(level)
    if tests.empty:
        raise EmpathylabError("compare_tests got no tests: the table is empty.")
    ours = tests[tests["test"] == TESTS["ours"]].reset_index(drop=True)
    seeds = tests[tests["test"] == TESTS["seeds"]].reset_index(drop=True)
    if len(seeds) != len(ours) or _keys(seeds) != _keys(ours):
        raise EmpathylabError(
            "compare_tests needs both tests for every configuration, as seed_tests gives them."
        )
    baseline = str(tests["baseline"].iloc[0])
    names = [_config_name(s, a) for s, a in _configurations(seeds)]
    ran_s, ran_o = (seeds["note"] == "").to_numpy(), (ours["note"] == "").to_numpy()
    sig_s, sig_o = (seeds["p_val"] < level).to_numpy(), (ours["p_val"] < level).to_numpy()
    parts = []
    if not ran_s.all():
        parts.append(
            f"Hasan et al.'s independent t-test over seeds cannot run on these runs: it "
            f"{seeds.loc[~ran_s, 'note'].iloc[0]}"
        )
    if not ran_o.all():
        parts.append(
            f"our calibrated test cannot run on these runs, so the comparison is undetermined: it "
            f"{ours.loc[~ran_o, 'note'].iloc[0]}"
        )
    both = ran_s & ran_o
    if len(names) == 1 and both[0]:
        p_text = (
            f"our calibrated test (the {ours['method'][0]}) gives {format_p(ours['p_val'][0])}, "
            f"Hasan et al.'s independent t-test over seeds {format_p(seeds['p_val'][0])}"
        )
        if sig_s[0] == sig_o[0]:
            word = "significantly" if sig_o[0] else "not significantly"
            return (
                f"The two tests agree: both find {names[0]} {word} different from {baseline} "
                f"at the {level:g} level ({p_text})."
            )
        return f"The two tests disagree on {names[0]} against {baseline} at the {level:g} level: {p_text}."
    if both.any():
        m = int(both.sum())
        agree = both & (sig_s == sig_o)
        text = (
            f"at the {level:g} level, of the {m} configurations compared with {baseline}, our "
            f"calibrated test finds {int((sig_o & both).sum())} significantly different and Hasan "
            f"et al.'s independent t-test over seeds {int((sig_s & both).sum())}; the two tests "
            f"agree on {int(agree.sum())} of {m}"
        )
        differ = [
            f"{names[i]} ({format_p(ours['p_val'][i])} ours, {format_p(seeds['p_val'][i])} theirs)"
            for i in np.flatnonzero(both & ~agree)
        ]
        if differ:
            more = f" and {len(differ) - 3} more" if len(differ) > 3 else ""
            text += f" and disagree on {', '.join(differ[:3])}{more}"
        parts.append(text)
    elif ran_s.any() or ran_o.any():
        ran, sig, label = (
            (ran_o, sig_o, "our calibrated test") if ran_o.any() else (ran_s, sig_s, TESTS["seeds"])
        )
        parts.append(
            f"{label} finds {int((sig & ran).sum())} of the {int(ran.sum())} "
            f"configurations significantly different from {baseline} at the {level:g} level"
        )
    return ". ".join(p[0].upper() + p[1:] for p in parts) + "."


def _p_cell(p: float) -> str:
    """Return a p-value for a table cell: ``0.012``, ``< 0.001``."""
    text = format_p(p)
    return text.removeprefix("p = ").removeprefix("p ")


def side_by_side(runs: pd.DataFrame, baseline: str = "y", metric: str = "pcc") -> pd.DataFrame:
    """Return both ways of reporting seeds, and both tests against ``baseline``, in one table.

    One row per configuration. Under :data:`SUMMARIES` ``["ours"]``: mean and sd of the
    seed-level scores and the p-value of our calibrated test (:func:`corrected_tests`);
    under ``["authors"]``: their median and best, and the p-value of the independent
    t-test over seeds (:func:`seed_summary`, :func:`seed_tests`). p-values are text
    (``0.012``, ``< 0.001``), "not run" for a test that cannot run (:func:`compare_tests`
    says why) and "baseline" on the baseline's own row.

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
    {('', 'configuration'): ['y', 'y_llm'], ('ours: mean ± sd of seeds, calibrated test', 'mean'): [0.225, 0.325],
     ('as Hasan et al. report: median and best of seeds, independent t-test over seeds', 'median'): [0.225, 0.325]}
    """
    summary = seed_summary(runs, [metric])
    tests = seed_tests(runs, baseline, metric)
    ours, authors = SUMMARIES["ours"], SUMMARIES["authors"]

    def p_value(strategy: str, alpha: float, test: str) -> Any:
        if strategy == baseline and pd.isna(alpha):
            return "baseline"
        row = _select(tests[tests["test"] == TESTS[test]], strategy, alpha).iloc[0]
        return "not run" if row["note"] else _p_cell(row["p_val"])

    rows = []
    for _, r in summary.iterrows():
        rows.append(
            {
                ("", "configuration"): _config_name(r["strategy"], r["alpha"]),
                ("", "seeds"): int(r["seeds"]),
                (ours, "mean"): r["mean"],
                (ours, "sd"): r["sd"],
                (ours, "p"): p_value(r["strategy"], r["alpha"], "ours"),
                (authors, "median"): r["median"],
                (authors, "best"): r["best"],
                (authors, "p"): p_value(r["strategy"], r["alpha"], "seeds"),
            }
        )
    return pd.DataFrame(rows, columns=pd.MultiIndex.from_tuples(list(rows[0])))
