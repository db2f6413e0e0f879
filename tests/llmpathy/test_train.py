"""Fine-tuning the empathy regressor: batching, early stopping, the training loop, inputs.

The loop is tested fast with a tiny randomly initialised BERT (``tiny_encoder``); the
tests marked slow fine-tune the embedded all-MiniLM-L6-v2 on real public essays.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from empathylab.llmpathy import train
from empathylab.llmpathy.train import Recipe, best_epoch, length_batches, should_stop

# --------------------------------------------------------------------------- length_batches


def _padding(lengths: list[int], batches: list[list[int]]) -> int:
    return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)


@pytest.mark.parametrize("bucket", [True, False])
@pytest.mark.parametrize("n, size", [(0, 4), (1, 4), (7, 3), (16, 16), (1000, 16), (2000, 7)])
def test_length_batches_every_index_once_and_sizes(n: int, size: int, bucket: bool) -> None:
    lengths = list(np.random.default_rng(n).integers(1, 300, n))
    batches = length_batches(lengths, size, seed=3, bucket=bucket)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(n))
    assert len(batches) == math.ceil(n / size)
    assert sum(len(b) < size for b in batches) <= 1  # only one short batch
    assert all(1 <= len(b) <= size for b in batches)


def test_length_batches_bucketing_cuts_padding_on_skewed_lengths() -> None:
    rng = np.random.default_rng(0)
    lengths = [int(x) for x in np.concatenate([rng.integers(20, 60, 900), rng.integers(300, 512, 100)])]
    bucketed = _padding(lengths, length_batches(lengths, 16, seed=0, bucket=True))
    shuffled = _padding(lengths, length_batches(lengths, 16, seed=0, bucket=False))
    assert bucketed < 0.2 * shuffled


def test_length_batches_deterministic_by_seed() -> None:
    lengths = list(range(500))
    assert length_batches(lengths, 8, seed=1) == length_batches(lengths, 8, seed=1)
    assert length_batches(lengths, 8, seed=1) != length_batches(lengths, 8, seed=2)
    assert length_batches(lengths, 8, seed=1, bucket=False) == length_batches(
        lengths, 8, seed=1, bucket=False
    )
    # bucketed batches are still in random order, not sorted by length
    firsts = [lengths[b[0]] for b in length_batches(lengths, 8, seed=1)]
    assert firsts != sorted(firsts) and firsts != sorted(firsts, reverse=True)


def test_length_batches_rejects_bad_batch_size() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        length_batches([1, 2, 3], 0, seed=0)


# --------------------------------------------------------------------------- early stopping


def _stops(cccs: list[float], start: int = 5, patience: int = 2) -> int | None:
    """The epoch (from 1) after which training stops, or None."""
    for epoch in range(1, len(cccs) + 1):
        if should_stop(cccs[:epoch], start, patience):
            return epoch
    return None


def test_never_stops_before_the_delay_and_counts_from_epoch_6() -> None:
    falling = [0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.04, 0.03, 0.02]
    assert not any(should_stop(falling[:k]) for k in range(1, 6))
    # epochs 1-5 are not monitored: epoch 6 is the first best, 7 and 8 fail to beat it
    assert _stops(falling) == 8
    assert best_epoch(falling) == 6


def test_improvement_resets_patience() -> None:
    cccs = [0.1] * 5 + [0.3, 0.2, 0.4, 0.35, 0.5, 0.45, 0.44, 0.6]
    assert _stops(cccs) == 12  # best 0.5 at epoch 10, then 11 and 12 below it
    assert best_epoch(cccs[:12]) == 10


def test_ties_are_not_improvements() -> None:
    assert _stops([0.0] * 5 + [0.4, 0.4, 0.4]) == 8
    assert best_epoch([0.0] * 5 + [0.4, 0.4, 0.4]) == 6


def test_patience_and_start_are_parameters() -> None:
    cccs = [0.5, 0.4, 0.6, 0.5, 0.4, 0.3]
    assert _stops(cccs, start=0, patience=1) == 2
    assert _stops(cccs, start=0, patience=2) == 5
    assert _stops(cccs, start=0, patience=3) == 6
    assert _stops(cccs, start=3, patience=2) == 6  # epoch 4 (0.5) is the first monitored
    assert _stops(cccs, start=5, patience=2) is None


def test_nan_never_improves() -> None:
    cccs = [0.1] * 5 + [0.3, float("nan"), float("nan")]
    assert _stops(cccs) == 8
    assert best_epoch(cccs) == 6
    assert should_stop([0.1] * 5 + [float("nan")] * 2)
    assert best_epoch([float("nan")] * 3) == 3


def test_best_epoch_before_monitoring_counts_all_epochs() -> None:
    assert best_epoch([0.2, 0.5, 0.1]) == 2
    assert best_epoch([0.9, 0.1, 0.1, 0.1, 0.1, 0.2]) == 6  # epoch 1 not monitored
    with pytest.raises(ValueError):
        best_epoch([])


# --------------------------------------------------------------------------- Recipe, pooling


def test_recipe_defaults_are_the_papers() -> None:
    r = Recipe()
    assert (r.lr, r.batch_size, r.betas, r.eps, r.weight_decay, r.warmup) == (
        3e-5,
        16,
        (0.9, 0.98),
        1e-6,
        0.1,
        0.06,
    )
    assert (r.max_epochs, r.early_stopping_from, r.patience, r.keep, r.max_length) == (20, 5, 2, "last", 512)
    assert r.n_epochs == 20 and Recipe(epochs=3).n_epochs == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pooling": "max"},
        {"keep": "first"},
        {"batch_size": 0},
        {"epochs": 0},
        {"warmup": 1.5},
        {"patience": 0},
        {"head_bias": "one"},
    ],
)
def test_recipe_rejects_bad_values(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="Recipe"):
        Recipe(**kwargs)


def test_resolve_pooling() -> None:
    assert train.resolve_pooling("auto", "embedded:all-MiniLM-L6-v2") == "mean"
    assert train.resolve_pooling("auto", "sentence-transformers/all-mpnet-base-v2") == "mean"
    assert train.resolve_pooling("auto", "roberta-base") == "cls"
    assert train.resolve_pooling("auto", "microsoft/deberta-v3-base") == "cls"
    assert train.resolve_pooling("mean", "roberta-base") == "mean"


# --------------------------------------------------------------------------- the loop, fast


@pytest.fixture
def tiny_encoder(monkeypatch: pytest.MonkeyPatch):
    """Replace load_encoder by a tiny random BERT with the MiniLM tokenizer (no weights read)."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from empathylab.llm import weights as models

    source = models.resolve_model(models.DEFAULT_ENCODER, "encoder")
    tokenizer = AutoTokenizer.from_pretrained(source.location)
    calls: list[str] = []

    def fake(spec: str = models.DEFAULT_ENCODER, *, device: str = "auto", revision=None):
        calls.append(spec)
        config = BertConfig(
            vocab_size=tokenizer.vocab_size,
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
            max_position_embeddings=512,
        )
        return BertModel(config).eval(), tokenizer

    monkeypatch.setattr(models, "load_encoder", fake)
    return calls


