"""LLM empathy labels (Part II): prompts word for word, the parser, the resumable store."""

from __future__ import annotations

import math
import re
import time

import pandas as pd
import pytest
from conftest import ROOT

from empathylab.errors import EmpathylabError
from empathylab.llm import Backend
from empathylab.llm.store import read_metadata
from empathylab.llmpathy.labels import (
    LABEL_COLUMNS,
    PROMPTS,
    label_requests,
    parse_label,
    parse_labels,
    read_labels,
    run_labels,
)

SPEC = ROOT.parent / "shared" / "SPEC.md"


# ---------------------------------------------------------------------- prompts


def _spec_prompts() -> dict[tuple[str, str], str]:
    if not SPEC.is_file():
        pytest.skip("shared/SPEC.md is not beside the checkout")
    text = SPEC.read_text(encoding="utf-8")
    part2 = text[text.index("## Part II") :]
    quoted = re.findall(r"^- (system|user), (scale-aware|plain): (``?)(.+)\3$", part2, flags=re.M)
    return {(role, name): body.replace("\\n", "\n") for role, name, _, body in quoted}


def test_prompts_match_the_spec_word_for_word():
    spec = _spec_prompts()
    assert set(spec) == {("system", "scale-aware"), ("user", "scale-aware"), ("user", "plain")}
    assert PROMPTS["scale-aware"] == (spec["system", "scale-aware"], spec["user", "scale-aware"])
    assert PROMPTS["plain"][1] == spec["user", "plain"]


def test_plain_system_prompt_is_the_scale_aware_one_without_its_second_sentence():
    sentences = _spec_prompts()["system", "scale-aware"].split(". ")
    assert PROMPTS["plain"][0] == ". ".join(sentences[:1] + sentences[2:])
    assert "Batson" not in PROMPTS["plain"][0]


def test_user_prompt_puts_the_essay_between_backticks_and_a_newline():
    for prompt in PROMPTS:
        assert "  " not in "".join(PROMPTS[prompt])  # stray indentation reduced to single spaces
        [request] = label_requests(["A {braced} essay."], prompt)
        assert request.system == PROMPTS[prompt][0]
        assert request.user.startswith("Essay: ```A {braced} essay.\n``` Now, provide ")


def test_unknown_prompt_names_the_valid_ones():
    with pytest.raises(ValueError, match="'scale-aware', 'plain'|scale-aware, plain"):
        label_requests(["x"], "scale_aware")
    with pytest.raises(ValueError, match="scale-aware, plain"):
        parse_label("5", "nope")


# ---------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    "text, expected",
    [
        ("5, 6, 4.5, 7, 6, 5", 33.5 / 6),
        ("Scores: 5,6,4,7,6,5", 5.5),
        ("5.0,6.0,4.0,7.0,6.0,5.0", 5.5),
        ("Here are my scores:\n5.0, 6.0, 4.0,\n7.0, 6.0, 5.0\nThank you.", 5.5),
        ("1.0, 1.0, 1.0, 1.0, 1.0, 1.0", 1.0),
        ("7,7,7,7,7,7.", 7.0),
        ("5, 6, 4, 7, 6", None),  # five numbers
        ("5, 6, 4, 7, 6, 5, 3", None),  # seven
        ("8,8,8,8,8,8", None),  # out of range
        ("0.5, 6, 4, 7, 6, 5", None),
        ("-5, 6, 4, 7, 6, 5", None),
        ("The essay shows deep sympathy.", None),
        ("", None),
        ("5.5", None),
    ],
)
def test_parse_scale_aware(text, expected):
    got = parse_label(text, "scale-aware")
    assert got == pytest.approx(expected, abs=1e-12) if expected is not None else got is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("5", 5.0),
        ("4.5", 4.5),
        ("Empathy score: 6.0\n", 6.0),
        ("  1.0  ", 1.0),
        ("7.0.", 7.0),
        ("5, 6", None),
        ("5, 6, 4.5, 7, 6, 5", None),
        ("8", None),
        ("0.9", None),
        ("I would say 5 out of 7", None),
        ("high empathy", None),
    ],
)
def test_parse_plain(text, expected):
    got = parse_label(text, "plain")
    assert got == pytest.approx(expected, abs=1e-12) if expected is not None else got is None


def test_parse_labels_is_a_frame_of_labels_and_validity():
    frame = parse_labels(["2,2,2,2,2,2", "nothing", "1,2,3,4,5,6"], "scale-aware")
    assert frame["valid"].tolist() == [True, False, True]
    assert frame["label"].tolist()[::2] == [2.0, 3.5] and math.isnan(frame["label"][1])


# ---------------------------------------------------------------------- running


