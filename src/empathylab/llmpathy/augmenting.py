"""The augmentation experiment: more essays with LLM labels against more with crowd labels."""

from __future__ import annotations

import numpy as np
import pandas as pd

from empathylab import metrics
from empathylab.errors import EmpathylabError
from empathylab.llm.store import stored_frame
from empathylab.llmpathy import newsemp, splits, strategies
from empathylab.llmpathy.comparisons import (
    LEVEL,
    TESTS,
    check_metric,
    comparison_text,
    require_columns,
    seed_summary,
    seed_tests,
)
from empathylab.llmpathy.cv import essays_key
from empathylab.llmpathy.labelling import essays, results_dir
from empathylab.profiles import Profile, load_profile

__all__ = [
    "augmentation",
    "EXTRA",
    "AUGMENTATION",
    "augmentation_design",
    "augmentation_sets",
    "augmentation_folds",
    "probe_augmentation",
    "augmentation_summary",
]


def augmentation(profile: Profile | str, extra: pd.DataFrame, *, progress: bool = True) -> pd.DataFrame:
    """Return probe test metrics of y (public training essays) against y+y_llm (plus ``extra``).

    ``extra`` is another essay set with LLM labels (the profile's ``training.llm``
    column), e.g. one of :func:`user_data`'s frames; both models are scored against
    the crowd labels of the public test essays, once per seed of the profile (the
    split is the profile's, the seed only changes nothing for a ridge probe, so one
    row per strategy is returned).
    """
    from empathylab.llmpathy import probe

    cfg = load_profile(profile)
    t = cfg.llmpathy.training
    frame = essays(cfg)
    train, test = frame[frame["split"] != "test"], frame[frame["split"] == "test"]
    both = strategies.augment(train, extra, llm=t.llm)
    rows = []
    for name, data in (("y", both[both["source"] == "crowd"]), ("y+y_llm", both)):
        x = probe.embed_essays(data["essay"], cfg, progress=progress)
        x_test = probe.embed_essays(test["essay"], cfg, progress=progress)
        prediction = probe.fit_predict(x, data["label"].to_numpy(), x_test)
        rows.append({"strategy": name, "n_train": len(data), **metrics.scores(test["crowd"], prediction)})
    return pd.DataFrame(rows)


#: The fold number :func:`augmentation_design` gives the writers of the extra set.
EXTRA = -1

#: The training sets of the augmentation experiment (:func:`augmentation_sets`).
AUGMENTATION = ("y", "y+y_llm", "y+y_crowd")


def augmentation_design(
    frame: pd.DataFrame, *, share: float = 0.5, k: int = 10, seed: int = 0, group: str = "writer_id"
) -> pd.Series:
    """Return each essay's part in the public-data augmentation experiment: a fold or the extra set.

    The public release has no second essay set, so one is made from its writers: a
    seeded ``share`` of them (:func:`empathylab.llmpathy.splits.holdout_split`) becomes the extra
    set, whose essays enter training with LLM labels only; the other writers are split
    into ``k`` grouped folds (:func:`empathylab.llmpathy.splits.grouped_folds`, same ``seed``).
    No writer is in two parts, and the extra writers are never tested on.

    Returns
    -------
    Series
        ``fold``, indexed like ``frame``: 0..k-1, or :data:`EXTRA` (-1) for the extra set.

    Examples
    --------
    >>> t = pd.DataFrame({"writer_id": [str(i // 2) for i in range(40)]})
    >>> design = augmentation_design(t, share=0.5, k=4, seed=0)
    >>> int((design == EXTRA).sum()), sorted(design[design != EXTRA].value_counts().tolist())
    (20, [4, 4, 6, 6])
    >>> t.assign(fold=design).groupby("writer_id")["fold"].nunique().max().item()
    1
    """
    require_columns(frame, [group], "augmentation_design")
    if not 0 < share < 1:
        raise EmpathylabError(
            f"share must lie strictly between 0 and 1 (a share of the writers), got {share}."
        )
    if frame[group].isna().any():
        raise EmpathylabError(f"column {group!r} has {int(frame[group].isna().sum())} missing value(s).")
    extra = splits.holdout_split(frame, valid=0.0, test=share, seed=seed, group=group) == "test"
    writers = frame.loc[extra, group].nunique(), frame.loc[~extra, group].nunique()
    if writers[0] == 0:
        raise EmpathylabError(f"share {share} holds out no writer; give a larger share (0 < share < 1).")
    if not 2 <= k <= writers[1]:
        raise EmpathylabError(
            f"k must be between 2 and the {writers[1]} writers left after holding out a share of "
            f"{share}, got {k}; give fewer folds or a smaller share."
        )
    folds = splits.grouped_folds(frame[~extra], k, seed=seed, group=group)
    return pd.Series(EXTRA, index=frame.index, name="fold").where(extra, folds).astype(int)


