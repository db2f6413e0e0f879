"""The fast method: a frozen-encoder probe (embeddings once, ridge regression per fold).

Fine-tuning an encoder for every fold, seed, strategy and α does not fit a CPU; the
probe embeds every essay once with the same encoder (mean-pooled token states,
cached on disk) and fits a ridge regression per fold. It is the method behind the
cross-validation sweeps of the demo build; :mod:`empathylab.llmpathy.train` fine-tunes.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from empathylab import metrics
from empathylab.cache import cache_root
from empathylab.llm.store import model_slug
from empathylab.llmpathy import splits, strategies
from empathylab.profiles import Profile

__all__ = ["embed", "embed_essays", "length_key", "fit_predict", "cross_validate", "RIDGE_ALPHAS"]

#: Ridge penalties tried by generalised cross-validation inside every training fold.
RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(-1, 4, 11))


def _cache_file(texts: Sequence[str], encoder: str, max_length: int) -> Path:
    digest = hashlib.sha256()
    digest.update(f"{encoder}\0{max_length}\0mean\0".encode())
    for text in texts:
        digest.update(text.encode() + b"\0")
    return cache_root() / "embeddings" / f"{model_slug(encoder)}-{digest.hexdigest()[:20]}.npy"


def embed_essays(texts: Sequence[str] | pd.Series, cfg: Profile, *, progress: bool = True) -> np.ndarray:
    """Return :func:`embed` of ``texts`` with the profile's encoder, length limit and device.

    The length limit is ``llmpathy.training.max_length``, as for fine-tuning.
    """
    return embed(
        texts,
        cfg.models.encoder,
        max_length=cfg.llmpathy.training.max_length,
        device=cfg.device,
        progress=progress,
    )


def length_key(max_length: int) -> dict[str, int]:
    """Return what a stored probe result adds to its key for the embeddings' length limit.

    Nothing at 512 tokens, where the probe embedded before it followed
    ``llmpathy.training.max_length``, so results stored then stay valid; the limit otherwise.

    >>> length_key(512), length_key(32)
    ({}, {'max_length': 32})
    """
    return {} if max_length == 512 else {"max_length": max_length}


def embed(
    texts: Sequence[str] | pd.Series,
    encoder: str = "embedded:all-MiniLM-L6-v2",
    *,
    device: str = "auto",
    batch_size: int = 32,
    max_length: int = 512,
    cache: bool = True,
    progress: bool = True,
) -> np.ndarray:
    """Return mean-pooled encoder states, one row per text, float32 ``(n, dim)``.

    Results are cached under ``cache_root()/embeddings`` by encoder, length limit and
    the exact texts, so a rerun (or another chapter) reads them back at once.

    Examples
    --------
    >>> embed(["I feel for them.", "Nothing to say."], progress=False).shape  # doctest: +SKIP
    (2, 384)
    """
    import torch
    from tqdm import tqdm

    from empathylab.llm.weights import load_encoder

    texts = [str(t) for t in texts]
    path = _cache_file(texts, encoder, max_length)
    if cache and path.exists():
        return np.load(path)
    model, tokenizer = load_encoder(encoder, device=device)
    order = np.argsort([len(t) for t in texts])
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    disable = not progress or bool(os.environ.get("TQDM_DISABLE"))
    with torch.inference_mode():
        for start in tqdm(range(0, len(texts), batch_size), desc="embedding", disable=disable):
            rows = order[start : start + batch_size]
            batch = tokenizer(
                [texts[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            ).to(model.device)
            states = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1)
            out[rows] = pooled.float().cpu().numpy()
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.save(buffer, out)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(buffer.getvalue())
        os.replace(tmp, path)
    return out


def fit_predict(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """Return ridge-regression predictions for ``x_test`` (float64).

    Features are standardised on the training rows; the penalty is chosen among
    :data:`RIDGE_ALPHAS` by efficient leave-one-out on the training rows only. A 2-D
    ``y_train`` fits every column at once (one decomposition, a penalty per column)
    and returns one column of predictions per target.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 5)); y = x @ [1, 2, 0, 0, 0] + rng.normal(0, 0.1, 200)
    >>> metrics.pcc(y[150:], fit_predict(x[:150], y[:150], x[150:])) > 0.99
    True
    """
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = np.asarray(y_train, dtype=np.float64)
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=RIDGE_ALPHAS, alpha_per_target=y.ndim == 2))
    model.fit(np.asarray(x_train, dtype=np.float64), y)
    return model.predict(np.asarray(x_test, dtype=np.float64)).astype(np.float64)


def _configurations(names: Sequence[str], alphas: Sequence[float]) -> list[tuple[str, float | None]]:
    unknown = [s for s in names if s not in strategies.STRATEGIES]
    if unknown:
        raise ValueError(f"unknown strategy {', '.join(unknown)}; valid: {', '.join(strategies.STRATEGIES)}.")
    return [(s, a) for s in names for a in (alphas if s == "y'" else [None])]


def cross_validate(
    frame: pd.DataFrame,
    features: np.ndarray,
    *,
    strategy_names: Sequence[str] = strategies.STRATEGIES,
    alphas: Sequence[float] = strategies.ALPHAS,
    llm: str = "gpt4o",
    k: int = 10,
    seeds: Sequence[int] = (0,),
) -> pd.DataFrame:
    """Return probe results of every strategy (and α) under grouped k-fold cross-validation.

    For each seed, writers are split into ``k`` folds (:func:`splits.grouped_folds`);
    each configuration is trained on the other folds' labels under its strategy and
    scored against the **crowd** labels of the held-out fold.

    Returns
    -------
    DataFrame
        One row per (strategy, alpha, seed, fold): ``strategy, alpha`` (NaN except for
        y'), ``seed, fold, n_train, n_test, n_replaced, pcc, ccc, rmse``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(120, 4)); crowd = x[:, 0] + rng.normal(0, 1, 120) + 4
    >>> t = pd.DataFrame({"writer_id": [str(i // 2) for i in range(120)],
    ...                   "crowd": crowd, "gpt4o": x[:, 0] + 4})
    >>> r = cross_validate(t, x, alphas=[0.5], k=5, seeds=[0, 1])
    >>> r.groupby("strategy").size().to_dict()
    {'y': 10, "y'": 10, 'y_llm': 10}
    """
    if len(features) != len(frame):
        raise ValueError(f"{len(features)} feature rows for {len(frame)} essays.")
    features = np.asarray(features)
    crowd = frame["crowd"].to_numpy(dtype=np.float64)
    configurations = _configurations(strategy_names, alphas)
    labels = {c: strategies.targets(frame, c[0], llm=llm, alpha=c[1])[0].to_numpy() for c in configurations}
    rows = []
    for seed in seeds:
        folds = splits.grouped_folds(frame, k, seed=seed)
        for fold, train, test in splits.fold_indices(folds):
            for configuration, use, prediction in _fold_predictions(labels, features, train, test):
                name, alpha = configuration
                y = labels[configuration]
                rows.append(
                    {
                        "strategy": name,
                        "alpha": np.nan if alpha is None else alpha,
                        "seed": seed,
                        "fold": fold,
                        "n_train": len(use),
                        "n_test": len(test),
                        "n_replaced": int((y[use] != crowd[use]).sum()),
                        **metrics.scores(crowd[test], prediction),
                    }
                )
    return pd.DataFrame(rows)


def _fold_predictions(
    labels: dict[tuple[str, float | None], np.ndarray],
    features: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
) -> list[tuple[tuple[str, float | None], np.ndarray, np.ndarray]]:
    """Fit every configuration of one fold; those without missing labels in one go."""
    complete = [c for c, y in labels.items() if np.isfinite(y[train]).all()]
    out = []
    if complete:
        stacked = np.column_stack([labels[c][train] for c in complete])
        predictions = fit_predict(features[train], stacked, features[test]).reshape(len(test), -1)
        out += [(c, train, predictions[:, i]) for i, c in enumerate(complete)]
    for configuration in (c for c in labels if c not in complete):
        y = labels[configuration]
        use = train[np.isfinite(y[train])]
        out.append((configuration, use, fit_predict(features[use], y[use], features[test])))
    order = list(labels)
    return sorted(out, key=lambda item: order.index(item[0]))
