"""Tests of reading result tables: plain Parquet/CSV, the store, the authors' processed files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from empathylab import gaps
from empathylab.cli import main
from empathylab.errors import EmpathylabError
from empathylab.gaps.results import REQUIRED_COLUMNS, read_authors_results, read_result_table
from empathylab.gaps.rows import COLUMNS, read_results
from empathylab.llm.store import ChunkStore

CELL = ["perceiver", "experiencer", "item_id"]


def _cells(frame: pd.DataFrame, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """The compared part of rows, in a fixed order."""
    columns = ["grouping", "variation", *CELL, "intensity", *extra]
    return frame[columns].sort_values(["grouping", "variation", *CELL]).reset_index(drop=True)


def _rows(grouping: str = "religion", **kwargs) -> pd.DataFrame:
    kwargs = {"n_items": 6, "effect": 4.0, "missing": 0.1, "seed": 3, **kwargs}
    return gaps.simulate_results(grouping, **kwargs)


# ----------------------------------------------------------------------- plain tables


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_required_columns_only_read_back_equal(tmp_path, suffix):
    rows = _rows()
    assert rows["intensity"].isna().any()  # some missing answers travel too
    path = tmp_path / f"mine{suffix}"
    table = rows[list(REQUIRED_COLUMNS)]
    table.to_parquet(path) if suffix == ".parquet" else table.to_csv(path, index=False)
    read = read_result_table(path)
    assert list(read.columns) == list(COLUMNS)
    assert len(read) == len(rows)
    pd.testing.assert_frame_equal(_cells(read), _cells(rows))
    assert read["item_id"].dtype == np.int64 and read["intensity"].dtype == np.float64
    assert set(read["model"]) == {"unknown"} and set(read["readout"]) == {"unknown"}
    expected_status = np.where(read["intensity"].isna(), "invalid", "ok")
    assert (read["status"].to_numpy() == expected_status).all()
    assert read["prompt_id"].isna().all() and read["p_valid"].isna().all()
    # sorted: perceiver, then experiencer in design order, then item id
    assert read["perceiver"].iloc[0] == "a person" and read["experiencer"].iloc[0] == "a person"
    assert read["item_id"].iloc[:6].tolist() == list(range(6))


def test_full_store_columns_and_store_chunks(tmp_path):
    rows = _rows(model="m/one", readout="generate")
    rows.to_parquet(tmp_path / "all.parquet")
    read = read_result_table(tmp_path / "all.parquet")
    keys = ["model", "readout", "variation", "grouping", "prompt_id"]
    expected = rows.sort_values(keys, kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(read, expected, check_dtype=False)
    assert read["prompt_id"].dtype == np.int64
    # the store's own chunks are read through store.read_results
    folder = tmp_path / "store" / "m" / "generate" / "origin" / "religion"
    ChunkStore(folder, {"test": True}, columns=COLUMNS).write(0, rows.iloc[:100], {})
    ChunkStore(folder, {"test": True}, columns=COLUMNS).write(1, rows.iloc[100:].reset_index(drop=True), {})
    stored = read_result_table(tmp_path / "store")
    pd.testing.assert_frame_equal(stored, read_results(tmp_path / "store"), check_dtype=False)
    pd.testing.assert_frame_equal(stored, expected, check_dtype=False)


def test_a_folder_of_several_files(tmp_path):
    religion = _rows(model="a")
    ethnicity = _rows("ethnicity", n_items=1, model="b")
    persona = _rows(variation="persona-1", seed=5, model="a")
    religion.to_parquet(tmp_path / "religion.parquet")
    (tmp_path / "more" / "deeper").mkdir(parents=True)
    ethnicity[["model", *REQUIRED_COLUMNS]].to_csv(tmp_path / "more" / "eth.csv", index=False)
    persona.to_csv(tmp_path / "more" / "deeper" / "persona.csv", index=False)
    (tmp_path / ".ipynb_checkpoints").mkdir()  # hidden folders are skipped
    (tmp_path / ".ipynb_checkpoints" / "junk.csv").write_text("no,columns\n1,2\n")
    read = read_result_table(tmp_path)
    source = pd.concat([religion, ethnicity, persona], ignore_index=True)
    assert len(read) == len(source)
    pd.testing.assert_frame_equal(_cells(read, ("model",)), _cells(source, ("model",)))
    runs = read[["model", "grouping", "variation"]].drop_duplicates().values.tolist()
    assert runs == [["a", "religion", "origin"], ["a", "religion", "persona-1"], ["b", "ethnicity", "origin"]]


# ----------------------------------------------------------------------- bad tables


def test_missing_columns_are_named(tmp_path):
    path = tmp_path / "partial.csv"
    _rows().drop(columns=["item_id", "intensity"]).to_csv(path, index=False)
    with pytest.raises(EmpathylabError) as info:
        read_result_table(path)
    message = str(info.value)
    assert "item_id, intensity" in message and "partial.csv" in message
    assert "grouping, variation, perceiver, experiencer, item_id, intensity" in message


@pytest.mark.parametrize(
    ("column", "old", "new", "named", "valid"),
    [
        ("perceiver", "a Jew", "a Jedi", "'a Jedi'", "a Christian"),
        ("experiencer", "a Hindu", "a Sikh", "'a Sikh'", "a Buddhist"),
        ("grouping", "religion", "caste", "'caste'", "ethnicity"),
        ("variation", "origin", "persona-9", "'persona-9'", "10-scale"),
    ],
)
def test_unknown_values_are_named_with_the_valid_ones(tmp_path, column, old, new, named, valid):
    rows = _rows()
    rows[column] = rows[column].replace(old, new)
    rows.to_parquet(tmp_path / "odd.parquet")
    with pytest.raises(EmpathylabError, match="odd.parquet") as info:
        read_result_table(tmp_path)
    assert named in str(info.value) and valid in str(info.value)


def test_unreadable_files_are_named(tmp_path):
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(EmpathylabError, match=r"broken\.parquet is not a readable Parquet"):
        read_result_table(tmp_path)
    rows = _rows()[list(REQUIRED_COLUMNS)].astype({"intensity": object})
    rows.loc[3, "intensity"] = "a lot"
    rows.to_csv(tmp_path / "words.csv", index=False)
    with pytest.raises(EmpathylabError, match=r"words\.csv: column intensity must hold numbers.*'a lot'"):
        read_result_table(tmp_path / "words.csv")
    with pytest.raises(EmpathylabError, match="no such file or folder"):
        read_result_table(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmpathylabError, match="No stored results or result tables"):
        read_result_table(tmp_path / "empty")


def test_repeated_prompts_and_unknown_status(tmp_path):
    rows = _rows()[list(REQUIRED_COLUMNS)]
    pd.concat([rows, rows.iloc[:3]]).to_csv(tmp_path / "twice.csv", index=False)
    with pytest.raises(EmpathylabError, match="3 row.*repeat a prompt"):
        read_result_table(tmp_path / "twice.csv")
    # two models' tables without a model column collide, and the message says why
    (tmp_path / "twice.csv").unlink()
    rows.to_csv(tmp_path / "model_a.csv", index=False)
    rows.to_csv(tmp_path / "model_b.csv", index=False)
    with pytest.raises(EmpathylabError, match="add those columns"):
        read_result_table(tmp_path)
    status = rows.assign(status="maybe")
    status.to_csv(tmp_path / "model_b.csv", index=False)
    with pytest.raises(EmpathylabError, match="unknown status value.*'maybe'"):
        read_result_table(tmp_path / "model_b.csv")


# ----------------------------------------------------------------------- the authors' layout


def _write_authors(folder, rows: pd.DataFrame, model_part: str) -> None:
    """Write rows as the authors' processed_results: one TSV per cell, -1 for missing."""
    folder.mkdir(parents=True, exist_ok=True)
    for k, ((grouping, variation, p, e), cell) in enumerate(
        rows.groupby(["grouping", "variation", "perceiver", "experiencer"], sort=False)
    ):
        cell = cell.sort_values("item_id")
        missing = cell["intensity"].isna().to_numpy()
        refusal = missing & (cell["item_id"].to_numpy() % 2 == 0)
        response = np.where(
            refusal, "I can't rate this.", np.where(missing, "Somewhat", cell["intensity"].astype(str))
        )
        pd.DataFrame(
            {
                "idx": np.arange(len(cell)) + k * len(cell),
                "emotion": cell["emotion"].to_numpy(),
                "system_prompt": f"You are {p}.\nYour task is to rate ...",
                "user_input": f'In the following narrative, {e} describes ...\n"A story, with\ttab."',
                "response": response,
                "intensity": cell["intensity"].fillna(-1).to_numpy(),
            }
        ).to_csv(folder / f"{grouping}_{variation}_{model_part}_{p}_{e}.tsv", sep="\t", index=False)


