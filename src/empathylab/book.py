"""Execute the book's chapters with papermill, with the parameters of a run profile.

The table of contents (``_toc.yml``) is the one list of chapters: every entry under
``build/executed/`` is the executed copy of the MyST notebook ``notebooks/<same path>.md``.
Sources are converted with jupytext and executed by papermill with the parameter
``profile``; Jupyter Book then builds the HTML from the executed copies without
executing anything itself.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    import pandas as pd

from empathylab.errors import EmpathylabError

__all__ = [
    "Chapter",
    "chapters",
    "execute_chapter",
    "execute_book",
    "execution_table",
    "environment",
    "glued",
    "check_html",
]

EXECUTED = "build/executed"

#: Warning filters (``PYTHONWARNINGS`` syntax) of the kernel that executes a chapter.
#: ``huggingface_hub`` imports ``tqdm.auto`` when transformers loads, and in a Jupyter
#: kernel without ipywidgets ``tqdm.auto`` warns once, at import, with the path of the
#: machine's site-packages ("TqdmWarning: IProgress not found"); it then uses the plain
#: bars, which ``TQDM_DISABLE=1`` turns off anyway. Every other warning still shows.
KERNEL_WARNINGS = ("ignore:IProgress not found:Warning",)


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
    bars belong to the terminal, not the book); its kernel ignores tqdm's warning that
    ipywidgets is missing (``KERNEL_WARNINGS``). A failing cell raises
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
    os.environ["PYTHONWARNINGS"] = _kernel_warnings(os.environ.get("PYTHONWARNINGS", ""))
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


def _kernel_warnings(current: str) -> str:
    """``PYTHONWARNINGS`` for the kernel: the user's filters, then ``KERNEL_WARNINGS``.

    >>> _kernel_warnings("")
    'ignore:IProgress not found:Warning'
    >>> _kernel_warnings("default,ignore:IProgress not found:Warning")
    'default,ignore:IProgress not found:Warning'
    """
    filters = [f for f in current.split(",") if f]
    return ",".join(filters + [f for f in KERNEL_WARNINGS if f not in filters])


def execute_book(profile: str = "demo", root: str | Path = ".", only: list[str] | None = None) -> list[Path]:
    """Execute every chapter (or those whose source path contains one of ``only``).

    Returns the executed notebooks. The profile is validated first, so a bad profile
    stops the run before any chapter starts.
    """
    from empathylab.profiles import load_profile

    load_profile(profile)
    todo = [c for c in chapters(root) if not only or any(o in str(c.source) for o in only)]
    if not todo:
        raise EmpathylabError(
            f"No chapter matches {only}; chapters: {[str(c.source) for c in chapters(root)]}."
        )
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

    names = [
        "empathylab",
        "numpy",
        "pandas",
        "torch",
        "transformers",
        "gguf",
        "sentence-transformers",
        "papermill",
        "jupyter-book",
        "myst-nb",
    ]
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


#: What the built book must not show in a cell's output or a glued value: a Python
#: warning, a traceback, or a path of the machine that built it.
_WARNING = re.compile(r"\b[A-Za-z]*Warning:")
_TRACEBACK = "Traceback (most recent call last)"
MACHINE_PATHS = ("site-packages", "/home/", "/root/", "/tmp/", "/Users/")
#: Classes of the HTML elements that hold computed content: myst-nb's cell outputs and
#: the values pasted by ``{glue}`` roles and directives.
_COMPUTED = ("cell_output", "output", "pasted-text", "pasted-inline", "pasted-math")
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class _ComputedText(HTMLParser):
    """Collects the text of the computed parts of a page, one string per outermost part."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # (tag, opens a computed part here)
        self.parts: list[list[str]] = []
        self.errors = 0  # myst-nb error outputs (class "traceback")
        self.skip = 0  # inside <script> or <style>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            return
        if tag in ("script", "style"):
            self.skip += 1
        classes = (dict(attrs).get("class") or "").split()
        inside = any(opened for _, opened in self.stack)
        opens = not inside and any(c in _COMPUTED for c in classes)
        if opens:
            self.parts.append([])
        if (inside or opens) and "traceback" in classes:
            self.errors += 1
        self.stack.append((tag, opens))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data: str) -> None:
        if not self.skip and any(opened for _, opened in self.stack):
            self.parts[-1].append(data)


def check_html(folder: str | Path = "_build/html", root: str | Path | None = None) -> list[str]:
    """Return one line per problem shown to readers in the built book under ``folder``.

    Only computed content is read (cell outputs and glued values, not the prose): a
    Python warning (``FutureWarning: ...``), a traceback or an error output, and a path
    of the build machine (``site-packages``, ``/home/``, ``/root/``, ``/tmp/``, the
    absolute path of ``root``, by default the working directory). A line of text found
    several times on a page is reported once, with its count.

    >>> import tempfile
    >>> page = (
    ...     '<p>A Warning: in prose is fine.</p>'
    ...     '<div class="cell_output"><pre>x.py:3: UserWarning: odd</pre></div>'
    ... )
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = (Path(folder) / "page.html").write_text(page)
    ...     check_html(folder)
    ['page.html: UserWarning in an output: x.py:3: UserWarning: odd']
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise EmpathylabError(f"No built book in {folder}: run `jupyter-book build .` first.")
    repository = str(Path(root if root is not None else ".").resolve())
    paths = [*MACHINE_PATHS, *([repository] if repository != "/" else [])]
    problems = []
    for page in sorted(folder.rglob("*.html")):
        name = page.relative_to(folder).as_posix()
        parser = _ComputedText()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        parser.close()
        if parser.errors:
            problems.append(f"{name}: {parser.errors} error output(s)")
        lines = Counter(line.strip() for part in parser.parts for line in "".join(part).splitlines())
        for line, count in lines.items():
            what = list(dict.fromkeys(m.group()[:-1] for m in _WARNING.finditer(line)))
            what += ["traceback"] if _TRACEBACK in line else []
            what += [f"path {p}" for p in paths if p in line]
            if what:
                times = f" ({count} times)" if count > 1 else ""
                shown = line if len(line) <= 200 else line[:197] + "..."
                problems.append(f"{name}: {', '.join(what)} in an output{times}: {shown}")
    return problems
