"""The Ray engine on a local Ray cluster (2 CPUs, no GPU): same store as a local run, under faults.

One local cluster serves the module; its workers find ``ray_helpers`` (slow and failing
fake backends) through ``PYTHONPATH``. Tests that kill the driver start their own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from empathylab.cli import main
from empathylab.errors import EmpathylabError
from empathylab.gaps.rows import read_results
from empathylab.gaps.runner import plan_run, run_gaps
from empathylab.llm.store import read_metadata, verify_chunk

ray = pytest.importorskip("ray")
import ray_helpers  # noqa: E402  (after the skip: it needs nothing of Ray, but only these tests use it)
from conftest import interrupt, tiny_profile  # noqa: E402

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster for the module (the engine uses a connection made by its caller)."""
    path = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]).strip(os.pathsep)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level="ERROR",
        runtime_env={"env_vars": {"PYTHONPATH": path, "TQDM_DISABLE": "1"}},
    )
    yield
    ray.shutdown()


def tiny(tmp_path: Path, backend: str = "fake", items: int = 2, chunk: int = 20, **llm) -> Path:
    return tiny_profile(tmp_path, items=items, chunk=chunk, llm={"backend": backend, "batch_size": 8, **llm})


def same_store(a: Path, b: Path) -> None:
    left, right = read_results(a), read_results(b)
    assert left["prompt_id"].is_unique and len(left) == len(right)
    np.testing.assert_allclose(left["intensity"], right["intensity"], atol=1e-6)
    pd.testing.assert_frame_equal(left.drop(columns="intensity"), right.drop(columns="intensity"))


def test_a_fake_design_on_ray_equals_the_local_run_and_records_its_engine(cluster, tmp_path, mirror):
    profile = tiny(tmp_path, items=4)
    run_gaps(plan_run(profile, out=tmp_path / "local", check_model=False), progress=False)
    summary = run_gaps(
        plan_run(profile, out=tmp_path / "ray", engine="ray", check_model=False), progress=False
    )
    assert summary.loc[0, "answered"] == 9 * 48
    same_store(tmp_path / "local", tmp_path / "ray")
    meta = read_metadata(next((tmp_path / "ray").rglob("chunk-*.parquet")))
    assert (meta["engine"], meta["ray_version"], meta["worker_host"]) == (
        "ray",
        ray.__version__,
        os.uname()[1],
    )
    assert read_metadata(next((tmp_path / "local").rglob("chunk-*.parquet")))["engine"] == "local"
    again = run_gaps(plan_run(profile, out=tmp_path / "ray", engine="ray", check_model=False), progress=False)
    assert again.loc[0, "answered"] == 0 and again.loc[0, "stored_before"] == 432


@pytest.mark.slow
def test_the_embedded_model_on_ray_gives_the_local_store(cluster, tmp_path, mirror):
    profile = tiny(tmp_path, backend="transformers", items=1, chunk=12)
    run_gaps(plan_run(profile, out=tmp_path / "local"), progress=False)
    run_gaps(plan_run(profile, out=tmp_path / "ray", engine="ray"), progress=False)
    same_store(tmp_path / "local", tmp_path / "ray")


def _kill_a_worker_once_chunks_appear(folder: Path, killed: list[int]) -> None:
    deadline = time.time() + 120
    while not list(folder.rglob("chunk-*.parquet")) and time.time() < deadline:
        time.sleep(0.05)
    pids = subprocess.run(["pgrep", "-f", "ray::_Worker"], capture_output=True, text=True).stdout.split()
    if pids:
        os.kill(int(pids[0]), signal.SIGKILL)
        killed.append(int(pids[0]))


