"""Where the book departs from the authors' code or the papers' text, and by how much.

The page *Where this book departs from the authors* prints :func:`markdown` for each part
and measures what a build can measure: :func:`rounding_effect` (the authors round cell
means to two decimals), :func:`permutation_effect` (the authors sample 10,000
permutations where the book enumerates all of them), :func:`reading_range_effect` (the
authors read 0–100 on every scale) and :func:`label_parser_effect` (the authors' label
parser). Each function reads the results this build stored; none asks a model anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from empathylab import gaps
from empathylab.errors import EmpathylabError
from empathylab.gaps import design
from empathylab.gaps.matrices import round_as_authors
from empathylab.profiles import Profile, load_profile

__all__ = [
    "DEPARTURES",
    "FIELDS",
    "table",
    "markdown",
    "rounding_effect",
    "permutation_effect",
    "reading_range_effect",
    "label_parser_effect",
]

#: Every known difference: part ("gaps", "llmpathy", or "followed" where the book follows
#: the authors' code rather than the paper's text), what the authors do, what we do, why,
#: and where its effect is measured (or why it is not).
DEPARTURES: tuple[dict[str, str], ...] = (
    {
        "part": "gaps",
        "topic": "cell means",
        "authors": "round every cell mean to two decimals (Python's `round()`) before z-normalising",
        "here": "exact means; `round_means=2` reproduces theirs, with Python's `round()` (not `np.round`)",
        "why": "rounding throws away information and makes δ depend on the scale's units",
        "effect": "measured on this page",
    },
    {
        "part": "gaps",
        "topic": "permutation test",
        "authors": "10,000 random pairs of row and column orders; the 2.5–97.5 % interval of the permuted δs",
        "here": "all m! arrangements where the in-group cells are the diagonal and m ≤ 8 (five religions: "
        "120), so the null interval and p are exact; 10,000 drawn elsewhere (`exact=False` for theirs); "
        "the interval is called the null interval, and a p at the test's floor is named as such",
        "why": "with five religions δ takes only 120 values under the null; sampling them adds noise "
        "to p and to the interval's ends",
        "effect": "measured on this page",
    },
    {
        "part": "gaps",
        "topic": "reading range",
        "authors": "code accepts an integer in 0–100 on every scale",
        "here": "the paper's text: [0, S]; `gaps.reading.range: authors` for theirs",
        "why": "an answer of 70 on a 0–10 scale is not an answer on that scale",
        "effect": "measured on this page",
    },
    {
        "part": "gaps",
        "topic": "readout",
        "authors": "greedy text, at most 128 new tokens, then the reading rules",
        "here": "the paper profile does the same; the demo reads the answer distribution "
        "(its base model rarely writes a bare number) and compares both",
        "why": "a small base model needs the distribution readout",
        "effect": "chapter Running a model, section The paper's readout and ours",
    },
    {
        "part": "gaps",
        "topic": "stimuli in the demo",
        "authors": "all 6,050 narratives",
        "here": "`stimuli.items_per_emotion` narratives per emotion (the paper profile: all)",
        "why": "the book builds on a laptop CPU",
        "effect": "every interval of the demo is wide; not a difference of method",
    },
    {
        "part": "gaps",
        "topic": "statistics beyond the paper",
        "authors": "the permutation test only",
        "here": "also a t interval over narratives (per-narrative gaps: it carries how much the gap "
        "varies between narratives) and a bootstrap-t over narratives, on the same δ matrix; for "
        "ethnicity a race-balanced δ (every race weighted equally) as a robustness line",
        "why": "every cell rates the same narratives; identities alone are not the sample. The paper's "
        "lists (5/4/3/6 forms per race) let a race main effect alone move δ",
        "effect": "reported beside the permutation test, never instead of it",
    },
    {
        "part": "llmpathy",
        "topic": "label parser",
        "authors": "split at commas, average any count of numbers in any range; other text fails",
        "here": "every number in the answer, exactly six within 1–7 (one for the plain prompt)",
        "why": "a label outside 1–7 or from five emotions is not Batson's scale",
        "effect": "measured on this page",
    },
    {
        "part": "llmpathy",
        "topic": "prompt whitespace",
        "authors": "strings carry stray indentation from Python line continuations",
        "here": "single spaces",
        "why": "the indentation is an accident of the source, not part of the prompt",
        "effect": "not measured: it needs the same essays labelled twice by an instruction model",
    },
    {
        "part": "llmpathy",
        "topic": "regressor head",
        "authors": "Hugging Face's sequence-regression head (dense, tanh, linear)",
        "here": "one linear layer on the pooled encoder output",
        "why": "the SPEC's recipe names one linear output",
        "effect": "not measured: needs fine-tuning runs beyond this build's budget",
    },
    {
        "part": "llmpathy",
        "topic": "output bias",
        "authors": "starts at 0",
        "here": "starts at the mean training label (`Recipe(head_bias='zero')` for theirs)",
        "why": "with a 0 start MiniLM's CCC stayed near 0 for epochs on a CPU",
        "effect": "not measured in this build",
    },
    {
        "part": "llmpathy",
        "topic": "learning-rate schedule",
        "authors": "Lightning steps the schedule once per epoch (no `interval: step`)",
        "here": "stepped once per batch, as the recipe reads",
        "why": "a per-epoch linear schedule barely warms up or decays in 20 epochs",
        "effect": "not measured in this build",
    },
    {
        "part": "llmpathy",
        "topic": "warm-up",
        "authors": "6 % of 10 epochs' steps (3 % of a 20-epoch run)",
        "here": "6 % of all steps (`Recipe(warmup=0.03)` for theirs)",
        "why": "the paper's text says 6 %",
        "effect": "not measured in this build",
    },
    {
        "part": "llmpathy",
        "topic": "significance",
        "authors": "independent t-test over the five seeds' test scores; median and best of seeds",
        "here": (
            "theirs beside ours; the verdicts use the corrected resampled t-test for repeated "
            "cross-validation (Nadeau and Bengio), and a t-test over seeds on one fixed split"
        ),
        "why": (
            "seeds share essays and folds: under cross-validation their test gave about 35 % "
            "false positives in simulation (appendix How often are this book's verdicts wrong?)"
        ),
        "effect": "chapter Do LLM labels train a better regressor?, both side by side",
    },
    {
        "part": "followed",
        "topic": "δ matrix",
        "authors": "code: δ on the matrix without `a person`, excluded and normalised without it",
        "here": "the same; the heatmaps keep the baseline, as theirs",
        "why": "the text does not say which matrix δ uses; the code does",
        "effect": "chapter Empathy gaps by grouping names the matrix of each number",
    },
    {
        "part": "followed",
        "topic": "LLM–LLM agreement",
        "authors": "0.80–0.99 in the text: cross-model α on NewsEmp24 train and a Llama test–retest",
        "here": "α for every released label file pair, 0.796 reproduced",
        "why": "the text's range mixes two comparisons",
        "effect": "chapter Do LLM labels agree with the crowd?",
    },
    {
        "part": "followed",
        "topic": "early stopping",
        "authors": "code: stop on validation CCC from epoch 5, patience 2, keep the last epoch",
        "here": "the same (`Recipe(keep='best')` keeps the best epoch)",
        "why": "the text says early stopping; the code says which weights are kept",
        "effect": "—",
    },
)


def table(part: str) -> pd.DataFrame:
    """Return the departures of one part as a table (index: topic).

    ``part`` is ``"gaps"`` (Part I), ``"llmpathy"`` (Part II) or ``"followed"`` (where
    the book follows the authors' code rather than the papers' text).

    >>> list(table("gaps").columns)
    ['authors', 'here', 'why', 'effect']
    """
    parts = sorted({d["part"] for d in DEPARTURES})
    if part not in parts:
        raise EmpathylabError(f"Unknown part {part!r}; valid: {', '.join(parts)}.")
    rows = [d for d in DEPARTURES if d["part"] == part]
    return pd.DataFrame(rows).drop(columns="part").set_index("topic")


#: The fields of a departure as :func:`markdown` names them.
FIELDS = {"authors": "the authors", "here": "this book", "why": "why", "effect": "its effect"}


def markdown(part: str) -> str:
    """Return the departures of one part as Markdown, every field in full.

    One list item per topic (in bold), with what the authors do, what this book does,
    why and its effect below it; code names keep their backticks, so they print as
    code. ``part`` is as for :func:`table`. A chapter shows it with
    ``IPython.display.Markdown``.

    >>> lines = markdown("followed").splitlines()
    >>> lines[0], lines[2]
    ('- **δ matrix**', '  - *this book*: the same; the heatmaps keep the baseline, as theirs')
    """
    items = []
    for topic, row in table(part).iterrows():
        fields = [f"  - *{label}*: {row[key]}" for key, label in FIELDS.items()]
        items.append("\n".join([f"- **{topic}**", *fields]))
    return "\n".join(items) + "\n"


def _gap_results(profile: Profile) -> pd.DataFrame:
    """The stored rows of the profile's runs and of its prompt-variation runs."""
    from empathylab.gaps.runner import plan_run

    g = profile.gaps
    plans = [
        plan_run(profile, check_model=False),
        plan_run(
            profile,
            groupings=g.variation_groupings,
            variations=list(design.PAPER_VARIATIONS),
            check_model=False,
        ),
    ]
    frames = []
    for plan in plans:
        try:
            frames.append(plan.results())
        except EmpathylabError:
            continue
    if not frames:
        raise EmpathylabError(
            f"No stored Part I results for profile {profile.name!r}: run the chapters first."
        )
    keys = ["model", "readout", "variation", "grouping", "prompt_id"]
    return pd.concat(frames).drop_duplicates(keys).reset_index(drop=True)