def test_authors_layout_reads_back_the_same_cells(tmp_path):
    rows = _rows(n_items=5, missing=0.15, seed=7)
    named, empty = tmp_path / "named", tmp_path / "empty"
    _write_authors(named, rows, "llama-8b")
    _write_authors(empty, rows, "")
    assert (empty / "religion_origin__a Jew_a person.tsv").is_file()
    for read in (read_authors_results(named), read_result_table(named)):
        pd.testing.assert_frame_equal(_cells(read, ("emotion",)), _cells(rows, ("emotion",)))
        assert set(read["model"]) == {"llama-8b"} and set(read["readout"]) == {"generate"}
        assert read.attrs["item_id_source"]["llama-8b/religion/origin"].startswith("row position")
    read = read_authors_results(named)
    missing = read["intensity"].isna()
    even = read["item_id"] % 2 == 0
    assert missing.sum() == rows["intensity"].isna().sum() > 0
    assert (read.loc[missing & even, "status"] == "refusal").all()
    assert (read.loc[missing & ~even, "status"] == "invalid").all()
    assert (read.loc[~missing, "status"] == "ok").all()
    assert set(read_authors_results(empty)["model"]) == {"unknown"}
    given = read_authors_results(empty, model="llama-8b")
    pd.testing.assert_frame_equal(given, read)
    # both folders under one root: two models, nothing repeated
    both = read_result_table(tmp_path)
    assert sorted(both["model"].unique()) == ["llama-8b", "unknown"] and len(both) == 2 * len(rows)


