"""The exercise checks of Parts I and III: right on the solution, wrong on the starting code
and on a typical wrong answer (with the hint that names the mistake)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from empathylab import gaps
from empathylab.course import gaps as check
from empathylab.course.feedback import Feedback


def _wrong(feedback: Feedback, hint: str) -> None:
    assert not feedback.ok and hint in feedback.message, feedback


def _unanswered(feedback: Feedback) -> None:
    _wrong(feedback, "No answer yet")


@pytest.fixture(scope="module")
def religion() -> pd.DataFrame:
    return gaps.simulate_results("religion", n_items=8, effect=6.0, seed=3, missing=0.05)


def test_prompt_count() -> None:
    sample = pd.DataFrame({"item_id": range(12)})
    ids = gaps.design.select_identities("religion")
    assert check.check_prompt_count(len(sample) * len(ids) ** 2, sample, ids)
    _unanswered(check.check_prompt_count(None, sample, ids))
    _wrong(check.check_prompt_count(12 * (len(ids) - 1) ** 2, sample, ids), "baseline")
    _wrong(check.check_prompt_count(len(ids) ** 2, sample, ids), "one narrative")


def test_no_answer_share(religion: pd.DataFrame) -> None:
    both = pd.concat([religion, religion.assign(readout="distribution", intensity=50.0)])
    generated = both[both["readout"] == "generate"]
    right = generated["intensity"].isna().mean()
    assert right > 0 and check.check_no_answer_share(right, both)
    _unanswered(check.check_no_answer_share(None, both))
    _wrong(check.check_no_answer_share(100 * right, both), "percentage")
    _wrong(check.check_no_answer_share(both["intensity"].isna().mean(), both), "every readout")
    _wrong(check.check_no_answer_share(pd.Series([right]), both), "one number")


def test_delta(religion: pd.DataFrame) -> None:
    m = gaps.delta_matrix(religion)
    ids, values = list(m.index), m.to_numpy()
    right = values[gaps.in_group(ids, "religion")].mean() - values[gaps.out_group(ids, "religion")].mean()
    assert check.check_delta(right, m, "religion")
    assert np.isclose(right, gaps.delta(m, "religion"))
    _unanswered(check.check_delta(None, m, "religion"))
    _wrong(check.check_delta(-right, m, "religion"), "sign is reversed")
    _wrong(
        check.check_delta(values[gaps.in_group(ids, "religion")].mean() - values.mean(), m, "religion"),
        "all cells",
    )
    _wrong(check.check_delta(float("nan"), m, "religion"), "NaN")


def test_smallest_detected() -> None:
    effects = [0, 2, 4, 8]
    found = [
        e
        for e in effects
        if gaps.permutation_test(
            gaps.delta_matrix(gaps.simulate_results("religion", 12, e, seed=0)), "religion"
        )["significant"]
    ]
    assert check.check_smallest_detected(min(found), effects)
    _unanswered(check.check_smallest_detected(None, effects))
    _wrong(check.check_smallest_detected(max(effects), effects), "smaller effect")
    _wrong(check.check_smallest_detected(0, effects), "false positive")


def test_largest_shift() -> None:
    table = pd.DataFrame(
        {
            "grouping": "religion",
            "variation": ["origin", "up", "down", "near"],
            "delta": [0.2, 0.5, -0.3, 0.25],
        }
    )
    assert check.check_largest_shift("down", table, "religion")
    _unanswered(check.check_largest_shift(None, table, "religion"))
    _wrong(check.check_largest_shift("up", table, "religion"), "downwards counts too")
    _wrong(check.check_largest_shift("origin", table, "religion"), "reference")
    _wrong(check.check_largest_shift("nope", table, "religion"), "not a variation")


def test_readout_difference() -> None:
    table = pd.DataFrame(
        {
            "model": "m",
            "readout": ["generate", "distribution", "generate"],
            "grouping": "religion",
            "variation": ["origin", "origin", "10-scale"],
            "delta": [0.1, 0.4, 9.0],
        }
    )
    assert check.check_readout_difference(0.1 - 0.4, table, "m", "religion")
    _unanswered(check.check_readout_difference(None, table, "m", "religion"))
    _wrong(check.check_readout_difference(0.3, table, "m", "religion"), "sign is reversed")
    _wrong(check.check_readout_difference(9.0 - 0.4, table, "m", "religion"), "Not the difference")


def test_same_cluster_mean() -> None:
    rows = gaps.simulate_results("nationality", n_items=4, effect=5.0, seed=0)
    m = gaps.delta_matrix(rows)
    cluster = {
        f"a person from {c}": name
        for name, countries in gaps.design.NATIONALITY_CLUSTERS.items()
        for c in countries
    }
    groups = np.array([cluster[i] for i in m.index])
    same = groups[:, None] == groups[None, :]
    right = m.to_numpy()[same & ~np.eye(len(m), dtype=bool)].mean()
    assert check.check_same_cluster_mean(right, rows)
    _unanswered(check.check_same_cluster_mean(None, rows))
    _wrong(check.check_same_cluster_mean(m.to_numpy()[same].mean(), rows), "diagonal")


def test_reader_writer_r() -> None:
    rng = np.random.default_rng(0)
    writer = rng.normal(size=40)
    humans = pd.DataFrame({"writer_intensity": writer, "reader_mean": writer + rng.normal(size=40)})
    humans.loc[::5, "reader_mean"] = np.nan
    read = humans.dropna()
    right = read["reader_mean"].corr(read["writer_intensity"])
    assert check.check_reader_writer_r(right, humans)
    _unanswered(check.check_reader_writer_r(None, humans))
    _wrong(check.check_reader_writer_r(right**2, humans), "r²")
    spearman = read["reader_mean"].corr(read["writer_intensity"], method="spearman")
    _wrong(check.check_reader_writer_r(spearman, humans), "Spearman")


def test_perspective_shift() -> None:
    rows = pd.concat(
        [
            gaps.simulate_results("religion", 6, 5.0, seed=0, variation="origin"),
            gaps.simulate_results("religion", 6, 1.0, seed=1, variation="pt-other"),
        ]
    )
    d = {
        v: gaps.delta(gaps.delta_matrix(rows[rows["variation"] == v]), "religion")
        for v in ("pt-other", "origin")
    }
    right = d["pt-other"] - d["origin"]
    assert check.check_perspective_shift(right, rows, "pt-other", "origin", "religion")
    _unanswered(check.check_perspective_shift(None, rows, "pt-other", "origin", "religion"))
    _wrong(check.check_perspective_shift(-right, rows, "pt-other", "origin", "religion"), "sign is reversed")
    _wrong(check.check_perspective_shift(0.0, rows, "pt-self", "origin", "religion"), "No religion rows")


def test_largest_delta() -> None:
    deltas = pd.DataFrame(
        {"model": ["m", "m", "m", "other"], "grouping": ["religion", "ethnicity", "nationality", "religion"],
         "delta": [0.1, -0.4, 0.05, 9.0]}
    )  # fmt: skip
    assert check.check_largest_delta("religion", deltas, "m")
    _unanswered(check.check_largest_delta(None, deltas, "m"))
    _wrong(check.check_largest_delta("ethnicity", deltas, "m"), "negative")
    _wrong(check.check_largest_delta("nationality", deltas, "m"), "Not the largest")