class Scripted(Backend):
    """Answers from a dict ``essay -> [answer on 1st ask, on 2nd ask, ...]``; counts asks."""

    name = "scripted"

    def __init__(self, answers: dict[str, list[str]], fail_after: int | None = None) -> None:
        self.answers = answers
        self.asked: list[str] = []
        self.calls = 0
        self.fail_after = fail_after

    def generate(self, requests, max_new_tokens=128, stop=None):
        self.calls += 1
        out = []
        for r in requests:
            if self.fail_after is not None and len(self.asked) >= self.fail_after:
                raise RuntimeError("killed")
            essay = r.user[len("Essay: ```") : r.user.index("\n``` ")]
            script = self.answers.get(essay, ["no idea"])
            out.append(script[min(self.asked.count(essay), len(script) - 1)])
            self.asked.append(essay)
        return out

    def score(self, requests, scale):
        raise NotImplementedError

    def info(self):
        return {"backend": self.name, "model": "scripted-model"}


def _essays(n: int) -> pd.DataFrame:
    return pd.DataFrame({"essay_id": [f"e{i}" for i in range(n)], "essay": [f"essay {i}" for i in range(n)]})


def _run(essays, backend, out, **kw):
    kw = {"prompt": "scale-aware", "model": "m", "progress": False, **kw}
    return run_labels(essays, backend, out_dir=out, **kw)


def test_valid_answers_are_stored_with_their_labels(tmp_path):
    essays = _essays(3)
    backend = Scripted(
        {"essay 0": ["5, 6, 4.5, 7, 6, 5"], "essay 1": ["1,1,1,1,1,1"], "essay 2": ["Scores: 5,6,4,7,6,5"]}
    )
    frame = _run(essays, backend, tmp_path, chunk_size=2)
    assert list(frame.columns) == list(LABEL_COLUMNS)
    assert frame["essay_id"].tolist() == ["e0", "e1", "e2"]
    assert frame["label"].tolist() == pytest.approx([33.5 / 6, 1.0, 5.5])
    assert frame["attempts"].tolist() == [1, 1, 1] and frame["valid"].all()
    assert frame["raw"].tolist() == [["5, 6, 4.5, 7, 6, 5"], ["1,1,1,1,1,1"], ["Scores: 5,6,4,7,6,5"]]
    assert set(frame["prompt"]) == {"scale-aware"} and set(frame["model"]) == {"m"}
    pd.testing.assert_frame_equal(read_labels(tmp_path), frame)
    assert len(list((tmp_path / "m" / "scale-aware").glob("chunk-*.parquet"))) == 2


def test_an_invalid_answer_is_asked_once_more_then_stored_as_missing_with_its_answers(tmp_path):
    essays = _essays(3)
    backend = Scripted(
        {"essay 0": ["I feel", "still prose"], "essay 1": ["5,5,5,5,5", "4,4,4,4,4,4"], "essay 2": ["3"]}
    )
    frame = _run(essays, backend, tmp_path)
    assert frame["attempts"].tolist() == [2, 2, 2]
    assert frame["valid"].tolist() == [False, True, False]
    assert math.isnan(frame["label"][0]) and frame["label"][1] == 4.0
    assert frame["raw"].tolist() == [["I feel", "still prose"], ["5,5,5,5,5", "4,4,4,4,4,4"], ["3", "3"]]
    assert sorted(backend.asked) == sorted(["essay 0", "essay 1", "essay 2"] * 2)


def test_retries_zero_asks_once(tmp_path):
    backend = Scripted({"essay 0": ["?", "6"]})
    frame = _run(_essays(1), backend, tmp_path, prompt="plain", retries=0)
    assert frame["attempts"].tolist() == [1] and not frame["valid"][0] and backend.asked == ["essay 0"]


def test_a_finished_run_asks_the_backend_nothing(tmp_path):
    essays = _essays(5)
    first = _run(essays, Scripted({}), tmp_path, chunk_size=2)
    again = Scripted({})
    pd.testing.assert_frame_equal(_run(essays, again, tmp_path, chunk_size=2), first)
    assert again.calls == 0 and again.asked == []


def test_kill_then_resume_equals_an_uninterrupted_run(tmp_path):
    essays = _essays(10)
    answers = {f"essay {i}": [f"{1 + i % 7}" if i % 3 else "nope"] for i in range(10)}
    kw = {"prompt": "plain", "chunk_size": 4, "batch_size": 3}
    straight = _run(essays, Scripted(answers), tmp_path / "straight", **kw)

    killed = Scripted(answers, fail_after=6)  # dies inside the second chunk
    with pytest.raises(RuntimeError, match="killed"):
        _run(essays, killed, tmp_path / "resumed", **kw)
    partial = read_labels(tmp_path / "resumed")
    assert partial["essay_id"].tolist() == ["e0", "e1", "e2", "e3"]

    resumed = Scripted(answers)
    frame = _run(essays, resumed, tmp_path / "resumed", **kw)
    pd.testing.assert_frame_equal(frame, straight)
    assert not {"essay 0", "essay 1", "essay 2", "essay 3"} & set(resumed.asked)
    assert not list((tmp_path / "resumed").rglob(".chunk-*"))


