from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from empathylab import data
from empathylab.errors import DataFileError
from empathylab.llmpathy import newsemp
from empathylab.llmpathy.newsemp import attach_released, public_essays, read_newsemp, released_labels

SCHEMA = ["essay_id", "writer_id", "article_id", "essay", "crowd"]
DEMOGRAPHICS = ["gender", "education", "race", "age", "income"]

# rows of each released split, and the first essay's labels (read off the files)
RELEASED = {
    ("NewsEmp22", "train"): (1860, "R_1hGrPtWM4SumG0U_1", {"gpt4o": 6.5, "llama3_70b": 5.55}),
    ("NewsEmp22", "dev"): (270, "R_3QLVVnAgRBRH41U_1", {"gpt4o": 6.5, "llama3_70b": 5.7}),
    ("NewsEmp22", "test"): (525, "R_2qabL3aLPfRMyA1_1", {"gpt4o": 3.8333, "llama3_70b": 5.3}),
    ("NewsEmp23", "train"): (792, "2_30", {"gpt4o": 6.8333, "llama3_70b": 6.1333}),
    ("NewsEmp23", "dev"): (208, "1_68", {"gpt4o": 6.2, "llama3_70b": 5.6333}),
    ("NewsEmp23", "test"): (100, "1192_45", {"llama3_70b": 1.0}),
    ("NewsEmp24", "train"): (1000, "1_p019", {"gpt4o": 4.75, "llama3_70b": 5.7667}),
    ("NewsEmp24", "dev"): (
        63,
        "68_38",
        {"gpt4o": 4.4167, "llama3_70b": 5.3167, "llama3_70b_plain": 6.5},
    ),
    ("NewsEmp24", "test"): (83, "396_191", {"llama3_70b": 4.25, "llama3_70b_plain": 5.5}),
}


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def tsv(*cells: object) -> str:
    return "\t".join(map(str, cells))


# ---------------------------------------------------------------- released labels


@pytest.mark.parametrize(("dataset", "split"), sorted(RELEASED))
def test_released_labels_every_split(mirror: Path, dataset: str, split: str):
    rows, first_id, first = RELEASED[(dataset, split)]
    labels = released_labels(dataset, split)
    assert labels.columns.tolist() == ["essay_id", *first]
    assert len(labels) == rows and labels["essay_id"].is_unique
    values = labels[list(first)]
    assert ((values >= 1) & (values <= 7) | values.isna()).all().all()
    assert labels.loc[0, "essay_id"] == first_id
    assert labels.loc[0, list(first)].astype(float).round(4).to_dict() == first


def test_released_labels_missing_values_are_nan(mirror: Path):
    assert released_labels("NewsEmp22", "train")["gpt4o"].isna().sum() == 5
    assert released_labels("NewsEmp23", "train")["gpt4o"].isna().sum() == 13
    assert released_labels("NewsEmp22", "train")["llama3_70b"].notna().all()


def test_every_registered_label_file_is_used():
    registered = {k for k in data.registry().index if k.startswith("llmpathy-labels/")}
    used = {f"llmpathy-labels/{key}" for files in newsemp._LABEL_FILES.values() for key, _ in files}
    assert used == registered


def test_released_labels_rejects_unknown_names():
    with pytest.raises(DataFileError, match=r"Did you mean NewsEmp22\?.*NewsEmp23"):
        released_labels("NewsEmp2022", "train")
    with pytest.raises(DataFileError, match=r"Unknown split 'val'.*train, dev, test"):
        released_labels("NewsEmp24", "val")


@pytest.fixture
def fake_label_file(monkeypatch, tmp_path: Path):
    """Replace one registered label file by the given text (the hash check is bypassed)."""
    real = data.fetch

    def install(key: str, lines: list[str]) -> Path:
        path = write(tmp_path / Path(key).name, lines)
        monkeypatch.setattr(
            data, "fetch", lambda k, **kw: path if k == f"llmpathy-labels/{key}" else real(k, **kw)
        )
        return path

    return install


GPT24 = "NewsEmp2024/trac3_EMP_train_gpt.tsv"


def test_label_file_without_id_column(mirror: Path, fake_label_file):
    path = fake_label_file(GPT24, [tsv("conversation_id", "llm_empathy"), tsv(1, 4.5)])
    with pytest.raises(DataFileError) as err:
        released_labels("NewsEmp24", "train")
    assert str(path) in str(err.value) and "missing column(s) person_id" in str(err.value)


