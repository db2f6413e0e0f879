"""In-vitro LLM empathy labels for essays (LLMPathy: Hasan et al., arXiv 2501.00691).

An LLM reads an essay and answers with six Batson empathic-concern scores on 1–7
(``scale-aware`` prompt; the label is their mean) or with one empathy score (``plain``
prompt). Answers are greedy (temperature 0) and come from any project backend
(:func:`~empathylab.llm.load_backend`). An answer that does not parse is asked
once more; if it still does not parse the label is missing and the raw answers are kept.

Labels are stored like Part I's results (:class:`~empathylab.llm.store.ChunkStore`) in
``<out_dir>/<model slug>/<prompt>/``: ``design.json`` and atomic ``chunk-*.parquet``
files of :data:`LABEL_COLUMNS`, so a killed run resumes where it stopped and a folder
holding another design is refused. A real run (minutes on a CPU)::

    >>> from empathylab.llm import load_backend
    >>> from empathylab.data import load_essays
    >>> essays = load_essays().rename(columns={"message_id": "essay_id"}).head(2)
    >>> backend = load_backend("transformers", "embedded:gemma-3-270m", device="cpu")  # doctest: +SKIP
    >>> run_labels(essays, backend, prompt="plain", out_dir="results/labels",
    ...            model="embedded:gemma-3-270m")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from empathylab.errors import EmpathylabError
from empathylab.llm import Backend, Request
from empathylab.llm.runs import answer_chunks, provenance
from empathylab.llm.store import ChunkStore, model_slug, read_chunks

__all__ = [
    "PROMPTS",
    "LABEL_COLUMNS",
    "label_requests",
    "parse_label",
    "parse_labels",
    "prompt_hash",
    "labels_store",
    "run_labels",
    "run_labels_on_ray",
    "read_labels",
]

_SYSTEM_SENTENCES = (
    "Your task is to measure the empathy of individuals based on their written essays.",
    "You will assess empathy using Batson's definition, which specifically measures how the "
    "subject is feeling each of the following six emotions: sympathetic, moved, compassionate, "
    "tender, warm and softhearted.",
    "Human subjects wrote these essays after reading a newspaper article involving harm to "
    "individuals, groups of people, nature, etc.",
    "The essay is provided to you within triple backticks.",
)
_ESSAY = "Essay: ```{essay}\n``` "
_NO_OTHER_OUTPUT = "You must not provide any other outputs apart from the scores."

#: prompt name -> (system prompt, user template with ``{essay}``), word for word from the
#: paper's code with its line-continuation indentation reduced to single spaces.
PROMPTS: dict[str, tuple[str, str]] = {
    "scale-aware": (
        " ".join(_SYSTEM_SENTENCES),
        _ESSAY + "Now, provide scores with respect to Batson's empathy scale. That is, provide scores "
        "between 1.0 and 7.0 for each of the following emotions: sympathetic, moved, "
        "compassionate, tender, warm and softhearted. You must provide comma-separated floating "
        "point scores, where a score of 1.0 means the individual is not feeling the emotion at "
        "all, and a score of 7.0 means the individual is extremely feeling the emotion. " + _NO_OTHER_OUTPUT,
    ),
    "plain": (
        " ".join(s for i, s in enumerate(_SYSTEM_SENTENCES) if i != 1),
        _ESSAY + "Now, provide empathy score between 1.0 and 7.0, where a score of 1.0 means the lowest "
        "empathy, and a score of 7.0 means the highest empathy. " + _NO_OTHER_OUTPUT,
    ),
}

#: How many numbers a valid answer to each prompt holds.
_SCORES = {"scale-aware": 6, "plain": 1}

#: Columns of every stored label row, in order.
LABEL_COLUMNS = ("essay_id", "prompt", "model", "label", "raw", "attempts", "valid")

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _check_prompt(prompt: str) -> None:
    if prompt not in PROMPTS:
        raise ValueError(f"Unknown prompt {prompt!r}; valid prompts: {', '.join(PROMPTS)}.")


def prompt_hash(prompt: str) -> str:
    """Return a short SHA-256 of the prompt's system and user texts (stored with labels).

    >>> len(prompt_hash("plain")), prompt_hash("plain") != prompt_hash("scale-aware")
    (16, True)
    """
    _check_prompt(prompt)
    system, user = PROMPTS[prompt]
    return hashlib.sha256(f"{system}\0{user}".encode()).hexdigest()[:16]


def label_requests(essays: Iterable[str], prompt: str) -> list[Request]:
    """Return one :class:`~empathylab.llm.Request` per essay, in order.

    Raises ``ValueError`` for a prompt other than ``"scale-aware"`` or ``"plain"``.

    >>> [r] = label_requests(["I felt sad."], "plain")
    >>> r.user[:34]
    'Essay: ```I felt sad.\\n``` Now, pro'
    """
    _check_prompt(prompt)
    system, user = PROMPTS[prompt]
    return [Request(system, user.format(essay=essay), tags={"count": _SCORES[prompt]}) for essay in essays]


def parse_label(text: str, prompt: str, rule: str = "strict") -> float | None:
    """Return the label an answer gives, or ``None`` when it is not a valid answer.

    ``rule="strict"`` (ours): every number in the answer is read, whatever surrounds
    it. ``scale-aware``: exactly six numbers, each within 1–7, and the label is their
    mean; ``plain``: exactly one number within 1–7. Anything else (five numbers, a
    number out of range, no number) is ``None``.

    ``rule="authors"``: the rule of Hasan et al.'s ``src/llm_labels.py``: the answer is
    split at commas, every part must read as a number (surrounding text fails), and the
    label is their mean, whatever their count and range.

    >>> parse_label("5, 6, 4.5, 7, 6, 5", "scale-aware")
    5.583333333333333
    >>> parse_label("Scores: 5,6,4,7,6,5", "scale-aware"), parse_label("8,8,8,8,8,8", "scale-aware")
    (5.5, None)
    >>> parse_label(" 4.0\\n", "plain"), parse_label("I cannot tell.", "plain")
    (4.0, None)
    >>> parse_label("8,8,8,8,8,8", "scale-aware", "authors"), parse_label("Scores: 5,6", "plain", "authors")
    (8.0, None)
    """
    _check_prompt(prompt)
    if rule == "authors":
        try:
            parts = [float(part) for part in (text or "").split(",")]
        except ValueError:
            return None
        finite = all(math.isfinite(x) for x in parts)
        return math.fsum(parts) / len(parts) if finite else None
    if rule != "strict":
        raise ValueError(f"Unknown label parsing rule {rule!r}; valid: strict, authors.")
    numbers = [float(n) for n in _NUMBER.findall(text or "")]
    if len(numbers) != _SCORES[prompt] or not all(1.0 <= n <= 7.0 for n in numbers):
        return None
    return math.fsum(numbers) / len(numbers)


def parse_labels(texts: Iterable[str], prompt: str) -> pd.DataFrame:
    """Return a frame with one row per answer: ``label`` (float, NaN if invalid), ``valid``.

    >>> parse_labels(["3", "three", "9"], "plain")
       label  valid
    0    3.0   True
    1    NaN  False
    2    NaN  False
    """
    labels = [parse_label(t, prompt) for t in texts]
    return pd.DataFrame(
        {
            "label": pd.Series([math.nan if x is None else x for x in labels], dtype=float),
            "valid": pd.Series([x is not None for x in labels], dtype=bool),
        }
    )


# ---------------------------------------------------------------------- the store


def _check_essays(essays: pd.DataFrame) -> None:
    missing = [c for c in ("essay_id", "essay") if c not in essays.columns]
    if missing:
        raise ValueError(
            f"essays lack the column(s) {', '.join(missing)}; it has {', '.join(map(str, essays.columns))}."
        )
    duplicated = essays["essay_id"][essays["essay_id"].duplicated()].unique()
    if len(duplicated):
        shown = ", ".join(map(repr, duplicated[:5].tolist()))
        raise ValueError(f"essays have duplicate essay_id values ({len(duplicated)}: {shown}...).")
    empty = essays["essay_id"][~essays["essay"].map(lambda e: isinstance(e, str) and bool(e.strip()))]
    if len(empty):
        shown = ", ".join(map(repr, empty[:5].tolist()))
        raise ValueError(f"essays without text ({len(empty)} essay_id: {shown}...).")


def _essays_sha256(essays: pd.DataFrame) -> str:
    digest = hashlib.sha256()
    for essay_id, essay in zip(essays["essay_id"], essays["essay"]):
        digest.update(f"{essay_id}\0{essay}\0".encode())
    return digest.hexdigest()[:16]


def labels_store(
    out_dir: str | Path,
    essays: pd.DataFrame,
    *,
    prompt: str,
    model: str,
    backend: str,
    max_new_tokens: int = 64,
    retries: int = 1,
    chunk_size: int = 64,
    batch_size: int = 8,
) -> ChunkStore:
    """Return the store of these labels, ``<out_dir>/<model slug>/<prompt>/``.

    Checks the essays and the prompt, and raises
    :class:`~empathylab.errors.EmpathylabError` (changing nothing) when the folder holds
    labels of another design; nothing is written. Call it before loading a model.

    >>> import tempfile
    >>> essays = pd.DataFrame({"essay_id": [1], "essay": ["Sad news."]})
    >>> labels_store(tempfile.mkdtemp(), essays, prompt="plain", model="m", backend="b").design["task"]
    'labels'
    """
    _check_prompt(prompt)
    _check_essays(essays)
    if max_new_tokens < 1 or retries < 0 or chunk_size < 1 or batch_size < 1:
        raise ValueError(
            "max_new_tokens, chunk_size and batch_size must be >= 1 and retries >= 0 (got "
            f"{max_new_tokens}, {chunk_size}, {batch_size} and {retries})."
        )
    design = {
        "task": "labels",
        "prompt": prompt,
        "prompt_sha256": prompt_hash(prompt),
        "model": model,
        "backend": backend,
        "essays": len(essays),
        "essays_sha256": _essays_sha256(essays),
        "max_new_tokens": max_new_tokens,
        "retries": retries,
        "chunk_size": chunk_size,
        "batch_size": batch_size,
    }
    folder = Path(out_dir) / model_slug(model) / prompt
    return ChunkStore(folder, design, columns=LABEL_COLUMNS)


# ---------------------------------------------------------------------- asking


def _generate(
    backend: Backend,
    requests: list[Request],
    max_new_tokens: int,
    batch_size: int,
    done: Callable[[int], None],
) -> list[str]:
    answers: list[str] = []
    for start in range(0, len(requests), batch_size):
        batch = requests[start : start + batch_size]
        answers += backend.generate(batch, max_new_tokens)
        done(len(batch))
    return answers


def _label_chunk(
    backend: Backend,
    essays: pd.DataFrame,
    *,
    prompt: str,
    model: str,
    max_new_tokens: int,
    retries: int,
    batch_size: int,
    done: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Ask for every essay, then again (``retries`` times) for the answers that do not parse."""
    requests = label_requests(essays["essay"], prompt)
    raw: list[list[str]] = [[] for _ in requests]
    labels: list[float | None] = [None] * len(requests)
    pending = list(range(len(requests)))
    for attempt in range(retries + 1):
        if not pending:
            break
        count = done if attempt == 0 and done is not None else (lambda n: None)
        answers = _generate(backend, [requests[i] for i in pending], max_new_tokens, batch_size, count)
        for i, answer in zip(pending, answers):
            raw[i].append(answer)
            labels[i] = parse_label(answer, prompt)
        pending = [i for i in pending if labels[i] is None]
    return pd.DataFrame(
        {
            "essay_id": essays["essay_id"].to_numpy(),
            "prompt": prompt,
            "model": model,
            "label": pd.Series([math.nan if x is None else x for x in labels], dtype=float),
            "raw": raw,
            "attempts": pd.Series([len(r) for r in raw], dtype="int64"),
            "valid": pd.Series([x is not None for x in labels], dtype=bool),
        }
    )