def test_a_store_of_another_design_is_refused_and_left_unchanged(tmp_path):
    essays = _essays(3)
    _run(essays, Scripted({}), tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    for change in ({"max_new_tokens": 32}, {"retries": 0}, {"chunk_size": 2}):
        backend = Scripted({})
        with pytest.raises(EmpathylabError, match="different design"):
            _run(essays, backend, tmp_path, **change)
        assert backend.calls == 0
    with pytest.raises(EmpathylabError, match="essays_sha256"):
        _run(_essays(4), Scripted({}), tmp_path)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    # another prompt or model is another folder, not a conflict
    _run(essays, Scripted({}), tmp_path, prompt="plain")
    assert set(read_labels(tmp_path)["prompt"]) == {"scale-aware", "plain"}


@pytest.mark.parametrize(
    "frame, message",
    [
        (pd.DataFrame({"id": ["a"], "essay": ["x"]}), "essay_id"),
        (pd.DataFrame({"essay_id": ["a"], "text": ["x"]}), "lack the column.*essay"),
        (pd.DataFrame({"essay_id": ["a", "a"], "essay": ["x", "y"]}), "duplicate essay_id.*'a'"),
        (pd.DataFrame({"essay_id": ["a", "b"], "essay": ["x", None]}), "without text.*'b'"),
    ],
)
def test_bad_essays_raise_a_clear_error_and_write_nothing(tmp_path, frame, message):
    backend = Scripted({})
    with pytest.raises(ValueError, match=message):
        _run(frame, backend, tmp_path / "out")
    assert backend.calls == 0 and not (tmp_path / "out").exists()


def test_unknown_prompt_is_refused_before_asking(tmp_path):
    with pytest.raises(ValueError, match="valid prompts: scale-aware, plain"):
        _run(_essays(1), Scripted({}), tmp_path, prompt="fancy")


def test_chunks_carry_provenance(tmp_path):
    _run(_essays(2), Scripted({}), tmp_path)
    [chunk] = tmp_path.rglob("chunk-*.parquet")
    meta = read_metadata(chunk)
    assert meta["backend"] == "scripted" and meta["model"] == "scripted-model"
    assert meta["prompt"] == "scale-aware" and len(meta["prompt_sha256"]) == 16
    assert {"empathylab_version", "chunk", "written"} <= set(meta)


def test_progress_bar_counts_essays_and_can_be_turned_off(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    _run(_essays(2), Scripted({}), tmp_path / "a", progress=True)
    assert "essay/s" in capsys.readouterr().err
    _run(_essays(2), Scripted({}), tmp_path / "b", progress=False)
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("TQDM_DISABLE", "1")
    _run(_essays(2), Scripted({}), tmp_path / "c", progress=True)
    assert capsys.readouterr().err == ""


def test_read_labels_of_an_empty_folder_says_what_to_run(tmp_path):
    with pytest.raises(EmpathylabError, match="empathylab labels run"):
        read_labels(tmp_path)


# ---------------------------------------------------------------------- a real model


@pytest.mark.slow
@pytest.mark.parametrize("prompt", ["plain", "scale-aware"])
def test_embedded_gemma_labels_two_public_essays(tmp_path, mirror, prompt, gemma):
    from empathylab.data import load_essays

    essays = load_essays().rename(columns={"message_id": "essay_id"}).head(2)
    start = time.perf_counter()
    frame = run_labels(
        essays,
        gemma,
        prompt=prompt,
        out_dir=tmp_path,
        model="embedded:gemma-3-270m",
        max_new_tokens=48,
        batch_size=2,
        progress=False,
    )
    seconds = time.perf_counter() - start
    print(f"\n{prompt}: {seconds / len(essays):.1f} s/essay, {frame['valid'].mean():.0%} parsed")
    assert frame["essay_id"].tolist() == essays["essay_id"].tolist()
    assert all(len(r) == n and all(r) for r, n in zip(frame["raw"], frame["attempts"]))
    assert frame["label"].isna().all() or frame["label"].dropna().between(1, 7).all()
    assert (frame["valid"] == frame["label"].notna()).all()
    assert len(read_labels(tmp_path)) == 2


@pytest.fixture(scope="module")
def gemma():
    from empathylab.llm import load_backend

    backend = load_backend("transformers", "embedded:gemma-3-270m", device="cpu", batch_size=2)
    yield backend
    backend.close()


def test_the_authors_label_rule_is_laxer_in_count_and_range_and_stricter_on_text():
    from empathylab.llmpathy.labels import parse_label

    assert parse_label("5, 6, 4, 7, 6, 5", "scale-aware", "authors") == pytest.approx(5.5)
    assert parse_label("9, 9", "scale-aware", "authors") == 9.0  # any count, any range
    assert parse_label("9, 9", "scale-aware") is None
    assert parse_label("Scores: 5, 6, 4, 7, 6, 5", "scale-aware", "authors") is None  # text fails
    assert parse_label("Scores: 5, 6, 4, 7, 6, 5", "scale-aware") == pytest.approx(5.5)
    assert parse_label("nan", "plain", "authors") is None
    with pytest.raises(ValueError, match="valid: strict, authors"):
        parse_label("4", "plain", "lenient")