def test_label_file_with_text_label(mirror: Path, fake_label_file):
    path = fake_label_file(
        GPT24,
        [
            tsv("conversation_id", "person_id", "llm_empathy"),
            tsv(1, "p019", "4.5"),
            tsv(2, "p035", "six"),
            tsv(3, "p024", ""),
        ],
    )
    with pytest.raises(DataFileError) as err:
        released_labels("NewsEmp24", "train")
    message = str(err.value)
    assert str(path) in message and "non-numeric" in message and "2_p035: 'six'" in message


def test_label_file_with_duplicate_ids(mirror: Path, fake_label_file):
    path = fake_label_file(
        GPT24,
        [tsv("conversation_id", "person_id", "llm_empathy"), tsv(1, "p019", 4.5), tsv(1, "p019", 5.0)],
    )
    with pytest.raises(DataFileError, match=r"duplicate essay ids, 1 \(1_p019\)") as err:
        released_labels("NewsEmp24", "train")
    assert str(path) in str(err.value)


def test_label_files_of_one_split_must_agree(mirror: Path, fake_label_file):
    real = pd.read_csv(data.fetch(f"llmpathy-labels/{GPT24}"), sep="\t", dtype=str)
    lines = [tsv(*real.columns)] + [tsv(*row) for row in real.iloc[1:].itertuples(index=False)]
    fake_label_file(GPT24, [*lines, tsv(9999, 35, "p999", 4.0)])
    with pytest.raises(DataFileError) as err:
        released_labels("NewsEmp24", "train")
    message = str(err.value)
    assert "disagree" in message and "9999_p999" in message and "1_p019" in message


# ---------------------------------------------------------------- public essays


def test_public_essays_join(mirror: Path):
    essays = public_essays()
    raw = data.load_essays()
    assert essays.columns.tolist() == [*SCHEMA, "gpt4o", "llama3_70b"]
    assert essays.shape == (1860, 7)
    assert essays["essay_id"].tolist() == raw["message_id"].tolist()
    assert essays["writer_id"].tolist() == raw["response_id"].tolist()
    assert essays["writer_id"].nunique() == 372
    assert essays["crowd"].between(1, 7).all()
    assert np.allclose(essays["crowd"], raw["empathy"])
    assert essays["gpt4o"].isna().sum() == 5 and essays["llama3_70b"].isna().sum() == 0
    first = essays.iloc[0]
    assert (first.essay_id, first.writer_id, first.article_id) == (
        "R_1hGrPtWM4SumG0U_1",
        "R_1hGrPtWM4SumG0U",
        "67",
    )
    assert (first.gpt4o, first.llama3_70b) == (6.5, 5.55)


def test_public_essays_join_mismatch_names_the_ids(mirror: Path, monkeypatch):
    real = released_labels("NewsEmp22", "train")
    dropped = real.loc[3, "essay_id"]
    fake = pd.concat(
        [real.drop(index=3), pd.DataFrame({"essay_id": ["R_extra_1"], "gpt4o": [4.0]})],
        ignore_index=True,
    )
    monkeypatch.setattr(newsemp, "released_labels", lambda dataset, split: fake)
    with pytest.raises(DataFileError) as err:
        public_essays()
    message = str(err.value)
    assert f"1 ({dropped}) essay(s) have no released label row" in message
    assert "1 (R_extra_1) label row(s) match no essay" in message


# ---------------------------------------------------------------- original formats

PERSONALITY = ["personality_conscientiousness", "personality_openess", "iri_fantasy"]


@pytest.fixture
def news22(tmp_path: Path) -> dict[str, Path]:
    train = write(
        tmp_path / "messages_train_ready_for_WS.tsv",
        [
            tsv(
                "message_id",
                "response_id",
                "article_id",
                "empathy",
                "distress",
                "empathy_bin",
                "distress_bin",
                "essay",
                "emotion",
                *DEMOGRAPHICS,
                *PERSONALITY,
            ),
            tsv(
                "R_a_1",
                "R_a",
                67,
                5.667,
                4.375,
                1,
                1,
                "it is really sad",
                "sadness",
                1,
                4,
                1,
                33,
                40000,
                5,
                4,
                3,
            ),
            tsv(
                "R_a_2", "R_a", 86, 4.833, 4.875, 1, 1, "the phone lines", "fear", 1, 4, 1, 33, 40000, 5, 4, 3
            ),
            tsv("R_b_1", "R_b", 12, 1.0, 2.0, 0, 0, "meh", "neutral", 2, 6, 2, 45, 80000, 4, 3, 2),
        ],
    )
    dev = write(
        tmp_path / "messages_dev_features_ready_for_WS_2022.tsv",
        [
            tsv("message_id", "response_id", "article_id", "essay", *DEMOGRAPHICS),
            tsv("R_3QLVVnAgRBRH41U_1", "R_3QLVVnAgRBRH41U", 13, "first", 2, 6, 1, 30, 50000),
            tsv("R_3QLVVnAgRBRH41U_2", "R_3QLVVnAgRBRH41U", 127, "second", 2, 6, 1, 30, 50000),
            tsv("R_3QLVVnAgRBRH41U_3", "R_3QLVVnAgRBRH41U", 188, "third", 2, 6, 1, 30, 50000),
        ],
    )
    gold = write(
        tmp_path / "goldstandard_dev_2022.tsv",
        [
            tsv(6.0, 5.5, "sadness", 4, 4, 4, 4, 4, 3.1, 3.2, 3.3, 3.4),
            tsv(2.5, 1.5, "anger", 4, 4, 4, 4, 4, 3.1, 3.2, 3.3, 3.4),
            tsv(4.0, 4.0, "fear", 4, 4, 4, 4, 4, 3.1, 3.2, 3.3, 3.4),
        ],
    )
    return {"train": train, "dev": dev, "gold": gold}