def run_labels(
    essays: pd.DataFrame,
    backend: Backend,
    *,
    prompt: str,
    out_dir: str | Path,
    model: str,
    max_new_tokens: int = 64,
    retries: int = 1,
    chunk_size: int = 64,
    batch_size: int = 8,
    progress: bool = True,
) -> pd.DataFrame:
    """Label every essay not stored yet, chunk by chunk; return all labels of these essays.

    ``essays`` needs the columns ``essay_id`` (unique) and ``essay``. Answers are greedy
    (at most ``max_new_tokens`` tokens); ``batch_size`` essays go to the backend at once
    and every ``chunk_size`` essays are stored as one chunk in :func:`labels_store`'s
    folder, so a killed run resumes there and a finished one asks the backend nothing.
    Each answer that does not parse is asked again up to ``retries`` times.

    Returns
    -------
    pandas.DataFrame
        One row per essay, in the order of ``essays``: ``essay_id``, ``prompt``, ``model``,
        ``label`` (float on 1–7; NaN when no answer parsed), ``raw`` (the answers, one per
        attempt), ``attempts`` and ``valid``.

    Examples
    --------
    >>> import tempfile
    >>> class Sixes(Backend):
    ...     name = "sixes"
    ...     def generate(self, requests, max_new_tokens=128, stop=None):
    ...         return ["6, 6, 6, 6, 6, 5.4"] * len(requests)
    ...     def score(self, requests, scale):
    ...         raise NotImplementedError
    ...     def info(self):
    ...         return {"backend": "sixes"}
    >>> essays = pd.DataFrame({"essay_id": ["a", "b"], "essay": ["So sad.", "Not my problem."]})
    >>> out = tempfile.mkdtemp()
    >>> run_labels(essays, Sixes(), prompt="scale-aware", out_dir=out, model="m",
    ...            progress=False)[["essay_id", "label", "attempts", "valid"]]
      essay_id  label  attempts  valid
    0        a    5.9         1   True
    1        b    5.9         1   True
    """
    name = getattr(backend, "name", type(backend).__name__)
    settings = {"max_new_tokens": max_new_tokens, "retries": retries, "batch_size": batch_size}
    store, chunks = _plan_labels(essays, prompt, out_dir, model, name, chunk_size, settings)
    if chunks:

        def metadata() -> dict[str, str]:  # after each chunk: an endpoint names its model by answering
            return provenance(backend.info(), prompt=prompt, prompt_sha256=prompt_hash(prompt))

        with _bar(essays, chunks, chunk_size, prompt, progress) as bar:
            ask = partial(_label_chunk, backend, prompt=prompt, model=model, done=bar.update, **settings)
            parts = ((i, _essay_chunk(essays, chunk_size, i)) for i in chunks)
            answer_chunks(store, parts, ask, metadata)
    return _read_folder(store.folder)