def _frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    words = ["sad", "sorry", "news", "people", "help", "terrible", "I", "feel", "the", "for"]
    texts = [" ".join(rng.choice(words, rng.integers(3, 40))) for _ in range(n)]
    return pd.DataFrame({"essay": texts, "label": rng.uniform(1, 7, n)})


def test_loop_history_and_predictions(tiny_encoder) -> None:
    data = _frame(40)
    fitted = train.fine_tune(
        data.iloc[:30],
        data.iloc[30:],
        recipe=Recipe(max_epochs=2, batch_size=8),
        device="cpu",
        progress=False,
    )
    history = fitted.history
    assert history.columns.tolist() == [
        "epoch",
        "train_loss",
        "valid_pcc",
        "valid_ccc",
        "valid_rmse",
        "seconds",
    ]
    assert history.epoch.tolist() == [1, 2]
    assert np.isfinite(history[["train_loss", "valid_ccc", "valid_rmse", "seconds"]].to_numpy()).all()
    assert fitted.kept_epoch == 2 and fitted.best_epoch in (1, 2)
    assert not fitted.model.training
    assert fitted.model.pooling == "mean"  # "auto" for the MiniLM spec
    preds = train.predict(fitted, data.essay)
    assert preds.dtype == np.float64 and preds.shape == (40,)
    # input order comes back, whatever the length-sorted batching did
    reversed_preds = train.predict(fitted, data.essay[::-1], batch_size=3)
    np.testing.assert_allclose(reversed_preds[::-1], preds, rtol=0, atol=1e-5)
    assert train.predict(fitted, []).shape == (0,)
    with pytest.raises(ValueError, match="one string"):
        train.predict(fitted, "one essay")


