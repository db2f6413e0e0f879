from __future__ import annotations

import math

import numpy as np
import pytest

from empathylab.gaps.reading import (
    READING_CHANGES,
    answer_bound,
    compare_readings,
    parse_many,
    parse_response,
    reading_changes,
    reading_is_final,
)
from empathylab.llm.trie import AnswerTrie, summarize_distribution


@pytest.mark.parametrize(
    "response, scale, expected",
    [
        ("50 (0 to 100)", 100, (50.0, "ok")),
        ("I can't rate this", 100, (math.nan, "refusal")),
        ("I cannot do that.", 100, (math.nan, "refusal")),
        ("I'm not rating emotions", 100, (math.nan, "refusal")),
        # the paper's rule: the first integer when it lies on the scale (here 0) ...
        ("On a scale of 0 to 100, 70", 100, (0.0, "ok")),
        # ... else the second
        ("150, I mean 70", 100, (70.0, "ok")),
        ("85.5", 100, (85.0, "ok")),
        ("", 100, (math.nan, "invalid")),
        ("very intense", 100, (math.nan, "invalid")),
        ("101", 100, (math.nan, "invalid")),
        ("11", 10, (math.nan, "invalid")),
        ("  7\nThe person", 10, (7.0, "ok")),
        ("-5", 100, (5.0, "ok")),
        ("abc123", 100, (math.nan, "invalid")),
    ],
)
def test_reading_rules(response, scale, expected):
    value, status = parse_response(response, scale)
    assert status == expected[1]
    assert (math.isnan(value) and math.isnan(expected[0])) or value == expected[0]


CONTINUATIONS = ["", "0", "5 and 9", "\n42", " out of 100", "00", ". 3", "'t"]


@pytest.mark.parametrize(
    "prefix, scale", [("57\n", 100), ("I cannot", 100), ("150, 7 ", 100), ("7.", 10), ("0 ", 100)]
)
def test_a_final_reading_survives_any_continuation(prefix, scale):
    assert reading_is_final(prefix, scale)
    assert len({str(parse_response(prefix + c, scale)) for c in CONTINUATIONS}) == 1


@pytest.mark.parametrize(
    "prefix, scale",
    [("57", 100), ("1", 10), ("150, 7", 100), ("I can", 100), ("On a scale of 0", 100), ("", 100)],
)
def test_a_reading_that_can_change_is_not_final(prefix, scale):
    assert not reading_is_final(prefix, scale)
    assert len({str(parse_response(prefix + c, scale)) for c in CONTINUATIONS}) > 1


class DigitTokenizer:
    """A toy tokenizer: every character is a token; ids 0-9 are the digits."""

    vocab = list("0123456789") + [" ", "x", ":", "\n", "7a"]

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [self.vocab.index(ch) for ch in text]}

    def convert_ids_to_tokens(self, ids):
        return [self.vocab[i] for i in ids]

    def __len__(self):
        return len(self.vocab)


def test_trie_of_a_digit_by_digit_tokenizer():
    trie = AnswerTrie.from_tokenizer(DigitTokenizer(), "x: ", 10)
    assert trie.answers[10] == (1, 0) and trie.answers[3] == (3,)
    assert trie.nodes == [(), (1,)]  # only "1" can be extended (to "10")
    assert sorted(trie.digit_start.tolist()) == list(range(10)) + [14]  # "7a" starts with a digit


def test_chained_probabilities_by_hand():
    trie = AnswerTrie.from_tokenizer(DigitTokenizer(), "x: ", 10)
    vocab = len(DigitTokenizer.vocab)
    root = np.full(vocab, 1e-12)
    root[[1, 5, 11]] = [0.6, 0.3, 0.1]  # "1", "5", "x"
    after_one = np.full(vocab, 1e-12)
    after_one[[0, 13, 14]] = [0.5, 0.3, 0.2]  # "10", stop ("\n"), "7a" continues
    probs = trie.answer_probabilities(np.log(np.stack([root, after_one])))
    assert probs[10] == pytest.approx(0.6 * 0.5)
    assert probs[1] == pytest.approx(0.6 * 0.3, rel=1e-6)  # stop after "1": not 0 and not "7a"
    assert probs[5] == pytest.approx(0.3)
    assert probs.sum() == pytest.approx(0.78, rel=1e-6)
    # the same with only the needed columns
    cols = trie.needed_tokens
    assert np.allclose(trie.answer_probabilities(np.log(np.stack([root, after_one]))[:, cols], cols), probs)


def test_summary_of_distributions():
    out = summarize_distribution([[0.0, 0.5, 0.5], [0.2, 0.0, 0.0]])
    assert out.intensity.tolist() == [1.5, 0.0]
    assert out.p_valid.tolist() == [1.0, 0.2] and out.argmax.tolist() == [1, 0]


