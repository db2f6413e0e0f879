"""Part II runs, driven by a profile: labelling, cross-validation and fine-tuning.

Each function reads the ``llmpathy`` section of a profile, stores what it computes
under ``<output_dir>/llmpathy/`` and, called again, reads it back instead of
recomputing (the CLI, the chapters and the tests share these stores).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from empathylab import metrics, newsemp, splits, strategies
from empathylab.profiles import Profile, load_profile
from empathylab.store import model_slug

__all__ = [
    "PUBLISHED", "BUECHEL_BASELINES", "METHODS", "results_dir", "essays", "user_data", "label_sample", "label_table", "agreement", "probe_cv", "out_of_fold",
    "cross_validation", "finetune_cv", "cv_summary", "verdict", "augmentation", "finetune_split",
    "finetune_predictions",
    "paired_tests", "probe_predictions", "alpha_span", "table",
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
