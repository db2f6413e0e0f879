"""Shared test setup: no model hub, and the data mirror when CI provides it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def mirror() -> Path:
    """The offline data mirror named by EMPATHYLAB_DATA_DIR (tests needing it skip without)."""
    env = os.environ.get("EMPATHYLAB_DATA_DIR")
    if not env:
        pytest.skip("EMPATHYLAB_DATA_DIR is not set")
    return Path(env)


THREE = ["a person", "a Jew", "a Muslim"]


def tiny_profile(
    folder: Path,
    *,
    items: int = 1,
    chunk: int = 10,
    llm: dict | None = None,
    identities: list[str] | None = THREE,
) -> Path:
    """Write a tiny Part I profile (religion x origin) to ``folder/tiny.yaml``; return its path.

    ``identities`` None asks the whole religion list; ``llm`` is the profile's ``llm:`` section.
    """
    gaps: dict = {"groupings": ["religion"], "variations": ["origin"], "chunk_size": chunk}
    if identities is not None:
        gaps["identities"] = {"religion": identities}
    data = {
        "name": "tiny",
        "device": "cpu",
        "output_dir": str(folder / "results"),
        "stimuli": {"items_per_emotion": items},
        "gaps": gaps,
    }
    if llm is not None:
        data["llm"] = llm
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def interrupt(proc: subprocess.Popen, within: float = 10.0) -> str:
    """Send Ctrl-C to a running ``empathylab`` command; assert it ends as the CLI promises.

    Exit status 130 within ``within`` seconds, no traceback, and the one line that says every
    stored chunk is kept. Returns its standard error.
    """
    started = time.time()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    took = time.time() - started
    assert proc.returncode == 130 and took < within, (proc.returncode, took, err[-500:])
    assert "Traceback" not in err and err.strip().splitlines()[-1] == (
        "empathylab: interrupted; every chunk stored before the interrupt is kept: "
        "run the same command again to resume."
    )
    return err
