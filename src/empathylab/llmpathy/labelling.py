"""Part II's labels for a profile: the essays, a labelling run, and the agreement of every source.

Each function reads the ``llmpathy`` section of a profile, stores what it computes
under ``<output_dir>/llmpathy/`` and, called again, reads it back instead of
recomputing (the CLI, the chapters and the tests share these stores).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from empathylab import metrics
from empathylab.errors import EmpathylabError
from empathylab.llmpathy import newsemp, splits
from empathylab.profiles import Profile, load_profile

__all__ = [
    "results_dir",
    "essays",
    "user_data",
    "label_sample",
    "label_table",
    "label_agreement",
    "sample_agreement",
    "sample_agreement_text",
]

#: The released labels set beside a labelling run's, on the same essays.
RELEASED = ("gpt4o", "llama3_70b")


def results_dir(profile: Profile | str, root: str | Path = ".") -> Path:
    """Return ``<output_dir>/llmpathy`` of ``profile`` (not created).

    >>> results_dir("demo").as_posix()
    'results/demo/llmpathy'
    """
    return load_profile(profile).output_path(root) / "llmpathy"


def essays(profile: Profile | str = "demo") -> pd.DataFrame:
    """Return the public essays with their crowd and released LLM labels, plus ``split``.

    ``split`` is the profile's fixed, seeded train/valid/test assignment of whole
    writers (:func:`empathylab.llmpathy.splits.holdout_split`).

    >>> essays("demo")["split"].value_counts().index.tolist()
    ['train', 'test', 'valid']
    """
    cfg = load_profile(profile)
    frame = newsemp.public_essays()
    split = cfg.llmpathy.training.split
    return frame.assign(split=splits.holdout_split(frame, valid=split.valid, test=split.test, seed=cfg.seed))


def user_data(profile: Profile | str) -> dict[tuple[str, str], pd.DataFrame]:
    """Return the NewsEmp files the profile points to, read and joined with released labels.

    Keys are ``(dataset, split)``; an empty dict when the profile names no files
    (the licences forbid shipping them).
    """
    cfg = load_profile(profile)
    out = {}
    for dataset, files in cfg.llmpathy.newsemp.items():
        for split, paths in files.items():
            frame = newsemp.read_newsemp(
                dataset, split, paths.essays, gold=paths.gold, demographics=paths.demographics
            )
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
    engine: str = "local",
) -> pd.DataFrame:
    """Label the profile's sample of public essays with an LLM; return one row per essay.

    The sample is ``llmpathy.labelling.sample`` essays drawn with the profile's seed
    (all 1,860 when null); the model is the profile's first causal LM unless given.
    Labels are stored under ``llmpathy/labels/<model>/<prompt>`` and resumed; a store
    of another design is refused before the model is loaded. ``engine`` is ``local``
    (in this process) or ``ray`` (worker actors on the cluster of ``llm.ray``; the ray
    extra).
    """
    from empathylab.llm import backend_options, load_backend
    from empathylab.llmpathy.labels import labels_store, run_labels

    cfg = load_profile(profile)
    if engine not in ("local", "ray"):
        raise EmpathylabError(f"Unknown engine {engine!r}; valid engines: local, ray.")
    if engine == "ray":
        from empathylab.llm.ray_engine import require_ray

        require_ray()  # before anything loads: one line saying how to install it
    settings = cfg.llmpathy.labelling
    model = model or cfg.models.causal_lm[0]
    backend = backend or settings.backend or cfg.llm.backend
    frame = newsemp.public_essays()
    size = sample or settings.sample
    if size is not None and size > len(frame):
        raise EmpathylabError(
            f"A sample of {size:,} essays is more than the {len(frame):,} public essays; "
            "label them all with --all (or llmpathy.labelling.sample: null)."
        )
    if size is not None and size < len(frame):
        frame = frame.sample(size, random_state=cfg.seed).sort_index()
    out_dir = results_dir(cfg) / "labels"
    options = {
        "max_new_tokens": settings.max_new_tokens,
        "retries": settings.retries,
        "batch_size": settings.batch_size,
    }
    # Refuses a store of another design before any model is loaded.
    labels_store(out_dir, frame, prompt=prompt, model=model, backend=backend, **options)
    engine_options = backend_options(cfg, backend)
    if backend == "openai" and engine_options["top_p"] is None:
        engine_options["top_p"] = 0.01  # Hasan et al. label with top_p 0.01 (and temperature 0)
    if engine == "ray":
        from empathylab.llmpathy.labels import run_labels_on_ray

        return run_labels_on_ray(
            frame,
            backend,
            engine_options,
            cfg.llm.ray,
            prompt=prompt,
            out_dir=out_dir,
            model=model,
            progress=progress,
            **options,
        )
    engine = load_backend(backend, model, **engine_options)
    try:
        return run_labels(
            frame, engine, prompt=prompt, out_dir=out_dir, model=model, progress=progress, **options
        )
    finally:
        engine.close()


def label_table(profile: Profile | str = "demo", *, min_labels: int = 10) -> pd.DataFrame:
    """Return the public essays' labels, one column per source (NaN = missing).

    Columns: ``essay_id``, ``crowd``, ``gpt4o``, ``llama3_70b`` and one column
    ``<model>/<prompt>`` per labelling run stored for this profile
    (:func:`label_sample`) with at least ``min_labels`` valid labels.
    """
    from empathylab.llmpathy.labels import read_labels

    frame = newsemp.public_essays()[["essay_id", "crowd", "gpt4o", "llama3_70b"]]
    root = results_dir(profile) / "labels"
    for folder in sorted(p for p in root.glob("*/*") if p.is_dir()):
        stored = read_labels(folder)
        if int(stored["valid"].sum()) >= min_labels:
            column = f"{folder.parent.name}/{folder.name}"
            frame = frame.merge(
                stored[["essay_id", "label"]].rename(columns={"label": column}), on="essay_id", how="left"
            )
    return frame


def label_agreement(profile: Profile | str = "demo", *, min_labels: int = 10) -> pd.DataFrame:
    """Return α (interval) and Pearson r for every pair of label sources of :func:`label_table`.

    One row per pair: ``a, b, alpha, pearson, n`` (:func:`empathylab.metrics.pairwise_agreement`).
    """
    table = label_table(profile, min_labels=min_labels)
    return metrics.pairwise_agreement(table, [c for c in table.columns if c != "essay_id"])


def sample_agreement(labelled: pd.DataFrame) -> pd.DataFrame:
    """Return how each labelling run agrees with the crowd, beside the released LLM labels on the same essays.

    ``labelled`` holds rows of :func:`label_sample` (any models and prompts). For each
    (model, prompt): ``n``, the essays it labelled validly that have a crowd label; its
    Krippendorff α (interval) and Pearson r with the crowd on them; and the same two for
    GPT-4o's and Llama-3-70B's released labels (``alpha_gpt4o`` ...) on the same essays, so
    the runs are compared on equal footing. α and r need at least three essays and labels
    that vary (r also on each side: a run that gives every essay the same label has an α
    but no r); they are NaN otherwise.

    Returns
    -------
    DataFrame
        ``model, prompt, labelled, n, alpha, pearson, alpha_gpt4o, pearson_gpt4o,
        alpha_llama3_70b, pearson_llama3_70b``; ``labelled`` counts the essays asked.

    >>> ids = newsemp.public_essays()["essay_id"].head(4).tolist()
    >>> rows = pd.DataFrame({"model": "m", "prompt": "plain", "essay_id": ids,
    ...                      "label": [1.0, 2.0, 3.0, None], "valid": [True, True, True, False]})
    >>> sample_agreement(rows)[["labelled", "n"]].values.tolist()
    [[4, 3]]
    """
    released = newsemp.public_essays()[["essay_id", "crowd", *RELEASED]]
    rows = []
    for (model, prompt), part in labelled.groupby(["model", "prompt"], sort=False):
        valid = part.loc[part["valid"].astype(bool), ["essay_id", "label"]]
        both = valid.merge(released, on="essay_id").dropna(subset=["crowd", "label"])
        row = {"model": model, "prompt": prompt, "labelled": int(part["essay_id"].nunique()), "n": len(both)}
        for name, column in (("", "label"), *((f"_{r}", r) for r in RELEASED)):
            pair = both[["crowd", column]].astype(float).dropna()
            enough = len(pair) >= 3 and pair.stack().nunique() > 1
            row[f"alpha{name}"] = metrics.krippendorff_alpha(pair.to_numpy()) if enough else float("nan")
            row[f"pearson{name}"] = metrics.pcc(pair["crowd"], pair[column]) if enough else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def sample_agreement_text(table: pd.DataFrame) -> str:
    """Return what :func:`sample_agreement`'s table can say, as one sentence.

    >>> sample_agreement_text(pd.DataFrame({"model": ["m"], "prompt": ["plain"], "n": [2]}))
    'No run labelled enough essays validly to read an agreement (at least 5 are needed; 2 for m with the plain prompt).'
    """
    from empathylab.verdicts import MIN_UNITS

    counts = "; ".join(
        f"{n} for {m} with the {p} prompt" for m, p, n in table[["model", "prompt", "n"]].values
    )
    enough = table[table["n"] >= MIN_UNITS]
    if enough.empty:
        return (
            f"No run labelled enough essays validly to read an agreement (at least {MIN_UNITS} are "
            f"needed; {counts})."
        )
    return (
        f"Valid labels with a crowd label: {counts}. Runs with fewer than {MIN_UNITS} give no "
        "reading, and a handful of essays gives wide uncertainty: these rows show the method."
    )
