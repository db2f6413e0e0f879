"""Agreement between the label sources of every released LLMPathy label file.

Hasan et al. report "LLM–LLM α 0.80–0.99" and "LLM–crowd α 0.19–0.27". Their notebook
(``analysis-and-visualisation.ipynb`` of ``hasan-rakibul/LLMPathy``, section
"Consistency of LLM Annotation") shows what each end of those ranges compares:

- 0.796: GPT-4o against Llama-3-70B on the NewsEmp24 training essays, computable from
  the released files alone (:func:`released_agreement` reproduces it);
- 0.991: Llama-3-70B against itself, the essays that NewsEmp23 (train + dev) and
  NewsEmp24 (train) share, matched on the essay text and labelled once for each
  dataset. The released files carry ids but no essay text and the two datasets number
  their essays differently, so this value cannot be recomputed from public files;
- 0.271 (crowd–Llama) and 0.192 (crowd–GPT): on NewsEmp24 train, whose crowd labels
  are not public. The public stand-in is the NewsEmp22 training set (Buechel et al.
  2018), the one split whose essays and crowd labels are public.

:data:`PUBLISHED_AGREEMENT` lists these values with what each compares;
:func:`paper_vs_here` puts them beside the values computed here. :func:`noisiest_labels`
lists the public essays on which crowd and LLM disagree most.

Everything is read through :mod:`empathylab.llmpathy.newsemp` (which joins the files of a split
by the dataset's id keys and checks that join) and computed with
:func:`empathylab.metrics.krippendorff_alpha` and :func:`empathylab.metrics.pcc`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from empathylab import metrics
from empathylab.errors import EmpathylabError
from empathylab.llmpathy import newsemp

__all__ = [
    "CROWD",
    "Published",
    "PUBLISHED_AGREEMENT",
    "released_agreement",
    "paper_vs_here",
    "noisiest_labels",
]

#: The name of the crowd label column (Batson empathic concern, 1–7).
CROWD = "crowd"
#: Columns of :func:`released_agreement`, in order.
_COLUMNS = (
    "dataset",
    "split",
    "a",
    "b",
    "n",
    "n_one_only",
    "alpha",
    "alpha_ci_low",
    "alpha_ci_high",
    "pearson",
    "paper_alpha",
    "note",
)
#: The only split whose essays and crowd labels are public.
_PUBLIC = ("NewsEmp22", "train")


@dataclass(frozen=True)
class Published:
    """One agreement value of Hasan et al. and what it compares.

    ``alpha`` is the value their notebook prints (the paper rounds to two decimals).
    ``stand_in`` names the ``(dataset, split, a, b)`` computed here in its place when
    the value itself cannot be recomputed from public files.
    """

    key: str
    alpha: float
    a: str
    b: str
    data: str
    compares: str
    recomputable: bool
    needs: str = ""
    dataset: str | None = None
    split: str | None = None
    stand_in: tuple[str, str, str, str] | None = None


#: The agreement values behind the paper's "LLM–LLM α 0.80–0.99, LLM–crowd α 0.19–0.27".
PUBLISHED_AGREEMENT: tuple[Published, ...] = (
    Published(
        "llm_llm_cross_model",
        0.796,
        "gpt4o",
        "llama3_70b",
        "NewsEmp24 train",
        "GPT-4o against Llama-3-70B, the same essays",
        True,
        dataset="NewsEmp24",
        split="train",
    ),
    Published(
        "llm_llm_test_retest",
        0.991,
        "llama3_70b",
        "llama3_70b",
        "NewsEmp23 train+dev and NewsEmp24 train, the essays both contain",
        "Llama-3-70B against itself (each shared essay labelled once per dataset)",
        False,
        needs="the essay text, to find the essays NewsEmp23 and NewsEmp24 share (the "
        "released label files carry ids only, and the two datasets number essays differently)",
    ),
    Published(
        "crowd_llama",
        0.271,
        "crowd",
        "llama3_70b",
        "NewsEmp24 train",
        "crowd against Llama-3-70B",
        False,
        needs="the NewsEmp24 crowd labels, which are not public",
        stand_in=(*_PUBLIC, CROWD, "llama3_70b"),
    ),
    Published(
        "crowd_gpt",
        0.192,
        "crowd",
        "gpt4o",
        "NewsEmp24 train",
        "crowd against GPT-4o",
        False,
        needs="the NewsEmp24 crowd labels, which are not public",
        stand_in=(*_PUBLIC, CROWD, "gpt4o"),
    ),
)


def _count(value: object, name: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise EmpathylabError(f"{name} must be an integer of at least {least}, got {value!r}.")
    return int(value)


def _note(a: str, b: str) -> str:
    if a == CROWD:
        return "public essays; crowd = Buechel et al. (2018)"
    if b == f"{a}_plain":
        return "same model, scale-aware against plain prompt"
    if b.endswith("_plain"):
        return "different models and prompts"
    return "different models, same prompt"


def _pair_row(
    frame: pd.DataFrame, dataset: str, split: str, a: str, b: str, n_boot: int, seed: int
) -> dict[str, object]:
    values = frame[[a, b]].to_numpy(dtype=np.float64)
    both = values[np.isfinite(values).all(axis=1)]
    one_only = int((np.isfinite(values).sum(axis=1) == 1).sum())
    low = high = float("nan")
    if n_boot and len(both) >= 2:
        # One generator per pair, seeded by the pair's name: a row's interval does not
        # depend on which other rows are computed.
        rng = np.random.default_rng([seed, zlib.crc32(f"{dataset}/{split}/{a}/{b}".encode())])
        draws = rng.integers(0, len(both), size=(n_boot, len(both)))
        boot = np.array([metrics.krippendorff_alpha(both[rows]) for rows in draws])
        if np.isfinite(boot).any():
            low, high = (float(v) for v in np.nanpercentile(boot, [2.5, 97.5]))
    return {
        "dataset": dataset,
        "split": split,
        "a": a,
        "b": b,
        "n": len(both),
        "n_one_only": one_only,
        "alpha": metrics.krippendorff_alpha(values),
        "alpha_ci_low": low,
        "alpha_ci_high": high,
        "pearson": metrics.pcc(both[:, 0], both[:, 1]) if len(both) >= 2 else float("nan"),
        "note": _note(a, b),
    }


def _paper_alpha(dataset: str, split: str, a: str, b: str) -> float:
    for value in PUBLISHED_AGREEMENT:
        if (value.dataset, value.split, value.a, value.b) == (dataset, split, a, b):
            return value.alpha
    return float("nan")


def released_agreement(n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Return Krippendorff's α and Pearson's r for every comparable pair of released labels.

    Every released dataset and split is read with :func:`empathylab.llmpathy.newsemp.released_labels`
    (which matches the files of a split by the dataset's id keys and raises when they do
    not hold the same essays); every pair of its label columns is compared: GPT-4o against
    Llama-3-70B wherever both were released, Llama-3-70B's scale-aware against its plain
    prompt where ``llm_empathy_plain`` exists (and GPT-4o against the plain prompt there).
    On the public NewsEmp22 training essays (:func:`empathylab.llmpathy.newsemp.public_essays`) the
    crowd label is compared with both LLMs too. NewsEmp23 test has Llama labels only and
    gives no pair.

    Parameters
    ----------
    n_boot : int
        Bootstrap resamples for α's 95 % interval (0: no interval).
    seed : int
        Seed of the resampling; each pair draws from its own generator, seeded by
        ``seed`` and the pair's name, so a row does not change when others are added.

    Returns
    -------
    pandas.DataFrame
        One row per pair, ordered by dataset, split and pair: ``dataset, split, a, b``;
        ``n`` (essays labelled by both sources), ``n_one_only`` (essays labelled by one
        of them only); ``alpha`` (interval α: an essay with one label is not pairable and
        does not count); ``alpha_ci_low, alpha_ci_high`` (percentile bootstrap over the
        ``n`` essays, NaN when ``n_boot`` is 0); ``pearson`` (on the ``n`` essays);
        ``paper_alpha`` (the value Hasan et al. report for this very pair, NaN if none);
        ``note`` (what the pair compares).

    Raises
    ------
    EmpathylabError
        When ``n_boot`` or ``seed`` is not a non-negative integer, or (as
        :class:`~empathylab.errors.DataFileError`) when a released file is missing or
        corrupt or the files of one split disagree on their essays (naming the ids).

    Examples
    --------
    >>> table = released_agreement(n_boot=100)
    >>> row = table.query("dataset == 'NewsEmp24' and split == 'train'").iloc[0]
    >>> row["a"], row["b"], int(row["n"]), round(float(row["alpha"]), 3), float(row["paper_alpha"])
    ('gpt4o', 'llama3_70b', 1000, 0.796, 0.796)
    >>> bool(row["alpha_ci_low"] < row["alpha"] < row["alpha_ci_high"])
    True
    """
    n_boot = _count(n_boot, "n_boot (bootstrap resamples)", 0)
    seed = _count(seed, "seed", 0)
    rows = []
    for dataset in newsemp.DATASETS:
        for split in newsemp.SPLITS:
            if (dataset, split) == _PUBLIC:
                frame = newsemp.public_essays()
                sources = [CROWD, *(c for c in newsemp.LLM_SOURCES if c in frame.columns)]
            else:
                frame = newsemp.released_labels(dataset, split)
                sources = [c for c in newsemp.LLM_SOURCES if c in frame.columns]
            for a, b in combinations(sources, 2):
                row = _pair_row(frame, dataset, split, a, b, n_boot, seed)
                rows.append({**row, "paper_alpha": _paper_alpha(dataset, split, a, b)})
    return pd.DataFrame(rows, columns=list(_COLUMNS))


