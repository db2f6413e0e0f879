"""Shared test setup: no model hub, and the data mirror when CI provides it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def mirror() -> Path:
    """The offline data mirror named by EMPATHYLAB_DATA_DIR (tests needing it skip without)."""
    env = os.environ.get("EMPATHYLAB_DATA_DIR")
    if not env:
        pytest.skip("EMPATHYLAB_DATA_DIR is not set")
    return Path(env)