def test_authors_layout_bad_names(tmp_path):
    _write_authors(tmp_path, _rows(n_items=2), "qwen")
    (tmp_path / "notes.tsv").write_text("a\tb\n")
    with pytest.raises(EmpathylabError, match=r"do not follow the authors' naming.*'notes\.tsv'"):
        read_result_table(tmp_path)
    (tmp_path / "notes.tsv").unlink()
    odd = tmp_path / "religion_origin_qwen_a Jedi_a Jew.tsv"
    (tmp_path / "religion_origin_qwen_a Jew_a Jew.tsv").rename(odd)
    with pytest.raises(EmpathylabError, match=r"'a Jedi'.*a Jedi_a Jew\.tsv.*valid: a person"):
        read_authors_results(tmp_path)
    odd.unlink()
    path = tmp_path / "religion_origin_qwen_a Hindu_a Jew.tsv"
    pd.read_csv(path, sep="\t").drop(columns=["response"]).to_csv(path, sep="\t", index=False)
    with pytest.raises(EmpathylabError, match="lacks the column.*response"):
        read_authors_results(tmp_path)


def test_authors_rows_map_to_corpus_text_ids(tmp_path, mirror):
    from empathylab.data import load_narratives

    narratives = load_narratives()
    intensity = np.arange(len(narratives)) % 101
    cell = pd.DataFrame(
        {
            "idx": np.arange(len(narratives)),
            "emotion": narratives["emotion"].astype(str),
            "system_prompt": "s",
            "user_input": "u",
            "response": intensity.astype(str),
            "intensity": intensity,
        }
    )
    cell.to_csv(tmp_path / "religion_origin_mistral_a Jew_a Hindu.tsv", sep="\t", index=False)
    shuffled = cell.assign(emotion=cell["emotion"].to_numpy()[::-1])
    shuffled.to_csv(tmp_path / "religion_10-scale_mistral_a Jew_a Hindu.tsv", sep="\t", index=False)
    read = read_authors_results(tmp_path)
    notes = read.attrs["item_id_source"]
    assert notes["mistral/religion/origin"] == "text_id"
    assert notes["mistral/religion/10-scale"].startswith("row position (the emotion column")
    origin = read[read["variation"] == "origin"].set_index("item_id")
    assert origin.index.isin(narratives["item_id"]).all() and len(origin) == len(narratives)
    by_text = dict(zip(narratives["item_id"], intensity))
    assert all(origin.loc[k, "intensity"] == v for k, v in list(by_text.items())[::500])
    assert (origin.loc[narratives["item_id"], "emotion"].to_numpy() == cell["emotion"].to_numpy()).all()
    scale = read[read["variation"] == "10-scale"]
    assert sorted(scale["item_id"]) == list(range(len(narratives)))