def test_newsemp22_train(news22):
    frame = read_newsemp("NewsEmp22", "train", news22["train"])
    assert frame.columns.tolist() == SCHEMA + DEMOGRAPHICS
    assert frame["essay_id"].tolist() == ["R_a_1", "R_a_2", "R_b_1"]
    assert frame["writer_id"].tolist() == ["R_a", "R_a", "R_b"]
    assert frame["article_id"].tolist() == ["67", "86", "12"]
    assert frame["crowd"].tolist() == [5.667, 4.833, 1.0]
    assert frame["income"].tolist() == [40000.0, 40000.0, 80000.0]
    assert frame.loc[1, "essay"] == "the phone lines"


def test_newsemp22_dev_with_headerless_gold(news22, mirror: Path):
    frame = read_newsemp("NewsEmp22", "dev", news22["dev"], gold=news22["gold"])
    assert frame["crowd"].tolist() == [6.0, 2.5, 4.0]
    assert frame["gender"].tolist() == [2.0, 2.0, 2.0]
    labelled = attach_released(frame, "NewsEmp22", "dev")
    assert labelled.columns.tolist() == [*SCHEMA, *DEMOGRAPHICS, "gpt4o", "llama3_70b"]
    assert labelled.loc[0, ["gpt4o", "llama3_70b"]].tolist() == [6.5, 5.7]


def test_unlabelled_split_has_nan_crowd(news22):
    frame = read_newsemp("NewsEmp22", "dev", news22["dev"])
    assert frame["crowd"].isna().all() and len(frame) == 3


def test_gold_with_wrong_row_count(news22):
    lines = news22["gold"].read_text().splitlines()[:2]
    short = write(news22["gold"].with_name("short.tsv"), lines)
    with pytest.raises(DataFileError) as err:
        read_newsemp("NewsEmp22", "dev", news22["dev"], gold=short)
    message = str(err.value)
    assert "has 2 rows" in message and "3 essays" in message and str(short) in message


def test_missing_column_names_expected_and_found(news22):
    text = news22["train"].read_text().replace("response_id", "respondent")
    broken = write(news22["train"].with_name("broken.tsv"), text.splitlines())
    with pytest.raises(DataFileError) as err:
        read_newsemp("NewsEmp22", "train", broken)
    message = str(err.value)
    assert "missing column(s) response_id" in message
    assert "expected message_id, response_id" in message
    assert "found message_id, respondent" in message


def test_missing_file_names_the_profile_path(tmp_path: Path):
    absent = tmp_path / "nowhere.tsv"
    with pytest.raises(DataFileError) as err:
        read_newsemp("NewsEmp23", "dev", absent)
    message = str(err.value)
    assert str(absent) in message and "`essays`" in message
    assert "WASSA23_essay_level_dev.tsv" in message


def test_missing_gold_file_names_the_profile_path(news22, tmp_path: Path):
    with pytest.raises(DataFileError, match=r"gold file .* does not exist.*`gold`"):
        read_newsemp("NewsEmp22", "dev", news22["dev"], gold=tmp_path / "gold.tsv")


def test_non_numeric_empathy(news22):
    text = news22["train"].read_text().replace("\t4.833\t", "\thigh\t")
    broken = write(news22["train"].with_name("text.tsv"), text.splitlines())
    with pytest.raises(DataFileError, match=r"column empathy has 1 non-numeric.*R_a_2: 'high'"):
        read_newsemp("NewsEmp22", "train", broken)


