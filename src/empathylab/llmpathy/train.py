"""Fine-tune a pre-trained encoder as an empathy regressor, with Hasan et al.'s recipe.

The recipe (SPEC, Part II, "Regressor"): a pre-trained encoder with one linear output,
MSE loss, at most 512 tokens, AdamW (lr 3e-5, betas 0.9/0.98, eps 1e-6, weight decay
0.1), batch 16, a linear schedule with 6 % warm-up, at most 20 epochs, early stopping
on validation CCC from epoch 5. :class:`Recipe` holds these values; :func:`fine_tune`
trains; :func:`predict` scores new texts.

Early stopping as the authors run it (hasan-rakibul/LLMPathy, ``src/utils.py``,
``get_trainer``): Lightning's ``EarlyStopping(monitor="val_ccc", mode="max",
patience=2, min_delta=0)`` wrapped in a ``DelayedStartEarlyStopping(start_epoch=5)``
that ignores every epoch whose 0-based ``current_epoch`` is below 5. So, counting
epochs from 1 as :func:`fine_tune` does: the validation CCC of epochs 1–5 is never
looked at (neither as "best" nor as "no improvement"); epoch 6 is the first monitored
one; training stops once ``patience`` (2) monitored epochs in a row have not beaten the
best monitored CCC (strictly greater counts as better). The earliest stop is therefore
after epoch 8. See :func:`should_stop` and :func:`best_epoch`.

Which weights are kept: the authors' ``ModelCheckpoint(save_top_k=1)`` has no
``monitor``, so it keeps the *last* epoch's checkpoint (their comment: "saves the last
checkpoint"), and ``train_plm.py`` evaluates that one. ``Recipe.keep = "last"`` (the
default) reproduces that; ``keep = "best"`` restores the weights of :func:`best_epoch`.

Beyond the paper, for speed on a CPU: texts are tokenized once; each batch is padded
only to its longest member (the authors' ``DataCollatorWithPadding`` does the same; the
attention mask keeps padding out of the result) and batches are drawn from buckets of
similar length (:func:`length_batches`), so little compute goes to padding. Bucketing
changes which essays share a batch, not the recipe. On the 2-core reference machine
this trains the embedded MiniLM at about 24 essays/s against 1.5 with every essay
padded to 512 tokens (``bench/train_throughput.py``, BENCHMARKS.md).

Two more departures, both switchable in :class:`Recipe`: the output layer's bias
starts at the mean training target (``head_bias="zero"`` for the Hugging Face
default), and the warm-up is 6 % of all steps (the authors' later code counts it over
10 epochs' steps: ``warmup=0.03`` for 20 epochs). We step the schedule once per
batch, as the SPEC's recipe reads; the authors' ``LightningPLM.configure_optimizers``
(``src/model.py``) returns it without ``"interval": "step"``, so Lightning steps it
once per epoch there.
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch  # Regressor is a torch module; transformers is imported lazily (seconds)

from empathylab.llm.weights import DEFAULT_ENCODER, pick_device

__all__ = [
    "Recipe",
    "Regressor",
    "FineTuned",
    "fine_tune",
    "predict",
    "length_batches",
    "should_stop",
    "best_epoch",
    "resolve_pooling",
]

logger = logging.getLogger("empathylab.llmpathy.train")

#: Batches per "mega-batch" in :func:`length_batches`: indices are sorted by length within
#: random groups of this many batches, so batches stay random but hold similar lengths.
BUCKET_BATCHES = 50
_POOLINGS = ("auto", "cls", "mean")
_KEEP = ("last", "best")
_TRUTHY = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Recipe:
    """Training settings; the defaults are Hasan et al.'s (SPEC, Part II).

    Their values come from hasan-rakibul/LLMPathy ``config/train_base.yaml`` (lr,
    batch size, AdamW, 6 % warm-up, 20 epochs, ``early_stopping_start_epoch: 5``),
    ``config/config_common.yaml`` (max_length 512) and ``src/utils.py``
    (``get_trainer``: val_ccc, ``patience=2``, the last checkpoint kept).

    Attributes
    ----------
    lr, betas, eps, weight_decay : AdamW settings (weight decay on every parameter, as
        the authors' ``AdamW(self.model.parameters(), ...)``).
    batch_size : training batch size.
    warmup : warm-up as a fraction of all training steps (``max_epochs`` × steps per
        epoch), then a linear decay to 0 at the end of ``max_epochs``
        (``transformers.get_linear_schedule_with_warmup``). The authors' later code
        counts the 6 % over 10 epochs' steps ("like the RoBERTa paper"), i.e. 3 % of
        a 20-epoch run; pass ``warmup=0.03`` for that.
    max_epochs : most epochs to train.
    epochs : when set, train exactly this many epochs (the schedule spans them too)
        with early stopping off; validation, if given, is still recorded every epoch.
    early_stopping_from : epochs ``1..early_stopping_from`` are never monitored
        (the authors' ``start_epoch=5`` on Lightning's 0-based epoch counter).
    patience : monitored epochs without a new best validation CCC before stopping.
    keep : ``"last"`` (the authors': the weights of the last epoch trained) or
        ``"best"`` (the weights of :func:`best_epoch`).
    max_length : tokens per text; longer texts are truncated.
    pooling : ``"cls"`` (first token, for RoBERTa/DeBERTa-style encoders), ``"mean"``
        (attention-masked mean, for sentence-transformer encoders such as MiniLM), or
        ``"auto"`` (:func:`resolve_pooling`).
    dropout : dropout before the linear output.
    head_bias : where the output's bias starts: ``"mean"`` (the mean training target,
        so the first epochs are not spent walking from 0 to about 4 at lr 3e-5) or
        ``"zero"`` (as the authors' Hugging Face head; its weights start at
        N(0, 0.02) either way).
    dynamic_padding : pad each batch to its longest member (else to ``max_length``).
    bucket : draw training batches from buckets of similar length (:func:`length_batches`).
    amp : bfloat16 autocast on CUDA (ignored on CPU).

    Examples
    --------
    >>> Recipe().lr, Recipe().patience, Recipe(max_epochs=3).max_epochs
    (3e-05, 2, 3)
    >>> Recipe(pooling="max")
    Traceback (most recent call last):
    ...
    ValueError: Recipe.pooling must be one of auto, cls, mean; got 'max'.
    """

    lr: float = 3e-5
    batch_size: int = 16
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-6
    weight_decay: float = 0.1
    warmup: float = 0.06
    max_epochs: int = 20
    epochs: int | None = None
    early_stopping_from: int = 5
    # LLMPathy src/utils.py, get_trainer: DelayedStartEarlyStopping(start_epoch=5,
    # monitor="val_ccc", patience=2, mode="max", min_delta=0); ModelCheckpoint(save_top_k=1)
    # without a monitor, i.e. the last checkpoint. (Their first, Hugging Face Trainer
    # version, src/trainer.py, used load_best_model_at_end=True with
    # metric_for_best_model="pearsonr" and no EarlyStoppingCallback; the published
    # Lightning pipeline replaced it.)
    patience: int = 2
    keep: str = "last"
    max_length: int = 512
    pooling: str = "auto"
    dropout: float = 0.1
    head_bias: str = "mean"
    dynamic_padding: bool = True
    bucket: bool = True
    amp: bool = True

    def __post_init__(self) -> None:
        if self.pooling not in _POOLINGS:
            raise ValueError(f"Recipe.pooling must be one of {', '.join(_POOLINGS)}; got {self.pooling!r}.")
        if self.head_bias not in ("mean", "zero"):
            raise ValueError(f"Recipe.head_bias must be 'mean' or 'zero'; got {self.head_bias!r}.")
        if self.keep not in _KEEP:
            raise ValueError(f"Recipe.keep must be one of {', '.join(_KEEP)}; got {self.keep!r}.")
        for name in ("batch_size", "max_epochs", "max_length"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"Recipe.{name} must be at least 1; got {getattr(self, name)!r}.")
        if self.epochs is not None and self.epochs < 1:
            raise ValueError(f"Recipe.epochs must be at least 1 (or None); got {self.epochs!r}.")
        if self.early_stopping_from < 0 or self.patience < 1:
            raise ValueError("Recipe.early_stopping_from must be >= 0 and Recipe.patience >= 1.")
        if not 0 <= self.warmup < 1:
            raise ValueError(f"Recipe.warmup is a fraction of the steps, in [0, 1); got {self.warmup!r}.")

    @property
    def n_epochs(self) -> int:
        """Epochs the schedule spans: ``epochs`` if set, else ``max_epochs``."""
        return self.epochs if self.epochs is not None else self.max_epochs


def resolve_pooling(pooling: str, encoder: str) -> str:
    """Return ``"cls"`` or ``"mean"`` for the pooling setting and encoder name.

    ``"auto"`` means mean pooling for sentence-transformer encoders (a name containing
    ``MiniLM`` or ``sentence-transformers``, case-insensitive, which covers the embedded
    ``embedded:all-MiniLM-L6-v2``) and the first token otherwise.

    >>> resolve_pooling("auto", "embedded:all-MiniLM-L6-v2"), resolve_pooling("auto", "roberta-base")
    ('mean', 'cls')
    >>> resolve_pooling("cls", "sentence-transformers/all-mpnet-base-v2")
    'cls'
    """
    if pooling not in _POOLINGS:
        raise ValueError(f"pooling must be one of {', '.join(_POOLINGS)}; got {pooling!r}.")
    if pooling != "auto":
        return pooling
    name = encoder.lower()
    return "mean" if ("minilm" in name or "sentence-transformers" in name) else "cls"


class Regressor(torch.nn.Module):
    """A pre-trained encoder, dropout and one linear output: one score per text.

    Parameters
    ----------
    encoder : a Hugging Face ``AutoModel`` (returns ``last_hidden_state``).
    pooling : ``"cls"`` (the first token's state) or ``"mean"`` (the mean over the
        attention mask).
    dropout : dropout probability before the output layer.

    ``forward(input_ids, attention_mask)`` returns a float tensor of shape ``(batch,)``.
    (The authors' ``AutoModelForSequenceClassification`` head adds a dense + tanh layer
    before the output; the SPEC's regressor, and this one, has one linear output.)
    """

    def __init__(self, encoder: Any, *, pooling: str = "cls", dropout: float = 0.1) -> None:
        super().__init__()
        if pooling not in ("cls", "mean"):
            raise ValueError(f"Regressor pooling must be 'cls' or 'mean'; got {pooling!r}.")
        self.encoder = encoder
        self.pooling = pooling
        self.dropout = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(encoder.config.hidden_size, 1)
        std = float(getattr(encoder.config, "initializer_range", 0.02))
        torch.nn.init.normal_(self.head.weight, mean=0.0, std=std)
        torch.nn.init.zeros_(self.head.bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.pooling == "cls":
            pooled = states[:, 0]
        else:
            mask = attention_mask.unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.head(self.dropout(pooled)).squeeze(-1)


@dataclass
class FineTuned:
    """A fine-tuned regressor and how it was trained (returned by :func:`fine_tune`).

    Attributes
    ----------
    model : the :class:`Regressor`, in eval mode, on the training device.
    tokenizer : its tokenizer.
    history : one row per epoch trained: ``epoch`` (from 1), ``train_loss`` (mean MSE
        over the epoch's essays), ``valid_pcc``, ``valid_ccc``, ``valid_rmse`` (float64;
        NaN without a validation set), ``seconds`` (wall time of the epoch, validation
        included). ``history.attrs`` holds ``dropped_train`` and ``dropped_valid`` (rows
        left out for a missing text or target), ``stopped_early``, ``kept_epoch`` and
        ``best_epoch``.
    best_epoch : the epoch with the best monitored validation CCC (:func:`best_epoch`);
        without a validation set, the last epoch.
    seed : the seed.
    encoder : the encoder spec.
    recipe : the :class:`Recipe` used.
    kept_epoch : the epoch whose weights ``model`` holds (``Recipe.keep``).
    """

    model: Any
    tokenizer: Any
    history: pd.DataFrame
    best_epoch: int
    seed: int
    encoder: str
    recipe: Recipe = field(default_factory=Recipe)
    kept_epoch: int = 0


# --------------------------------------------------------------------------- pure parts


def length_batches(
    lengths: Sequence[int], batch_size: int, *, seed: int, bucket: bool = True
) -> list[list[int]]:
    """Split ``range(len(lengths))`` into shuffled batches, optionally length-bucketed.

    Without ``bucket``: a random permutation cut into batches. With ``bucket``: the
    permutation is cut into mega-batches of ``BUCKET_BATCHES × batch_size`` indices; each
    is sorted by length (longest first) and cut into batches; then the order of all
    batches is shuffled. Batches stay random from epoch to epoch, but hold texts of
    similar length, so dynamic padding wastes little.

    Parameters
    ----------
    lengths : token count of each text.
    batch_size : indices per batch; only the last batch may be smaller.
    seed : seeds a ``torch.Generator``: the same seed gives the same batches.
    bucket : group texts of similar length.

    Returns
    -------
    list of lists of int
        Every index exactly once.

    Examples
    --------
    >>> batches = length_batches([5, 50, 6, 49, 7, 48], 2, seed=0)
    >>> sorted(i for b in batches for i in b)
    [0, 1, 2, 3, 4, 5]
    >>> sorted(sorted([5, 50, 6, 49, 7, 48][i] for i in b) for b in batches)
    [[5, 6], [7, 48], [49, 50]]
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1; got {batch_size}.")
    n = len(lengths)
    generator = torch.Generator().manual_seed(int(seed))
    order = torch.randperm(n, generator=generator).tolist()
    if not bucket:
        return [order[i : i + batch_size] for i in range(0, n, batch_size)]
    mega = BUCKET_BATCHES * batch_size
    batches: list[list[int]] = []
    for start in range(0, n, mega):
        chunk = sorted(order[start : start + mega], key=lambda i: -int(lengths[i]))  # stable
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    shuffled = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in shuffled]


def _monitored(ccc_history: Sequence[float], start: int) -> np.ndarray:
    return np.asarray(list(ccc_history), dtype=np.float64)[max(int(start), 0) :]


def should_stop(ccc_history: Sequence[float], start: int = 5, patience: int = 2) -> bool:
    """Decide, after the last epoch of ``ccc_history``, whether to stop training.

    ``ccc_history[k]`` is the validation CCC after epoch ``k + 1``. Epochs
    ``1..start`` are not monitored; among the later ones, stop once the last
    ``patience`` have not beaten the best before them (strictly greater is better;
    NaN never is). This is the authors' Lightning callback (see the module docstring).

    Examples
    --------
    >>> should_stop([0.1, 0.2, 0.3, 0.2, 0.1], start=5)  # epoch 5: nothing monitored yet
    False
    >>> should_stop([0.9, 0.9, 0.9, 0.9, 0.9, 0.5, 0.4, 0.3], start=5)  # 7, 8 below epoch 6
    True
    >>> should_stop([0.1] * 5 + [0.5, 0.4, 0.6, 0.5], start=5)
    False
    """
    watched = _monitored(ccc_history, start)
    if watched.size == 0:
        return False
    if not np.isfinite(watched).any():
        return watched.size >= patience
    best = int(np.nanargmax(watched))  # the first occurrence: ties are no improvement
    return watched.size - 1 - best >= patience


def best_epoch(ccc_history: Sequence[float], start: int = 5) -> int:
    """Return the epoch (from 1) with the best validation CCC among the monitored ones.

    Monitored epochs are those after ``start``; if training ended before any (fewer
    than ``start + 1`` epochs), all epochs count. Ties go to the earlier epoch; if every
    value is NaN, the last epoch.

    Examples
    --------
    >>> best_epoch([0.9, 0.1, 0.1, 0.1, 0.1, 0.3, 0.5, 0.4])  # epoch 1 is not monitored
    7
    >>> best_epoch([0.2, 0.4, 0.3])  # shorter than the delay: all epochs count
    2
    """
    values = np.asarray(list(ccc_history), dtype=np.float64)
    if values.size == 0:
        raise ValueError("best_epoch needs at least one epoch.")
    offset = int(start) if values.size > start else 0
    watched = values[offset:]
    if not np.isfinite(watched).any():
        return int(values.size)
    return offset + int(np.nanargmax(watched)) + 1


# --------------------------------------------------------------------------- training


def _progress_disabled(progress: bool) -> bool:
    return (not progress) or os.environ.get("TQDM_DISABLE", "").strip().lower() in _TRUTHY


def _autocast(device: str, amp: bool) -> Any:
    if amp and device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def _clean(frame: pd.DataFrame, text: str, target: str | None, what: str) -> tuple[pd.DataFrame, int]:
    """Check the columns, drop rows without text or target; return (rows, number dropped)."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{what} must be a pandas DataFrame, not {type(frame).__name__}.")
    needed = [text] if target is None else [text, target]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} has no column {', '.join(map(repr, missing))}; "
            f"columns found: {', '.join(map(str, frame.columns)) or 'none'}."
        )
    part = frame[needed].copy()
    if target is not None:
        part[target] = pd.to_numeric(part[target], errors="coerce").astype("float64")
    keep = part[text].notna() & (part[target].notna() if target is not None else True)
    return part[keep], int((~keep).sum())


def _tokenize(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[list[int]]:
    encoded = tokenizer([str(t) for t in texts], truncation=True, max_length=max_length)
    return [list(ids) for ids in encoded["input_ids"]]


def _collate(
    ids: Sequence[Sequence[int]], pad_id: int, pad_to: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token ids to the longest (or to ``pad_to``); return (input_ids, attention_mask)."""
    width = max(len(x) for x in ids) if pad_to is None else max(pad_to, max(len(x) for x in ids))
    input_ids = torch.full((len(ids), width), int(pad_id), dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, seq in enumerate(ids):
        input_ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return input_ids, mask


def _pad_id(tokenizer: Any) -> int:
    pad = tokenizer.pad_token_id
    if pad is None:
        pad = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
    return int(pad)


def _predict_ids(
    model: Any, ids: Sequence[Sequence[int]], pad_id: int, batch_size: int, device: str, amp: bool
) -> np.ndarray:
    """Scores for pre-tokenized texts: longest first, results in input order, float64."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1; got {batch_size}.")
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))  # out of memory at once, if at all
    out = np.empty(len(ids), dtype=np.float64)
    model.eval()
    with torch.inference_mode(), _autocast(device, amp):
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            input_ids, mask = _collate([ids[i] for i in chosen], pad_id)
            scores = model(input_ids.to(device), mask.to(device))
            out[chosen] = scores.float().cpu().numpy().astype(np.float64)
    return out


def fine_tune(
    train: pd.DataFrame,
    valid: pd.DataFrame | None = None,
    *,
    encoder: str = DEFAULT_ENCODER,
    text: str = "essay",
    target: str = "label",
    seed: int = 0,
    recipe: Recipe = Recipe(),
    device: str = "auto",
    progress: bool = True,
) -> FineTuned:
    """Fine-tune ``encoder`` with a linear output to predict ``target`` from ``text``.

    Each epoch trains once over ``train`` (MSE loss) and, with ``valid``, scores it
    (PCC, CCC, RMSE in float64, :mod:`empathylab.metrics`). With ``valid``, training
    stops early as the authors' does (:func:`should_stop`); without it, it runs
    ``recipe.n_epochs`` epochs. ``recipe.keep`` picks the weights returned.

    Parameters
    ----------
    train, valid : one row per text; rows whose text or target is missing are dropped
        and counted (``history.attrs``).
    encoder : ``embedded:all-MiniLM-L6-v2`` (default, offline), a local folder or a hub
        id such as ``roberta-base`` (see :func:`empathylab.llm.weights.load_encoder`).
    text, target : column names.
    seed : seeds python, numpy and torch (the output layer, dropout) and the batch order;
        two CPU runs with the same seed and thread count give identical predictions.
    recipe : the :class:`Recipe`.
    device : ``"auto"`` (cuda if available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    progress : show a progress bar over steps (also off with ``TQDM_DISABLE=1``).

    Returns
    -------
    FineTuned
        The model (eval mode), tokenizer, per-epoch history and provenance.

    Raises
    ------
    ValueError
        a missing column, no training rows left, or a validation set with fewer than two
        labelled rows.

    Examples
    --------
    >>> from empathylab.data import load_essays
    >>> essays = load_essays().head(64)
    >>> fitted = fine_tune(essays, target="empathy", recipe=Recipe(max_epochs=1),
    ...                    progress=False)  # doctest: +SKIP
    >>> fitted.history.columns.tolist()  # doctest: +SKIP
    ['epoch', 'train_loss', 'valid_pcc', 'valid_ccc', 'valid_rmse', 'seconds']
    """
    from tqdm import tqdm  # console bars: tqdm.auto warns in a kernel without ipywidgets

    rows, valid_rows, dropped = _usable_rows(train, valid, text, target)
    device = pick_device(device)
    batch_seeds = _seed_everything(seed)
    model, tokenizer = _build_model(encoder, recipe, rows[target], device)
    pad_id = _pad_id(tokenizer)
    train_ids = _tokenize(tokenizer, rows[text].tolist(), recipe.max_length)
    y_train = torch.tensor(rows[target].to_numpy(), dtype=torch.float32)
    if valid_rows is not None:
        valid_ids = _tokenize(tokenizer, valid_rows[text].tolist(), recipe.max_length)
        y_valid = valid_rows[target].to_numpy(dtype=np.float64)
    total_steps = math.ceil(len(train_ids) / recipe.batch_size) * recipe.n_epochs
    optimizer, scheduler = _optimizer(model, recipe, total_steps)
    monitor = valid_rows is not None and recipe.epochs is None

    history: list[dict[str, float]] = []
    cccs: list[float] = []
    best_state: dict[str, torch.Tensor] | None = None
    stopped_early = False
    bar = tqdm(total=total_steps, disable=_progress_disabled(progress), desc="fine-tune", unit="step")
    try:
        for epoch in range(1, recipe.n_epochs + 1):
            started = time.perf_counter()
            epoch_seed = int(torch.randint(0, 2**31 - 1, (1,), generator=batch_seeds))
            loss = _train_epoch(
                model,
                optimizer,
                scheduler,
                train_ids,
                y_train,
                pad_id,
                recipe,
                device,
                epoch_seed,
                bar,
                epoch,
            )
            row = {"epoch": epoch, "train_loss": loss}
            if valid_rows is not None:
                row.update(_validate(model, valid_ids, y_valid, pad_id, device, recipe.amp))
                cccs.append(row["valid_ccc"])
                bar.set_postfix_str(f"valid CCC {row['valid_ccc']:.3f}", refresh=False)
            row["seconds"] = time.perf_counter() - started
            history.append(row)
            if recipe.keep == "best" and cccs and best_epoch(cccs, recipe.early_stopping_from) == epoch:
                best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            if monitor and should_stop(cccs, recipe.early_stopping_from, recipe.patience):
                stopped_early = epoch < recipe.n_epochs
                break
    finally:
        bar.close()

    last = len(history)
    best = best_epoch(cccs, recipe.early_stopping_from) if cccs else last
    kept = last
    if best_state is not None and best != last:  # keep="best"; the snapshot is of `best`
        model.load_state_dict(best_state)
        kept = best
    model.eval()
    table = pd.DataFrame(
        history, columns=["epoch", "train_loss", "valid_pcc", "valid_ccc", "valid_rmse", "seconds"]
    ).astype({"epoch": "int64"})
    table.attrs.update(
        dropped_train=dropped[0],
        dropped_valid=dropped[1],
        stopped_early=stopped_early,
        best_epoch=best,
        kept_epoch=kept,
        recipe=asdict(recipe),
        device=device,
    )
    return FineTuned(model, tokenizer, table, best, seed, encoder, recipe, kept)


# The steps of fine_tune, in the order it takes them.


def _usable_rows(
    train: pd.DataFrame, valid: pd.DataFrame | None, text: str, target: str
) -> tuple[pd.DataFrame, pd.DataFrame | None, tuple[int, int]]:
    """Return the train and valid rows with both columns, and how many of each were dropped."""
    rows, dropped_train = _clean(train, text, target, "train")
    if rows.empty:
        raise ValueError(
            f"train has no usable rows: {len(train)} row(s), {dropped_train} without "
            f"{text!r} or {target!r}. Give at least one row with both."
        )
    if dropped_train:
        logger.warning("train: dropped %d row(s) with a missing %r or %r", dropped_train, text, target)
    if valid is None:
        return rows, None, (dropped_train, 0)
    valid_rows, dropped_valid = _clean(valid, text, target, "valid")
    if len(valid_rows) < 2:
        raise ValueError(
            f"valid needs at least two rows with both {text!r} and {target!r} (CCC and "
            f"PCC need two); it has {len(valid_rows)} of {len(valid)}. Pass valid=None "
            "to train without validation."
        )
    if dropped_valid:
        logger.warning("valid: dropped %d row(s) with a missing %r or %r", dropped_valid, text, target)
    return rows, valid_rows, (dropped_train, dropped_valid)


def _seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return the generator of the epochs' batch orders."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(int(seed))


def _build_model(encoder: str, recipe: Recipe, targets: pd.Series, device: str) -> tuple[Regressor, Any]:
    """Return the encoder with its output layer (bias at the targets' mean if the recipe says so)."""
    from empathylab.llm.weights import load_encoder

    base, tokenizer = load_encoder(encoder, device="cpu")
    model = Regressor(base, pooling=resolve_pooling(recipe.pooling, encoder), dropout=recipe.dropout)
    if recipe.head_bias == "mean":
        with torch.no_grad():
            model.head.bias.fill_(float(targets.mean()))
    return model.to(device), tokenizer


def _optimizer(model: Regressor, recipe: Recipe, total_steps: int) -> tuple[Any, Any]:
    """Return AdamW and its linear schedule with warm-up, as the recipe sets them."""
    from transformers import get_linear_schedule_with_warmup

    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=recipe.lr,
        betas=tuple(recipe.betas),
        eps=recipe.eps,
        weight_decay=recipe.weight_decay,
    )
    scheduler = get_linear_schedule_with_warmup(
        optimizer, num_warmup_steps=int(recipe.warmup * total_steps), num_training_steps=total_steps
    )
    return optimizer, scheduler


def _train_epoch(
    model: Regressor,
    optimizer: Any,
    scheduler: Any,
    train_ids: list[list[int]],
    y_train: torch.Tensor,
    pad_id: int,
    recipe: Recipe,
    device: str,
    epoch_seed: int,
    bar: Any,
    epoch: int,
) -> float:
    """Train one epoch (MSE loss) in length-bucketed batches; return the mean training loss."""
    model.train()
    pad_to = None if recipe.dynamic_padding else recipe.max_length
    batches = length_batches(
        [len(x) for x in train_ids], recipe.batch_size, seed=epoch_seed, bucket=recipe.bucket
    )
    loss_sum = 0.0
    for batch in batches:
        input_ids, mask = _collate([train_ids[i] for i in batch], pad_id, pad_to)
        labels = y_train[batch].to(device)
        with _autocast(device, recipe.amp):
            scores = model(input_ids.to(device), mask.to(device))
        loss = torch.nn.functional.mse_loss(scores.float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        value = float(loss.detach())
        loss_sum += value * len(batch)
        bar.update(1)
        bar.set_description(f"epoch {epoch}/{recipe.n_epochs} loss {value:.3f}", refresh=False)
    return loss_sum / len(train_ids)


def _validate(
    model: Regressor, valid_ids: list[list[int]], y_valid: np.ndarray, pad_id: int, device: str, amp: bool
) -> dict[str, float]:
    """Return the validation PCC, CCC and RMSE (NaN when a prediction is not finite)."""
    from empathylab import metrics

    predicted = _predict_ids(model, valid_ids, pad_id, 64, device, amp)
    if not np.isfinite(predicted).all():
        return {"valid_pcc": math.nan, "valid_ccc": math.nan, "valid_rmse": math.nan}
    return {f"valid_{k}": v for k, v in metrics.scores(y_valid, predicted).items()}


def predict(fitted: FineTuned, texts: Sequence[str] | pd.Series, *, batch_size: int = 64) -> np.ndarray:
    """Score ``texts`` with a fine-tuned regressor.

    Texts are tokenized as in training (truncated to ``fitted.recipe.max_length``),
    batched longest first with dynamic padding, and scored in eval mode without
    gradients; the results come back in input order.

    Returns
    -------
    numpy.ndarray
        float64, one score per text.

    Examples
    --------
    >>> predict(fitted, ["I felt so sorry for them."]).dtype  # doctest: +SKIP
    dtype('float64')
    """
    if isinstance(texts, str):
        raise ValueError("texts must be a sequence of strings, not one string; wrap it in a list.")
    values = list(texts.tolist() if isinstance(texts, pd.Series) else texts)
    if not values:
        return np.empty(0, dtype=np.float64)
    missing = [i for i, v in enumerate(values) if v is None or (isinstance(v, float) and math.isnan(v))]
    if missing:
        raise ValueError(f"texts has {len(missing)} missing value(s) (first at position {missing[0]}).")
    ids = _tokenize(fitted.tokenizer, values, fitted.recipe.max_length)
    device = str(next(fitted.model.parameters()).device)
    return _predict_ids(fitted.model, ids, _pad_id(fitted.tokenizer), batch_size, device, fitted.recipe.amp)