@pytest.mark.parametrize("head_bias", ["mean", "zero"])
def test_head_bias_starts_at_the_mean_target_or_zero(tiny_encoder, head_bias: str) -> None:
    data = _frame(16)
    recipe = Recipe(max_epochs=1, batch_size=8, lr=0.0, head_bias=head_bias)
    fitted = train.fine_tune(data, None, recipe=recipe, device="cpu", progress=False)
    expected = data.label.mean() if head_bias == "mean" else 0.0
    assert float(fitted.model.head.bias.detach()) == pytest.approx(expected, abs=1e-6)


def test_no_validation_trains_all_epochs_and_epochs_override(tiny_encoder) -> None:
    data = _frame(20)
    fitted = train.fine_tune(
        data, None, recipe=Recipe(max_epochs=3, batch_size=8), device="cpu", progress=False
    )
    assert fitted.history.epoch.tolist() == [1, 2, 3]
    assert fitted.history.valid_ccc.isna().all()
    assert fitted.best_epoch == fitted.kept_epoch == 3
    fixed = train.fine_tune(data, data, recipe=Recipe(epochs=2, batch_size=8), device="cpu", progress=False)
    assert fixed.history.epoch.tolist() == [1, 2] and not fixed.history.attrs["stopped_early"]


@pytest.mark.parametrize("keep", ["last", "best"])
def test_early_stopping_in_the_loop(tiny_encoder, monkeypatch: pytest.MonkeyPatch, keep: str) -> None:
    """The loop stops as should_stop says, and keeps the last or the best epoch's weights."""
    from empathylab import metrics

    # validation CCC per epoch, scripted: epochs 1-5 unmonitored, best 0.6 at epoch 7,
    # epochs 8 and 9 below it: stop after epoch 9
    script = [0.1, 0.2, 0.3, 0.4, 0.5, 0.3, 0.6, 0.5, 0.55, 0.9, 0.9, 0.9]
    seen: list[np.ndarray] = []

    def scripted(y, yhat):
        seen.append(np.array(yhat, dtype=np.float64))
        value = script[len(seen) - 1]
        return {"pcc": value, "ccc": value, "rmse": 1.0}

    monkeypatch.setattr(metrics, "scores", scripted)
    data = _frame(24, seed=1)
    recipe = Recipe(max_epochs=12, batch_size=8, lr=1e-3, warmup=0.0, keep=keep)
    fitted = train.fine_tune(data.iloc[:16], data.iloc[16:], recipe=recipe, device="cpu", progress=False)
    assert fitted.history.epoch.tolist() == list(range(1, 10))
    assert fitted.history.valid_ccc.tolist() == script[:9]
    assert fitted.history.attrs["stopped_early"] and fitted.best_epoch == 7
    held = train.predict(fitted, data.essay.iloc[16:])
    if keep == "last":
        assert fitted.kept_epoch == 9
        np.testing.assert_allclose(held, seen[8], atol=1e-6)
    else:
        assert fitted.kept_epoch == 7
        np.testing.assert_allclose(held, seen[6], atol=1e-6)  # epoch 7's weights came back
        assert not np.allclose(held, seen[8], atol=1e-6)


def test_no_early_stop_while_validation_improves(tiny_encoder, monkeypatch: pytest.MonkeyPatch) -> None:
    from empathylab import metrics

    counter = iter(range(100))
    monkeypatch.setattr(
        metrics, "scores", lambda y, yhat: {"pcc": 0.0, "ccc": next(counter) / 100, "rmse": 1.0}
    )
    data = _frame(12)
    fitted = train.fine_tune(
        data.iloc[:8], data.iloc[8:], recipe=Recipe(max_epochs=9, batch_size=8), device="cpu", progress=False
    )
    assert len(fitted.history) == 9 and not fitted.history.attrs["stopped_early"]
    assert fitted.best_epoch == fitted.kept_epoch == 9


