"""Part II runs, driven by a profile: labelling, cross-validation and fine-tuning.

Each function reads the ``llmpathy`` section of a profile, stores what it computes
under ``<output_dir>/llmpathy/`` and, called again, reads it back instead of
recomputing (the CLI, the chapters and the tests share these stores).
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from empathylab import metrics, newsemp, splits, strategies
from empathylab.errors import EmpathylabError
from empathylab.profiles import Profile, load_profile
from empathylab.store import model_slug

__all__ = [
    "PUBLISHED", "BUECHEL_BASELINES", "METHODS", "results_dir", "essays", "user_data", "label_sample", "label_table", "agreement", "probe_cv", "out_of_fold",
    "cross_validation", "finetune_cv", "cv_summary", "verdict", "augmentation", "finetune_split",
    "paired_tests", "probe_predictions", "alpha_span", "table",
    "HIGHER_IS_BETTER", "TESTS", "SUMMARIES", "seed_scores", "seed_summary", "seed_tests", "compare_tests",
    "side_by_side",
    "EXTRA", "AUGMENTATION", "augmentation_design", "augmentation_sets", "augmentation_folds", "probe_augmentation",
    "augmentation_verdict",
]  # fmt: skip


#: Numbers reported by Hasan et al. (IEEE JSTSP 2026), shown next to ours in the book.
PUBLISHED = {
    "llm_llm_alpha": (0.80, 0.99),
    "llm_crowd_alpha": (0.19, 0.27),
    "newsemp24_test_pcc": 0.648,
    "newsemp24_test_ccc": 0.597,
    "zero_shot_gpt4_pcc": 0.581,
}
#: What each cross-validation method is, for the chapters (``{encoder}`` is filled in).
METHODS = {
    "probe": (
        "The numbers in this section come from the *frozen-encoder probe*: every essay is "
        "embedded once by `{encoder}` (mean-pooled token states, cached) and a ridge "
        "regression, its penalty chosen by leave-one-out inside the training folds, is fitted "
        "per fold. A probe is far cheaper than fine-tuning, which is what makes the whole α "
        "grid under cross-validation fit a CPU; it shows how the labels change what a "
        "regressor can learn, not the paper's fine-tuned magnitudes. The fine-tuning recipe "
        "runs on one split below."
    ),
    "finetune": (
        "The numbers in this section come from *fine-tuning* `{encoder}` with the recipe of "
        "Hasan et al. in every fold, seed, strategy and α, one more group of the training "
        "writers held out for early stopping."
    ),
}
#: Buechel et al. (2018), 10-fold CV on the same 1,860 essays, empathy PCC.
BUECHEL_BASELINES = {"CNN": 0.404, "ridge": 0.385, "feed-forward": 0.379}


def results_dir(profile: Profile | str, root: str | Path = ".") -> Path:
    """Return ``<output_dir>/llmpathy`` of ``profile`` (not created).

    >>> results_dir("demo").as_posix()
    'results/demo/llmpathy'
    """
    return load_profile(profile).output_path(root) / "llmpathy"


def essays(profile: Profile | str = "demo") -> pd.DataFrame:
    """Return the public essays with their crowd and released LLM labels, plus ``split``.

    ``split`` is the profile's fixed, seeded train/valid/test assignment of whole
    writers (:func:`empathylab.splits.holdout_split`).

    >>> essays("demo")["split"].value_counts().index.tolist()
    ['train', 'test', 'valid']
    """
    cfg = load_profile(profile)
    frame = newsemp.public_essays()
    split = cfg.llmpathy.training.split
    return frame.assign(split=splits.holdout_split(frame, valid=split.valid, test=split.test,
                                                   seed=cfg.seed))  # fmt: skip


def user_data(profile: Profile | str) -> dict[tuple[str, str], pd.DataFrame]:
    """Return the NewsEmp files the profile points to, read and joined with released labels.

    Keys are ``(dataset, split)``; an empty dict when the profile names no files
    (the licences forbid shipping them).
    """
    cfg = load_profile(profile)
    out = {}
    for dataset, files in cfg.llmpathy.newsemp.items():
        for split, paths in files.items():
            frame = newsemp.read_newsemp(dataset, split, paths.essays, gold=paths.gold,
                                         demographics=paths.demographics)  # fmt: skip
            out[dataset, split] = newsemp.attach_released(frame, dataset, split, strict=False)
    return out


def label_sample(
    profile: Profile | str = "demo",
    *,
    prompt: str = "scale-aware",
    model: str | None = None,
    backend: str | None = None,
    sample: int | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Label the profile's sample of public essays with an LLM; return one row per essay.

    The sample is ``llmpathy.labelling.sample`` essays drawn with the profile's seed
    (all 1,860 when null); the model is the profile's first causal LM unless given.
    Labels are stored under ``llmpathy/labels/<model>/<prompt>`` and resumed; a store
    of another design is refused before the model is loaded.
    """
    from empathylab.backends import load_backend
    from empathylab.labels import labels_store, run_labels
    from empathylab.runner import backend_options

    cfg = load_profile(profile)
    settings = cfg.llmpathy.labelling
    model = model or cfg.models.causal_lm[0]
    backend = backend or settings.backend
    frame = newsemp.public_essays()
    size = sample or settings.sample
    if size is not None and size < len(frame):
        frame = frame.sample(size, random_state=cfg.seed).sort_index()
    out_dir = results_dir(cfg) / "labels"
    options = {"max_new_tokens": settings.max_new_tokens, "retries": settings.retries,
               "batch_size": settings.batch_size}  # fmt: skip
    # Refuses a store of another design before any model is loaded.
    labels_store(out_dir, frame, prompt=prompt, model=model, backend=backend, **options)
    api = cfg.gaps.api
    if api.top_p is None:  # Hasan et al. label with top_p 0.01 (and temperature 0)
        api = api.model_copy(update={"top_p": 0.01})
    gaps_like = cfg.model_copy(update={"gaps": cfg.gaps.model_copy(update={"backend": backend, "api": api})})
    engine = load_backend(backend, model, **backend_options(gaps_like))
    try:
        return run_labels(frame, engine, prompt=prompt, out_dir=out_dir, model=model,
                          progress=progress, **options)  # fmt: skip
    finally:
        engine.close()


