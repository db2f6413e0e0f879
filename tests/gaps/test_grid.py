from __future__ import annotations

import itertools

import pandas as pd
import pytest

from empathylab.errors import EmpathylabError
from empathylab.gaps import design


@pytest.fixture
def narratives() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "emotion": ["joy", "fear", "guilt"],
            "item_id": [11, 22, 33],
            "generated_text": ["a", "b", "c"],
            "first_person_text": ["a1", "b1", "c1"],
            "third_person_text": ["a3", "b3", "c3"],
        }
    )


def test_grid_covers_every_cell_once(narratives):
    prompts = list(design.grid(narratives, "religion", "origin"))
    assert len(prompts) == design.grid_size(3, "religion") == 6 * 6 * 3
    keys = {(p.perceiver, p.experiencer, p.item_id) for p in prompts}
    assert len(keys) == len(prompts)
    assert len({p.prompt_id for p in prompts}) == len(prompts)


def test_prompt_ids_are_stable_across_subsets_and_runs(narratives):
    full = {
        (p.perceiver, p.experiencer, p.item_id): p.prompt_id
        for p in design.grid(narratives, "religion", "origin")
    }
    subset = list(design.grid(narratives.iloc[1:], "religion", "origin", ["a Jew", "a Hindu"]))
    assert all(full[p.perceiver, p.experiencer, p.item_id] == p.prompt_id for p in subset)
    other = next(design.grid(narratives, "religion", "10-scale"))
    assert other.prompt_id != full[other.perceiver, other.experiencer, other.item_id]


def test_the_grid_is_lazy(narratives):
    big = pd.concat([narratives] * 2000, ignore_index=True)
    it = design.grid(big, "nationality", "origin")
    assert next(it).perceiver == "a person"  # no list of 2.9 million prompts was built


@pytest.mark.parametrize("n", [1, 3, 4, 7])
def test_shards_are_disjoint_and_complete(narratives, n):
    everything = [p.prompt_id for p in design.grid(narratives, "religion", "origin")]
    parts = []
    for k in range(1, n + 1):
        chunks = design.chunks(design.grid(narratives, "religion", "origin"), 10, design.Shard(k, n))
        parts.append([p.prompt_id for _, chunk in chunks for p in chunk])
    flat = list(itertools.chain(*parts))
    assert sorted(flat) == sorted(everything)
    assert len(set(flat)) == len(flat)


@pytest.mark.parametrize("text", ["3/2", "0/2", "1/0", "a/b", "2", "1/2/3", "-1/2"])
def test_bad_shards_are_refused(text):
    with pytest.raises(EmpathylabError, match="use k/N"):
        design.parse_shard(text)


def test_unknown_identity_lists_valid(narratives):
    with pytest.raises(EmpathylabError, match="valid: a person, a Christian"):
        list(design.grid(narratives, "religion", "origin", ["a Jedi"]))


@pytest.mark.parametrize("size", [1, 7, 50, 1000])
def test_a_chunk_computed_from_its_position_equals_the_enumerated_one(narratives, size):
    people = ["a person", "a Jew", "a Muslim", "a Hindu"]
    for variation in ("origin", "3-person"):
        enumerated = list(design.chunks(design.grid(narratives, "religion", variation, people), size))
        direct = [
            design.grid_chunk(narratives, "religion", variation, people, size, i)
            for i in range(len(enumerated))
        ]
        assert direct == [chunk for _, chunk in enumerated]
        assert design.grid_chunk(narratives, "religion", variation, people, size, len(enumerated)) == []