def paper_vs_here(table: pd.DataFrame) -> pd.DataFrame:
    """Return the paper's agreement values beside those computed here.

    Parameters
    ----------
    table : the output of :func:`released_agreement`.

    Returns
    -------
    pandas.DataFrame
        One row per entry of :data:`PUBLISHED_AGREEMENT`: ``compares, data, paper_alpha,
        recomputable``; ``here_alpha, here_ci_low, here_ci_high`` (the same pair on the
        same data, NaN where it cannot be recomputed); ``stand_in`` and
        ``stand_in_alpha`` (the public pair computed in its place, if any); ``needs``
        (what recomputing it would take).

    Raises
    ------
    EmpathylabError
        When ``table`` lacks a column of :func:`released_agreement`.

    Examples
    --------
    >>> out = paper_vs_here(released_agreement(n_boot=0))
    >>> out[["paper_alpha", "recomputable"]].values.tolist()[:2]
    [[0.796, True], [0.991, False]]
    >>> round(float(out["here_alpha"].iloc[0]), 3), out["stand_in"].iloc[2]
    (0.796, 'NewsEmp22 train: crowd vs llama3_70b')
    """
    missing = [
        c
        for c in ("dataset", "split", "a", "b", "alpha", "alpha_ci_low", "alpha_ci_high")
        if c not in table.columns
    ]
    if missing:
        raise EmpathylabError(
            f"paper_vs_here needs the table of released_agreement(); missing column(s) "
            f"{', '.join(missing)}, found {', '.join(map(str, table.columns)) or 'none'}."
        )
    keyed = table.set_index(["dataset", "split", "a", "b"])

    def lookup(key: tuple[str | None, ...] | None, column: str) -> float:
        return float(keyed.loc[key, column]) if key is not None and key in keyed.index else float("nan")

    rows = []
    for value in PUBLISHED_AGREEMENT:
        same = (value.dataset, value.split, value.a, value.b) if value.recomputable else None
        rows.append(
            {
                "compares": value.compares,
                "data": value.data,
                "paper_alpha": value.alpha,
                "recomputable": value.recomputable,
                "here_alpha": lookup(same, "alpha"),
                "here_ci_low": lookup(same, "alpha_ci_low"),
                "here_ci_high": lookup(same, "alpha_ci_high"),
                "stand_in": (
                    f"{value.stand_in[0]} {value.stand_in[1]}: {value.stand_in[2]} vs {value.stand_in[3]}"
                )
                if value.stand_in
                else "",
                "stand_in_alpha": lookup(value.stand_in, "alpha"),
                "needs": value.needs,
            }
        )
    return pd.DataFrame(rows)