def test_a_worker_killed_mid_run_is_replaced_and_the_store_is_whole(cluster, tmp_path, mirror):
    profile = tiny(tmp_path, items=4, chunk=12)
    run_gaps(
        plan_run(profile, out=tmp_path / "local", check_model=False),
        progress=False,
        make_backend=ray_helpers.slow,
    )
    killed: list[int] = []
    killer = threading.Thread(target=_kill_a_worker_once_chunks_appear, args=(tmp_path / "ray", killed))
    killer.start()
    plan = plan_run(profile, out=tmp_path / "ray", engine="ray", check_model=False)
    run_gaps(plan, progress=False, make_backend=ray_helpers.slow)
    killer.join()
    assert killed, "no worker was running to kill"
    same_store(tmp_path / "local", tmp_path / "ray")
    assert not list((tmp_path / "ray").rglob(".claim-*")) and not list((tmp_path / "ray").rglob(".*tmp-*"))


def test_a_chunk_that_keeps_failing_is_named_and_every_other_chunk_is_stored(cluster, tmp_path, mirror):
    from empathylab.gaps import design

    profile = tiny(tmp_path, items=4, chunk=12, ray={"retries": 1})
    plan = plan_run(profile, out=tmp_path / "ray", engine="ray", check_model=False)
    needle = str(plan.narratives["generated_text"].iloc[0])[:40]
    with pytest.raises(
        EmpathylabError,
        match=r"chunk\(s\) were not stored: origin/religion chunk 0: failed 2 time\(s\), the last with RuntimeError: planted",
    ):
        run_gaps(plan, progress=False, make_backend=partial(ray_helpers.failing, needle=needle))
    chunks = design.chunks(design.grid(plan.narratives, "religion", "origin", plan.people("religion")), 12)
    kept = {p.prompt_id for _, chunk in chunks if not any(needle in p.user for p in chunk) for p in chunk}
    assert 0 < len(kept) < 432 and set(read_results(tmp_path / "ray")["prompt_id"]) == kept


def test_the_openai_backend_on_ray_against_a_loopback_server(cluster, tmp_path, mirror, monkeypatch):
    from openai_server import FakeServer, chat_answer, models_listing, scripted_handler

    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    answers = [(200, {}, chat_answer(str(k % 90))) for k in range(36)]
    with FakeServer(scripted_handler(answers, models=(200, {}, models_listing(["m"])))) as server:
        api = {"base_url": server.url, "concurrency": 2}
        profile = tiny(tmp_path, backend="openai", items=1, chunk=12, api=api)
        plan = plan_run(profile, model="m", readout="generate", out=tmp_path / "ray", engine="ray")
        summary = run_gaps(plan, progress=False)
        assert summary.loc[0, "answered"] == 9 * 12
        assert len(server.calls("/chat/completions")) == 108
    rows = read_results(tmp_path / "ray")
    assert len(rows) == 108 and set(rows["status"]) == {"ok"}
    assert read_metadata(next((tmp_path / "ray").rglob("chunk-*.parquet")))["base_url"] == server.url


def test_gpu_workers_on_a_cluster_without_gpus_are_refused_in_one_line(cluster, tmp_path, mirror):
    profile = tiny(tmp_path, ray={"num_gpus": 1})
    with pytest.raises(
        EmpathylabError, match=r"llm.ray.num_gpus is 1 per worker, but the Ray cluster has 0 GPU"
    ):
        run_gaps(plan_run(profile, out=tmp_path / "ray", engine="ray", check_model=False), progress=False)
    assert not list((tmp_path / "ray").rglob("chunk-*.parquet"))


