"""The store never lies: verified chunks, fingerprints that must be there, clear write errors."""

from __future__ import annotations

import errno
import json
import random

import pandas as pd
import pytest
from conftest import tiny_profile

from empathylab.cli import main
from empathylab.errors import EmpathylabError
from empathylab.gaps.rows import read_results
from empathylab.gaps.runner import plan_run, run_gaps
from empathylab.llm.store import ChunkStore, checksum_path, read_chunks, verify_chunk


def _store(tmp_path, n_chunks: int = 3) -> ChunkStore:
    store = ChunkStore(tmp_path / "store", {"task": "test"}, columns=("i", "x"))
    for k in range(n_chunks):
        store.write(k, pd.DataFrame({"i": range(k * 10, k * 10 + 10), "x": [0.5] * 10}), {})
    return store


@pytest.fixture
def profile(tmp_path, mirror):
    return tiny_profile(tmp_path, llm={"backend": "fake"})


def test_every_single_bit_flip_of_a_chunk_is_caught(tmp_path):
    store = _store(tmp_path, 1)
    path = next(store.folder.glob("chunk-*.parquet"))
    original = path.read_bytes()
    rng = random.Random(0)
    for _ in range(300):
        flipped = bytearray(original)
        at = rng.randrange(len(flipped))
        flipped[at] ^= 1 << rng.randrange(8)
        assert verify_chunk(path, bytes(flipped)) is not None, f"a flip at byte {at} went unnoticed"
    assert verify_chunk(path) is None


def test_a_truncated_chunk_is_set_aside_and_answered_again(profile, caplog):
    plan = plan_run(profile, check_model=False)
    run_gaps(plan, progress=False)
    straight = read_results(plan.root)
    chunk = sorted(plan.root.rglob("chunk-*.parquet"))[3]
    chunk.write_bytes(chunk.read_bytes()[:600])
    with pytest.raises(EmpathylabError, match=f"1 stored chunk.*damaged: {chunk}"):
        read_results(plan.root)
    summary = run_gaps(plan, progress=False)
    assert summary.loc[0, "answered"] == 10 and summary.loc[0, "stored_before"] == 98
    assert "it will be answered again" in caplog.text and str(chunk) in caplog.text
    aside = list((chunk.parent / "set-aside").iterdir())
    assert len(aside) == 2 and any(len(p.read_bytes()) == 600 for p in aside)  # kept, not deleted
    pd.testing.assert_frame_equal(read_results(plan.root), straight)


def test_a_chunk_written_before_checksums_is_read_if_it_parses(tmp_path):
    store = _store(tmp_path, 2)
    for sidecar in store.folder.glob("*.sha256"):
        sidecar.unlink()
    assert store.done() == {0, 1} and len(read_chunks(store.folder)) == 20
    broken = store.folder / "chunk-00000001.parquet"
    broken.write_bytes(b"not parquet at all")
    assert store.done() == {0} and not broken.exists()


def test_a_folder_without_its_fingerprint_is_refused(tmp_path):
    store = _store(tmp_path)
    (store.folder / "design.json").unlink()
    with pytest.raises(EmpathylabError, match="3 chunk.*but no design.json"):
        ChunkStore(store.folder, {"task": "other"}, columns=("i", "x"))
    assert len(list(store.folder.glob("chunk-*.parquet"))) == 3


def test_a_damaged_fingerprint_is_named(tmp_path):
    store = _store(tmp_path)
    (store.folder / "design.json").write_text('{"task": "te')
    with pytest.raises(EmpathylabError, match=r"design.json is damaged"):
        ChunkStore(store.folder, {"task": "test"}, columns=("i", "x"))