def run_labels_on_ray(
    essays: pd.DataFrame,
    backend: str,
    options: dict[str, Any],
    ray: Any,
    *,
    prompt: str,
    out_dir: str | Path,
    model: str,
    max_new_tokens: int = 64,
    retries: int = 1,
    chunk_size: int = 64,
    batch_size: int = 8,
    progress: bool = True,
) -> pd.DataFrame:
    """:func:`run_labels` with the chunks answered by worker actors on a Ray cluster.

    ``backend`` and ``options`` are what :func:`~empathylab.llm.load_backend` takes: each
    worker loads the backend once. ``ray`` is the profile's ``llm.ray`` section. The store,
    the resume and the returned frame are those of :func:`run_labels`; the labels of a
    ``local`` and a ``ray`` run of the same essays are interchangeable.
    """
    from empathylab.llm import load_backend
    from empathylab.llm.ray_engine import RayJob, run_on_ray

    settings = {"max_new_tokens": max_new_tokens, "retries": retries, "batch_size": batch_size}
    store, chunks = _plan_labels(essays, prompt, out_dir, model, backend, chunk_size, settings)
    if chunks:
        job = RayJob(
            store,
            partial(_essay_chunk, essays, chunk_size),
            partial(_label_chunk, prompt=prompt, model=model, **settings),
            {"prompt": prompt, "prompt_sha256": prompt_hash(prompt)},
        )
        tasks = [(prompt, i, len(_essay_chunk(essays, chunk_size, i))) for i in chunks]
        with _bar(essays, chunks, chunk_size, prompt, progress) as bar:
            run_on_ray(
                {prompt: job},
                tasks,
                load_backend,
                backend,
                model,
                options,
                ray,
                progress=bar.update,
                status=bar.set_postfix_str,
            )
    return _read_folder(store.folder)