def rounding_effect(profile: Profile | str = "demo", n_permutations: int = 10_000) -> pd.DataFrame:
    """Return δ with exact and with rounded (two decimals) cell means for every stored run.

    Rounded as the authors round (Python's ``round()``, :func:`empathylab.gaps.matrices.round_as_authors`);
    ``np.round`` differs on some ``.xx5`` means, and the table counts those cells.

    Returns
    -------
    pandas.DataFrame
        One row per run: ``model, readout, grouping, variation``, ``delta_exact``,
        ``delta_rounded``, ``abs_change``, ``cells_np_round_differs`` (cell means of the δ
        matrix that ``np.round`` rounds otherwise), and the permutation verdicts
        ``significant_exact``, ``significant_rounded`` (the same 10,000 drawn permutations,
        the profile's seed, as the authors test).
    """
    cfg = load_profile(profile)
    results = _gap_results(cfg)
    rows = []
    for key, run in results.groupby(list(gaps.RUN_KEYS), sort=False):
        grouping = str(run["grouping"].iloc[0])
        try:
            means = gaps.delta_matrix(run, z=False).to_numpy()
            exact = gaps.permutation_test(
                gaps.delta_matrix(run), grouping, n_permutations, cfg.seed, exact=False
            )
            rounded = gaps.permutation_test(
                gaps.delta_matrix(run, round_means=2), grouping, n_permutations, cfg.seed, exact=False
            )
        except EmpathylabError:  # no complete narrative in this run
            continue
        differs = round_as_authors(means, 2) != np.round(means, 2)
        rows.append(
            {
                **dict(zip(gaps.RUN_KEYS, key)),
                "delta_exact": exact["delta"],
                "delta_rounded": rounded["delta"],
                "abs_change": abs(exact["delta"] - rounded["delta"]),
                "cells_np_round_differs": int(differs.sum()),
                "significant_exact": exact["significant"],
                "significant_rounded": rounded["significant"],
            }
        )
    return pd.DataFrame(rows)