@pytest.mark.parametrize("command", [["gaps", "run"], ["labels", "run"]])
def test_without_ray_the_engine_says_how_to_install_it(tmp_path, mirror, monkeypatch, capsys, command):
    monkeypatch.setitem(sys.modules, "ray", None)
    assert main([*command, "--profile", str(tiny(tmp_path)), "--engine", "ray"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "empathylab: error: --engine ray needs Ray, an optional extra: pip install -e '.[ray]' "
        "(ray[data]==2.60.0); or run with --engine local."
    )


DRIVER = """
import sys
from empathylab.gaps.runner import plan_run, run_gaps
import ray_helpers
plan = plan_run(sys.argv[1], out=sys.argv[2], engine="ray", check_model=False)
run_gaps(plan, progress=False, make_backend=ray_helpers.slow)
"""


@pytest.mark.slow
def test_a_driver_killed_with_kill_9_leaves_a_store_the_next_run_resumes(tmp_path, mirror):
    profile = tiny(tmp_path, items=4, chunk=12)
    run_gaps(
        plan_run(profile, out=tmp_path / "local", check_model=False),
        progress=False,
        make_backend=ray_helpers.slow,
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "TQDM_DISABLE": "1",
    }
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(profile), str(tmp_path / "ray")], env=env)
    deadline = time.time() + 120
    while len(list((tmp_path / "ray").rglob("chunk-*.parquet"))) < 3 and time.time() < deadline:
        time.sleep(0.05)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    stored = list((tmp_path / "ray").rglob("chunk-*.parquet"))
    assert 3 <= len(stored) < 36 and all(verify_chunk(c) is None for c in stored)
    resumed = subprocess.run(
        [sys.executable, "-c", DRIVER, str(profile), str(tmp_path / "ray")], env=env, timeout=300
    )
    assert resumed.returncode == 0
    same_store(tmp_path / "local", tmp_path / "ray")


@pytest.mark.parametrize("readout", ["distribution", "generate"])
def test_the_vllm_backend_in_ray_workers_gives_the_local_store(cluster, tmp_path, mirror, readout):
    """The vLLM wiring on Ray, against a fake ``vllm`` installed in each worker (no GPU here)."""
    profile = tiny(tmp_path, backend="vllm", items=1, chunk=12, vllm={"top_logprobs": 5})
    for engine in ("local", "ray"):
        plan = plan_run(profile, readout=readout, out=tmp_path / engine, engine=engine)
        run_gaps(plan, progress=False, make_backend=ray_helpers.fake_vllm)
    same_store(tmp_path / "local", tmp_path / "ray")
    rows = read_results(tmp_path / "ray")
    assert rows["intensity"].notna().all() and rows["intensity"].nunique() > 1
    meta = read_metadata(next((tmp_path / "ray").rglob("chunk-*.parquet")))
    assert (meta["backend"], meta["vllm_version"], meta["top_logprobs"], meta["engine"]) == (
        "vllm",
        "0.0.fake",
        "5",
        "ray",
    )


def test_labels_on_ray_equal_labels_in_process(cluster, tmp_path):
    from empathylab.llm import load_backend
    from empathylab.llmpathy.labels import run_labels, run_labels_on_ray
    from empathylab.profiles import Ray

    essays = pd.DataFrame(
        {"essay_id": [f"e{i}" for i in range(20)], "essay": [f"Essay {i}." for i in range(20)]}
    )
    common = {"prompt": "scale-aware", "model": "m", "chunk_size": 6, "progress": False}
    local = run_labels(essays, load_backend("fake", "m", seed=3), out_dir=tmp_path / "local", **common)
    on_ray = run_labels_on_ray(essays, "fake", {"seed": 3}, Ray(), out_dir=tmp_path / "ray", **common)
    pd.testing.assert_frame_equal(local, on_ray)
    assert local["valid"].all()
    meta = read_metadata(next((tmp_path / "ray").rglob("chunk-*.parquet")))
    assert meta["engine"] == "ray" and meta["prompt"] == "scale-aware"
    again = run_labels_on_ray(essays, "fake", {"seed": 3}, Ray(retries=0), out_dir=tmp_path / "ray", **common)
    pd.testing.assert_frame_equal(local, again)


class _Cluster:
    """A stand-in for the ``ray`` module's resource report."""

    def __init__(self, **resources: float) -> None:
        self.resources = resources

    def cluster_resources(self) -> dict[str, float]:
        return self.resources


