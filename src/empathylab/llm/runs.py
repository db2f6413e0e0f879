"""The one resumable-run loop both parts use: items -> answers -> atomic chunks.

A run is a sequence of numbered chunks of work for one :class:`~empathylab.llm.store.ChunkStore`.
:func:`answer_chunks` skips the chunks already stored, answers the others one by one and
stores each atomically with its provenance, so a run killed at any moment resumes where
it stopped and a finished run asks nothing. Each chunk is claimed before it is answered
(:meth:`~empathylab.llm.store.ChunkStore.claim`), so several runs, or workers, can share
one store: every chunk is answered once. Part I's runner and Part II's labelling
differ only in how a chunk is answered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any, TypeVar

import pandas as pd

from empathylab.llm.store import ChunkStore

__all__ = ["answer_chunks", "answer_chunk", "provenance"]

T = TypeVar("T")


def provenance(info: dict[str, str], **extra: Any) -> dict[str, str]:
    """Return the metadata stored with every chunk: the backend's ``info``, the package
    version and ``extra`` (as strings).

    >>> provenance({"backend": "fake"}, profile="demo")["profile"]
    'demo'
    """
    from empathylab import __version__

    return {**info, "empathylab_version": __version__, **{k: str(v) for k, v in extra.items()}}


def answer_chunks(
    store: ChunkStore,
    chunks: Iterable[tuple[int, T]],
    answer: Callable[[T], pd.DataFrame],
    metadata: dict[str, str] | Callable[[], dict[str, str]],
    *,
    size: Callable[[T], int] = len,
    progress: Callable[[int], object] | None = None,
) -> int:
    """Answer and store every chunk not stored yet; return how many items were answered.

    ``chunks`` yields ``(index, items)``; ``answer(items)`` returns the chunk's rows,
    stored as chunk ``index`` with ``metadata`` plus the chunk's index and the time it
    was written; a callable ``metadata`` is called after each chunk is answered (a backend
    learns some of its provenance, such as the model an endpoint served, only by answering).
    ``progress(n)`` is called with each stored chunk's size.

    >>> import tempfile
    >>> store = ChunkStore(tempfile.mkdtemp(), {"task": "squares"}, columns=("x", "y"))
    >>> square = lambda xs: pd.DataFrame({"x": xs, "y": [x * x for x in xs]})
    >>> answer_chunks(store, enumerate([[1, 2], [3]]), square, {})
    3
    >>> answer_chunks(store, enumerate([[1, 2], [3]]), square, {})  # resumed: nothing left
    0
    """
    done = store.done()
    answered = 0
    for index, items in chunks:
        if index in done or not answer_chunk(store, index, items, answer, metadata):
            continue
        answered += size(items)
        if progress is not None:
            progress(size(items))
    return answered


def answer_chunk(
    store: ChunkStore,
    index: int,
    items: T,
    answer: Callable[[T], pd.DataFrame],
    metadata: dict[str, str] | Callable[[], dict[str, str]],
) -> bool:
    """Claim chunk ``index``, answer it and store it; return False when another run holds it.

    The one step every engine runs for a chunk (in process, or on a Ray worker); see
    :func:`answer_chunks` for ``answer`` and ``metadata``.
    """
    claim = store.claim(index)
    if claim is None:  # another run is answering it, or has just stored it
        return False
    try:
        frame = answer(items)
        written = datetime.now(timezone.utc).isoformat(timespec="seconds")
        meta = metadata() if callable(metadata) else metadata
        store.write(index, frame, {**meta, "chunk": str(index), "written": written})
    finally:
        claim.release()
    return True