def test_an_output_path_that_is_a_file_stops_before_any_model_loads(profile, tmp_path, capsys):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    code = main(["gaps", "run", "--profile", str(profile), "--backend", "transformers", "--out", str(a_file)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"{a_file} is a file, not a folder" in err


def test_a_failed_write_names_the_path_and_cause_and_leaves_nothing(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    store = ChunkStore(tmp_path / "store", {"task": "test"}, columns=("i",))

    def full(table, where, **kwargs):
        open(where, "wb").close()
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq, "write_table", full)
    with pytest.raises(EmpathylabError, match=r"Could not write .*chunk-00000000.parquet: No space left"):
        store.write(0, pd.DataFrame({"i": [1]}), {})
    assert sorted(p.name for p in store.folder.iterdir()) == ["design.json"]
    assert not checksum_path(store.folder / "chunk-00000000.parquet").exists()


def test_the_checksum_is_recorded_beside_each_chunk(tmp_path):
    store = _store(tmp_path, 1)
    chunk = store.folder / "chunk-00000000.parquet"
    recorded = checksum_path(chunk).read_text().strip()
    import hashlib

    assert recorded == hashlib.sha256(chunk.read_bytes()).hexdigest()
    assert json.loads((store.folder / "design.json").read_text()) == {"task": "test"}


def _no_locks(*args):
    """``fcntl.flock`` on a filesystem without locks (Lustre without -o flock, some NFS mounts)."""
    import errno

    raise OSError(errno.ENOLCK, "No locks available")


def _slow_run(root: str, answered_log: str, no_locks: bool = False) -> None:
    """One of two concurrent runs: 12 chunks of 5 items, each answered in 50 ms."""
    import fcntl
    import time

    from empathylab.llm.runs import answer_chunks

    if no_locks:
        fcntl.flock = _no_locks

    store = ChunkStore(root, {"task": "concurrent"}, columns=("i",))
    store.clean()

    def answer(items):
        time.sleep(0.05)
        with open(answered_log, "a") as log:
            log.write("".join(f"{i}\n" for i in items))
        return pd.DataFrame({"i": items})

    answer_chunks(store, ((k, list(range(5 * k, 5 * k + 5))) for k in range(12)), answer, {})


@pytest.mark.parametrize("no_locks", [False, True], ids=["locks", "leases"])
def test_two_runs_on_one_store_answer_every_item_once(tmp_path, no_locks):
    import multiprocessing

    log = tmp_path / "answered.txt"
    context = multiprocessing.get_context("spawn")
    runs = [
        context.Process(target=_slow_run, args=(str(tmp_path / "store"), str(log), no_locks))
        for _ in range(2)
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join(60)
    assert [run.exitcode for run in runs] == [0, 0]
    answered = [int(x) for x in log.read_text().split()]
    assert sorted(answered) == list(range(60))  # every item once: none twice, none missing
    assert sorted(read_chunks(tmp_path / "store")["i"]) == list(range(60))
    assert not list((tmp_path / "store").glob(".claim-*")) and not list((tmp_path / "store").glob(".*tmp-*"))


def test_a_claim_is_exclusive_and_released_when_its_owner_dies(tmp_path):
    import subprocess
    import sys

    store = ChunkStore(tmp_path / "store", {"task": "t"}, columns=("i",))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from empathylab.llm.store import ChunkStore; "
            f"ChunkStore({str(store.folder)!r}, {{'task': 't'}}, columns=('i',)).claim(3); print('held', flush=True); "
            "time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    assert store.claim(3) is None  # held by the other process
    mine = store.claim(4)
    assert mine is not None and json.loads((store.folder / ".claim-00000004").read_text())["pid"] > 0
    mine.release()
    holder.kill()
    holder.wait()
    taken = store.claim(3)  # the dead owner's lock went with it
    assert taken is not None
    taken.release()


def test_clean_leaves_a_live_writers_temporary_file_alone(tmp_path):
    import os
    import socket

    store = _store(tmp_path, 1)
    host = socket.gethostname().replace("-", "_")
    live = store.folder / f".chunk-00000009.parquet.tmp-{host}-{os.getpid()}"
    dead = store.folder / f".chunk-00000008.parquet.tmp-{host}-999999999"
    live.write_bytes(b"x")
    dead.write_bytes(b"x")
    assert store.clean() == 1 and live.exists() and not dead.exists()


def test_without_locks_a_lease_is_exclusive_refreshed_and_broken_when_abandoned(tmp_path, monkeypatch):
    import fcntl
    import os
    import socket
    import time

    from empathylab.llm import store as store_module

    monkeypatch.setattr(fcntl, "flock", _no_locks)
    monkeypatch.setattr(store_module, "LEASE_SECONDS", 0.5)
    store = ChunkStore(tmp_path / "store", {"task": "t"}, columns=("i",))
    lease = store.claim(1)
    path = store.folder / ".claim-00000001"
    assert lease is not None and json.loads(path.read_text())["pid"] == os.getpid()
    assert store.claim(1) is None  # this host, owner alive, refreshed: held
    time.sleep(0.6)
    assert store.claim(1) is None and time.time() - path.stat().st_mtime < 0.5  # kept fresh
    lease.release()
    assert not path.exists()
    # Another host's lease that nobody refreshes is broken after LEASE_SECONDS, not before.
    path.write_text(json.dumps({"host": "node-7", "pid": 1, "since": "2026-01-01T00:00:00+00:00"}))
    assert store.claim(1) is None
    old = time.time() - 1
    os.utime(path, (old, old))
    taken = store.claim(1)
    assert taken is not None and json.loads(path.read_text())["host"] == socket.gethostname()
    taken.release()
    # A lease of a dead process on this host is broken at once.
    path.write_text(json.dumps({"host": socket.gethostname(), "pid": 999_999_999}))
    assert (taken := store.claim(1)) is not None
    taken.release()
    # A stored chunk is never claimed again.
    store.write(2, pd.DataFrame({"i": [1]}), {})
    assert store.claim(2) is None and not (store.folder / ".claim-00000002").exists()


def test_clean_removes_another_hosts_temporary_file_once_it_is_old(tmp_path, monkeypatch):
    import os
    import time

    from empathylab.llm import store as store_module

    store = _store(tmp_path, 1)
    recent = store.folder / ".chunk-00000007.parquet.tmp-node_7-12"
    old = store.folder / ".chunk-00000006.parquet.tmp-node_7-13"
    recent.write_bytes(b"x")
    old.write_bytes(b"x")
    then = time.time() - store_module.LEASE_SECONDS - 5
    os.utime(old, (then, then))
    assert store.clean() == 1 and recent.exists() and not old.exists()


def test_a_damaged_result_file_is_set_aside_and_computed_again(tmp_path, caplog):
    from empathylab.llm.store import stored_frame

    path = tmp_path / "probe_cv.parquet"
    first = stored_frame(path, {"seed": 0}, lambda: pd.DataFrame({"pcc": [0.5]}))
    path.write_bytes(path.read_bytes()[:40])  # truncated
    again = stored_frame(path, {"seed": 0}, lambda: pd.DataFrame({"pcc": [0.5]}))
    pd.testing.assert_frame_equal(first, again)
    assert "cannot be read" in caplog.text and len(list((tmp_path / "set-aside").iterdir())) == 1
    assert stored_frame(path, {"seed": 1}, lambda: pd.DataFrame({"pcc": [0.7]}))["pcc"].tolist() == [0.7]


def test_stores_answered_together_skip_a_chunk_another_run_holds(tmp_path, monkeypatch):
    from empathylab.llm.runs import answer_chunks_together

    a, b = (ChunkStore(tmp_path / name, {"task": name}, columns=("i", "k")) for name in "ab")
    held = a.claim  # chunk 1 of store a is being answered by another run
    monkeypatch.setattr(a, "claim", lambda index: None if index == 1 else held(index))
    asked = []

    def answer(items, which):
        asked.append(which)
        return [pd.DataFrame({"i": items, "k": k}) for k in which]

    answered = answer_chunks_together([a, b], enumerate([[0, 1], [2, 3], [4]]), answer, {})
    assert asked == [[0, 1], [1], [0, 1]] and answered == [3, 5]
    assert a.done() == {0, 2} and b.done() == {0, 1, 2}
    assert sorted(read_chunks(tmp_path / "b")["i"]) == [0, 1, 2, 3, 4]
