"""Agreement on the released LLMPathy label files: the paper's α, every pair, the bootstrap,
the join check, the noisiest labels and the command line."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from empathylab import cli, data
from empathylab.errors import DataFileError, EmpathylabError
from empathylab.llmpathy import newsemp, released

PAPER_CROSS_MODEL = 0.796  # Hasan et al.: GPT-4o vs Llama-3-70B, NewsEmp24 train

pytestmark = pytest.mark.usefixtures("mirror")


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return released.released_agreement(n_boot=200, seed=3)


def _row(frame: pd.DataFrame, dataset: str, split: str, a: str, b: str) -> pd.Series:
    hit = frame[
        (frame["dataset"] == dataset) & (frame["split"] == split) & (frame["a"] == a) & (frame["b"] == b)
    ]
    assert len(hit) == 1, (dataset, split, a, b)
    return hit.iloc[0]


def _two_coder_alpha(x: np.ndarray, y: np.ndarray) -> float:
    """Interval α of two complete coders, the textbook closed form (independent of metrics)."""
    values = np.concatenate([x, y])
    n = values.size
    return 1 - (n - 1) * np.sum((x - y) ** 2) / (n * np.sum((values - values.mean()) ** 2))


def test_reproduces_the_papers_cross_model_alpha(table) -> None:
    row = _row(table, "NewsEmp24", "train", "gpt4o", "llama3_70b")
    assert abs(row["alpha"] - PAPER_CROSS_MODEL) <= 0.001
    assert row["n"] == len(newsemp.released_labels("NewsEmp24", "train"))
    assert row["paper_alpha"] == pytest.approx(PAPER_CROSS_MODEL)
    # Only that one pair is one the paper reports for the same data.
    assert int(table["paper_alpha"].notna().sum()) == 1


@pytest.mark.parametrize(
    ("folder", "gpt", "llama", "keys"),
    [
        (
            "NewsEmp2024",
            "trac3_EMP_train_gpt.tsv",
            "trac3_EMP_train_llama.tsv",
            ["conversation_id", "person_id"],
        ),
        (
            "NewsEmp2023",
            "WASSA23_essay_level_with_labels_train_gpt.tsv",
            "WASSA23_essay_level_with_labels_train_llama.tsv",
            ["conversation_id", "speaker_id"],
        ),
        (
            "NewsEmp2022",
            "messages_test_features_ready_for_WS_2022_gpt.tsv",
            "messages_test_features_ready_for_WS_2022_llama.tsv",
            ["message_id"],
        ),
    ],
)
def test_alpha_and_r_match_an_independent_join_by_ids(table, mirror, folder, gpt, llama, keys) -> None:
    root = mirror / "llmpathy-labels" / folder
    left = pd.read_csv(root / gpt, sep="\t", dtype={k: str for k in keys})
    right = pd.read_csv(root / llama, sep="\t", dtype={k: str for k in keys})
    right = right.sample(frac=1, random_state=0)  # a join by row order would now fail
    both = left.merge(right, on=keys, suffixes=("_gpt", "_llama")).dropna(
        subset=["llm_empathy_gpt", "llm_empathy_llama"]
    )
    x, y = both["llm_empathy_gpt"].to_numpy(float), both["llm_empathy_llama"].to_numpy(float)
    dataset = "NewsEmp" + folder[-2:]
    split = next(s for s in newsemp.SPLITS if s in gpt)
    row = _row(table, dataset, split, "gpt4o", "llama3_70b")
    assert row["n"] == len(both)
    assert row["n_one_only"] == len(left) - len(both)
    assert row["alpha"] == pytest.approx(_two_coder_alpha(x, y), abs=1e-12)
    assert row["pearson"] == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-12)


def test_every_released_dataset_split_and_pair_is_present(table) -> None:
    expected = set()
    for dataset in newsemp.DATASETS:
        for split in newsemp.SPLITS:
            sources = [c for c in newsemp.released_labels(dataset, split).columns if c != "essay_id"]
            if (dataset, split) == ("NewsEmp22", "train"):
                sources = ["crowd", *sources]
            expected |= {(dataset, split, a, b) for a, b in combinations(sources, 2)}
    got = list(table[["dataset", "split", "a", "b"]].itertuples(index=False, name=None))
    assert len(got) == len(set(got))
    assert set(got) == expected
    # Every split with two released sources appears; NewsEmp23 test has one source only.
    assert {(d, s) for d, s, *_ in got} == {
        (d, s) for d in newsemp.DATASETS for s in newsemp.SPLITS if (d, s) != ("NewsEmp23", "test")
    }
    assert list(table.columns[:9]) == [
        "dataset",
        "split",
        "a",
        "b",
        "n",
        "n_one_only",
        "alpha",
        "alpha_ci_low",
        "alpha_ci_high",
    ]


def test_bootstrap_interval_contains_alpha_and_is_seeded(table) -> None:
    assert (table["alpha_ci_low"] < table["alpha"]).all()
    assert (table["alpha"] < table["alpha_ci_high"]).all()
    again = released.released_agreement(n_boot=200, seed=3)
    pd.testing.assert_frame_equal(table, again)
    other = released.released_agreement(n_boot=200, seed=4)
    assert not np.allclose(table["alpha_ci_low"], other["alpha_ci_low"])
    pd.testing.assert_series_equal(table["alpha"], other["alpha"])
    # More essays, a narrower interval: NewsEmp24 train (1,000) against dev (63).
    width = table["alpha_ci_high"] - table["alpha_ci_low"]
    train = _row(table, "NewsEmp24", "train", "gpt4o", "llama3_70b").name
    dev = _row(table, "NewsEmp24", "dev", "gpt4o", "llama3_70b").name
    assert width[train] < width[dev] / 2
    none = released.released_agreement(n_boot=0)
    assert none[["alpha_ci_low", "alpha_ci_high"]].isna().all().all()


def _redirect(monkeypatch, tmp_path: Path, key: str, edit) -> None:
    """Serve an edited copy of one released file in place of the original."""
    original = data.fetch
    source = original(key)
    lines = [line.rstrip("\n") + "\n" for line in source.read_text().splitlines()]
    copy = tmp_path / Path(key).name
    copy.write_text("".join(edit(lines)))
    monkeypatch.setattr(data, "fetch", lambda k, **kw: copy if k == key else original(k, **kw))


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (
            lambda lines: [lines[0], lines[1].replace("\tp019\t", "\tp999\t"), *lines[2:]],
            ("1_p999", "1_p019"),
        ),
        (lambda lines: [*lines, lines[1]], ("duplicate", "1_p019")),
        (lambda lines: [lines[0], *lines[2:]], ("1_p019", "only in")),
    ],
    ids=["changed-id", "duplicate-id", "missing-row"],
)
def test_a_broken_join_raises_one_line_naming_ids(monkeypatch, tmp_path, edit, named) -> None:
    _redirect(monkeypatch, tmp_path, "llmpathy-labels/NewsEmp2024/trac3_EMP_train_llama.tsv", edit)
    with pytest.raises(DataFileError) as caught:
        released.released_agreement(n_boot=0)
    message = str(caught.value)
    assert "\n" not in message
    for text in named:
        assert text in message


@pytest.mark.parametrize("value", [-1, 2.5, True, "100"])
def test_bad_bootstrap_counts_are_refused(value) -> None:
    with pytest.raises(EmpathylabError, match="n_boot"):
        released.released_agreement(n_boot=value)


def test_paper_vs_here(table) -> None:
    side = released.paper_vs_here(table)
    assert len(side) == len(released.PUBLISHED_AGREEMENT)
    done = side[side["recomputable"]]
    assert len(done) == 1 and abs(done["here_alpha"].iloc[0] - done["paper_alpha"].iloc[0]) <= 0.001
    rest = side[~side["recomputable"]]
    assert rest["here_alpha"].isna().all() and (rest["needs"].str.len() > 0).all()
    crowd = rest[rest["stand_in"] != ""]
    assert len(crowd) == 2
    expected = sorted(table.loc[table["a"] == "crowd", "alpha"])
    assert sorted(crowd["stand_in_alpha"]) == pytest.approx(expected)
    with pytest.raises(EmpathylabError, match="alpha_ci_low"):
        released.paper_vs_here(table.drop(columns="alpha_ci_low"))


@pytest.mark.parametrize("llm", ["gpt4o", "llama3_70b"])
def test_noisiest_labels_are_sorted_and_their_differences_are_right(mirror, llm) -> None:
    top = released.noisiest_labels(12, llm=llm)
    assert top.columns.tolist() == ["essay_id", "writer_id", "crowd", llm, "difference", "essay"]
    assert len(top) == 12
    size = top["difference"].abs().to_numpy()
    assert (np.diff(size) <= 0).all()
    # Independently: the public essays' crowd empathy, the released file, joined on message_id.
    essays = pd.read_csv(mirror / "empathic_reactions/messages.csv", dtype={"message_id": str})
    suffix = "gpt" if llm == "gpt4o" else "llama"
    labels = pd.read_csv(
        mirror / f"llmpathy-labels/NewsEmp2022/messages_train_ready_for_WS_{suffix}.tsv",
        sep="\t",
        dtype={"message_id": str},
    )
    both = essays.merge(labels, on="message_id").dropna(subset=["empathy", "llm_empathy"])
    diff = (both["llm_empathy"] - both["empathy"]).set_axis(both["message_id"])
    np.testing.assert_allclose(top["difference"], diff[top["essay_id"]].to_numpy(), atol=1e-12)
    assert size[0] == pytest.approx(diff.abs().max())
    outside = diff.drop(top["essay_id"]).abs()
    assert outside.max() <= size[-1] + 1e-12
    texts = essays.set_index("message_id")["essay"]
    assert (top["essay"].to_numpy() == texts[top["essay_id"]].to_numpy()).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"n": 0}, "n "), ({"llm": "gpt5"}, "gpt4o, llama3_70b"), ({"llm": "llama3_70b_plain"}, "valid")],
)
def test_noisiest_labels_refuses_bad_input(kwargs, match) -> None:
    with pytest.raises(EmpathylabError, match=match):
        released.noisiest_labels(**kwargs)


def test_cli_prints_the_released_pairs(capsys) -> None:
    assert cli.main(["labels", "agreement", "--json", "--bootstrap", "50"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    local = [r for r in rows if "dataset" not in r]
    shipped = [r for r in rows if "dataset" in r]
    assert local and all(set(r) == {"a", "b", "alpha", "pearson", "n"} for r in local)
    keys = {"dataset", "split", "a", "b", "alpha", "alpha_ci_low", "alpha_ci_high", "pearson", "n"}
    assert all(set(r) == keys for r in shipped)
    assert len(shipped) == len(released.released_agreement(n_boot=0))
    cross = [
        r
        for r in shipped
        if (r["dataset"], r["split"], r["a"], r["b"]) == ("NewsEmp24", "train", "gpt4o", "llama3_70b")
    ]
    assert len(cross) == 1 and abs(cross[0]["alpha"] - PAPER_CROSS_MODEL) <= 0.001
    assert cross[0]["alpha_ci_low"] < cross[0]["alpha"] < cross[0]["alpha_ci_high"]


def test_cli_refuses_a_negative_bootstrap(capsys) -> None:
    assert cli.main(["labels", "agreement", "--bootstrap", "-5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--bootstrap" in err and "-5" in err and "\n" not in err