def label_table(profile: Profile | str = "demo", *, min_labels: int = 10) -> pd.DataFrame:
    """Return the public essays' labels, one column per source (NaN = missing).

    Columns: ``essay_id``, ``crowd``, ``gpt4o``, ``llama3_70b`` and one column
    ``<model>/<prompt>`` per labelling run stored for this profile
    (:func:`label_sample`) with at least ``min_labels`` valid labels.
    """
    from empathylab.labels import read_labels

    frame = newsemp.public_essays()[["essay_id", "crowd", "gpt4o", "llama3_70b"]]
    root = results_dir(profile) / "labels"
    for folder in sorted(p for p in root.glob("*/*") if p.is_dir()):
        stored = read_labels(folder)
        if int(stored["valid"].sum()) >= min_labels:
            column = f"{folder.parent.name}/{folder.name}"
            frame = frame.merge(stored[["essay_id", "label"]].rename(columns={"label": column}),
                                on="essay_id", how="left")  # fmt: skip
    return frame


def agreement(profile: Profile | str = "demo", *, min_labels: int = 10) -> pd.DataFrame:
    """Return α (interval) and Pearson r for every pair of label sources of :func:`label_table`.

    One row per pair: ``a, b, alpha, pearson, n`` (:func:`empathylab.metrics.agreement`).
    """
    table = label_table(profile, min_labels=min_labels)
    return metrics.agreement(table, [c for c in table.columns if c != "essay_id"])


def _fingerprint(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _cached(path: Path, key: str) -> pd.DataFrame | None:
    if path.exists():
        import pyarrow.parquet as pq

        meta = pq.read_schema(path).metadata or {}
        if meta.get(b"empathylab_key", b"").decode() == key:
            return pd.read_parquet(path)
    return None


def _save(frame: pd.DataFrame, path: Path, key: str) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"empathylab_key": key.encode()})
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)
    return frame


def probe_cv(profile: Profile | str = "demo", *, progress: bool = True) -> pd.DataFrame:
    """Return the probe's grouped cross-validation of y, y' (every α) and y_llm.

    Settings come from ``llmpathy.training`` (folds, seeds, alphas, llm) and the
    encoder from ``models.encoder``; see :func:`empathylab.probe.cross_validate` for
    the columns. Stored in ``llmpathy/probe_cv.parquet`` and reused while the
    settings and essays are unchanged.
    """
    from empathylab import probe

    cfg = load_profile(profile)
    t = cfg.llmpathy.training
    frame = newsemp.public_essays()
    key = _fingerprint({"encoder": cfg.models.encoder, "folds": t.folds, "seeds": t.seeds,
                        "alphas": t.alphas, "llm": t.llm, "essays": _essays_key(frame)})  # fmt: skip
    path = results_dir(cfg) / "probe_cv.parquet"
    if (stored := _cached(path, key)) is not None:
        return stored
    features = probe.embed(frame["essay"], cfg.models.encoder, device=cfg.device, progress=progress)
    cv = probe.cross_validate(frame, features, alphas=t.alphas, llm=t.llm, k=t.folds, seeds=t.seeds)
    return _save(cv, path, key)