def permutation_effect(profile: Profile | str = "demo", n_permutations: int = 10_000) -> pd.DataFrame:
    """Return the exact permutation test beside the authors' sampled one, for every stored run it covers.

    Runs whose in-group cells are the diagonal with at most 8 identities (religion, and a
    nationality or race × religion list that short) are tested twice on the δ matrix: all
    m! arrangements enumerated (this book), and ``n_permutations`` drawn with the profile's
    seed (the authors' 10,000).

    Returns
    -------
    pandas.DataFrame
        One row per such run: ``model, readout, grouping, variation``, ``arrangements``
        (m!), ``null_low_exact``, ``null_high_exact``, ``null_low_drawn``,
        ``null_high_drawn`` (the null intervals), ``largest_end_shift`` (the larger
        difference of their ends), ``p_exact``, ``p_drawn``, ``verdict_exact``,
        ``verdict_drawn``. Empty (with these columns) when no run qualifies.
    """
    cfg = load_profile(profile)
    results = _gap_results(cfg)
    columns = [
        *gaps.RUN_KEYS,
        "arrangements",
        "null_low_exact",
        "null_high_exact",
        "null_low_drawn",
        "null_high_drawn",
        "largest_end_shift",
        "p_exact",
        "p_drawn",
        "verdict_exact",
        "verdict_drawn",
    ]
    rows = []
    for key, run in results.groupby(list(gaps.RUN_KEYS), sort=False):
        grouping = str(run["grouping"].iloc[0])
        try:
            matrix = gaps.delta_matrix(run)
            exact = gaps.permutation_test(matrix, grouping, exact=True)
        except EmpathylabError:  # no complete narrative, or a space too large to enumerate
            continue
        drawn = gaps.permutation_test(matrix, grouping, n_permutations, cfg.seed, exact=False)
        rows.append(
            {
                **dict(zip(gaps.RUN_KEYS, key)),
                "arrangements": exact["n_permutations"],
                "null_low_exact": exact["ci_low"],
                "null_high_exact": exact["ci_high"],
                "null_low_drawn": drawn["ci_low"],
                "null_high_drawn": drawn["ci_high"],
                "largest_end_shift": max(
                    abs(exact["ci_low"] - drawn["ci_low"]), abs(exact["ci_high"] - drawn["ci_high"])
                ),
                "p_exact": exact["p_perm"],
                "p_drawn": drawn["p_perm"],
                "verdict_exact": exact["verdict"],
                "verdict_drawn": drawn["verdict"],
            }
        )
    return pd.DataFrame(rows, columns=columns)


