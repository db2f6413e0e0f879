"""Execute the book's chapters with papermill, with the parameters of a run profile.

The table of contents (``_toc.yml``) is the one list of chapters: every entry under
``build/executed/`` is the executed copy of the MyST notebook ``notebooks/<same path>.md``.
Sources are converted with jupytext and executed by papermill with the parameter
``profile``; Jupyter Book then builds the HTML from the executed copies without
executing anything itself.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    import pandas as pd

from empathylab.errors import EmpathylabError

__all__ = ["Chapter", "chapters", "execute_chapter", "execute_book", "execution_table", "environment", "glued"]

EXECUTED = "build/executed"


@dataclass(frozen=True)
class Chapter:
    """A chapter: its MyST notebook source and the executed notebook the book shows."""

    source: Path
    executed: Path


def _toc_files(node: object) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        if "file" in node:
            found.append(str(node["file"]))
        for value in node.values():
            found.extend(_toc_files(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_toc_files(value))
    return found


def chapters(root: str | Path = ".") -> list[Chapter]:
    """Return the executable chapters of the book at ``root``, in table-of-contents order.

    >>> [c.source.name for c in chapters()][:1]
    ['stimuli.md']
    """
    root = Path(root)
    toc_path = root / "_toc.yml"
    if not toc_path.is_file():
        raise EmpathylabError(f"No _toc.yml in {root.resolve()}: run from the book's root.")
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    found = []
    for entry in _toc_files(toc):
        entry = entry.removesuffix(".ipynb")
        if entry.startswith(EXECUTED + "/"):
            rel = entry.removeprefix(EXECUTED + "/")
            source = root / "notebooks" / f"{rel}.md"
            if not source.is_file():
                raise EmpathylabError(f"_toc.yml lists {entry} but its source {source} is missing.")
            found.append(Chapter(source=source, executed=root / EXECUTED / f"{rel}.ipynb"))
    return found


def execute_chapter(
    chapter: Chapter, profile: str = "demo", root: str | Path = ".", progress: bool = True
) -> Path:
    """Execute one chapter with papermill and return the path of the executed notebook.

    The notebook runs with ``root`` as working directory and ``TQDM_DISABLE=1`` (progress
    bars belong to the terminal, not the book). A failing cell raises
    :class:`~empathylab.errors.EmpathylabError` naming the notebook, the cell and the error.
    """
    import jupytext
    import papermill
    from papermill.exceptions import PapermillExecutionError

    source_nb = jupytext.read(chapter.source)
    if not any("parameters" in c.metadata.get("tags", []) for c in source_nb.cells):
        raise EmpathylabError(f"{chapter.source} has no cell tagged 'parameters'.")
    chapter.executed.parent.mkdir(parents=True, exist_ok=True)
    unexecuted = chapter.executed.with_suffix(".source.ipynb")
    jupytext.write(source_nb, unexecuted)
    os.environ["TQDM_DISABLE"] = "1"
    try:
        papermill.execute_notebook(
            str(unexecuted),
            str(chapter.executed),
            parameters={"profile": profile},
            cwd=str(Path(root).resolve()),
            progress_bar=progress,
            kernel_name="python3",
        )
    except PapermillExecutionError as exc:
        raise EmpathylabError(
            f"Chapter {chapter.source} failed in cell {exc.exec_count} "
            f"({exc.ename}: {exc.evalue}). The partly executed notebook is "
            f"{chapter.executed}."
        ) from None
    finally:
        unexecuted.unlink(missing_ok=True)
    return chapter.executed


def execute_book(
    profile: str = "demo", root: str | Path = ".", only: list[str] | None = None
) -> list[Path]:
    """Execute every chapter (or those whose source path contains one of ``only``).

    Returns the executed notebooks. The profile is validated first, so a bad profile
    stops the run before any chapter starts.
    """
    from empathylab.profiles import load_profile

    load_profile(profile)
    todo = [c for c in chapters(root) if not only or any(o in str(c.source) for o in only)]
    if not todo:
        raise EmpathylabError(f"No chapter matches {only}; chapters: {[str(c.source) for c in chapters(root)]}.")
    done = []
    for number, chapter in enumerate(todo, 1):
        start = time.perf_counter()
        print(f"[{number}/{len(todo)}] {chapter.source} (profile {profile})", flush=True)
        done.append(execute_chapter(chapter, profile=profile, root=root))
        print(f"      done in {time.perf_counter() - start:.0f} s -> {chapter.executed}", flush=True)
    return done


def execution_table(root: str | Path = ".") -> pd.DataFrame:
    """Return one row per executed chapter: its source, profile, start time and duration.

    Read from the papermill metadata of the notebooks in ``build/executed``; chapters
    not executed yet are listed with empty fields.
    """
    import nbformat
    import pandas as pd

    rows = []
    for chapter in chapters(root):
        row = {"chapter": chapter.source.relative_to(Path(root) / "notebooks").as_posix()}
        if chapter.executed.is_file():
            meta = nbformat.read(chapter.executed, as_version=4).metadata.get("papermill", {})
            status = "ok" if meta.get("duration") is not None else "running"
            row.update(
                profile=meta.get("parameters", {}).get("profile"),
                started=meta.get("start_time"),
                seconds=meta.get("duration"),
                status="failed" if meta.get("exception") else status,
            )
        rows.append(row)
    return pd.DataFrame(rows, columns=["chapter", "profile", "started", "seconds", "status"])


def environment() -> pd.DataFrame:
    """Return the versions of Python, empathylab and the packages results depend on.

    The first rows give the Python version and the git commit of the working directory
    (``unknown`` outside a git checkout).

    >>> "empathylab" in set(environment()["package"])
    True
    """
    import platform
    from importlib.metadata import PackageNotFoundError, version

    import pandas as pd

    names = ["empathylab", "numpy", "pandas", "torch", "transformers", "gguf",
             "sentence-transformers", "papermill", "jupyter-book", "myst-nb"]  # fmt: skip
    import subprocess

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    rows = [
        {"package": "python", "version": platform.python_version()},
        {"package": "git commit", "version": commit},
    ]
    for name in names:
        try:
            rows.append({"package": name, "version": version(name)})
        except PackageNotFoundError:
            rows.append({"package": name, "version": "not installed"})
    return pd.DataFrame(rows)


def glued(notebook: str | Path) -> dict[str, str]:
    """Return the values glued (myst-nb ``glue``) in an executed notebook, as plain text.

    Keys are the glue names; values are the ``text/plain`` representations that
    ``{glue:text}`` shows in the book.
    """
    import nbformat

    values = {}
    for cell in nbformat.read(notebook, as_version=4).cells:
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get("scrapbook", {})
            if "name" in record:
                prefix = record.get("mime_prefix", "")
                values[record["name"]] = output["data"].get(f"{prefix}text/plain", "")
    return values