def test_duplicate_essay_ids(news22):
    text = news22["train"].read_text().replace("R_a_2", "R_a_1")
    broken = write(news22["train"].with_name("dups.tsv"), text.splitlines())
    with pytest.raises(DataFileError, match=r"duplicate essay ids, 1 \(R_a_1\)"):
        read_newsemp("NewsEmp22", "train", broken)


def test_train_split_needs_labels(news22):
    with pytest.raises(DataFileError, match="missing column.s. empathy"):
        read_newsemp("NewsEmp22", "train", news22["dev"])


def test_demographics_file_only_for_newsemp24(news22):
    with pytest.raises(DataFileError, match="only read for NewsEmp24"):
        read_newsemp("NewsEmp22", "train", news22["train"], demographics=news22["gold"])


NEWS23_DEV_COLUMNS = [
    "conversation_id",
    "article_id",
    "essay",
    "speaker_id",
    *DEMOGRAPHICS,
    "speaker_number",
    "split",
    "essay_id",
]


def test_newsemp23_train(tmp_path: Path):
    path = write(
        tmp_path / "WASSA23_essay_level_with_labels_train.tsv",
        [
            tsv(
                "conversation_id",
                "article_id",
                "essay",
                "empathy",
                "distress",
                "speaker_id",
                *DEMOGRAPHICS,
                *PERSONALITY,
                "speaker_number",
                "split",
                "essay_id",
                "emotion",
            ),
            tsv(2, 35, "so sad", 6.5, 5.0, 30, 1, 6, 1, 28, "unknown", 5, 5, 5, 1, "train", 1, "Sadness"),
            tsv(
                2,
                35,
                "terrible news",
                3.0,
                2.0,
                19,
                2,
                4,
                3,
                41,
                25000,
                5,
                5,
                5,
                2,
                "train",
                2,
                "Sadness/Fear",
            ),
        ],
    )
    frame = read_newsemp("NewsEmp23", "train", path)
    assert frame.columns.tolist() == SCHEMA + DEMOGRAPHICS
    assert frame["essay_id"].tolist() == ["2_30", "2_19"]
    assert frame["writer_id"].tolist() == ["30", "19"]
    assert frame["crowd"].tolist() == [6.5, 3.0]
    assert np.isnan(frame.loc[0, "income"]) and frame.loc[1, "income"] == 25000.0


def test_newsemp23_dev_with_headerless_gold(tmp_path: Path, mirror: Path):
    dev = write(
        tmp_path / "WASSA23_essay_level_dev.tsv",
        [
            tsv(*NEWS23_DEV_COLUMNS),
            tsv(1, 35, "an essay", 68, 2, 5, 1, 28, 50000, 1, "dev", 0),
            tsv(4, 35, "another one", 79, 1, 3, 1, 27, 25000, 2, "dev", 3),
        ],
    )
    gold = write(
        tmp_path / "goldstandard_dev.tsv",
        [
            tsv(5.0, 4.0, "Sadness", 6, 6, 5, 4.5, 3.5, 5, 4.1, 4.9, 5),
            tsv(2.5, 2.0, "Neutral", 6, 6, 5, 4.5, 3.5, 5, 4.1, 4.9, 5),
        ],
    )
    frame = read_newsemp("NewsEmp23", "dev", dev, gold=gold)
    assert frame["essay_id"].tolist() == ["1_68", "4_79"]
    assert frame["crowd"].tolist() == [5.0, 2.5]
    labelled = attach_released(frame, "NewsEmp23", "dev")
    assert labelled["gpt4o"].tolist() == [6.2, 6.5]


@pytest.fixture
def news24(tmp_path: Path) -> dict[str, Path]:
    train = write(
        tmp_path / "trac3_EMP_train.csv",
        [
            "conversation_id,article_id,person_id,person_essay,person_empathy,person_distress",
            '1,35,p019,"Sad, and I said \\"no\\" to it.",5.0,3.0',
            "2,35,p035,Another essay,6.2,4.1",
            "3,35,p024,A third essay,1.0,1.0",
            "7,213,p019,A fourth essay,2.0,1.0",
        ],
    )
    per = write(
        tmp_path / "trac4_PER_train.csv",
        [
            ",person_id,gender,education,race,age,income,personality_openess",
            "0,p019,1,6,1,35,60000,4.5",
            "1,p035,2,4,2,28,22000,3.0",
            "2,p024,5,7,6,50,90000,5.5",
            "3,p099,2,2,2,61,10000,2.0",
        ],
    )
    dev = write(
        tmp_path / "trac3_EMP_dev.csv",
        [
            "id,conversation_id,article_id,person_id,person_essay",
            "1,68,8,38,First dev essay",
            "2,72,9,65,Second dev essay",
        ],
    )
    return {"train": train, "per": per, "dev": dev}


