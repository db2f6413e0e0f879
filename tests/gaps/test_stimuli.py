from __future__ import annotations

import pandas as pd
import pytest

from empathylab.errors import EmpathylabError
from empathylab.gaps import stimuli


@pytest.fixture
def frame() -> pd.DataFrame:
    rows = [(e, i) for e, n in (("joy", 30), ("fear", 20), ("guilt", 2)) for i in range(n)]
    out = pd.DataFrame(rows, columns=["emotion", "item_id"])
    out["item_id"] += out.index * 100
    return out


def test_sample_is_reproducible_and_independent_of_row_order(frame):
    a = stimuli.sample_narratives(frame, 5, seed=1)
    b = stimuli.sample_narratives(frame.sample(frac=1, random_state=9), 5, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert a.groupby("emotion").size().to_dict() == {"fear": 5, "guilt": 2, "joy": 5}


def test_seeds_draw_different_samples(frame):
    drawn = {tuple(stimuli.sample_narratives(frame, 5, seed=s)["item_id"]) for s in range(5)}
    assert len(drawn) > 1


def test_none_keeps_everything_and_zero_is_refused(frame):
    assert len(stimuli.sample_narratives(frame, None)) == len(frame)
    with pytest.raises(EmpathylabError, match="positive"):
        stimuli.sample_narratives(frame, 0)


def test_lengths_and_summary_on_real_narratives(mirror):
    from empathylab.data import load_narratives

    narratives = load_narratives(["joy"])
    lengths = stimuli.text_lengths(narratives)
    assert len(lengths) == 3 * len(narratives)
    first = narratives.iloc[0]
    got = lengths[lengths["item_id"] == first["item_id"]].set_index("version")["words"]
    assert got["original"] == len(first["generated_text"].split())
    summary = stimuli.summary_by_emotion(narratives)
    assert summary.loc[0, "narratives"] == 550
    assert summary.loc[0, "original"] == float(narratives["generated_text"].str.split().str.len().median())