def out_of_fold(
    profile: Profile | str = "demo", *, strategy: str = "y", alpha: float | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Return the public essays with ``prediction``: the probe's out-of-fold prediction.

    Folds are those of the profile's first seed; the labels follow ``strategy``.
    """
    from empathylab import probe

    cfg = load_profile(profile)
    t = cfg.llmpathy.training
    frame = newsemp.public_essays()
    features = probe.embed(frame["essay"], cfg.models.encoder, device=cfg.device, progress=progress)
    y = strategies.targets(frame, strategy, llm=t.llm, alpha=alpha)[0].to_numpy()
    prediction = np.full(len(frame), np.nan)
    for _, train, test in splits.fold_indices(splits.grouped_folds(frame, t.folds, seed=t.seeds[0])):
        use = train[np.isfinite(y[train])]
        prediction[test] = probe.fit_predict(features[use], y[use], features[test])
    return frame.assign(prediction=prediction)


def _essays_key(frame: pd.DataFrame) -> str:
    return hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()


def _recipe(cfg: Profile) -> Any:
    from empathylab.train import Recipe

    t = cfg.llmpathy.training
    return Recipe(max_epochs=t.max_epochs, max_length=t.max_length, batch_size=t.batch_size)


def _finetune_run(
    cfg: Profile, path: Path, key: dict[str, Any], train: pd.DataFrame, valid: pd.DataFrame,
    test: pd.DataFrame, strategy: str, alpha: float | None, seed: int, progress: bool,
) -> pd.DataFrame:
    """Fine-tune once (or read the stored run); return test predictions with run columns."""
    from empathylab.train import fine_tune, predict

    recipe = _recipe(cfg)
    fingerprint = _fingerprint({**key, "encoder": cfg.models.encoder, "recipe": repr(recipe),
                                "llm": cfg.llmpathy.training.llm, "alpha": alpha, "seed": seed})  # fmt: skip
    if (stored := _cached(path, fingerprint)) is not None:
        return stored
    labels, replaced = strategies.targets(train, strategy, llm=cfg.llmpathy.training.llm, alpha=alpha)
    start = time.perf_counter()
    fitted = fine_tune(train.assign(label=labels), valid.assign(label=valid["crowd"]),
                       encoder=cfg.models.encoder, seed=seed, recipe=recipe, device=cfg.device,
                       progress=progress)  # fmt: skip
    return _save(test[["essay_id", "crowd"]].assign(
        prediction=predict(fitted, test["essay"]), strategy=strategy,
        alpha=np.nan if alpha is None else alpha, seed=seed, n_train=int(labels.notna().sum()),
        n_replaced=replaced, epochs=len(fitted.history), kept_epoch=fitted.kept_epoch,
        seconds=time.perf_counter() - start,
    ), path, fingerprint)  # fmt: skip


def _run_row(stored: pd.DataFrame, **extra: Any) -> dict[str, Any]:
    run = stored.iloc[0]
    columns = ("strategy", "alpha", "seed", "n_train", "n_replaced", "epochs", "kept_epoch", "seconds")
    return {c: run[c] for c in columns} | extra | metrics.scores(stored["crowd"], stored["prediction"])


def _path_name(strategy: str, alpha: float | None, seed: int) -> str:
    tag = {"y": "y", "y'": "yprime", "y_llm": "yllm"}[strategy]
    return f"{tag}{'' if alpha is None else f'-{alpha:g}'}-seed{seed}"


def finetune_split(profile: Profile | str = "demo", *, progress: bool = True) -> pd.DataFrame:
    """Fine-tune the profile's encoder on the fixed split, once per strategy and seed.

    Each run trains on the ``train`` essays under its strategy (y' with
    ``llmpathy.training.alpha``), stops early on the ``valid`` essays' crowd labels,
    and is scored against the crowd labels of ``test``. Every finished run is stored
    (``llmpathy/finetune/<strategy>-seed<seed>.parquet``, with its test predictions),
    so an interrupted sweep resumes.

    Returns
    -------
    DataFrame
        One row per run: ``strategy, alpha, seed, n_train, n_replaced, epochs,
        kept_epoch, seconds, split, pcc, ccc, rmse`` (test metrics).
    """
    cfg = load_profile(profile)
    t = cfg.llmpathy.training
    frame = essays(cfg)
    part = {name: frame[frame["split"] == name] for name in ("train", "valid", "test")}
    key = {"split": t.split.model_dump(), "essays": _essays_key(frame)}
    rows = []
    for strategy in t.finetune_strategies:
        alpha = t.alpha if strategy == "y'" else None
        for seed in t.finetune_seeds:
            path = results_dir(cfg) / "finetune" / f"{_path_name(strategy, alpha, seed)}.parquet"
            stored = _finetune_run(cfg, path, key, part["train"], part["valid"], part["test"],
                                   strategy, alpha, seed, progress)  # fmt: skip
            rows.append(_run_row(stored, split="test"))
    return pd.DataFrame(rows)


def finetune_cv(profile: Profile | str = "paper", *, progress: bool = True) -> pd.DataFrame:
    """Return grouped cross-validation by fine-tuning: every strategy, α, seed and fold.

    The full recipe of Hasan et al. (a GPU job: folds × seeds × configurations
    fine-tunings). In each fold, one more grouped fold of the training writers is held
    out for early stopping. Runs are stored under ``llmpathy/finetune_cv/`` and resumed.
    Columns as :func:`empathylab.probe.cross_validate`'s, plus the run columns of
    :func:`finetune_split`.
    """
    cfg = load_profile(profile)
    t = cfg.llmpathy.training
    frame = newsemp.public_essays()
    configurations = [(s, a) for s in t.finetune_strategies for a in (t.alphas if s == "y'" else [None])]
    rows = []
    for seed in t.seeds:
        folds = splits.grouped_folds(frame, t.folds, seed=seed)
        for fold, train_at, test_at in splits.fold_indices(folds):
            rest = frame.iloc[train_at]
            inner = splits.grouped_folds(rest, t.folds - 1, seed=seed)
            train, valid = rest[inner != 0], rest[inner == 0]
            key = {"cv": [t.folds, seed, fold], "essays": _essays_key(frame)}
            for strategy, alpha in configurations:
                path = (results_dir(cfg) / "finetune_cv"
                        / f"{_path_name(strategy, alpha, seed)}-fold{fold}.parquet")  # fmt: skip
                stored = _finetune_run(cfg, path, key, train, valid, frame.iloc[test_at],
                                       strategy, alpha, seed, progress)  # fmt: skip
                rows.append(_run_row(stored, fold=fold, n_test=len(test_at)))
    return pd.DataFrame(rows)


def cross_validation(profile: Profile | str = "demo", *, progress: bool = True) -> pd.DataFrame:
    """Return the profile's cross-validation sweep: :func:`probe_cv` or :func:`finetune_cv`.

    ``llmpathy.training.cv_method`` picks the method; the tidy columns are shared
    (``strategy, alpha, seed, fold, n_replaced, pcc, ccc, rmse``...).
    """
    cfg = load_profile(profile)
    run = probe_cv if cfg.llmpathy.training.cv_method == "probe" else finetune_cv
    return run(cfg, progress=progress)


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
            rows.append({
                "strategy": strategy, "alpha": float(alpha) if alpha else np.nan, "seed": str(seed),
                "n": len(part), "mean_diff": float((part[config] - part[baseline]).mean()),
                "T": T, "p_val": p, "cohen_d": d,
            })  # fmt: skip
    return pd.DataFrame(rows)


def cv_summary(cv: pd.DataFrame) -> pd.DataFrame:
    """Return one row per configuration: metrics averaged over folds, then mean and sd over seeds.

    Columns: ``strategy, alpha, n_replaced, pcc, pcc_sd, ccc, ccc_sd, rmse, rmse_sd, seeds``.

    >>> cv = pd.DataFrame({"strategy": "y", "alpha": np.nan, "seed": [0, 0, 1, 1], "fold": [0, 1] * 2,
    ...                    "n_replaced": 0, "pcc": [.1, .3, .3, .5], "ccc": .1, "rmse": 1.0})
    >>> cv_summary(cv)[["strategy", "pcc", "pcc_sd", "seeds"]].round(3).to_dict("records")
    [{'strategy': 'y', 'pcc': 0.3, 'pcc_sd': 0.141, 'seeds': 2}]
    """
    per_seed = (cv.groupby(["strategy", "alpha", "seed"], dropna=False)
                [["n_replaced", "pcc", "ccc", "rmse"]].mean().reset_index())  # fmt: skip
    grouped = per_seed.groupby(["strategy", "alpha"], dropna=False)
    out = grouped[["n_replaced", "pcc", "ccc", "rmse"]].mean()
    for metric in ("pcc", "ccc", "rmse"):
        out[f"{metric}_sd"] = grouped[metric].std()
    out["seeds"] = grouped.size()
    out = out.reset_index()
    return out[["strategy", "alpha", "n_replaced", "pcc", "pcc_sd", "ccc", "ccc_sd",
                "rmse", "rmse_sd", "seeds"]]  # fmt: skip


def verdict(summary: pd.DataFrame, tests: pd.DataFrame, alpha: float, metric: str = "pcc") -> str:
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
        parts.append(f"{name} gives a {direction} {metric.upper()} than y ({value:.3f} against "
                     f"{base:.3f}; paired t-test over folds, p = {t['p_val']:.2g}: {significant} "
                     f"different)")  # fmt: skip
    best = summary.loc[summary[metric].idxmax()]
    best_name = best["strategy"] + (f" (α = {best['alpha']:g})" if best["strategy"] == "y'" else "")
    return ("; ".join(parts) + f". The highest mean {metric.upper()} is {best_name}'s, "
            f"{best[metric]:.3f}, replacing {best['n_replaced']:.0f} training labels per fold on average.")


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


def _require(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise EmpathylabError(
            f"{what} needs column(s) {', '.join(missing)}; found {', '.join(map(str, frame.columns))}."
        )


def _check_metric(metric: str) -> str:
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
    _require(runs, ["strategy", "alpha", "seed", *HIGHER_IS_BETTER], "seed_scores")
    if runs.empty:
        raise EmpathylabError("seed_scores got no runs: the table is empty.")
    grouped = runs.groupby(["strategy", "alpha", "seed"], dropna=False, sort=False)
    out = grouped[list(HIGHER_IS_BETTER)].mean()
    out.insert(0, "runs", grouped.size())
    out = out.reset_index()
    rank = {key: i for i, key in enumerate(dict.fromkeys(_keys(runs)))}
    out["_rank"] = [rank[key] for key in _keys(out)]
    return out.sort_values(["_rank", "seed"], kind="stable").drop(columns="_rank").reset_index(drop=True)


def seed_summary(runs: pd.DataFrame, metrics: tuple[str, ...] | list[str] = ("pcc", "ccc", "rmse")) -> pd.DataFrame:
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
    wanted = [_check_metric(m) for m in metrics]
    if not wanted:
        raise EmpathylabError(f"seed_summary needs at least one metric; valid: {', '.join(HIGHER_IS_BETTER)}.")
    per_seed = seed_scores(runs)
    rows = []
    for strategy, alpha in _configurations(per_seed):
        part = _select(per_seed, strategy, alpha)
        for metric in wanted:
            values = part[metric].to_numpy(dtype=np.float64)
            rows.append({
                "strategy": strategy, "alpha": alpha, "metric": metric, "seeds": len(values),
                "scores": tuple(float(v) for v in values), "mean": float(values.mean()),
                "sd": float(values.std(ddof=1)) if len(values) > 1 else np.nan,
                "median": float(np.median(values)),
                "best": float(values.max() if HIGHER_IS_BETTER[metric] else values.min()),
            })  # fmt: skip
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

    _check_metric(metric)
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
            note = (f"needs at least two seeds per configuration ({_config_name(strategy, alpha)}: "
                    f"{len(values)}, {baseline}: {len(base)})")  # fmt: skip
        else:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = stats.ttest_ind(values, base)
            T, p = float(result.statistic), float(result.pvalue)
            note = "" if np.isfinite(p) else "no variation over seeds in either configuration"
        rows.append(row | {"test": TESTS["seeds"], "n": len(values),
                           "mean_diff": float(values.mean() - base.mean()), "T": T, "p_val": p,
                           "note": note})  # fmt: skip
        if pooled is None:
            rows.append(row | {"test": TESTS["folds"], "n": 0, "mean_diff": np.nan, "T": np.nan,
                               "p_val": np.nan, "note": "needs folds; these runs have one test "
                               "split per seed"})  # fmt: skip
            continue
        fold = _select(pooled, strategy, alpha).iloc[0]
        note = "" if np.isfinite(fold["p_val"]) else "identical scores in every fold"
        rows.append(row | {"test": TESTS["folds"], "n": int(fold["n"]),
                           "mean_diff": float(fold["mean_diff"]), "T": float(fold["T"]),
                           "p_val": float(fold["p_val"]), "note": note})  # fmt: skip
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
    _require(tests, ["strategy", "alpha", "baseline", "test", "p_val", "note"], "compare_tests")
    if not 0 < level < 1:
        raise EmpathylabError(f"level must lie strictly between 0 and 1, got {level}.")
    if tests.empty:
        raise EmpathylabError("compare_tests got no tests: the table is empty.")
    seeds = tests[tests["test"] == TESTS["seeds"]].reset_index(drop=True)
    folds = tests[tests["test"] == TESTS["folds"]].reset_index(drop=True)
    if len(seeds) != len(folds) or _keys(seeds) != _keys(folds):
        raise EmpathylabError("compare_tests needs both tests for every configuration, as seed_tests gives them.")
    baseline = str(tests["baseline"].iloc[0])
    names = [_config_name(s, a) for s, a in _configurations(seeds)]
    ran_s, ran_f = (seeds["note"] == "").to_numpy(), (folds["note"] == "").to_numpy()
    sig_s, sig_f = (seeds["p_val"] < level).to_numpy(), (folds["p_val"] < level).to_numpy()
    parts = []
    if not ran_s.all():
        parts.append(f"Hasan et al.'s independent t-test over seeds cannot run on these runs: it "
                     f"{seeds.loc[~ran_s, 'note'].iloc[0]}")  # fmt: skip
    if not ran_f.all():
        parts.append(f"our paired t-test over folds cannot run on these runs: it "
                     f"{folds.loc[~ran_f, 'note'].iloc[0]}")  # fmt: skip
    both = ran_s & ran_f
    if len(names) == 1 and both[0]:
        p_text = (f"p = {folds['p_val'][0]:.2g} paired over folds (ours), "
                  f"p = {seeds['p_val'][0]:.2g} over seeds (Hasan et al.)")  # fmt: skip
        if sig_s[0] == sig_f[0]:
            word = "significantly" if sig_f[0] else "not significantly"
            return (f"The two tests agree: both find {names[0]} {word} different from {baseline} "
                    f"at the {level:g} level ({p_text}).")  # fmt: skip
        return f"The two tests disagree on {names[0]} against {baseline}: {p_text}, at the {level:g} level."
    if both.any():
        m = int(both.sum())
        agree = both & (sig_s == sig_f)
        text = (f"at the {level:g} level, of the {m} configurations compared with {baseline}, the paired "
                f"t-test over folds finds {int((sig_f & both).sum())} significantly different and the "
                f"independent t-test over seeds {int((sig_s & both).sum())}; the two tests agree on "
                f"{int(agree.sum())} of {m}")  # fmt: skip
        differ = [f"{names[i]} (p = {folds['p_val'][i]:.2g} over folds, {seeds['p_val'][i]:.2g} over seeds)"
                  for i in np.flatnonzero(both & ~agree)]  # fmt: skip
        if differ:
            more = f" and {len(differ) - 3} more" if len(differ) > 3 else ""
            text += f" and disagree on {', '.join(differ[:3])}{more}"
        parts.append(text)
    elif ran_s.any() or ran_f.any():
        ran, sig, label = (ran_s, sig_s, TESTS["seeds"]) if ran_s.any() else (ran_f, sig_f, TESTS["folds"])
        parts.append(f"the {label} finds {int((sig & ran).sum())} of the {int(ran.sum())} "
                     f"configurations significantly different from {baseline} at the {level:g} level")  # fmt: skip
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
        rows.append({
            ("", "configuration"): _config_name(r["strategy"], r["alpha"]), ("", "seeds"): int(r["seeds"]),
            (ours, "mean"): r["mean"], (ours, "sd"): r["sd"],
            (ours, "p"): p_value(r["strategy"], r["alpha"], "folds"),
            (authors, "median"): r["median"], (authors, "best"): r["best"],
            (authors, "p"): p_value(r["strategy"], r["alpha"], "seeds"),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=pd.MultiIndex.from_tuples(list(rows[0])))


def augmentation(
    profile: Profile | str, extra: pd.DataFrame, *, progress: bool = True
) -> pd.DataFrame:
    """Return probe test metrics of y (public training essays) against y+y_llm (plus ``extra``).

    ``extra`` is another essay set with LLM labels (the profile's ``training.llm``
    column), e.g. one of :func:`user_data`'s frames; both models are scored against
    the crowd labels of the public test essays, once per seed of the profile (the
    split is the profile's, the seed only changes nothing for a ridge probe, so one
    row per strategy is returned).
    """
    from empathylab import probe

    cfg = load_profile(profile)
    t = cfg.llmpathy.training
    frame = essays(cfg)
    train, test = frame[frame["split"] != "test"], frame[frame["split"] == "test"]
    both = strategies.augment(train, extra, llm=t.llm)
    rows = []
    for name, data in (("y", both[both["source"] == "crowd"]), ("y+y_llm", both)):
        x = probe.embed(data["essay"], cfg.models.encoder, device=cfg.device, progress=progress)
        x_test = probe.embed(test["essay"], cfg.models.encoder, device=cfg.device, progress=progress)
        prediction = probe.fit_predict(x, data["label"].to_numpy(), x_test)
        rows.append({"strategy": name, "n_train": len(data),
                     **metrics.scores(test["crowd"], prediction)})  # fmt: skip
    return pd.DataFrame(rows)


#: The fold number :func:`augmentation_design` gives the writers of the extra set.
EXTRA = -1
#: The training sets of the augmentation experiment (:func:`augmentation_sets`).
AUGMENTATION = ("y", "y+y_llm", "y+y_crowd")


def augmentation_design(
    frame: pd.DataFrame, *, share: float = 0.5, k: int = 10, seed: int = 0, group: str = "writer_id"
) -> pd.Series:
    """Return each essay's part in the public-data augmentation experiment: a fold or the extra set.

    The public release has no second essay set, so one is made from its writers: a
    seeded ``share`` of them (:func:`empathylab.splits.holdout_split`) becomes the extra
    set, whose essays enter training with LLM labels only; the other writers are split
    into ``k`` grouped folds (:func:`empathylab.splits.grouped_folds`, same ``seed``).
    No writer is in two parts, and the extra writers are never tested on.

    Returns
    -------
    Series
        ``fold``, indexed like ``frame``: 0..k-1, or :data:`EXTRA` (-1) for the extra set.

    Examples
    --------
    >>> t = pd.DataFrame({"writer_id": [str(i // 2) for i in range(40)]})
    >>> design = augmentation_design(t, share=0.5, k=4, seed=0)
    >>> int((design == EXTRA).sum()), sorted(design[design != EXTRA].value_counts().tolist())
    (20, [4, 4, 6, 6])
    >>> t.assign(fold=design).groupby("writer_id")["fold"].nunique().max().item()
    1
    """
    _require(frame, [group], "augmentation_design")
    if not 0 < share < 1:
        raise EmpathylabError(f"share must lie strictly between 0 and 1 (a share of the writers), got {share}.")
    if frame[group].isna().any():
        raise EmpathylabError(f"column {group!r} has {int(frame[group].isna().sum())} missing value(s).")
    extra = splits.holdout_split(frame, valid=0.0, test=share, seed=seed, group=group) == "test"
    writers = frame.loc[extra, group].nunique(), frame.loc[~extra, group].nunique()
    if writers[0] == 0:
        raise EmpathylabError(f"share {share} holds out no writer; give a larger share (0 < share < 1).")
    if not 2 <= k <= writers[1]:
        raise EmpathylabError(
            f"k must be between 2 and the {writers[1]} writers left after holding out a share of "
            f"{share}, got {k}; give fewer folds or a smaller share."
        )
    folds = splits.grouped_folds(frame[~extra], k, seed=seed, group=group)
    return pd.Series(EXTRA, index=frame.index, name="fold").where(extra, folds).astype(int)


def augmentation_sets(
    frame: pd.DataFrame, design: pd.Series, fold: int, *, llm: str = "gpt4o"
) -> dict[str, pd.DataFrame]:
    """Return the training sets and the test set of one fold of the augmentation experiment.

    ``design`` is :func:`augmentation_design`'s. Training for y is the crowd-labelled
    essays of the other folds; y+y_llm adds the extra set's essays with their ``llm``
    labels (:func:`empathylab.strategies.augment`; essays without one are dropped, and
    the extra essays' crowd labels are blanked so that they cannot leak in). The
    control y+y_crowd adds the same extra essays with their crowd labels instead: what
    the LLM labels stand in for. The test set is the fold's essays, labelled by the crowd.

    Returns
    -------
    dict
        ``{"y": ..., "y+y_llm": ..., "y+y_crowd": ..., "test": ...}``: frames with the
        columns of ``frame`` plus ``row`` (position in ``frame``), ``label`` and
        ``source`` ("crowd" or "llm").

    Examples
    --------
    >>> t = pd.DataFrame({"writer_id": list("abcdef"), "crowd": [1.0, 2, 3, 4, 5, 6],
    ...                   "gpt4o": [2.0, 2, 2, 2, 2, None]})
    >>> design = pd.Series([0, 0, 1, 1, EXTRA, EXTRA])
    >>> sets = augmentation_sets(t, design, 0)
    >>> sets["y+y_llm"][["writer_id", "label", "source"]].values.tolist()
    [['c', 3.0, 'crowd'], ['d', 4.0, 'crowd'], ['e', 2.0, 'llm']]
    >>> sets["y+y_crowd"]["label"].tolist(), sets["test"]["writer_id"].tolist(), len(sets["y"])
    ([3.0, 4.0, 5.0], ['a', 'b'], 2)
    """
    _require(frame, ["crowd", llm], "augmentation_sets")
    if len(design) != len(frame) or not design.index.equals(frame.index):
        raise EmpathylabError(f"design has {len(design)} rows indexed unlike the {len(frame)} essays; "
                              "pass augmentation_design(frame, ...) of this frame.")  # fmt: skip
    folds = sorted(int(f) for f in design.unique() if f != EXTRA)
    if fold not in folds:
        raise EmpathylabError(f"no fold {fold} in the design; valid: {', '.join(map(str, folds))}.")
    rows = frame.assign(row=np.arange(len(frame)))
    train = rows[(design != EXTRA) & (design != fold)]
    extra = rows[(design == EXTRA) & rows[llm].notna()]
    with_llm = strategies.augment(train, extra.assign(crowd=np.nan), llm=llm)
    y = with_llm[with_llm["source"] == "crowd"]
    with_crowd = pd.concat([y, extra.assign(label=extra["crowd"].astype(float), source="crowd")],
                           ignore_index=True)  # fmt: skip
    test = rows[design == fold]
    return {"y": y.reset_index(drop=True), "y+y_llm": with_llm, "y+y_crowd": with_crowd,
            "test": test.assign(label=test["crowd"].astype(float), source="crowd").reset_index(drop=True)}  # fmt: skip


def augmentation_folds(
    frame: pd.DataFrame,
    features: np.ndarray,
    *,
    share: float = 0.5,
    k: int = 10,
    seeds: list[int] | tuple[int, ...] = (0,),
    llm: str = "gpt4o",
) -> pd.DataFrame:
    """Return probe results of y, y+y_llm and y+y_crowd on the same held-out writers, per seed and fold.

    For each seed, :func:`augmentation_design` draws the extra writers and the folds;
    in each fold a ridge probe (:func:`empathylab.probe.fit_predict` on ``features``,
    one row per essay of ``frame``) is trained on each of :func:`augmentation_sets`'
    training sets and scored against the crowd labels of the fold's writers.

    Returns
    -------
    DataFrame
        One row per (strategy, seed, fold): ``strategy`` (:data:`AUGMENTATION`), ``alpha``
        (NaN), ``seed, fold, n_train, n_llm`` (LLM-labelled training essays), ``n_test,
        n_replaced`` (0: no crowd label is replaced), ``pcc, ccc, rmse``, the columns
        :func:`cv_summary`, :func:`paired_tests` and :func:`seed_tests` read.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(300, 5)); truth = x[:, 0] + 4
    >>> t = pd.DataFrame({"writer_id": [str(i // 3) for i in range(300)],
    ...                   "crowd": truth + rng.normal(0, 2, 300), "gpt4o": truth})
    >>> r = augmentation_folds(t, x, share=0.5, k=5, seeds=[0, 1])
    >>> r.groupby("strategy", sort=False)["n_llm"].max().to_dict()
    {'y': 0, 'y+y_llm': 150, 'y+y_crowd': 0}
    """
    from empathylab import probe

    if len(features) != len(frame):
        raise EmpathylabError(f"{len(features)} feature rows for {len(frame)} essays; give one per essay.")
    if not seeds:
        raise EmpathylabError("augmentation_folds needs at least one seed.")
    features = np.asarray(features)
    rows = []
    for seed in seeds:
        design = augmentation_design(frame, share=share, k=k, seed=seed)
        for fold in range(k):
            sets = augmentation_sets(frame, design, fold, llm=llm)
            test, x_test = sets["test"], features[sets["test"]["row"]]
            predictions = {"y": probe.fit_predict(features[sets["y"]["row"]], sets["y"]["label"].to_numpy(), x_test)}
            # y+y_llm and y+y_crowd train on the same essays: one fit, a column (and penalty) each.
            shared = sets["y+y_llm"]
            stacked = np.column_stack([shared["label"], sets["y+y_crowd"]["label"]])
            both = probe.fit_predict(features[shared["row"]], stacked, x_test).reshape(len(test), 2)
            predictions |= {"y+y_llm": both[:, 0], "y+y_crowd": both[:, 1]}
            for name in AUGMENTATION:
                train = sets[name]
                rows.append({
                    "strategy": name, "alpha": np.nan, "seed": seed, "fold": fold,
                    "n_train": len(train), "n_llm": int((train["source"] == "llm").sum()),
                    "n_test": len(test), "n_replaced": 0,
                    **metrics.scores(test["label"], predictions[name]),
                })  # fmt: skip
    return pd.DataFrame(rows)


def probe_augmentation(profile: Profile | str = "demo", *, progress: bool = True) -> pd.DataFrame:
    """Return the public-data augmentation experiment: y against y+y_llm with the probe.

    :func:`augmentation_folds` on the public essays, with the share of extra writers
    ``llmpathy.training.augment_share``, its ``folds``, ``seeds`` and ``llm``, and the
    frozen ``models.encoder`` (the embeddings :func:`probe_cv` caches). Stored in
    ``llmpathy/probe_augmentation.parquet`` and reused while the settings and essays
    are unchanged.

    Returns
    -------
    DataFrame
        :func:`augmentation_folds`' columns.
    """
    from empathylab import probe

    cfg = load_profile(profile)
    t = cfg.llmpathy.training
    frame = newsemp.public_essays()
    key = _fingerprint({"design": "writers-v2", "encoder": cfg.models.encoder, "folds": t.folds,
                        "seeds": t.seeds, "llm": t.llm, "share": t.augment_share,
                        "essays": _essays_key(frame)})  # fmt: skip
    path = results_dir(cfg) / "probe_augmentation.parquet"
    if (stored := _cached(path, key)) is not None:
        return stored
    features = probe.embed(frame["essay"], cfg.models.encoder, device=cfg.device, progress=progress)
    runs = augmentation_folds(frame, features, share=t.augment_share, k=t.folds, seeds=t.seeds, llm=t.llm)
    return _save(runs, path, key)


def augmentation_verdict(runs: pd.DataFrame, metric: str = "pcc", level: float = 0.05) -> str:
    """Return sentences saying whether y+y_llm beat y in ``runs``, with both tests.

    ``runs`` is :func:`augmentation_folds`' (or :func:`probe_augmentation`'s) output;
    means and medians are over the seed-level scores (:func:`seed_summary`), the tests
    are :func:`seed_tests`'; the paired test over folds decides when it can run. When
    ``runs`` holds the control y+y_crowd, a last sentence reports it the same way.

    Examples
    --------
    >>> runs = pd.DataFrame({"strategy": ["y", "y+y_llm"] * 6, "alpha": np.nan,
    ...                      "seed": [0] * 4 + [1] * 4 + [2] * 4, "fold": [0, 0, 1, 1] * 3,
    ...                      "pcc": [.30, .35, .32, .36, .31, .33, .29, .35, .30, .34, .31, .36],
    ...                      "ccc": .2, "rmse": 1.0})
    >>> augmentation_verdict(runs).split(";")[0]
    'y + y_llm gives a higher PCC than y (0.348 against 0.305, mean over seeds'
    >>> augmentation_verdict(runs).split(". ")[-1]
    'The LLM-labelled essays improve the probe here.'
    """
    _check_metric(metric)
    if not 0 < level < 1:
        raise EmpathylabError(f"level must lie strictly between 0 and 1, got {level}.")
    _require(runs, ["strategy"], "augmentation_verdict")
    if not {"y", "y+y_llm"} <= set(runs["strategy"]):
        raise EmpathylabError(f"augmentation_verdict needs y and y+y_llm runs; found "
                              f"{', '.join(sorted(set(runs['strategy'])))}.")  # fmt: skip
    summary = seed_summary(runs, [metric])
    tests = seed_tests(runs, "y", metric)
    base = summary[summary["strategy"] == "y"].iloc[0]

    def compared(strategy: str) -> tuple[str, bool | None]:
        row = summary[summary["strategy"] == strategy].iloc[0]
        better = row["mean"] > base["mean"] if HIGHER_IS_BETTER[metric] else row["mean"] < base["mean"]
        how = ("the same" if row["mean"] == base["mean"] else
               "a higher" if row["mean"] > base["mean"] else "a lower")  # fmt: skip
        judged = []
        for test in ("folds", "seeds"):
            t = tests[(tests["strategy"] == strategy) & (tests["test"] == TESTS[test])].iloc[0]
            if t["note"]:
                judged.append(f"the {TESTS[test]} cannot run (it {t['note']})")
            else:
                word = "significant" if t["p_val"] < level else "not significant"
                judged.append(f"{TESTS[test]}: p = {t['p_val']:.2g}, {word} at the {level:g} level")
        # Ours decides; Hasan et al.'s when ours cannot run; None: no significant difference.
        ran = tests[(tests["strategy"] == strategy) & (tests["note"] == "")].set_index("test")["p_val"]
        p = ran.get(TESTS["folds"], ran.get(TESTS["seeds"]))
        decided = better if p is not None and p < level else None
        name = strategy.replace("+", " + ")
        text = (f"{name} gives {how} {metric.upper()} {'as' if how == 'the same' else 'than'} y "
                f"({row['mean']:.3f} against {base['mean']:.3f}, mean over seeds; median "
                f"{row['median']:.3f} against {base['median']:.3f}); {'; '.join(judged)}.")  # fmt: skip
        return text, decided

    text, decided = compared("y+y_llm")
    if decided is None:
        text += " The LLM-labelled essays do not significantly change the probe here."
    else:
        text += f" The LLM-labelled essays {'improve' if decided else 'worsen'} the probe here."
    if "y+y_crowd" in set(runs["strategy"]):
        control, decided = compared("y+y_crowd")
        effect = ("do not significantly change" if decided is None else
                  "improve" if decided else "worsen")  # fmt: skip
        text += (f" The control, the same extra essays with their crowd labels: {control} "
                 f"More crowd-labelled essays {effect} the probe.")  # fmt: skip
    return text


def probe_predictions(
    profile: Profile | str, train: pd.DataFrame, test: pd.DataFrame, *, strategy: str = "y",
    alpha: float | None = None, progress: bool = True,
) -> pd.DataFrame:
    """Return ``test`` with ``prediction``: a probe trained on ``train`` under ``strategy``.

    Used for data the reader brings (e.g. NewsEmp24 train and test with demographics).
    """
    from empathylab import probe

    cfg = load_profile(profile)
    y = strategies.targets(train, strategy, llm=cfg.llmpathy.training.llm, alpha=alpha)[0]
    use = train[y.notna()]
    x = probe.embed(use["essay"], cfg.models.encoder, device=cfg.device, progress=progress)
    x_test = probe.embed(test["essay"], cfg.models.encoder, device=cfg.device, progress=progress)
    return test.assign(prediction=probe.fit_predict(x, y[y.notna()].to_numpy(), x_test))


def alpha_span(rows: pd.DataFrame) -> str:
    """Return the range of ``alpha`` in ``rows`` as text: ``"0.51"`` or ``"0.30–0.40"``.

    >>> alpha_span(pd.DataFrame({"alpha": [0.301, 0.404]})), alpha_span(pd.DataFrame({"alpha": [0.5]}))
    ('0.30–0.40', '0.50')
    """
    low, high = f"{rows['alpha'].min():.2f}", f"{rows['alpha'].max():.2f}"
    return low if low == high else f"{low}–{high}"


def table(frame: pd.DataFrame, precision: int = 3) -> Any:
    """Return ``frame`` styled for the book: no index, floats at ``precision`` decimals."""
    return frame.style.hide(axis="index").format(precision=precision, na_rep="–", thousands=",")