def reading_range_effect(profile: Profile | str = "demo") -> dict[str, Any]:
    """Count the stored text answers that the two reading ranges read differently.

    Reads every ``generate`` row under the profile's Part I results folder.

    Returns
    -------
    dict
        ``answers`` (text answers stored), ``answers_10_scale`` (of them on the 0–10
        scale), ``changed`` (read differently by ``scale`` and ``authors``) and
        ``table`` (:func:`empathylab.gaps.reading.reading_changes`).
    """
    from empathylab.gaps.reading import reading_changes
    from empathylab.gaps.rows import read_results

    cfg = load_profile(profile)
    root = cfg.output_path() / "gaps"
    try:
        rows = read_results(root)
    except EmpathylabError:
        rows = pd.DataFrame(columns=["readout", "variation", "response"])
    text = rows[rows["readout"] == "generate"]
    scales = text["variation"].map(lambda v: design.VARIATIONS[v][1])
    changes = reading_changes(text["response"].fillna("").tolist(), scales.tolist())
    return {
        "answers": len(text),
        "answers_10_scale": int((scales == 10).sum()),
        "changed": int(changes.loc[changes["change"] != "same reading", "responses"].sum()),
        "table": changes,
    }


def label_parser_effect(profile: Profile | str = "demo") -> dict[str, Any]:
    """Count the stored raw label answers valid under our parser and under the authors'.

    Every attempt stored by the profile's labelling runs counts (first answers and
    retries alike).

    Returns
    -------
    dict
        ``answers``, ``valid_strict`` (ours), ``valid_authors``.
    """
    from empathylab.llmpathy.labels import parse_label, read_labels

    cfg = load_profile(profile)
    root = Path(cfg.output_path()) / "llmpathy" / "labels"
    answers = strict = authors = 0
    for folder in sorted(p for p in root.glob("*/*") if p.is_dir()):
        try:
            stored = read_labels(folder)
        except EmpathylabError:
            continue
        for prompt, raws in zip(stored["prompt"], stored["raw"]):
            for raw in raws:
                answers += 1
                strict += parse_label(raw, prompt) is not None
                authors += parse_label(raw, prompt, "authors") is not None
    return {"answers": answers, "valid_strict": strict, "valid_authors": authors}
