"""Cross-validation and fine-tuning runs of a profile: crowd labels, LLM labels, or a mix."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from empathylab import metrics
from empathylab.llm.store import stored_frame
from empathylab.llmpathy import newsemp, splits, strategies
from empathylab.llmpathy.labelling import essays, results_dir
from empathylab.profiles import Profile, load_profile

__all__ = [
    "probe_cv",
    "out_of_fold",
    "finetune_split",
    "finetune_cv",
    "cross_validation",
    "probe_predictions",
]


def probe_cv(profile: Profile | str = "demo", *, progress: bool = True) -> pd.DataFrame:
    """Return the probe's grouped cross-validation of y, y' (every α) and y_llm.

    Settings come from ``llmpathy.training`` (folds, seeds, alphas, llm) and the
    encoder from ``models.encoder``; see :func:`empathylab.llmpathy.probe.cross_validate` for
    the columns. Stored in ``llmpathy/probe_cv.parquet`` and reused while the
    settings and essays are unchanged.
    """
    from empathylab.llmpathy import probe

    cfg = load_profile(profile)
    t = cfg.llmpathy.training
    frame = newsemp.public_essays()
    payload = {
        "encoder": cfg.models.encoder,
        "folds": t.folds,
        "seeds": t.seeds,
        "alphas": t.alphas,
        "llm": t.llm,
        "essays": essays_key(frame),
        **probe.length_key(t.max_length),
    }

    def compute() -> pd.DataFrame:
        features = probe.embed_essays(frame["essay"], cfg, progress=progress)
        return probe.cross_validate(frame, features, alphas=t.alphas, llm=t.llm, k=t.folds, seeds=t.seeds)

    return stored_frame(results_dir(cfg) / "probe_cv.parquet", payload, compute)


def out_of_fold(
    profile: Profile | str = "demo",
    *,
    strategy: str = "y",
    alpha: float | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Return the public essays with ``prediction``: the probe's out-of-fold prediction.

    Folds are those of the profile's first seed; the labels follow ``strategy``.
    """
    from empathylab.llmpathy import probe

    cfg = load_profile(profile)
    t = cfg.llmpathy.training
    frame = newsemp.public_essays()
    features = probe.embed_essays(frame["essay"], cfg, progress=progress)
    y = strategies.targets(frame, strategy, llm=t.llm, alpha=alpha)[0].to_numpy()
    prediction = np.full(len(frame), np.nan)
    for _, train, test in splits.fold_indices(splits.grouped_folds(frame, t.folds, seed=t.seeds[0])):
        use = train[np.isfinite(y[train])]
        prediction[test] = probe.fit_predict(features[use], y[use], features[test])
    return frame.assign(prediction=prediction)


def essays_key(frame: pd.DataFrame) -> str:
    return hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()


def _recipe(cfg: Profile) -> Any:
    from empathylab.llmpathy.train import Recipe

    t = cfg.llmpathy.training
    return Recipe(max_epochs=t.max_epochs, max_length=t.max_length, batch_size=t.batch_size)


def _finetune_run(
    cfg: Profile,
    path: Path,
    key: dict[str, Any],
    train: pd.DataFrame,
    valid: pd.DataFrame,
    test: pd.DataFrame,
    strategy: str,
    alpha: float | None,
    seed: int,
    progress: bool,
) -> pd.DataFrame:
    """Fine-tune once (or read the stored run); return test predictions with run columns."""
    from empathylab.llmpathy.train import fine_tune, predict

    recipe = _recipe(cfg)
    payload = {
        **key,
        "encoder": cfg.models.encoder,
        "recipe": repr(recipe),
        "llm": cfg.llmpathy.training.llm,
        "alpha": alpha,
        "seed": seed,
    }

    def compute() -> pd.DataFrame:
        labels, replaced = strategies.targets(train, strategy, llm=cfg.llmpathy.training.llm, alpha=alpha)
        start = time.perf_counter()
        fitted = fine_tune(
            train.assign(label=labels),
            valid.assign(label=valid["crowd"]),
            encoder=cfg.models.encoder,
            seed=seed,
            recipe=recipe,
            device=cfg.device,
            progress=progress,
        )
        return test[["essay_id", "crowd"]].assign(
            prediction=predict(fitted, test["essay"]),
            strategy=strategy,
            alpha=np.nan if alpha is None else alpha,
            seed=seed,
            n_train=int(labels.notna().sum()),
            n_replaced=replaced,
            epochs=len(fitted.history),
            kept_epoch=fitted.kept_epoch,
            seconds=time.perf_counter() - start,
        )

    return stored_frame(path, payload, compute)


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
    key = {"split": t.split.model_dump(), "essays": essays_key(frame)}
    if t.max_train is not None and len(part["train"]) > t.max_train:
        part["train"] = part["train"].sample(t.max_train, random_state=cfg.seed).sort_index()
        key["max_train"] = t.max_train
    rows = []
    for strategy in t.finetune_strategies:
        alpha = t.alpha if strategy == "y'" else None
        for seed in t.finetune_seeds:
            path = results_dir(cfg) / "finetune" / f"{_path_name(strategy, alpha, seed)}.parquet"
            stored = _finetune_run(
                cfg, path, key, part["train"], part["valid"], part["test"], strategy, alpha, seed, progress
            )
            rows.append(_run_row(stored, split="test"))
    return pd.DataFrame(rows)


def finetune_cv(profile: Profile | str = "paper", *, progress: bool = True) -> pd.DataFrame:
    """Return grouped cross-validation by fine-tuning: every strategy, α, seed and fold.

    The full recipe of Hasan et al. (a GPU job: folds × seeds × configurations
    fine-tunings). In each fold, one more grouped fold of the training writers is held
    out for early stopping. Runs are stored under ``llmpathy/finetune_cv/`` and resumed.
    Columns as :func:`empathylab.llmpathy.probe.cross_validate`'s, plus the run columns of
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
            key = {"cv": [t.folds, seed, fold], "essays": essays_key(frame)}
            for strategy, alpha in configurations:
                path = (
                    results_dir(cfg)
                    / "finetune_cv"
                    / f"{_path_name(strategy, alpha, seed)}-fold{fold}.parquet"
                )
                stored = _finetune_run(
                    cfg, path, key, train, valid, frame.iloc[test_at], strategy, alpha, seed, progress
                )
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


def probe_predictions(
    profile: Profile | str,
    train: pd.DataFrame,
    test: pd.DataFrame,
    *,
    strategy: str = "y",
    alpha: float | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Return ``test`` with ``prediction``: a probe trained on ``train`` under ``strategy``.

    Used for data the reader brings (e.g. NewsEmp24 train and test with demographics).
    """
    from empathylab.llmpathy import probe

    cfg = load_profile(profile)
    y = strategies.targets(train, strategy, llm=cfg.llmpathy.training.llm, alpha=alpha)[0]
    use = train[y.notna()]
    x = probe.embed_essays(use["essay"], cfg, progress=progress)
    x_test = probe.embed_essays(test["essay"], cfg, progress=progress)
    return test.assign(prediction=probe.fit_predict(x, y[y.notna()].to_numpy(), x_test))
