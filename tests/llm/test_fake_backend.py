"""The registered fake backend: seeded, instant, with a planted in-group effect and refusals."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from empathylab import gaps
from empathylab.cli import main
from empathylab.gaps.reading import parse_many
from empathylab.llm import Request, backend_options, load_backend
from empathylab.llm.fake_backend import REFUSAL, FakeBackend
from empathylab.profiles import load_profile

ASK = "Rate the intensity on a scale from 0 (not at all) to 100 (extremely)."


def _requests(n: int, in_group: bool = False) -> list[Request]:
    return [Request(ASK, f"story {i}", tags={"in_group": in_group}) for i in range(n)]


def test_it_is_registered_and_reads_its_options_from_the_llm_section():
    profile = load_profile("demo", llm={"backend": "fake", "fake": {"refusal_rate": 0.2}})
    backend = load_backend("fake", "fake", **backend_options(profile))
    assert isinstance(backend, FakeBackend) and backend.refusal_rate == 0.2 and backend.seed == profile.seed


def test_answers_are_seeded_and_deterministic():
    a, b, other = FakeBackend(seed=1), FakeBackend(seed=1), FakeBackend(seed=2)
    asked = _requests(50)
    assert a.generate(asked) == b.generate(asked) != other.generate(asked)
    np.testing.assert_array_equal(a.score(asked, 10), b.score(asked, 10))


def test_the_distribution_sums_to_one_and_centres_on_the_generated_answer():
    fake = FakeBackend(seed=0)
    probs = fake.score(_requests(20), 100)
    assert probs.shape == (20, 101) and np.allclose(probs.sum(axis=1), 1)
    expected = probs @ np.arange(101)
    answered = np.array([float(x) for x in fake.generate(_requests(20))])
    assert np.abs(expected - answered).max() < 1.0


@pytest.mark.parametrize("effect", [0.0, 0.1, -0.1])
def test_the_planted_effect_moves_in_group_answers_by_that_share_of_the_scale(effect):
    fake = FakeBackend(seed=0, in_group_effect=effect, noise=0.05)
    scale = np.arange(101)
    out_mean = (fake.score(_requests(200), 100) @ scale).mean()
    in_mean = (fake.score(_requests(200, in_group=True), 100) @ scale).mean()
    assert in_mean - out_mean == pytest.approx(100 * effect, abs=0.5)


def test_the_refusal_rate_is_honoured_and_read_as_refusals_by_part_one():
    answers = FakeBackend(seed=0, refusal_rate=0.3).generate(_requests(1000))
    share = np.mean([a == REFUSAL for a in answers])
    assert 0.25 < share < 0.35
    statuses = parse_many(answers, 100)["status"]
    assert (statuses == "refusal").mean() == share


def test_several_numbers_when_the_request_asks_for_several():
    ask = "provide scores between 1.0 and 7.0 for each of the six emotions"
    [answer] = FakeBackend(seed=0).generate([Request("", ask, tags={"count": 6})])
    numbers = [float(x) for x in answer.split(",")]
    assert len(numbers) == 6 and all(1 <= x <= 7 for x in numbers)


def test_bad_settings_get_one_clear_message():
    with pytest.raises(ValueError, match="refusal_rate and noise in"):
        FakeBackend(refusal_rate=2)


def test_a_fake_run_of_the_demo_design_finds_the_planted_gap(mirror, tmp_path, capsys):
    """``gaps run --backend fake`` answers the demo design in seconds; the analysis finds δ."""
    profile = tmp_path / "fake.yaml"
    demo = load_profile("demo").model_dump()
    demo.update(name="fake", output_dir=str(tmp_path / "results"))
    demo["llm"]["fake"] = {"in_group_effect": 0.1, "refusal_rate": 0.0, "noise": 0.15}
    profile.write_text(yaml.safe_dump(demo))
    assert main(["gaps", "run", "--profile", str(profile), "--backend", "fake"]) == 0
    rows = gaps.read_results(tmp_path / "results" / "gaps")
    assert len(rows) > 0 and set(rows["backend"]) == {"fake"}
    runs = gaps.analyze(rows, n_permutations=200, n_boot=0)
    assert len(runs) == 3
    assert all(r["delta"] > 0 and r["significant"] for r in runs)