def test_newsemp24_train_with_demographics(news24, mirror: Path):
    frame = read_newsemp("NewsEmp24", "train", news24["train"], demographics=news24["per"])
    assert frame.columns.tolist() == SCHEMA + DEMOGRAPHICS
    assert frame["essay_id"].tolist() == ["1_p019", "2_p035", "3_p024", "7_p019"]
    assert frame["writer_id"].tolist() == ["p019", "p035", "p024", "p019"]
    assert frame.loc[0, "essay"] == 'Sad, and I said "no" to it.'
    assert frame["crowd"].tolist() == [5.0, 6.2, 1.0, 2.0]
    assert frame["age"].tolist() == [35.0, 28.0, 50.0, 35.0]
    assert frame["gender"].tolist() == [1.0, 2.0, 5.0, 1.0]
    labelled = attach_released(frame, "NewsEmp24", "train")
    assert labelled.loc[:1, "gpt4o"].round(4).tolist() == [4.75, 5.8333]


def test_newsemp24_without_demographics_has_none(news24):
    frame = read_newsemp("NewsEmp24", "train", news24["train"])
    assert frame.columns.tolist() == SCHEMA


def test_person_missing_from_per_file(news24):
    lines = [line for line in news24["per"].read_text().splitlines() if "p035" not in line]
    per = write(news24["per"].with_name("per_short.csv"), lines)
    with pytest.raises(DataFileError) as err:
        read_newsemp("NewsEmp24", "train", news24["train"], demographics=per)
    message = str(err.value)
    assert "1 (p035) person_id(s)" in message and str(per) in message


def test_newsemp24_dev_with_headerless_gold(news24, tmp_path: Path, mirror: Path):
    gold = write(tmp_path / "gold.tsv", [tsv(4.5, 3.0), tsv(2.0, 1.0)])
    frame = read_newsemp("NewsEmp24", "dev", news24["dev"], gold=gold)
    assert frame["essay_id"].tolist() == ["68_38", "72_65"]
    assert frame["crowd"].tolist() == [4.5, 2.0]
    labelled = attach_released(frame, "NewsEmp24", "dev")
    assert labelled.columns[-3:].tolist() == ["gpt4o", "llama3_70b", "llama3_70b_plain"]
    assert labelled.loc[0, "llama3_70b_plain"] == 6.5


def test_newsemp24_gold_with_header_is_joined_by_ids(news24, tmp_path: Path):
    gold = write(
        tmp_path / "goldstandard_EMP_dev.csv",
        ["conversation_id,person_id,person_empathy,person_distress", "72,65,2.0,1.0", "68,38,4.5,3.0"],
    )
    frame = read_newsemp("NewsEmp24", "dev", news24["dev"], gold=gold)
    assert frame["crowd"].tolist() == [4.5, 2.0]


def test_labels_in_file_and_gold_given_is_refused(news24, tmp_path: Path):
    gold = write(tmp_path / "gold.tsv", [tsv(4.5), tsv(2.0), tsv(1.0), tsv(1.0)])
    with pytest.raises(DataFileError, match="has its own person_empathy column"):
        read_newsemp("NewsEmp24", "train", news24["train"], gold=gold)


# ---------------------------------------------------------------- attach_released


def test_attach_released_strict_names_missing_ids(mirror: Path):
    frame = pd.DataFrame({"essay_id": ["1_68", "999_1"], "crowd": [5.0, 4.0]})
    expected = r"1 \(999_1\) essay\(s\) have no released NewsEmp23 dev"
    with pytest.raises(DataFileError, match=expected):
        attach_released(frame, "NewsEmp23", "dev")
    loose = attach_released(frame, "NewsEmp23", "dev", strict=False)
    assert loose["gpt4o"].tolist()[0] == 6.2 and np.isnan(loose["gpt4o"].tolist()[1])
    assert loose["crowd"].tolist() == [5.0, 4.0]


def test_attach_released_replaces_existing_labels(mirror: Path):
    frame = pd.DataFrame({"essay_id": ["4_79", "1_68"], "gpt4o": [1.0, 1.0]}, index=[10, 20])
    labelled = attach_released(frame, "NewsEmp23", "dev")
    assert labelled.index.tolist() == [10, 20]
    assert labelled["gpt4o"].tolist() == [6.5, 6.2]
    assert labelled.columns.tolist() == ["essay_id", "gpt4o", "llama3_70b"]


def test_attach_released_needs_essay_id():
    with pytest.raises(DataFileError, match="no essay_id column"):
        attach_released(pd.DataFrame({"id": [1]}), "NewsEmp23", "dev")
