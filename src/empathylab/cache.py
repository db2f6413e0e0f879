"""Where empathylab keeps downloads and converted model weights."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_root"]


def cache_root() -> Path:
    """Return the user cache folder of empathylab, creating it if needed.

    ``EMPATHYLAB_CACHE_DIR`` overrides the default (``$XDG_CACHE_HOME/empathylab`` or
    ``~/.cache/empathylab``).

    >>> cache_root().name in {"empathylab"} or "EMPATHYLAB_CACHE_DIR" in os.environ
    True
    """
    env = os.environ.get("EMPATHYLAB_CACHE_DIR")
    if env:
        root = Path(env).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        root = Path(base) / "empathylab"
    root.mkdir(parents=True, exist_ok=True)
    return root