def test_nan_targets_are_dropped_and_counted(tiny_encoder) -> None:
    data = _frame(20)
    data.loc[[0, 3, 5], "label"] = np.nan
    fitted = train.fine_tune(
        data, None, recipe=Recipe(max_epochs=1, batch_size=8), device="cpu", progress=False
    )
    assert fitted.history.attrs["dropped_train"] == 3
    assert fitted.history.attrs["dropped_valid"] == 0


def test_same_seed_same_model_with_tiny_encoder(tiny_encoder) -> None:
    data = _frame(24)
    runs = [
        train.fine_tune(
            data, None, recipe=Recipe(max_epochs=2, batch_size=8), seed=s, device="cpu", progress=False
        )
        for s in (0, 0, 1)
    ]
    preds = [train.predict(f, data.essay) for f in runs]
    np.testing.assert_array_equal(preds[0], preds[1])
    assert not np.allclose(preds[0], preds[2])


# --------------------------------------------------------------------------- bad input


def test_missing_column_names_the_columns_found() -> None:
    data = pd.DataFrame({"text": ["a", "b"], "empathy": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"no column 'essay'.*columns found: text, empathy"):
        train.fine_tune(data, target="empathy")
    with pytest.raises(ValueError, match=r"no column 'label'"):
        train.fine_tune(data, text="text")
    with pytest.raises(ValueError, match=r"valid has no column"):
        train.fine_tune(data, data[["text"]], text="text", target="empathy")


def test_all_nan_target_is_a_clear_error() -> None:
    data = pd.DataFrame({"essay": ["a", "b", "c"], "label": [np.nan] * 3})
    with pytest.raises(ValueError, match=r"train has no usable rows: 3 row\(s\), 3 without"):
        train.fine_tune(data)
    with pytest.raises(ValueError, match="train has no usable rows"):
        train.fine_tune(data.iloc[:0])
    ok = pd.DataFrame({"essay": ["a", "b"], "label": [1.0, 2.0]})
    with pytest.raises(ValueError, match="valid needs at least two rows"):
        train.fine_tune(ok, data)


# --------------------------------------------------------------------------- real model (slow)


@pytest.mark.slow
def test_one_epoch_on_real_essays(mirror) -> None:
    from empathylab.data import load_essays

    essays = load_essays()
    train_rows, valid_rows = essays.head(64), essays.iloc[64:96]
    recipe = Recipe(max_epochs=1, batch_size=16, max_length=128)
    fitted = train.fine_tune(
        train_rows, valid_rows, target="empathy", recipe=recipe, device="cpu", progress=False
    )
    assert len(fitted.history) == 1
    assert np.isfinite(fitted.history.train_loss.iloc[0])
    assert np.isfinite(fitted.history.valid_ccc.iloc[0])
    assert fitted.encoder == "embedded:all-MiniLM-L6-v2" and fitted.model.pooling == "mean"
    preds = train.predict(fitted, train_rows.essay)
    assert preds.dtype == np.float64 and preds.shape == (64,) and np.isfinite(preds).all()


@pytest.mark.slow
def test_same_seed_identical_predictions_on_real_essays(mirror) -> None:
    from empathylab.data import load_essays

    essays = load_essays().head(32)
    recipe = Recipe(max_epochs=1, batch_size=16, max_length=64)

    def run(seed: int) -> np.ndarray:
        fitted = train.fine_tune(
            essays, None, target="empathy", recipe=recipe, seed=seed, device="cpu", progress=False
        )
        return train.predict(fitted, essays.essay)

    first, again, other = run(0), run(0), run(1)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_regressor_mean_pooling_ignores_padding() -> None:
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32
    )
    for pooling in ("mean", "cls"):
        model = train.Regressor(BertModel(config), pooling=pooling).eval()
        ids, mask = train._collate([[1, 5, 7, 2], [1, 9, 2]], pad_id=0)
        alone_ids, alone_mask = train._collate([[1, 9, 2]], pad_id=0)
        with torch.no_grad():
            both = model(ids, mask)
            alone = model(alone_ids, alone_mask)
        assert both.shape == (2,)
        torch.testing.assert_close(both[1], alone[0], rtol=0, atol=1e-5)
