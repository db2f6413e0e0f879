"""The results store: Parquet chunks, one row per answered item, written atomically.

A store is one folder (Part I: ``<root>/<model>/<readout>/<variation>/<grouping>/``; Part
II: ``<root>/<model>/<prompt>/``) holding ``design.json``
(the fingerprint of the design this folder answers) and ``chunk-<index>.parquet`` files.
A chunk is written to a temporary file and renamed into place only when complete, so
a run killed at any moment (even ``kill -9``) leaves only whole chunks; a new run skips
them and answers the rest. A folder is never written with a different design.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from empathylab.errors import EmpathylabError

__all__ = [
    "check_writable",
    "verify_chunk",
    "checksum_path",
    "ChunkStore",
    "Claim",
    "LEASE_SECONDS",
    "model_slug",
    "read_chunks",
    "read_metadata",
    "fingerprint",
    "write_frame",
    "read_frame",
    "stored_frame",
]

logger = logging.getLogger("empathylab.llm.store")
_CHUNK = re.compile(r"^chunk-(\d+)\.parquet$")


def model_slug(spec: str) -> str:
    """Return a folder name for a model spec.

    >>> model_slug("meta-llama/Llama-3.1-8B-Instruct"), model_slug("embedded:gemma-3-270m")
    ('meta-llama__Llama-3.1-8B-Instruct', 'embedded_gemma-3-270m')
    """
    return re.sub(r"[^A-Za-z0-9._-]", "_", spec.replace("/", "__")).strip("._") or "model"


class ChunkStore:
    """The stored chunks of one (model, readout, variation, grouping).

    ``design`` is a JSON-able dict that identifies the design (model, backend, readout,
    identities, narratives, chunk size, templates...). Opening a folder that holds
    another design raises :class:`~empathylab.errors.EmpathylabError` and changes nothing.
    ``columns`` are the columns every chunk holds, in order.
    """

    def __init__(self, folder: str | Path, design: dict[str, Any], *, columns: tuple[str, ...]) -> None:
        self.folder = Path(folder)
        self.columns = tuple(columns)
        self._locks: bool | None = None  # whether the filesystem has locks; probed at the first claim
        self.design = json.loads(json.dumps(design, sort_keys=True))
        check_writable(self.folder)
        stored = self.folder / "design.json"
        if stored.is_file():
            old = read_design(stored)
            if old != self.design:
                keys = sorted(k for k in set(old) | set(self.design) if old.get(k) != self.design.get(k))
                diff = "; ".join(f"{k}: stored {old.get(k)!r}, now {self.design.get(k)!r}" for k in keys)
                raise EmpathylabError(
                    f"{self.folder} holds results of a different design ({diff}). Nothing was "
                    "changed: write elsewhere with --out, or delete that folder to start over."
                )
        elif chunks := self._chunk_files():
            raise EmpathylabError(
                f"{self.folder} holds {len(chunks)} chunk(s) but no design.json, so what they answer "
                "cannot be checked. Nothing was changed: restore its design.json, write elsewhere "
                "with --out, or delete that folder to start over."
            )

    def _chunk_files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.iterdir() if _CHUNK.match(p.name))

    def _write_design(self) -> None:
        path = self.folder / "design.json"
        if not path.is_file():
            self.folder.mkdir(parents=True, exist_ok=True)
            _atomic_write(path, json.dumps(self.design, indent=1, sort_keys=True).encode())

    def done(self) -> set[int]:
        """Return the indices of the chunks stored whole.

        Every chunk is verified (:func:`verify_chunk`); one that fails is moved to the
        folder's ``set-aside/`` (never deleted), reported in one line, and left out, so the
        run answers it again.
        """
        indices = set()
        for path in self._chunk_files():
            problem = verify_chunk(path)
            if problem is None:
                indices.add(int(_CHUNK.match(path.name).group(1)))
            else:
                kept = _set_aside(path)
                logger.warning("%s %s; moved to %s, it will be answered again.", path, problem, kept)
        return indices

    def write(self, index: int, rows: pd.DataFrame, metadata: dict[str, str]) -> Path:
        """Store chunk ``index`` atomically with ``metadata`` in the Parquet footer."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        missing = [c for c in self.columns if c not in rows.columns]
        if missing:
            raise ValueError(f"rows lack columns {missing}")
        self._write_design()
        table = pa.Table.from_pandas(rows[list(self.columns)], preserve_index=False)
        meta = {**(table.schema.metadata or {}), b"empathylab": json.dumps(metadata).encode()}
        table = table.replace_schema_metadata(meta)
        target = self.folder / f"chunk-{index:08d}.parquet"
        tmp = target.with_name(f".{target.name}.tmp-{_writer_tag()}")
        try:
            pq.write_table(table, tmp)
            with open(tmp, "rb") as fh:
                digest = hashlib.sha256(fh.read()).hexdigest()
                os.fsync(fh.fileno())
            # The checksum lands before the chunk, so a chunk in place always has its own.
            _atomic_write(checksum_path(target), f"{digest}\n".encode())
            os.replace(tmp, target)
        except OSError as exc:
            raise EmpathylabError(f"Could not write {target}: {exc.strerror or exc}.") from None
        finally:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:  # the first error is the one to report
                pass
        return target

    def clean(self) -> int:
        """Delete temporary files left by runs that are gone; return how many.

        A temporary file names its writer (host and process id); one whose writer still runs
        on this host is left alone, so two runs can share a folder. One from another host is
        deleted once untouched for :data:`LEASE_SECONDS` (a chunk is written in seconds).
        """
        if not self.folder.is_dir():
            return 0
        removed = 0
        for path in self.folder.glob(".chunk-*.tmp-*"):
            try:
                stale = time.time() - path.stat().st_mtime > LEASE_SECONDS
            except FileNotFoundError:
                continue
            if stale or not _owner_alive(path.name.rsplit(".tmp-", 1)[1]):
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def claim(self, index: int) -> Claim | None:
        """Claim chunk ``index`` for this process; return the claim, or None if another holds it.

        A claim is an exclusive lock on ``.claim-<index>`` (its owner, host and process id,
        written inside). The operating system releases it when its owner ends, however it
        ends, so a claim is never stale; release it with :meth:`Claim.release` once the
        chunk is stored. On a filesystem without locks (some Lustre and NFS mounts) the claim
        is a lease instead: the file is created exclusively and kept fresh by its owner every
        :data:`LEASE_SECONDS` / 5; one whose owner is gone (same host) or that has not been
        refreshed for :data:`LEASE_SECONDS` (any host) is broken and taken over. A chunk
        stored by the time the claim is got (another run finished it) is released and None
        returned.
        """
        import fcntl

        self.folder.mkdir(parents=True, exist_ok=True)
        if self._locks is None:
            self._locks = _locks_work(self.folder)
        path = self.folder / f".claim-{index:08d}"
        if self._locks:
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return None
            claim = Claim(path, fd)
        elif (claim := _lease(path)) is None:
            return None
        chunk = self.folder / f"chunk-{index:08d}.parquet"
        if chunk.exists() and verify_chunk(chunk) is None:
            claim.release()
            return None
        claim.sign()
        return claim