# ----------------------------------------------------------------------- the command line


def _analyze_json(capsys, path) -> list[dict]:
    argv = ["gaps", "analyze", str(path), "--json", "--no-mixed", "--permutations", "200", "--bootstrap", "0"]
    assert main(argv) == 0
    return [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]


def test_cli_analyzes_a_plain_parquet_file(tmp_path, capsys):
    rows = pd.concat(
        [
            _rows(n_items=8, effect=4.0, missing=0.02),
            _rows(n_items=8, variation="persona-1", missing=0.0, seed=9),
        ],
        ignore_index=True,
    )
    path = tmp_path / "mine.parquet"
    rows[list(REQUIRED_COLUMNS)].to_parquet(path)
    runs = _analyze_json(capsys, path)
    expected = gaps.analyze(rows, n_permutations=200, seed=0, n_boot=0, mixed=False)
    assert len(runs) == len(expected) == 2
    got = {(r["grouping"], r["variation"]): r for r in runs}
    for want in expected:
        run = got[want["grouping"], want["variation"]]
        assert run["model"] == "unknown"
        assert run["delta"] == pytest.approx(want["delta"], rel=1e-12, abs=1e-12)
        assert run["p_perm"] == pytest.approx(want["p_perm"])
        assert run["n_items"] == want["n_items"]


def test_cli_analyzes_the_authors_folder(tmp_path, capsys):
    rows = _rows(n_items=6, effect=3.0, missing=0.01, seed=11)
    _write_authors(tmp_path / "processed_results", rows, "llama-8b")
    [run] = _analyze_json(capsys, tmp_path / "processed_results")
    [want] = gaps.analyze(rows, n_permutations=200, seed=0, n_boot=0, mixed=False)
    assert run["model"] == "llama-8b" and run["readout"] == "generate"
    assert run["delta"] == pytest.approx(want["delta"], rel=1e-12, abs=1e-12)
    assert run["share_refusal"] + run["share_invalid"] == pytest.approx(1 - run["share_ok"])


def test_cli_bad_table_exits_2_with_one_line(tmp_path, capsys):
    path = tmp_path / "partial.csv"
    _rows().drop(columns=["perceiver"]).to_csv(path, index=False)
    assert main(["gaps", "analyze", str(path), "--json"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert captured.out == "" and len(lines) == 1
    assert lines[0].startswith("empathylab: error: ") and "perceiver" in lines[0]
