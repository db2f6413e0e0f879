"""The one resumable-run loop both parts use: items -> answers -> atomic chunks.

A run is a sequence of numbered chunks of work for one :class:`~empathylab.llm.store.ChunkStore`.
:func:`answer_chunks` skips the chunks already stored, answers the others one by one and
stores each atomically with its provenance, so a run killed at any moment resumes where
it stopped and a finished run asks nothing. Each chunk is claimed before it is answered
(:meth:`~empathylab.llm.store.ChunkStore.claim`), so several runs, or workers, can share
one store: every chunk is answered once. Part I's runner and Part II's labelling
differ only in how a chunk is answered. :func:`answer_chunks_together` fills several stores
whose chunks hold the same items (two readouts of one design) from one answer per chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from typing import Any, TypeVar

import pandas as pd

from empathylab.llm.store import ChunkStore

__all__ = ["answer_chunks", "answer_chunk", "answer_chunks_together", "provenance"]

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
    return bool(_answer_claimed([store], index, items, lambda items, _: [answer(items)], metadata))


def answer_chunks_together(
    stores: Sequence[ChunkStore],
    chunks: Iterable[tuple[int, T]],
    answer: Callable[[T, list[int]], list[pd.DataFrame]],
    metadata: dict[str, str] | Callable[[], dict[str, str]],
    *,
    size: Callable[[T], int] = len,
    progress: Callable[[int], object] | None = None,
) -> list[int]:
    """Like :func:`answer_chunks` for stores whose chunk ``i`` holds the same items in each.

    Each chunk missing from some of the stores is answered once for those:
    ``answer(items, which)`` returns one frame per store index in ``which`` (in that order).
    Every store is claimed, written and resumed as on its own. Returns the items answered
    per store; ``progress(n)`` is called once per chunk answered, with its size.

    >>> import tempfile
    >>> a, b = (ChunkStore(tempfile.mkdtemp(), {"task": t}, columns=("x", "y")) for t in "ab")
    >>> both = lambda xs, which: [pd.DataFrame({"x": xs, "y": [x * (k + 2) for x in xs]}) for k in which]
    >>> answer_chunks_together([a, b], enumerate([[1, 2], [3]]), both, {})
    [3, 3]
    >>> answer_chunks_together([a, b], enumerate([[1, 2], [3]]), both, {})  # resumed
    [0, 0]
    """
    done = [store.done() for store in stores]
    answered = [0] * len(stores)
    for index, items in chunks:
        missing = [k for k, stored in enumerate(done) if index not in stored]
        if not missing:
            continue
        written = _answer_claimed(
            [stores[k] for k in missing],
            index,
            items,
            lambda it, w, missing=missing: answer(it, [missing[k] for k in w]),
            metadata,
        )
        for k in written:
            answered[missing[k]] += size(items)
        if written and progress is not None:
            progress(size(items))
    return answered


def _answer_claimed(
    stores: Sequence[ChunkStore],
    index: int,
    items: T,
    answer: Callable[[T, list[int]], list[pd.DataFrame]],
    metadata: dict[str, str] | Callable[[], dict[str, str]],
) -> list[int]:
    """Claim chunk ``index`` in each store, answer it once for those claimed, store it there.

    Returns the positions (in ``stores``) written; a store another run holds is left out.
    """
    claims = {k: store.claim(index) for k, store in enumerate(stores)}
    held = [k for k, claim in claims.items() if claim is not None]
    try:
        if not held:  # other runs are answering it, or have just stored it
            return []
        frames = answer(items, held)
        written = datetime.now(timezone.utc).isoformat(timespec="seconds")
        meta = metadata() if callable(metadata) else metadata
        for k, frame in zip(held, frames):
            stores[k].write(index, frame, {**meta, "chunk": str(index), "written": written})
    finally:
        for claim in claims.values():
            if claim is not None:
                claim.release()
    return held