#: Seconds after which a lease (a claim on a filesystem without locks) that its owner
#: stopped refreshing counts as abandoned.
LEASE_SECONDS = 600.0


class Claim:
    """A held claim on one chunk (see :meth:`ChunkStore.claim`).

    A lease (``lease=True``) is refreshed by a background thread until released.
    """

    def __init__(self, path: Path, fd: int, lease: bool = False) -> None:
        self.path, self._fd = path, fd
        self._stop = threading.Event()
        if lease:
            threading.Thread(target=self._refresh, daemon=True).start()

    def sign(self) -> None:
        """Write the owner (host, process id, time) into the claim file."""
        os.ftruncate(self._fd, 0)
        os.lseek(self._fd, 0, os.SEEK_SET)
        os.write(self._fd, json.dumps({"host": _HOST, "pid": os.getpid(), "since": _now()}).encode())

    def _refresh(self) -> None:
        while not self._stop.wait(LEASE_SECONDS / 5):
            try:
                os.utime(self.path)
            except OSError:  # broken by another run after a long stall: it answers the chunk too
                return

    def release(self) -> None:
        """Remove the claim file and drop the lock (once)."""
        if self._fd is None:
            return
        self._stop.set()
        self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None


def _locks_work(folder: Path) -> bool:
    """Whether ``flock`` works in ``folder`` (not on some Lustre and NFS mounts)."""
    import fcntl

    probe = folder / f".lock-probe-{_writer_tag()}"
    fd = os.open(probe, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        logger.info("%s has no file locks: chunks are claimed by leases instead", folder)
        return False
    finally:
        os.close(fd)
        probe.unlink(missing_ok=True)


def _lease(path: Path) -> Claim | None:
    """Claim by creating ``path`` exclusively, breaking an abandoned lease first."""
    for _ in range(2):
        try:
            return Claim(path, os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644), lease=True)
        except FileExistsError:
            if not _abandoned(path):
                return None
            try:  # rename first: of two runs breaking the same lease, one wins
                broken = path.with_name(f"{path.name}.broken-{_writer_tag()}")
                os.rename(path, broken)
                broken.unlink()
            except FileNotFoundError:
                return None
    return None