def augmentation_sets(
    frame: pd.DataFrame, design: pd.Series, fold: int, *, llm: str = "gpt4o"
) -> dict[str, pd.DataFrame]:
    """Return the training sets and the test set of one fold of the augmentation experiment.

    ``design`` is :func:`augmentation_design`'s. Training for y is the crowd-labelled
    essays of the other folds; y+y_llm adds the extra set's essays with their ``llm``
    labels (:func:`empathylab.llmpathy.strategies.augment`; essays without one are dropped, and
    the extra essays' crowd labels are blanked so that they cannot leak in). The
    control y+y_crowd adds the same extra essays with their crowd labels instead: what
    the LLM labels stand in for. The test set is the fold's essays, labelled by the crowd.

    Returns
    -------
    dict
        ``{"y": ..., "y+y_llm": ..., "y+y_crowd": ..., "test": ...}``: frames with the
        columns of ``frame`` plus ``row`` (position in ``frame``), ``label`` and
        ``source`` ("crowd" or "llm").

    Examples
    --------
    >>> t = pd.DataFrame({"writer_id": list("abcdef"), "crowd": [1.0, 2, 3, 4, 5, 6],
    ...                   "gpt4o": [2.0, 2, 2, 2, 2, None]})
    >>> design = pd.Series([0, 0, 1, 1, EXTRA, EXTRA])
    >>> sets = augmentation_sets(t, design, 0)
    >>> sets["y+y_llm"][["writer_id", "label", "source"]].values.tolist()
    [['c', 3.0, 'crowd'], ['d', 4.0, 'crowd'], ['e', 2.0, 'llm']]
    >>> sets["y+y_crowd"]["label"].tolist(), sets["test"]["writer_id"].tolist(), len(sets["y"])
    ([3.0, 4.0, 5.0], ['a', 'b'], 2)
    """
    require_columns(frame, ["crowd", llm], "augmentation_sets")
    if len(design) != len(frame) or not design.index.equals(frame.index):
        raise EmpathylabError(
            f"design has {len(design)} rows indexed unlike the {len(frame)} essays; "
            "pass augmentation_design(frame, ...) of this frame."
        )
    folds = sorted(int(f) for f in design.unique() if f != EXTRA)
    if fold not in folds:
        raise EmpathylabError(f"no fold {fold} in the design; valid: {', '.join(map(str, folds))}.")
    rows = frame.assign(row=np.arange(len(frame)))
    train = rows[(design != EXTRA) & (design != fold)]
    extra = rows[(design == EXTRA) & rows[llm].notna()]
    with_llm = strategies.augment(train, extra.assign(crowd=np.nan), llm=llm)
    y = with_llm[with_llm["source"] == "crowd"]
    with_crowd = pd.concat(
        [y, extra.assign(label=extra["crowd"].astype(float), source="crowd")], ignore_index=True
    )
    test = rows[design == fold]
    return {
        "y": y.reset_index(drop=True),
        "y+y_llm": with_llm,
        "y+y_crowd": with_crowd,
        "test": test.assign(label=test["crowd"].astype(float), source="crowd").reset_index(drop=True),
    }