@pytest.mark.parametrize(
    ("resources", "cpus", "gpus", "workers"),
    [
        ({"CPU": 64.0, "GPU": 8.0}, 1, 1, 8),  # one worker per GPU
        ({"CPU": 64.0, "GPU": 8.0}, 1, 0.5, 16),  # two per GPU
        ({"CPU": 64.0, "GPU": 8.0}, 4, 0, 16),  # a CPU run on a GPU cluster
        ({"CPU": 2.0}, 1, 0, 2),
        ({"CPU": 1.0}, 2, 0, 1),  # at least one
    ],
)
def test_workers_follow_the_cluster_and_the_share_each_holds(resources, cpus, gpus, workers):
    from empathylab.llm.ray_engine import _worker_count

    assert _worker_count(_Cluster(**resources), cpus, gpus) == workers


def test_a_worker_that_cannot_load_the_backend_ends_the_run_with_its_reason(cluster, tmp_path, mirror):
    profile = tiny(tmp_path)
    plan = plan_run(profile, out=tmp_path / "ray", engine="ray", check_model=False)
    start = time.perf_counter()
    with pytest.raises(EmpathylabError) as caught:
        run_gaps(plan, progress=False, make_backend=ray_helpers.unloadable)
    message = str(caught.value)
    assert message.startswith("A Ray worker could not load the backend: ModelNotFoundError: Model")
    assert "is not on this node (planted) (on " in message and "\n" not in message
    assert time.perf_counter() - start < 60
    assert not list((tmp_path / "ray").rglob("chunk-*.parquet"))


CLI_DRIVER = """
import sys
import ray_helpers
from empathylab import cli
from empathylab.gaps import runner
runner.run_gaps.__kwdefaults__["make_backend"] = ray_helpers.slow  # the CLI's run, slow fake answers
sys.exit(cli.main(sys.argv[1:]))
"""


def test_ctrl_c_stops_a_ray_run_in_one_line_and_the_next_run_resumes(tmp_path, mirror):
    profile = tiny(tmp_path, items=4, chunk=12)
    cmd = [sys.executable, "-c", CLI_DRIVER, "gaps", "run", "--profile", str(profile), "--engine", "ray"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "TQDM_DISABLE": "1",
    }
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while len(list(tmp_path.rglob("chunk-*.parquet"))) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    interrupt(proc)
    chunks = list(tmp_path.rglob("chunk-*.parquet"))
    assert 3 <= len(chunks) < 36 and all(verify_chunk(c) is None for c in chunks)
    resumed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-500:]
    rows = read_results(tmp_path / "results" / "gaps")
    assert len(rows) == 432 and rows["prompt_id"].is_unique


def test_a_chunk_another_run_holds_is_waited_for_then_answered(cluster, tmp_path, mirror):
    """A claim held elsewhere (a live run, or a worker dead on another host) is asked for again."""
    profile = tiny(tmp_path, items=2, chunk=20)
    plan = plan_run(profile, out=tmp_path / "ray", engine="ray", check_model=False)
    store = plan.store(plan.profile.models.causal_lm[0], "origin", "religion")
    claim = store.claim(0)  # this process holds chunk 0, as another run would
    threading.Timer(3.0, claim.release).start()  # ... and gives it up without storing it
    start = time.perf_counter()
    summary = run_gaps(plan, progress=False)
    assert time.perf_counter() - start >= 3.0
    assert summary.loc[0, "answered"] == 9 * 24 and 0 in store.done()


def test_a_chunk_held_past_the_longest_lease_is_reported(cluster, tmp_path, mirror, monkeypatch):
    from empathylab.llm import ray_engine

    monkeypatch.setattr(ray_engine, "_HELD_WAIT", 1.0)
    monkeypatch.setattr(ray_engine, "_HELD_RETRY", 0.2)
    profile = tiny(tmp_path, items=2, chunk=20)
    plan = plan_run(profile, out=tmp_path / "ray", engine="ray", check_model=False)
    store = plan.store(plan.profile.models.causal_lm[0], "origin", "religion")
    claim = store.claim(4)
    try:
        with pytest.raises(
            EmpathylabError,
            match=r"1 chunk\(s\) were not stored: origin/religion chunk 4: held by another run",
        ):
            run_gaps(plan, progress=False)
    finally:
        claim.release()
    assert store.done() == set(range(11)) - {4}
