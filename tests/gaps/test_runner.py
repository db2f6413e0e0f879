from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import tiny_profile

from empathylab.cli import main
from empathylab.errors import EmpathylabError
from empathylab.gaps import design
from empathylab.gaps.reading import parse_many
from empathylab.gaps.rows import COLUMNS, read_results
from empathylab.gaps.runner import plan_run, plan_second_readout, run_gaps
from empathylab.llm.fake_backend import FakeBackend
from empathylab.llm.store import read_metadata
from empathylab.profiles import load_profile


class CountingFake(FakeBackend):
    """The registered fake backend (a tenth of generate answers refused), counting what it is asked."""

    asked: list[str] = []

    def score(self, requests, scale):
        CountingFake.asked += [r.user for r in requests]
        return super().score(requests, scale)

    def generate(self, requests, max_new_tokens=128, stop=None):
        CountingFake.asked += [r.user for r in requests]
        return super().generate(requests, max_new_tokens, stop)


class OffScaleFake(FakeBackend):
    """Answers on 0..120 whatever the scale, as a model that ignores it would."""

    def generate(self, requests, max_new_tokens=128, stop=None):
        return [str(round(120 * self._mean(r))) for r in requests]


def fake(name, model, **options):
    return CountingFake(model, seed=0, refusal_rate=0.1)


@pytest.fixture
def profile(tmp_path, mirror) -> Path:
    return tiny_profile(tmp_path)


def test_a_run_stores_one_row_per_prompt_with_provenance(profile):
    plan = plan_run(profile, check_model=False)
    summary = run_gaps(plan, progress=False, make_backend=fake)
    assert summary.loc[0, "prompts"] == summary.loc[0, "answered"] == 3 * 3 * 12
    rows = read_results(plan.root)
    assert list(rows.columns) == list(COLUMNS) and rows["prompt_id"].is_unique
    assert len(rows) == 108 and set(rows.status) == {"ok"}
    assert rows.intensity.between(0, 100).all() and np.allclose(rows.p_valid, 1.0)
    meta = read_metadata(next(plan.root.rglob("chunk-*.parquet")))
    assert meta["backend"] == "fake" and meta["profile"] == "tiny" and meta["template_hash"]
    assert meta["refusal_rate"] == "0.1"  # the backend's own provenance is stored too


def test_generate_readout_keeps_responses_and_statuses(profile):
    plan = plan_run(profile, readout="generate", check_model=False)
    run_gaps(plan, progress=False, make_backend=fake)
    rows = read_results(plan.root)
    assert {"ok", "refusal", "invalid"} >= set(rows.status) and "refusal" in set(rows.status)
    assert rows.response.notna().all() and rows.loc[rows.status != "ok", "intensity"].isna().all()


def test_shards_add_up_to_the_whole_run(profile, tmp_path):
    whole = plan_run(profile, out=tmp_path / "whole", check_model=False)
    run_gaps(whole, progress=False, make_backend=fake)
    for k in (1, 2, 3):
        run_gaps(
            plan_run(profile, out=tmp_path / "sharded", shard=f"{k}/3", check_model=False),
            progress=False,
            make_backend=fake,
        )
    pd.testing.assert_frame_equal(read_results(tmp_path / "whole"), read_results(tmp_path / "sharded"))


def test_a_second_run_asks_nothing(profile):
    plan = plan_run(profile, check_model=False)
    run_gaps(plan, progress=False, make_backend=fake)
    CountingFake.asked.clear()
    summary = run_gaps(plan, progress=False, make_backend=fake)
    assert CountingFake.asked == [] and summary.loc[0, "stored_before"] == 108