def augmentation_folds(
    frame: pd.DataFrame,
    features: np.ndarray,
    *,
    share: float = 0.5,
    k: int = 10,
    seeds: list[int] | tuple[int, ...] = (0,),
    llm: str = "gpt4o",
) -> pd.DataFrame:
    """Return probe results of y, y+y_llm and y+y_crowd on the same held-out writers, per seed and fold.

    For each seed, :func:`augmentation_design` draws the extra writers and the folds;
    in each fold a ridge probe (:func:`empathylab.llmpathy.probe.fit_predict` on ``features``,
    one row per essay of ``frame``) is trained on each of :func:`augmentation_sets`'
    training sets and scored against the crowd labels of the fold's writers.

    Returns
    -------
    DataFrame
        One row per (strategy, seed, fold): ``strategy`` (:data:`AUGMENTATION`), ``alpha``
        (NaN), ``seed, fold, n_train, n_llm`` (LLM-labelled training essays), ``n_test,
        n_replaced`` (0: no crowd label is replaced), ``pcc, ccc, rmse``, the columns
        :func:`cv_summary`, :func:`corrected_tests` and :func:`seed_tests` read (the
        corrected test takes n_test / n_train from the crowd-labelled training set, the
        part the folds resample).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(300, 5)); truth = x[:, 0] + 4
    >>> t = pd.DataFrame({"writer_id": [str(i // 3) for i in range(300)],
    ...                   "crowd": truth + rng.normal(0, 2, 300), "gpt4o": truth})
    >>> r = augmentation_folds(t, x, share=0.5, k=5, seeds=[0, 1])
    >>> r.groupby("strategy", sort=False)["n_llm"].max().to_dict()
    {'y': 0, 'y+y_llm': 150, 'y+y_crowd': 0}
    """
    from empathylab.llmpathy import probe

    if len(features) != len(frame):
        raise EmpathylabError(f"{len(features)} feature rows for {len(frame)} essays; give one per essay.")
    if not seeds:
        raise EmpathylabError("augmentation_folds needs at least one seed.")
    features = np.asarray(features)
    rows = []
    for seed in seeds:
        design = augmentation_design(frame, share=share, k=k, seed=seed)
        for fold in range(k):
            sets = augmentation_sets(frame, design, fold, llm=llm)
            test, x_test = sets["test"], features[sets["test"]["row"]]
            predictions = {
                "y": probe.fit_predict(features[sets["y"]["row"]], sets["y"]["label"].to_numpy(), x_test)
            }
            # y+y_llm and y+y_crowd train on the same essays: one fit, a column (and penalty) each.
            shared = sets["y+y_llm"]
            stacked = np.column_stack([shared["label"], sets["y+y_crowd"]["label"]])
            both = probe.fit_predict(features[shared["row"]], stacked, x_test).reshape(len(test), 2)
            predictions |= {"y+y_llm": both[:, 0], "y+y_crowd": both[:, 1]}
            for name in AUGMENTATION:
                train = sets[name]
                rows.append(
                    {
                        "strategy": name,
                        "alpha": np.nan,
                        "seed": seed,
                        "fold": fold,
                        "n_train": len(train),
                        "n_llm": int((train["source"] == "llm").sum()),
                        "n_test": len(test),
                        "n_replaced": 0,
                        **metrics.scores(test["label"], predictions[name]),
                    }
                )
    return pd.DataFrame(rows)