def noisiest_labels(n: int = 10, llm: str = "gpt4o") -> pd.DataFrame:
    """Return the public essays on which the crowd and an LLM disagree most.

    Hasan et al. validated their labels this way (``src/label-reliability-validation.py``)
    on the NewsEmp24 training essays with Llama-3-70B's labels; those essays and crowd
    labels are not public, so this lists the public NewsEmp22 training essays
    (:func:`empathylab.llmpathy.newsemp.public_essays`) instead, for a reader to judge who is right.

    Parameters
    ----------
    n : int
        How many essays (at least 1).
    llm : {"gpt4o", "llama3_70b"}
        Which released LLM label to compare with the crowd.

    Returns
    -------
    pandas.DataFrame
        ``n`` rows (fewer if fewer essays carry both labels), largest ``|difference|``
        first (ties by ``essay_id``): ``essay_id`` (message_id), ``writer_id``
        (response_id), ``crowd``, ``<llm>``, ``difference`` (LLM minus crowd, on the
        1–7 scale) and ``essay``. Essays without the LLM label are left out.

    Raises
    ------
    EmpathylabError
        For ``n`` not a positive integer or an ``llm`` without public labels.

    Examples
    --------
    >>> top = noisiest_labels(3, llm="llama3_70b")
    >>> top.columns.tolist()
    ['essay_id', 'writer_id', 'crowd', 'llama3_70b', 'difference', 'essay']
    >>> bool(top["difference"].abs().is_monotonic_decreasing)
    True
    """
    n = _count(n, "n (essays to list)", 1)
    valid = ("gpt4o", "llama3_70b")
    if llm not in valid:
        raise EmpathylabError(f"No public released labels for llm {llm!r}; valid: {', '.join(valid)}.")
    essays = newsemp.public_essays().dropna(subset=[CROWD, llm])
    essays = essays.assign(difference=essays[llm] - essays[CROWD])
    essays = essays.assign(_size=essays["difference"].abs())
    top = essays.sort_values(["_size", "essay_id"], ascending=[False, True], kind="stable").head(n)
    return top[["essay_id", "writer_id", CROWD, llm, "difference", "essay"]].reset_index(drop=True)
