"""The human anchor: does a model's intensity track people's, and how close could it get?

The anchor run asks the model the baseline prompt on narratives that have readers
(:func:`plan_anchor`); :func:`tracking` correlates its intensities with the writers' and
the readers' (:mod:`empathylab.gaps.human`), and :func:`human_ceiling` gives the ceiling:
the readers' agreement with the writer, their split-half reliability R, the bound √R on a
model's correlation with the readers' mean, and the readers' r with the writer corrected
for their unreliability (r / √R).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from empathylab import data
from empathylab.errors import EmpathylabError
from empathylab.gaps import design
from empathylab.gaps.human import human_ratings, load_readers, load_writers
from empathylab.gaps.premium import reader_premium
from empathylab.gaps.runner import RunPlan
from empathylab.profiles import Profile, load_profile

__all__ = ["model_intensities", "tracking", "human_ceiling", "anchor", "AnchorPlan", "plan_anchor"]


def model_intensities(results: pd.DataFrame) -> pd.DataFrame:
    """Return each run's intensity per narrative: the baseline cell and the mean over all cells.

    ``results`` are rows of :func:`empathylab.gaps.results.read_result_table` (any
    number of runs). ``baseline`` is the answer of ``a person`` about ``a person``;
    ``all cells`` the mean over every answered (perceiver, experiencer) cell.

    Returns
    -------
    DataFrame
        ``model, readout, grouping, variation, item_id, measure, model_intensity``;
        unanswered prompts are left out (a narrative with no answer gets no row).

    >>> from empathylab.gaps import simulate_results
    >>> m = model_intensities(simulate_results("religion", n_items=3))
    >>> m.groupby("measure").size().to_dict()
    {'all cells': 3, 'baseline': 3}
    """
    keys = ["model", "readout", "grouping", "variation"]
    missing = [
        c for c in [*keys, "perceiver", "experiencer", "item_id", "intensity"] if c not in results.columns
    ]
    if missing:
        raise EmpathylabError(f"model_intensities needs column(s) {', '.join(missing)}.")
    answered = results[results["intensity"].notna()]
    base = answered[(answered["perceiver"] == design.BASELINE) & (answered["experiencer"] == design.BASELINE)]
    frames = [
        base.groupby([*keys, "item_id"], observed=True)["intensity"]
        .mean()
        .rename("model_intensity")
        .reset_index()
        .assign(measure="baseline"),
        answered.groupby([*keys, "item_id"], observed=True)["intensity"]
        .mean()
        .rename("model_intensity")
        .reset_index()
        .assign(measure="all cells"),
    ]
    out = pd.concat(frames, ignore_index=True)
    return out[[*keys, "item_id", "measure", "model_intensity"]].sort_values(
        [*keys, "measure", "item_id"], ignore_index=True
    )


#: The correlation columns of :func:`tracking` and :func:`human_ceiling`, after ``n``.
CORRELATION_COLUMNS = ("pearson", "pearson_low", "pearson_high", "spearman", "spearman_low", "spearman_high")


def _correlations(x: np.ndarray, y: np.ndarray, n_boot: int, rng: np.random.Generator) -> dict[str, float]:
    """Pearson and Spearman r of x and y with percentile bootstrap intervals (NaN under 3 pairs)."""
    from scipy import stats

    out = {"n": len(x)}
    nan = dict.fromkeys(CORRELATION_COLUMNS, np.nan)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return out | nan
    rx, ry = stats.rankdata(x), stats.rankdata(y)

    def r(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Row-wise Pearson r of two (resamples x n) arrays."""
        a = a - a.mean(axis=-1, keepdims=True)
        b = b - b.mean(axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (a * b).sum(-1) / np.sqrt((a * a).sum(-1) * (b * b).sum(-1))

    out |= {"pearson": float(r(x, y)), "spearman": float(r(rx, ry))}
    if n_boot > 0:
        idx = rng.integers(0, len(x), size=(n_boot, len(x)))
        # Spearman in a resample ranks the resampled values again.
        rank = stats.rankdata
        boot_p = r(x[idx], y[idx])
        boot_s = r(rank(x[idx], axis=1), rank(y[idx], axis=1))
        for name, boot in (("pearson", boot_p), ("spearman", boot_s)):
            out[f"{name}_low"], out[f"{name}_high"] = (float(v) for v in np.nanpercentile(boot, [2.5, 97.5]))
    else:
        out |= {k: np.nan for k in ("pearson_low", "pearson_high", "spearman_low", "spearman_high")}
    return out


def _by_emotion(
    frame: pd.DataFrame, x: str, y: str, n_boot: int, rng: np.random.Generator
) -> list[dict[str, Any]]:
    rows = []
    parts = [("all", frame)] + [
        (str(e), part) for e, part in frame.groupby("emotion", observed=True, sort=True)
    ]
    for emotion, part in parts:
        part = part[[x, y]].dropna()
        rows.append(
            {
                "emotion": emotion,
                **_correlations(part[x].to_numpy(float), part[y].to_numpy(float), n_boot, rng),
            }
        )
    return rows


def tracking(
    results: pd.DataFrame, humans: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """Return how well each run's intensities track the writers' and the readers' own.

    For every run of ``results`` and each measure of :func:`model_intensities`, the
    Pearson and Spearman correlation over narratives with the writer's intensity and
    with the readers' mean (``humans`` is :func:`human_ratings`), over all narratives
    and per emotion, with percentile bootstrap intervals over narratives (95 %).
    Correlations of fewer than three narratives, or of a constant, are NaN.

    Returns
    -------
    DataFrame
        ``model, readout, grouping, variation, measure, target`` ("writer" or
        "readers' mean"), ``emotion`` ("all" or one), ``n, pearson, pearson_low,
        pearson_high, spearman, spearman_low, spearman_high``.

    >>> from empathylab.gaps import simulate_results
    >>> runs = simulate_results("religion", n_items=20, seed=1)
    >>> humans = pd.DataFrame({"item_id": range(20), "emotion": "anger",
    ...                        "writer_intensity": np.arange(20.0), "reader_mean": np.nan})
    >>> t = tracking(runs, humans, n_boot=50)
    >>> t[(t.emotion == "all")].set_index("target")["n"].groupby(level=0).max().tolist()
    [0, 20]
    """
    missing = [
        c for c in ("item_id", "emotion", "writer_intensity", "reader_mean") if c not in humans.columns
    ]
    if missing:
        raise EmpathylabError(
            f"tracking: the human ratings lack column(s) {', '.join(missing)}; pass human_ratings()."
        )
    rng = np.random.default_rng(seed)
    keys = ["model", "readout", "grouping", "variation", "measure"]
    table = model_intensities(results).merge(
        humans[["item_id", "emotion", "writer_intensity", "reader_mean"]], on="item_id", how="inner"
    )
    rows = []
    for run, part in table.groupby(keys, observed=True, sort=True):
        for target, column in (("writer", "writer_intensity"), ("readers' mean", "reader_mean")):
            for row in _by_emotion(part, "model_intensity", column, n_boot, rng):
                rows.append(dict(zip(keys, run, strict=True)) | {"target": target} | row)
    return pd.DataFrame(
        rows,
        columns=[*keys, "target", "emotion", "n", *CORRELATION_COLUMNS],
    )


def _split_half(wide: np.ndarray, rng: np.random.Generator, splits: int) -> float:
    """Mean Spearman–Brown-corrected correlation of two random halves of each text's readers."""
    n, k = wide.shape
    values = []
    for _ in range(splits):
        order = rng.permuted(np.tile(np.arange(k), (n, 1)), axis=1)
        half = np.take_along_axis(wide, order, axis=1)
        r = np.corrcoef(half[:, : k // 2].mean(1), half[:, k // 2 :].mean(1))[0, 1]
        values.append(2 * r / (1 + r))
    return float(np.mean(values))


#: The columns :func:`human_ceiling` adds after the correlations: the bound √R on a model's
#: correlation with the readers' mean, and the readers' r with the writer corrected for the
#: readers' unreliability, each with its bootstrap interval.
BOUND_COLUMNS = (
    "ceiling",
    "ceiling_low",
    "ceiling_high",
    "disattenuated",
    "disattenuated_low",
    "disattenuated_high",
)


def _disattenuated(
    wide: np.ndarray, mean: np.ndarray, writer: np.ndarray, n_boot: int, rng: np.random.Generator
) -> tuple[float, float]:
    """Percentile interval of r(mean, writer) / sqrt(R), text and split resampled together."""
    values = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(wide), len(wide))
        if np.ptp(mean[idx]) == 0 or np.ptp(writer[idx]) == 0:
            continue
        reliability = _split_half(wide[idx], rng, 1)
        if reliability > 0:
            values.append(np.corrcoef(mean[idx], writer[idx])[0, 1] / np.sqrt(reliability))
    if not values:
        return np.nan, np.nan
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def human_ceiling(
    humans: pd.DataFrame, readers: pd.DataFrame, *, n_boot: int = 1000, splits: int = 20, seed: int = 0
) -> pd.DataFrame:
    """Return the human ceiling: readers' mean vs writer, the readers' reliability, and their bounds.

    Over the narratives of ``humans`` (:func:`human_ratings`) that have readers
    (``readers``: :func:`load_readers`):

    * ``readers' mean vs writer``: Pearson and Spearman r with bootstrap intervals
      over narratives (as :func:`tracking`), overall and per emotion;
    * ``split-half reliability``: each text's readers are split at random into two
      halves (two and three of five), the correlation of the half means over texts is
      stepped up with the Spearman–Brown formula ``2r / (1 + r)`` and averaged over
      ``splits`` random splits; its interval resamples texts (one split per resample).
      This R is the reliability of the five readers' mean: how well another panel of
      five would agree with this one.

    Two bounds follow from R (classical test theory):

    * ``ceiling`` = √R, on the split-half rows: a model whose errors are independent of
      the readers' cannot correlate with the readers' observed mean more than √R
      (the correlation of the mean with the readers' true mean); its interval is √ of R's;
    * ``disattenuated`` = r(readers' mean, writer) / √R, on the readers'-mean-vs-writer
      rows (Spearman's correction on the readers' side only): how an infinitely large
      panel's mean would correlate with the writer's single rating. The writer's rating
      has no reliability estimate and is not corrected. Its interval resamples texts and
      one split together (a separate random stream, so the other intervals stay as
      they were).

    Returns
    -------
    DataFrame
        ``comparison, emotion, n, pearson, pearson_low, pearson_high, spearman,
        spearman_low, spearman_high, ceiling, ceiling_low, ceiling_high, disattenuated,
        disattenuated_low, disattenuated_high`` (split-half rows fill the Pearson and
        ``ceiling`` columns; readers'-mean-vs-writer rows the others).

    >>> rng = np.random.default_rng(0)
    >>> truth = rng.normal(0, 1, 300)
    >>> readers = pd.DataFrame({"item_id": np.repeat(range(300), 5),
    ...                         "intensity": np.repeat(truth, 5) + rng.normal(0, 1, 1500)})
    >>> humans = pd.DataFrame({"item_id": range(300), "emotion": "joy", "reader_n": 5,
    ...                        "writer_intensity": truth + rng.normal(0, 1, 300),
    ...                        "reader_mean": readers.groupby("item_id")["intensity"].mean()})
    >>> c = human_ceiling(humans, readers, n_boot=0).query("emotion == 'all'").set_index("comparison")
    >>> round(float(c.loc["split-half reliability (Spearman–Brown)", "ceiling"]), 2)  # √(5/6) = 0.91
    0.91
    >>> round(float(c.loc["readers' mean vs writer", "disattenuated"]), 2)  # true 1/√2 = 0.71
    0.7
    """
    rng = np.random.default_rng(seed)
    bound_rng = np.random.default_rng([seed, 1])
    read = humans[humans["reader_n"] > 0]
    rows = [
        {"comparison": "readers' mean vs writer"} | row
        for row in _by_emotion(read, "reader_mean", "writer_intensity", n_boot, rng)
    ]
    ratings = readers[readers["item_id"].isin(read["item_id"])].copy()
    ratings["slot"] = ratings.groupby("item_id").cumcount()
    wide = ratings.pivot(index="item_id", columns="slot", values="intensity").dropna()
    emotions = read.set_index("item_id")["emotion"].astype(str).reindex(wide.index)
    pairs = read.set_index("item_id")[["reader_mean", "writer_intensity"]].reindex(wide.index)
    reliability: dict[str, float] = {}
    for emotion in ["all", *sorted(emotions.unique())]:
        part = wide.to_numpy() if emotion == "all" else wide[emotions == emotion].to_numpy()
        row = {"comparison": "split-half reliability (Spearman–Brown)", "emotion": emotion, "n": len(part)}
        if len(part) >= 3 and part.shape[1] >= 2:
            row["pearson"] = _split_half(part, rng, splits)
            reliability[emotion] = row["pearson"]
            if n_boot > 0:
                boot = [
                    _split_half(part[rng.integers(0, len(part), len(part))], rng, 1) for _ in range(n_boot)
                ]
                row["pearson_low"], row["pearson_high"] = (
                    float(v) for v in np.nanpercentile(boot, [2.5, 97.5])
                )
            root = np.sqrt(
                np.clip(
                    [row["pearson"], row.get("pearson_low", np.nan), row.get("pearson_high", np.nan)], 0, None
                )
            )
            row["ceiling"], row["ceiling_low"], row["ceiling_high"] = (float(v) for v in root)
        rows.append(row)
    for row in rows:
        R = reliability.get(row["emotion"], np.nan)
        if row["comparison"] != "readers' mean vs writer" or not R > 0:
            continue
        row["disattenuated"] = row["pearson"] / np.sqrt(R)
        if n_boot > 0:
            mask = (
                np.ones(len(wide), bool)
                if row["emotion"] == "all"
                else (emotions == row["emotion"]).to_numpy()
            )
            row["disattenuated_low"], row["disattenuated_high"] = _disattenuated(
                wide.to_numpy()[mask],
                pairs["reader_mean"].to_numpy(float)[mask],
                pairs["writer_intensity"].to_numpy(float)[mask],
                n_boot,
                bound_rng,
            )
    columns = ["comparison", "emotion", "n", *CORRELATION_COLUMNS, *BOUND_COLUMNS]
    return pd.DataFrame(rows).reindex(columns=columns)


def anchor(
    results: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0, premium: bool = True
) -> dict[str, pd.DataFrame]:
    """Return the three tables of the human anchor for ``results`` (what ``gaps human`` prints).

    Returns
    -------
    dict
        ``tracking`` (:func:`tracking` of every run against :func:`human_ratings` of the
        6,050 narratives), ``ceiling`` (:func:`human_ceiling` over every narrative with
        readers, with its bounds) and, unless ``premium`` is False, ``premium``
        (:func:`reader_premium` with the groups' main effects, on all ratings, for every
        attribute of :data:`ATTRIBUTES`).
    """
    if n_boot < 0:
        raise EmpathylabError(f"n_boot must be 0 (no intervals) or more, got {n_boot}.")
    humans, readers = human_ratings(), load_readers()
    tables = {
        "tracking": tracking(results, humans, n_boot=n_boot, seed=seed),
        "ceiling": human_ceiling(humans, readers, n_boot=n_boot, seed=seed),
    }
    if premium:
        tables["premium"] = reader_premium(readers, load_writers())
    return tables


class AnchorPlan(RunPlan):
    """A :class:`~empathylab.gaps.runner.RunPlan` that asks only the baseline prompt, ``a person`` about ``a person``."""

    def people(self, grouping: str) -> list[str]:
        return [design.BASELINE]


def plan_anchor(
    profile: str | Profile = "demo", *, out: str | None = None, check_model: bool = True
) -> AnchorPlan | None:
    """Plan the human-anchor run: the baseline prompt on narratives that have readers.

    ``stimuli.anchor_items_per_emotion`` narratives per emotion are drawn (with the
    profile's seed) from the 1,100 narratives that have readers, and asked only
    ``a person`` about ``a person`` (grouping religion, the profile's first variation,
    its readout, its models and its compared models), so that the model's intensity can be set beside the
    writers' and the readers' on enough texts. Stored under ``output_dir/human``.

    Returns
    -------
    AnchorPlan or None
        The plan for :func:`empathylab.gaps.runner.run_gaps`; None when the profile sets
        ``anchor_items_per_emotion: 0``.

    >>> import tempfile
    >>> plan = plan_anchor("demo", out=tempfile.mkdtemp(), check_model=False)
    >>> plan.people("religion"), len(plan.narratives)
    (['a person'], 120)
    """
    from empathylab.gaps.stimuli import sample_narratives
    from empathylab.llm.weights import resolve_model

    cfg = load_profile(profile)
    per_emotion = cfg.stimuli.anchor_items_per_emotion
    if per_emotion == 0:
        return None
    checked = load_profile(
        cfg,
        gaps={"groupings": ["religion"], "variations": cfg.gaps.variations[:1]},
        models={"causal_lm": [*cfg.models.causal_lm, *cfg.models.compared], "compared": []},
    )
    narratives = data.load_narratives()
    read = human_ratings(narratives).query("reader_n > 0")["item_id"]
    chosen = sample_narratives(narratives[narratives["item_id"].isin(read)], per_emotion, seed=cfg.seed)
    root = Path(out) if out is not None else checked.output_path() / "human"
    plan = AnchorPlan(checked, design.parse_shard("1/1"), root, chosen.reset_index(drop=True))
    for spec in checked.models.causal_lm:
        plan.store(spec, checked.gaps.variations[0], "religion")  # raises if the store holds another design
        if check_model and checked.llm.backend in ("transformers", "vllm"):
            resolve_model(spec, "causal_lm")
    return plan
