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
    "hide_injected_parameters",
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
    ipywidgets is missing (``KERNEL_WARNINGS``). The cell papermill injects with the
    profile is hidden from the book (:func:`hide_injected_parameters`). A failing cell raises
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
    hide_injected_parameters(chapter.executed)
    return chapter.executed


def hide_injected_parameters(notebook: str | Path) -> int:
    """Tag the cell papermill injects (``injected-parameters``) ``remove-cell``; return how many.

    Papermill writes the parameters it passes (``profile = "class"``) into a cell of its
    own after the cell tagged ``parameters``; the book does not show it, as it does not
    show the chapter's own parameters cell. The notebook is rewritten in place.

    >>> import nbformat, tempfile
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('profile = "class"')])
    >>> nb.cells[0].metadata["tags"] = ["injected-parameters"]
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "chapter.ipynb"
    ...     nbformat.write(nb, path)
    ...     hide_injected_parameters(path), nbformat.read(path, as_version=4).cells[0].metadata["tags"]
    (1, ['injected-parameters', 'remove-cell'])
    """
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    hidden = 0
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
            hidden += 1
    if hidden:
        nbformat.write(nb, notebook)
    return hidden


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
    not executed yet are listed with empty fields. ``started`` is a UTC timestamp,
    ``seconds`` a float.
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
    table = pd.DataFrame(rows, columns=["chapter", "profile", "started", "seconds", "status"])
    return table.assign(
        started=pd.to_datetime(table["started"], utc=True), seconds=pd.to_numeric(table["seconds"])
    )


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
    """Collects the text of the computed parts of a page, one string per outermost part.

    It also collects their table cells: ``cells`` holds ``(tag, in_body, text, column)``
    for every ``<td>`` and ``<th>``: ``in_body`` True inside a ``<tbody>``, ``column`` the
    name of the cell's column in a body row (from the table's last header row), else "".
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # (tag, opens a computed part here)
        self.parts: list[list[str]] = []
        self.errors = 0  # myst-nb error outputs (class "traceback")
        self.skip = 0  # inside <script> or <style>
        self.cells: list[tuple[str, bool, str, str]] = []
        self.cell: list[str] | None = None  # the text of the table cell being read
        self.cell_tag, self.span = "", 1
        self.body = self.head = 0  # <tbody>, <thead> elements open inside computed parts
        self.header: list[str] = []  # the column names of the table being read
        self.row: list[str] = []  # the header row being read
        self.column = 0  # where the next cell of a body row is

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
        if inside:
            self._table_tag(tag, dict(attrs).get("colspan"))
        self.stack.append((tag, opens))

    def _table_tag(self, tag: str, colspan: str | None) -> None:
        """Follow the tables of a computed part: sections, rows, cells and their columns."""
        if tag == "table":
            self.header = []
        elif tag == "tbody":
            self.body += 1
        elif tag == "thead":
            self.head += 1
        elif tag == "tr":
            self.row, self.column = [], 0
        elif tag in ("td", "th"):
            self.cell, self.cell_tag = [], tag
            self.span = int(colspan) if colspan and colspan.isdigit() else 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        if tag in ("td", "th") and self.cell is not None:
            text = " ".join("".join(self.cell).split())
            if self.head:
                self.row += [text] * self.span
                self.cells.append((self.cell_tag, False, text, ""))
            else:
                column = self.header[self.column] if self.column < len(self.header) else ""
                self.cells.append((self.cell_tag, self.body > 0, text, column))
            self.column += self.span
            self.cell = None
        elif tag == "tr" and self.head and self.row:
            self.header = self.row
        elif tag == "tbody":
            self.body = max(0, self.body - 1)
        elif tag == "thead":
            self.head = max(0, self.head - 1)
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data: str) -> None:
        if not self.skip and any(opened for _, opened in self.stack):
            self.parts[-1].append(data)
            if self.cell is not None:
                self.cell.append(data)


#: What a table cell of the built book must not show, each kind with its pattern (the
#: whole cell): pandas' raw repr of a number, of a missing value or of a time.
_RAW_CELLS = (
    ("raw float", re.compile(r"[-−]?\d+\.\d{4,}")),
    # pandas signs the exponent (2.55e-09, 1e+05); a commit such as 9776e02 has no sign
    ("scientific notation", re.compile(r"[-−]?\d+(\.\d+)?[eE][-+−]\d+")),
    ("missing value shown as NaN/None", re.compile(r"NaN|nan|NaT|None|<NA>")),
    ("timestamp with microseconds", re.compile(r".*\d\d:\d\d:\d\d\.\d{3,}.*")),
    ("number without thousands separators", re.compile(r"[-−]?\d{5,}(\.\d+)?")),
)


def _raw_kinds(text: str) -> list[str]:
    """The kinds of ``_RAW_CELLS`` a table cell's text is: ``[]`` for a formatted cell.

    A float is raw from four decimals on when it has three significant digits or more
    (pandas prints six decimals); a p-value printed with two, such as 0.0083, is not.

    >>> [_raw_kinds(t) for t in ("-0.883400", "0.0083", "2.552056e-09", "NaN", "5330050")]
    [['raw float'], [], ['scientific notation'], ['missing value shown as NaN/None'], ['number without thousands separators']]
    >>> _raw_kinds("5,330,050"), _raw_kinds("-0.883"), _raw_kinds("9776e02")
    ([], [], [])
    """
    kinds = [kind for kind, pattern in _RAW_CELLS if pattern.fullmatch(text)]
    if "raw float" in kinds and len(re.sub(r"\D", "", text).lstrip("0")) < 3:
        kinds.remove("raw float")
    return kinds


def _table_problems(name: str, cells: list[tuple[str, bool, str, str]]) -> list[str]:
    """One line per kind of raw cell, and one for row headers (an index column), on a page.

    A number in an identifier's column (:func:`empathylab.tables.is_identifier`) needs no
    thousands separator.
    """
    from empathylab.tables import is_identifier

    found: dict[str, list[str]] = {}
    for tag, in_body, text, column in cells:
        kinds = _raw_kinds(text) + (["index column (a row header)"] if tag == "th" and in_body else [])
        if is_identifier(column):
            kinds = [k for k in kinds if k != "number without thousands separators"]
        for kind in kinds:
            found.setdefault(kind, []).append(text)
    problems = []
    for kind, texts in found.items():
        examples = ", ".join(repr(t) for t in list(dict.fromkeys(texts))[:3])
        cells_ = f"{len(texts)} cell" + ("s" if len(texts) > 1 else "")
        problems.append(f"{name}: {kind} in a table ({cells_}), e.g. {examples}")
    return problems


def check_html(folder: str | Path = "_build/html", root: str | Path | None = None) -> list[str]:
    """Return one line per problem shown to readers in the built book under ``folder``.

    Only computed content is read (cell outputs and glued values, not the prose): a
    Python warning (``FutureWarning: ...``), a traceback or an error output, and a path
    of the build machine (``site-packages``, ``/home/``, ``/root/``, ``/tmp/``, the
    absolute path of ``root``, by default the working directory). A line of text found
    several times on a page is reported once, with its count. In the tables of those
    outputs, a cell that pandas printed raw is a problem too (a float with six
    decimals, scientific notation, ``NaN``, ``None`` or ``<NA>`` for a missing value, a
    timestamp with microseconds, a number of five digits or more without thousands
    separators), and so is a row header in a table's body (the frame's index shown as a
    column; :func:`empathylab.tables.table` shows neither): one line per kind and page,
    with the number of cells and examples.

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
        problems += _table_problems(name, parser.cells)
    return problems