def _abandoned(path: Path) -> bool:
    """Whether a lease's owner is gone: dead on this host, or silent for LEASE_SECONDS."""
    try:
        age = time.time() - path.stat().st_mtime
        owner = json.loads(path.read_text() or "{}")
    except FileNotFoundError:
        return True
    except (OSError, ValueError):
        owner = {}
    if age > LEASE_SECONDS:
        return True
    host, pid = str(owner.get("host", "")), owner.get("pid")
    return host == _HOST and isinstance(pid, int) and not _owner_alive(f"{_tag_host(host)}-{pid}")


_HOST = socket.gethostname()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _tag_host(host: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.]", "_", host)


def _writer_tag() -> str:
    """This process as a temporary file's suffix: ``<host>-<pid>``."""
    return f"{_tag_host(_HOST)}-{os.getpid()}"


def _owner_alive(tag: str) -> bool:
    """Whether the writer named by a temporary file's suffix still runs (on another host: assume so)."""
    host, _, pid = tag.rpartition("-")
    if not pid.isdigit():
        return False
    if host and host != _tag_host(_HOST):
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def checksum_path(chunk: Path) -> Path:
    """Return where a chunk's SHA-256 is kept: ``chunk-<index>.parquet.sha256`` beside it."""
    return chunk.with_name(chunk.name + ".sha256")


def verify_chunk(path: str | Path, data: bytes | None = None) -> str | None:
    """Return None when the chunk at ``path`` is whole, else what is wrong with it.

    A chunk is whole when its bytes match the SHA-256 recorded when it was written. A
    chunk written before checksums existed has none: it is whole if it reads as Parquet.
    ``data`` are the file's bytes when the caller has read them already.

    >>> import tempfile
    >>> store = ChunkStore(tempfile.mkdtemp(), {"task": "demo"}, columns=("a",))
    >>> path = store.write(0, pd.DataFrame({"a": [1, 2]}), {})
    >>> verify_chunk(path) is None
    True
    >>> _ = path.write_bytes(path.read_bytes()[:-20])
    >>> verify_chunk(path)
    'does not match the checksum recorded when it was written'
    """
    path = Path(path)
    data = path.read_bytes() if data is None else data
    sidecar = checksum_path(path)
    if sidecar.is_file():
        if hashlib.sha256(data).hexdigest() != sidecar.read_text(encoding="ascii").strip():
            return "does not match the checksum recorded when it was written"
        return None
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pq.read_table(pa.BufferReader(data))
    except Exception as exc:  # pyarrow raises several kinds for a damaged file
        return f"does not read as Parquet ({type(exc).__name__})"
    return None


def _set_aside(path: Path) -> Path:
    """Move a damaged chunk (and its checksum) to ``set-aside/``; return its new path."""
    aside = path.parent / "set-aside"
    aside.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    target = aside / f"{path.name}.{stamp}"
    os.replace(path, target)
    sidecar = checksum_path(path)
    if sidecar.is_file():
        os.replace(sidecar, aside / f"{sidecar.name}.{stamp}")
    return target


def check_writable(folder: str | Path) -> None:
    """Raise :class:`~empathylab.errors.EmpathylabError` unless ``folder`` is, or can be made, a
    writable folder. Nothing is left behind: the test writes and removes one empty file in
    the nearest folder that exists.

    >>> import tempfile, pathlib
    >>> a_file = pathlib.Path(tempfile.mkstemp()[1])
    >>> check_writable(a_file / "results")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    empathylab.errors.EmpathylabError: Cannot write results to .../results: ... is a file, not a folder.
    """
    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise EmpathylabError(f"Cannot write results to {folder}: {existing} is a file, not a folder.")
    try:
        handle, probe = tempfile.mkstemp(dir=existing, prefix=".empathylab-write-test-")
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise EmpathylabError(
            f"Cannot write results to {folder}: {existing}: {exc.strerror or exc}."
        ) from None