@pytest.mark.parametrize(
    "response, scale, by_scale, by_authors",
    [
        ("85", 10, (math.nan, "invalid"), (85.0, "ok")),
        ("100", 10, (math.nan, "invalid"), (100.0, "ok")),
        ("101", 10, (math.nan, "invalid"), (math.nan, "invalid")),
        ("7", 10, (7.0, "ok"), (7.0, "ok")),
        # the first integer lies in [0, S]: both ranges take it
        ("On a scale of 0 to 10, 7", 10, (0.0, "ok"), (0.0, "ok")),
        # 12 is off the 10-point scale but within [0, 100]
        ("12 ... 7", 10, (7.0, "ok"), (12.0, "ok")),
        ("150, I mean 7", 10, (7.0, "ok"), (7.0, "ok")),
        ("150, I mean 70", 10, (math.nan, "invalid"), (70.0, "ok")),
        ("I cannot rate 85", 10, (math.nan, "refusal"), (math.nan, "refusal")),
        ("I'm not rating this", 100, (math.nan, "refusal"), (math.nan, "refusal")),
        ("no number", 10, (math.nan, "invalid"), (math.nan, "invalid")),
        # on the 100-point scale the two ranges are the same
        ("150, I mean 70", 100, (70.0, "ok"), (70.0, "ok")),
        ("101", 100, (math.nan, "invalid"), (math.nan, "invalid")),
    ],
)
def test_the_papers_range_and_the_authors_range(response, scale, by_scale, by_authors):
    for rule, expected in (("scale", by_scale), ("authors", by_authors)):
        value, status = parse_response(response, scale, rule)
        assert status == expected[1], rule
        assert (math.isnan(value) and math.isnan(expected[0])) or value == expected[0], rule


def test_the_default_reading_is_the_scale_range_and_unknown_ranges_are_refused():
    responses = ["85", "12 ... 7", "7", "I can't", ""]
    assert parse_many(responses, 10).equals(parse_many(responses, 10, "scale"))
    assert answer_bound(10) == 10 and answer_bound(10, "authors") == answer_bound(100, "authors") == 100
    with pytest.raises(ValueError, match="unknown reading range 'paper'; valid: scale, authors"):
        parse_response("7", 10, "paper")


@pytest.mark.parametrize("prefix", ["7\n", "12 7 ", "I cannot", "0 ", "150, 7 ", "85 or 9 "])
def test_stopping_where_the_scale_reading_is_final_fixes_the_authors_reading(prefix):
    # the runner stops generation with the [0, S] rule, whatever the reading range
    assert reading_is_final(prefix, 10)
    assert reading_is_final(prefix, 10, "authors")
    assert len({str(parse_response(prefix + c, 10, "authors")) for c in CONTINUATIONS}) == 1


def test_reading_is_final_earlier_under_the_authors_range():
    assert not reading_is_final("85 ", 10) and reading_is_final("85 ", 10, "authors")


def test_compare_readings_says_how_each_response_changes():
    out = compare_readings(["7", "85", "12 ... 7", "I cannot", "none", "101"], [10, 10, 10, 10, 10, 10])
    assert out.change.tolist() == [
        "same reading",
        "invalid by scale, an answer by authors",
        "different answer",
        "same reading",
        "same reading",
        "same reading",
    ]
    assert out.loc[1, "status_scale"] == "invalid" and out.loc[1, "intensity_authors"] == 85
    assert list(out.columns) == [
        "response",
        "scale",
        "intensity_scale",
        "status_scale",
        "intensity_authors",
        "status_authors",
        "change",
    ]
    with pytest.raises(ValueError, match="2 responses but 1 scales"):
        compare_readings(["7", "8"], [10])


def test_reading_changes_counts_every_kind():
    table = reading_changes(["7", "85", "12 ... 7", "I cannot", "70", "40 or 9"], 10)
    assert table.change.tolist() == list(READING_CHANGES)
    assert table.responses.tolist() == [2, 2, 0, 2]
    assert table.share.tolist() == pytest.approx([2 / 6, 2 / 6, 0, 2 / 6])
    # the 100-point scale: nothing changes; per-response scales mix both
    assert reading_changes(["85", "12 ... 7", "150 then 70"], 100).responses.tolist() == [3, 0, 0, 0]
    mixed = reading_changes(["85", "85"], [10, 100])
    assert mixed.responses.tolist() == [1, 1, 0, 0]
    empty = reading_changes([], 10)
    assert empty.responses.tolist() == [0, 0, 0, 0] and empty.share.isna().all()