def test_a_store_of_another_design_is_refused_and_untouched(profile):
    plan = plan_run(profile, check_model=False)
    run_gaps(plan, progress=False, make_backend=fake)
    before = {p: p.read_bytes() for p in plan.root.rglob("*") if p.is_file()}
    with pytest.raises(EmpathylabError, match="different design.*narratives"):
        plan_run(profile, items_per_emotion=2, check_model=False)
    assert before == {p: p.read_bytes() for p in plan.root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--grouping", "religon"], "unknown grouping(s) religon; valid: religion, ethnicity, nationality"),
        (["--variation", "persona-9"], "valid: origin, persona-1"),
        (["--backend", "vlm"], "'transformers', 'vllm', 'openai' or 'fake'"),
        (["--readout", "logits"], "'distribution' or 'generate'"),
        (["--shard", "3/2"], "use k/N"),
        (["--model", "no-such-org/no-such-model"], "'no-such-org/no-such-model' was not found"),
        (["--model", "./missing-folder"], "does not exist"),
        (["--backend", "openai", "--model", "m"], "unreachable"),
    ],
)
def test_bad_input_stops_with_one_message_before_anything_is_written(
    profile, tmp_path, capsys, args, message
):
    data = yaml.safe_load(profile.read_text())
    data["llm"] = {"api": {"base_url": "http://127.0.0.1:9/v1", "timeout": 2}}
    profile.write_text(yaml.safe_dump(data))
    code = main(["gaps", "run", "--profile", str(profile), "--out", str(tmp_path / "out"), *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.startswith("empathylab: error:")
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_kill_9_then_resume_gives_the_same_store_as_an_uninterrupted_run(profile, tmp_path):
    """A real run of the embedded model, killed with SIGKILL mid-way and started again."""
    cli = [sys.executable, "-m", "empathylab.cli", "gaps", "run", "--profile", str(profile)]
    env = {**os.environ, "TQDM_DISABLE": "1"}
    subprocess.run([*cli, "--out", str(tmp_path / "straight")], check=True, env=env, capture_output=True)

    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [*cli, "--out", str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 300
    while len(list(out.rglob("chunk-*.parquet"))) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored = len(list(out.rglob("chunk-*.parquet")))
    assert 3 <= stored < 11, "the run must be killed part-way"
    done = subprocess.run([*cli, "--out", str(out)], check=True, env=env, capture_output=True, text=True)
    assert f"{stored * 10}" in done.stdout  # stored_before: nothing answered twice
    pd.testing.assert_frame_equal(read_results(tmp_path / "straight"), read_results(out))
    assert not list(out.rglob(".chunk-*"))  # no temporary file left behind


def _design_as_before(plan, model, variation, grouping):
    """The store fingerprint as it was built before the reading range existed."""
    gaps, llm = plan.profile.gaps, plan.profile.llm
    items = ",".join(f"{e}:{i}" for e, i in zip(plan.narratives["emotion"], plan.narratives["item_id"]))
    return {
        "model": model,
        "backend": llm.backend,
        "readout": gaps.readout,
        "variation": variation,
        "grouping": grouping,
        "identities": plan.people(grouping),
        "narratives": len(plan.narratives),
        "narratives_sha256": hashlib.sha256(items.encode()).hexdigest()[:16],
        "chunk_size": gaps.chunk_size,
        "batch_size": llm.batch_size,
        "template_hash": design.template_hash(),
        "max_new_tokens": gaps.max_new_tokens if gaps.readout == "generate" else None,
    }


@pytest.mark.parametrize("readout", ["distribution", "generate"])
@pytest.mark.parametrize("variation", ["origin", "10-scale"])
def test_the_default_reading_keeps_every_fingerprint(profile, readout, variation):
    plan = plan_run(profile, readout=readout, variations=[variation], check_model=False)
    model = plan.profile.models.causal_lm[0]
    expected = json.loads(json.dumps(_design_as_before(plan, model, variation, "religion"), sort_keys=True))
    assert plan.store(model, variation, "religion").design == expected


def test_the_authors_range_has_its_own_fingerprint_where_it_reads_differently(profile):
    scale = plan_run(profile, readout="generate", check_model=False)
    authors = plan_run(profile, readout="generate", reading_range="authors", check_model=False)
    model = scale.profile.models.causal_lm[0]
    ten = authors.store(model, "10-scale", "religion").design
    assert ten["reading_range"] == "authors"
    assert ten != scale.store(model, "10-scale", "religion").design
    # on the 100-point scale both ranges read alike, so the stores are shared
    assert (
        authors.store(model, "origin", "religion").design == scale.store(model, "origin", "religion").design
    )
    # the distribution readout never reads text: the range does not enter its fingerprint
    dist = plan_run(profile, reading_range="authors", check_model=False)
    assert "reading_range" not in dist.store(model, "10-scale", "religion").design


def test_a_run_under_the_authors_range_reads_and_is_kept_apart(profile):
    plan = plan_run(
        profile, readout="generate", reading_range="authors", variations=["10-scale"], check_model=False
    )
    run_gaps(plan, progress=False, make_backend=lambda name, model, **_: OffScaleFake(model, noise=0.4))
    rows = read_results(plan.root)
    assert rows.intensity.max() > 10 and rows.intensity.max() <= 100
    again = parse_many(rows.response, 10, "authors")
    assert np.array_equal(again.intensity, rows.intensity, equal_nan=True)
    scale = parse_many(rows.response, 10)
    assert (scale.status == "invalid").sum() > (rows.status == "invalid").sum()
    with pytest.raises(EmpathylabError, match="reading_range: stored 'authors', now None"):
        plan_run(profile, readout="generate", variations=["10-scale"], check_model=False)


def test_the_second_readout_plan(profile, tmp_path):
    plan = plan_second_readout("demo", out=tmp_path / "second", check_model=False)
    first = plan_run("demo", out=tmp_path / "first", check_model=False)
    assert plan.profile.gaps.readout == "generate" and plan.profile.gaps.second_readout == "distribution"
    assert plan.cells == [("origin", "religion")]
    pd.testing.assert_frame_equal(plan.narratives, first.narratives)
    assert plan_second_readout(profile, check_model=False) is None
    data = yaml.safe_load(profile.read_text())
    data["gaps"].update(
        readout="generate",
        second_readout="distribution",
        variations=["10-scale", "origin"],
        second_readout_groupings=["religion"],
    )
    profile.write_text(yaml.safe_dump(data))
    swapped = plan_second_readout(profile, check_model=False)
    assert swapped.profile.gaps.readout == "distribution" and swapped.cells == [("10-scale", "religion")]
    run_gaps(swapped, progress=False, make_backend=fake)
    assert set(read_results(swapped.root).readout) == {"distribution"}


def test_the_demo_plans_with_the_generate_readout(mirror, tmp_path):
    plan = plan_run("demo", readout="generate", out=tmp_path, check_model=False)
    assert plan.profile.gaps.readout == "generate" and plan.profile.gaps.second_readout == "distribution"
    assert plan_run("demo", readout="distribution", out=tmp_path, check_model=False).profile.gaps == (
        load_profile("demo").gaps
    )


def test_cli_gaps_run_passes_the_reading_range(profile, tmp_path, capsys, monkeypatch):
    import empathylab.gaps.runner

    seen = []
    monkeypatch.setattr(
        empathylab.gaps.runner, "run_gaps", lambda plan, **kw: seen.append(plan) or pd.DataFrame()
    )
    args = ["gaps", "run", "--profile", str(profile), "--out", str(tmp_path / "out"), "--readout", "generate"]
    assert main([*args, "--reading-range", "authors"]) == 0
    assert seen[0].profile.gaps.reading.range == "authors" and seen[0].profile.gaps.readout == "generate"
    assert (
        main(["gaps", "run", "--profile", "demo", "--readout", "generate", "--out", str(tmp_path / "demo")])
        == 0
    )
    assert seen[1].profile.gaps.readout == "generate"
    capsys.readouterr()
    assert main([*args, "--reading-range", "paper"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("empathylab: error:")
        and "gaps.reading.range: Input should be 'scale' or 'authors'" in err
    )
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_a_run_in_another_precision_does_not_resume_a_float32_store(profile):
    """A bfloat16 run once resumed a float32 folder (answers 0.09 apart on the 0–10 scale)."""
    plan = plan_run(profile, check_model=False)
    run_gaps(plan, progress=False, make_backend=fake)
    model = plan.profile.models.causal_lm[0]
    assert "dtype" not in plan.store(model, "origin", "religion").design  # float32 on a CPU, as before
    with pytest.raises(EmpathylabError, match=r"different design \(dtype: stored None, now 'bfloat16'\)"):
        plan_run(load_profile(profile, llm={"dtype": "bfloat16"}), out=plan.root, check_model=False)


def test_an_unfinished_run_is_called_unfinished_not_refused(profile, tmp_path, capsys):
    from empathylab import gaps
    from empathylab.gaps.rows import unfinished_runs

    plan = plan_run(
        profile, shard="1/3", check_model=False
    )  # chunks of 10 prompts: a third of each narrative
    run_gaps(plan, progress=False, make_backend=fake)
    left = unfinished_runs(plan.root)
    assert len(left) == 1 and left.loc[0, "expected"] == 108 and 0 < left.loc[0, "stored"] < 108
    with pytest.raises(EmpathylabError, match="the run is unfinished .* lack stored prompts"):
        gaps.analyze(read_results(plan.root), n_permutations=10, mixed=False)
    assert main(["gaps", "analyze", str(plan.root), "--permutations", "10", "--no-mixed"]) == 2
    err = capsys.readouterr().err
    assert (
        f"({left.loc[0, 'stored']} of 108 prompts stored)" in err and "refusal" not in err.split("note:")[-1]
    )
    for k in (2, 3):  # the other shards finish it: nothing is reported any more
        run_gaps(plan_run(profile, shard=f"{k}/3", check_model=False), progress=False, make_backend=fake)
    assert unfinished_runs(plan.root).empty
    assert main(["gaps", "analyze", str(plan.root), "--permutations", "10", "--no-mixed"]) == 0
    assert "note:" not in capsys.readouterr().err


def test_compared_models_answer_only_the_comparison_designs(tmp_path):
    from empathylab.gaps.anchor import plan_anchor
    from empathylab.gaps.experiments import intersectional_plan, perspective_plan
    from empathylab.gaps.runner import compared_plan, readout_pairs

    cfg = load_profile("demo", output_dir=str(tmp_path / "results"))
    compared = compared_plan(cfg, check_model=False)
    assert compared.profile.models.causal_lm == ["embedded:smollm2-135m-instruct"]
    assert (
        compared.cells == [("origin", "religion")] and compared.root == plan_run(cfg, check_model=False).root
    )
    # every other design of the book asks the main model only
    for plan in (
        plan_run(cfg, check_model=False),
        perspective_plan(cfg, check_model=False),
        intersectional_plan(cfg, check_model=False),
    ):
        assert plan.profile.models.causal_lm == ["embedded:gemma-3-270m"]
    # the human anchor and the readout comparison ask both
    anchor = plan_anchor(cfg, check_model=False)
    assert anchor.profile.models.causal_lm == ["embedded:gemma-3-270m", "embedded:smollm2-135m-instruct"]
    pairs = readout_pairs(cfg, variations=["origin", "10-scale"], check_model=False)
    assert [(a.profile.models.causal_lm, b.profile.gaps.readout, b.cells) for a, b in pairs] == [
        (["embedded:gemma-3-270m"], "generate", [("origin", "religion"), ("10-scale", "religion")]),
        (["embedded:smollm2-135m-instruct"], "generate", [("origin", "religion")]),
    ]
    # a compared model can be run on its own, on any design
    alone = plan_run(cfg, model="embedded:smollm2-135m-instruct", groupings=["ethnicity"], check_model=False)
    assert (
        alone.profile.models.causal_lm == ["embedded:smollm2-135m-instruct"]
        and not alone.profile.models.compared
    )
    # without compared models nothing changes
    plain = load_profile(cfg, models={"compared": []})
    assert compared_plan(plain, check_model=False) is None
    assert len(readout_pairs(plain, check_model=False)) == 1
    assert plan_anchor(plain, check_model=False).profile.models.causal_lm == ["embedded:gemma-3-270m"]


# ------------------------------------------------------------------ both readouts in one run


class PairFake(CountingFake):
    """Counts the prompts asked for both readouts at once."""

    together: list[tuple[str, str]] = []  # (system, user) of each prompt

    def score_and_generate(self, requests, scale, max_new_tokens=128, stop=None):
        PairFake.together += [(r.system, r.user) for r in requests]
        return super().score_and_generate(requests, scale, max_new_tokens, stop)


def pair_fake(name, model, **options):
    return PairFake(model, seed=0, refusal_rate=0.1)


def _readout_pair(profile, out):
    data = yaml.safe_load(profile.read_text())
    data["gaps"].update(second_readout="generate", second_readout_groupings=["religion"])
    profile.write_text(yaml.safe_dump(data))
    first = plan_run(profile, out=out, check_model=False)
    return first, plan_second_readout(profile, out=out, check_model=False)


def test_a_readout_pair_reads_each_prompt_once_with_the_answers_of_two_runs(profile, tmp_path):
    from empathylab.gaps.runner import run_pair

    pair = _readout_pair(profile, tmp_path / "pair")
    apart = _readout_pair(profile, tmp_path / "apart")
    for plan in apart:
        run_gaps(plan, progress=False, make_backend=fake)
    CountingFake.asked.clear()
    PairFake.together.clear()
    summary = run_pair(*pair, progress=False, make_backend=pair_fake)
    assert len(PairFake.together) == 108 and len(set(PairFake.together)) == 108  # each prompt once
    assert sorted(summary.readout) == ["distribution", "generate"] and (summary.answered == 108).all()
    for ours, theirs in zip(pair, apart):
        pd.testing.assert_frame_equal(ours.results(), theirs.results())
    CountingFake.asked.clear()
    again = run_pair(*pair, progress=False, make_backend=pair_fake)
    assert CountingFake.asked == [] and (again.stored_before == 108).all()


def test_a_readout_pair_with_one_readout_stored_asks_only_the_other(profile, tmp_path):
    from empathylab.gaps.runner import run_pair

    first, second = _readout_pair(profile, tmp_path / "pair")
    run_gaps(first, progress=False, make_backend=fake)
    text_store = next(second.store(m, v, g) for m in second.profile.models.causal_lm for v, g in second.cells)
    CountingFake.asked.clear()
    PairFake.together.clear()
    summary = run_pair(first, second, progress=False, make_backend=pair_fake)
    assert PairFake.together == [] and len(CountingFake.asked) == 108  # the text answers only
    assert summary.set_index("readout").answered.to_dict() == {"distribution": 0, "generate": 108}
    assert len(text_store.done()) == 11


def test_plans_that_are_not_a_readout_pair_run_one_after_the_other(profile, tmp_path):
    from empathylab.gaps.runner import run_pair

    first, _ = _readout_pair(profile, tmp_path / "pair")
    other = plan_second_readout(profile, out=tmp_path / "pair", max_narratives=6, check_model=False)
    PairFake.together.clear()
    summary = run_pair(first, other, progress=False, make_backend=pair_fake)
    assert PairFake.together == [] and summary.answered.tolist() == [108, 54]