def read_design(path: str | Path) -> dict[str, Any]:
    """Return the design a store folder's ``design.json`` records.

    A damaged file raises :class:`~empathylab.errors.EmpathylabError` naming it.
    """
    path = Path(path)
    try:
        design = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EmpathylabError(
            f"{path} is damaged ({exc}), so the chunks beside it cannot be checked. Nothing was "
            "changed: restore it, write elsewhere with --out, or delete that folder to start over."
        ) from None
    if not isinstance(design, dict):
        raise EmpathylabError(f"{path} must hold a JSON object, not {type(design).__name__}.")
    return design


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{_writer_tag()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def read_chunks(
    folder: str | Path, columns: tuple[str, ...] | None = None, *, what: str = "chunks"
) -> pd.DataFrame:
    """Return every stored chunk under ``folder`` (at any depth) as one frame, in file order.

    ``columns`` selects and orders the columns; an empty folder raises
    :class:`~empathylab.errors.EmpathylabError` naming it and ``what`` was looked for.

    >>> import tempfile
    >>> store = ChunkStore(tempfile.mkdtemp(), {"task": "demo"}, columns=("a",))
    >>> _ = store.write(0, pd.DataFrame({"a": [1, 2]}), {})
    >>> read_chunks(store.folder)["a"].tolist()
    [1, 2]
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(Path(folder).rglob("chunk-*.parquet"))
    if not files:
        raise EmpathylabError(f"No stored {what} under {folder}.")
    tables, damaged = [], []
    for path in files:
        data = path.read_bytes()
        problem = verify_chunk(path, data)
        if problem is None:
            tables.append(pq.read_table(pa.BufferReader(data)))
        else:
            damaged.append(f"{path} {problem}")
    if damaged:
        raise EmpathylabError(
            f"{len(damaged)} stored chunk(s) are damaged: {'; '.join(damaged[:3])}"
            f"{'; ...' if len(damaged) > 3 else ''}. Run the same command that wrote them again: "
            "it sets them aside and answers them anew."
        )
    frame = pd.concat([t.to_pandas() for t in tables], ignore_index=True)
    return frame[list(columns)] if columns is not None else frame


def fingerprint(payload: dict[str, Any]) -> str:
    """Return a short SHA-256 of a JSON-able ``payload`` (the key of a stored result).

    >>> fingerprint({"a": 1}) == fingerprint({"a": 1}), len(fingerprint({"a": 1}))
    (True, 16)
    """
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def write_frame(frame: pd.DataFrame, path: str | Path, key: str) -> pd.DataFrame:
    """Store one finished result as ``path`` (Parquet, written atomically) under ``key``; return it.

    The one-file counterpart of :class:`ChunkStore` for results computed in one go (a
    training run): :func:`read_frame` returns it only while ``key`` still matches.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"empathylab_key": key.encode()})
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return frame


def read_frame(path: str | Path, key: str) -> pd.DataFrame | None:
    """Return the frame stored at ``path`` by :func:`write_frame` if its key is ``key``, else None.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.parquet"
    >>> _ = write_frame(pd.DataFrame({"pcc": [0.5]}), path, "k1")
    >>> read_frame(path, "k1")["pcc"].tolist(), read_frame(path, "k2")
    ([0.5], None)
    """
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.exists():
        return None
    try:
        meta = pq.read_schema(path).metadata or {}
        if meta.get(b"empathylab_key", b"").decode() != key:
            return None
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        kept = _set_aside(path)
        logger.warning("%s cannot be read (%s); moved to %s, it will be computed again.", path, exc, kept)
        return None


def stored_frame(
    path: str | Path, payload: dict[str, Any], compute: Callable[[], pd.DataFrame]
) -> pd.DataFrame:
    """Return the frame stored at ``path`` for ``payload``, else ``compute()``'s, stored there.

    The key is :func:`fingerprint` of ``payload``; a frame stored under another payload
    (changed settings) or a file that cannot be read is computed again.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.parquet"
    >>> stored_frame(path, {"seed": 0}, lambda: pd.DataFrame({"pcc": [0.5]}))["pcc"].tolist()
    [0.5]
    >>> stored_frame(path, {"seed": 0}, lambda: 1 / 0)["pcc"].tolist()  # not computed again
    [0.5]
    """
    key = fingerprint(payload)
    if (stored := read_frame(path, key)) is not None:
        return stored
    return write_frame(compute(), path, key)


def read_metadata(path: str | Path) -> dict[str, str]:
    """Return the run metadata stored in one chunk file."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta.get(b"empathylab", b"{}"))