def _plan_labels(
    essays: pd.DataFrame,
    prompt: str,
    out_dir: str | Path,
    model: str,
    backend: str,
    chunk_size: int,
    settings: dict[str, int],
) -> tuple[ChunkStore, list[int]]:
    """Return the labels' store (refusing one of another design) and the chunks not stored yet."""
    store = labels_store(
        out_dir, essays, prompt=prompt, model=model, backend=backend, chunk_size=chunk_size, **settings
    )
    store.clean()
    stored = store.done()
    return store, [i for i in range(math.ceil(len(essays) / chunk_size)) if i not in stored]


def _essay_chunk(essays: pd.DataFrame, size: int, index: int) -> pd.DataFrame:
    return essays.iloc[index * size : (index + 1) * size]


def _bar(essays: pd.DataFrame, chunks: list[int], size: int, prompt: str, progress: bool) -> Any:
    from tqdm import tqdm

    remaining = sum(len(_essay_chunk(essays, size, i)) for i in chunks)
    disable = not progress or os.environ.get("TQDM_DISABLE", "") not in ("", "0")
    return tqdm(total=remaining, desc=f"{prompt} labels", unit="essay", disable=disable)


# ---------------------------------------------------------------------- reading back


def _read_folder(folder: Path) -> pd.DataFrame:
    if not any(Path(folder).rglob("chunk-*.parquet")):
        raise EmpathylabError(f"No stored labels under {folder}: run `empathylab labels run` first.")
    frame = read_chunks(folder, LABEL_COLUMNS)
    frame["raw"] = frame["raw"].map(list)
    return frame


def read_labels(out_dir: str | Path) -> pd.DataFrame:
    """Return every label stored under ``out_dir`` (a finished or a partial run).

    The columns are :data:`LABEL_COLUMNS`; rows come by model, prompt and then in the
    order the essays were given. Raises :class:`~empathylab.errors.EmpathylabError`
    when nothing is stored there.

    >>> read_labels("results/labels").groupby("prompt")["valid"].mean()  # doctest: +SKIP
    """
    return _read_folder(Path(out_dir))
