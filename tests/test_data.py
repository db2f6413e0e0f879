from __future__ import annotations

import csv
import http.server
import re
import shutil
import threading
from pathlib import Path

import pandas as pd
import pytest

from empathylab import data
from empathylab.errors import DataFileError

KEY = "crowd-enVent/crowd-enVent_shame.tsv"


def test_registry_pins_every_file_by_commit_and_hash():
    reg = data.registry()
    assert reg.index.is_unique and len(reg) > 0
    assert reg["sha256"].str.fullmatch(r"[0-9a-f]{64}").all()
    # every URL names a 40-hex commit, never a branch
    assert reg["url"].map(lambda u: bool(re.search(r"/[0-9a-f]{40}/", u))).all()
    assert {k.split("/")[0] for k in reg.index} == {
        "crowd-enVent",
        "crowd-enVent-corpus",
        "empathic_reactions",
        "llmpathy-labels",
    }


def test_registry_agrees_with_the_mirror_sources(mirror: Path):
    sources = mirror / "SOURCES.tsv"
    if not sources.is_file():
        pytest.skip("the mirror has no SOURCES.tsv")
    rows = {r["path"]: r for r in csv.DictReader(sources.open(), delimiter="\t")}
    reg = data.registry()
    assert set(rows) == set(reg.index)
    for key, row in rows.items():
        assert reg.loc[key, "sha256"] == row["sha256"]
        assert reg.loc[key, "url"].endswith(f"/{row['commit']}/{row['source_path']}")


def test_fetch_all_from_the_mirror_verifies_every_file(mirror: Path):
    paths = data.fetch_all()
    assert [p.relative_to(mirror).as_posix() for p in paths] == list(data.registry().index)


@pytest.fixture
def local_copy(mirror: Path, tmp_path: Path, monkeypatch) -> Path:
    """A private copy of the mirror, so a test can corrupt or remove files."""
    copy = tmp_path / "data"
    shutil.copytree(mirror, copy)
    for path in copy.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    monkeypatch.setenv("EMPATHYLAB_DATA_DIR", str(copy))
    return copy


def test_corrupt_file_in_data_dir_is_named_and_left_alone(local_copy: Path):
    target = local_copy / KEY
    target.write_bytes(target.read_bytes()[:-10])
    before = target.read_bytes()
    with pytest.raises(DataFileError) as err:
        data.fetch(KEY)
    message = str(err.value)
    assert str(target) in message and data.registry().loc[KEY, "sha256"] in message
    assert target.read_bytes() == before


def test_missing_file_in_data_dir_says_how_to_fix(local_copy: Path):
    (local_copy / KEY).unlink()
    with pytest.raises(DataFileError, match="unset EMPATHYLAB_DATA_DIR"):
        data.fetch(KEY)


def test_unknown_key_suggests_the_close_one():
    with pytest.raises(DataFileError, match="Did you mean: crowd-enVent/crowd-enVent_shame.tsv"):
        data.fetch("crowd-enVent/crowd-enVent_shme.tsv")


class _Server:
    """A static HTTP server on loopback that counts the requests it answers."""

    def __init__(self, folder: Path):
        self.requests = 0
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(folder), **kwargs)

            def do_GET(self):
                outer.requests += 1
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served(mirror: Path, tmp_path: Path, monkeypatch):
    """Serve a copy of one file on loopback; the registry points at it; empty cache."""
    folder = tmp_path / "served"
    folder.mkdir()
    shutil.copy(mirror / KEY, folder / "file.tsv")
    server = _Server(folder)
    reg = data.registry().copy()
    reg.loc[KEY, "url"] = f"{server.url}/file.tsv"
    monkeypatch.setattr(data, "registry", lambda: reg)
    monkeypatch.delenv("EMPATHYLAB_DATA_DIR")
    monkeypatch.setenv("EMPATHYLAB_CACHE_DIR", str(tmp_path / "cache"))
    yield server, folder / "file.tsv", tmp_path / "cache"
    server.close()


def test_download_checks_the_hash_and_is_reused(served):
    server, _, cache = served
    path = data.fetch(KEY)
    assert path == cache / "data" / KEY
    assert data.read_narratives_file(path).shape == (275, 5)
    data.fetch(KEY)
    assert server.requests == 1


def test_download_with_a_wrong_hash_leaves_nothing_in_the_cache(served):
    server, source, cache = served
    source.write_bytes(source.read_bytes() + b"tampered\n")
    with pytest.raises(DataFileError, match="does not match the pinned"):
        data.fetch(KEY)
    assert server.requests == 1
    assert not [p for p in cache.rglob("*") if p.is_file()]


def test_unreachable_server_gives_one_clear_error(served):
    server, _, _ = served
    server.close()
    with pytest.raises(DataFileError, match="Could not download .*EMPATHYLAB_DATA_DIR"):
        data.fetch(KEY)


@pytest.mark.parametrize(
    "mangle, problem",
    [
        (lambda df: df.drop(columns="third_person_text"), "missing column"),
        (lambda df: df.assign(text_id="x"), "non-integer text_id"),
        (lambda df: df.assign(emotion="glee"), "unknown emotion"),
        (lambda df: df.assign(first_person_text=""), "empty text"),
    ],
)
def test_malformed_narrative_file_is_rejected(mirror: Path, tmp_path: Path, mangle, problem):
    frame = pd.read_csv(mirror / KEY, sep="\t", quoting=csv.QUOTE_NONE, dtype=str)
    bad = tmp_path / "bad.tsv"
    mangle(frame).to_csv(bad, sep="\t", index=False, quoting=csv.QUOTE_NONE)
    with pytest.raises(DataFileError, match=problem) as err:
        data.read_narratives_file(bad)
    assert str(bad) in str(err.value)


def test_narratives_match_the_published_counts(mirror: Path):
    frame = data.load_narratives()
    counts = frame.groupby("emotion", observed=True).size()
    assert list(counts.index) == list(data.EMOTIONS)
    assert counts.drop(["guilt", "shame"]).eq(550).all()
    assert counts[["guilt", "shame"]].eq(275).all()
    assert len(frame) == 6050 and frame["item_id"].is_unique


def test_unknown_emotion_lists_the_valid_ones():
    with pytest.raises(DataFileError, match="valid: anger, disgust"):
        data.load_narratives(["anger", "glee"])


def test_essays(mirror: Path):
    essays = data.load_essays()
    assert len(essays) == 1860 and essays["message_id"].is_unique
    assert essays["empathy"].between(1, 7).all()