def probe_augmentation(profile: Profile | str = "demo", *, progress: bool = True) -> pd.DataFrame:
    """Return the public-data augmentation experiment: y against y+y_llm with the probe.

    :func:`augmentation_folds` on the public essays, with the share of extra writers
    ``llmpathy.training.augment_share``, its ``folds``, ``seeds`` and ``llm``, and the
    frozen ``models.encoder`` (the embeddings :func:`probe_cv` caches). Stored in
    ``llmpathy/probe_augmentation.parquet`` and reused while the settings and essays
    are unchanged.

    Returns
    -------
    DataFrame
        :func:`augmentation_folds`' columns.
    """
    from empathylab.llmpathy import probe

    cfg = load_profile(profile)
    t = cfg.llmpathy.training
    frame = newsemp.public_essays()
    payload = {
        "design": "writers-v2",
        "encoder": cfg.models.encoder,
        "folds": t.folds,
        "seeds": t.seeds,
        "llm": t.llm,
        "share": t.augment_share,
        "essays": essays_key(frame),
        **probe.length_key(t.max_length),
    }

    def compute() -> pd.DataFrame:
        features = probe.embed_essays(frame["essay"], cfg, progress=progress)
        return augmentation_folds(frame, features, share=t.augment_share, k=t.folds, seeds=t.seeds, llm=t.llm)

    return stored_frame(results_dir(cfg) / "probe_augmentation.parquet", payload, compute)


def augmentation_summary(runs: pd.DataFrame, metric: str = "pcc", level: float = LEVEL) -> str:
    """Return sentences saying whether y+y_llm beat y in ``runs``, with both tests.

    ``runs`` is :func:`augmentation_folds`' (or :func:`probe_augmentation`'s) output;
    means and medians are over the seed-level scores (:func:`seed_summary`), the tests
    are :func:`seed_tests`': our calibrated test (:func:`corrected_tests`, the corrected
    resampled t-test over folds and seeds) decides, Hasan et al.'s independent t-test
    over seeds is given beside it, labelled. When ours cannot run the verdict is
    undetermined. When ``runs`` holds the control y+y_crowd, a last sentence reports
    it the same way.

    Examples
    --------
    >>> runs = pd.DataFrame({"strategy": ["y", "y+y_llm"] * 6, "alpha": np.nan,
    ...                      "seed": [0] * 4 + [1] * 4 + [2] * 4, "fold": [0, 0, 1, 1] * 3,
    ...                      "pcc": [.30, .35, .32, .36, .31, .33, .29, .35, .30, .34, .31, .36],
    ...                      "ccc": .2, "rmse": 1.0})
    >>> augmentation_summary(runs).split(";")[0]
    'y + y_llm gives a higher PCC than y (0.348 against 0.305'
    >>> augmentation_summary(runs).split(". ")[-1]
    'The LLM-labelled essays improve the probe here.'
    """
    check_metric(metric)
    if not 0 < level < 1:
        raise EmpathylabError(f"level must lie strictly between 0 and 1, got {level}.")
    require_columns(runs, ["strategy"], "augmentation_summary")
    if not {"y", "y+y_llm"} <= set(runs["strategy"]):
        raise EmpathylabError(
            f"augmentation_summary needs y and y+y_llm runs; found "
            f"{', '.join(sorted(set(runs['strategy'])))}."
        )
    summary = seed_summary(runs, [metric])
    tests = seed_tests(runs, "y", metric, level)
    base = summary[summary["strategy"] == "y"].iloc[0]

    def compared(strategy: str) -> tuple[str, str]:
        row = summary[summary["strategy"] == strategy].iloc[0]
        detail = f"mean over seeds; median {row['median']:.3f} against {base['median']:.3f}"
        text = comparison_text(tests, strategy, None, row["mean"], base["mean"], metric, detail=detail)
        ours = tests[(tests["strategy"] == strategy) & (tests["test"] == TESTS["ours"])].iloc[0]
        return text + ".", str(ours["verdict"])

    def effect(subject: str, verdict: str, where: str) -> str:
        if verdict.startswith("undetermined"):
            return f"Whether {subject[0].lower()}{subject[1:]} change the probe is undetermined{where}."
        word = {"better": "improve", "worse": "worsen", "not significant": "do not detectably change"}[
            verdict
        ]
        return f"{subject} {word} the probe{where}."

    text, verdict = compared("y+y_llm")
    text += " " + effect("The LLM-labelled essays", verdict, " here")
    if "y+y_crowd" in set(runs["strategy"]):
        control, verdict = compared("y+y_crowd")
        text += f" The control, the same extra essays with their crowd labels: {control} " + effect(
            "More crowd-labelled essays", verdict, ""
        )
    return text
