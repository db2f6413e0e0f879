"""The book's exercises: where they are, which check each calls, and whether its solution passes.

An exercise is written in a chapter with ``sphinx-exercise``'s gated directives
(``exercise-start`` … ``exercise-end``, then ``solution-start`` … ``solution-end`` around
the solution's code cells) and checked by a function of :mod:`empathylab.course`. The
solutions execute with the chapter, so :func:`check_solutions` can tell, from the executed
notebooks, that every solution still passes its check: a solution that rots fails the build.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

__all__ = ["EXERCISE", "exercises", "check_solutions"]

#: The opening of an exercise in a chapter's MyST source, with its title and label.
EXERCISE = re.compile(r":::\{exercise-start\}(?P<title>[^\n]*)\n:label:\s*(?P<label>[\w-]+)")
_CHECK = re.compile(r"\bcheck\.(?P<check>check_\w+)\(")
_SOLUTION = re.compile(r"\{solution-start\}\s*(?P<label>[\w-]+)")


def exercises(root: str | Path = ".") -> pd.DataFrame:
    """Return one row per exercise in the chapters under ``root``/notebooks.

    Columns: ``chapter`` (the notebook's path under notebooks/, without ``.md``),
    ``label``, ``title`` (the directive's argument) and ``check`` (the
    :mod:`empathylab.course` function its cells call), in the book's order (_toc.yml).

    >>> table = exercises()
    >>> {"chapter", "label", "title", "check"} <= set(table.columns)
    True
    """
    from empathylab.book import chapters

    rows = []
    for path in [Path(c.source) for c in chapters(root)]:
        text = path.read_text(encoding="utf-8")
        starts = list(EXERCISE.finditer(text))
        for i, match in enumerate(starts):
            body = text[match.end() : starts[i + 1].start() if i + 1 < len(starts) else len(text)]
            check = _CHECK.search(body)
            rows.append(
                {
                    "chapter": path.relative_to(Path(root) / "notebooks").with_suffix("").as_posix(),
                    "label": match["label"],
                    "title": match["title"].strip(),
                    "check": check["check"] if check else "",
                }
            )
    return pd.DataFrame(rows, columns=["chapter", "label", "title", "check"])


def _text(cell: dict) -> str:
    """The source or outputs of a notebook cell as one string (nbformat stores lists or strings)."""
    parts = []
    for output in cell.get("outputs", []):
        data = output.get("data", {}).get("text/plain", output.get("text", ""))
        parts.append("".join(data) if isinstance(data, list) else data)
    return "\n".join(parts)


def check_solutions(folder: str | Path = "build/executed") -> list[str]:
    """Return one line per exercise whose executed solution does not pass its check.

    In each executed notebook under ``folder``, the code cells between a
    ``solution-start`` and its ``solution-end`` must show at least one ✓ line and no ✗
    line; an exercise with no solution is reported too.

    >>> import tempfile
    >>> cell = lambda kind, source, out="": {"cell_type": kind, "source": source,
    ...     "outputs": [{"output_type": "execute_result", "data": {"text/plain": out}}] if out else []}
    >>> notebook = {"cells": [cell("markdown", ":::{exercise-start} A\\n:label: ex-a\\n:::"),
    ...     cell("markdown", ":::{solution-start} ex-a\\n:class: dropdown\\n:::"),
    ...     cell("code", "answer = 1", "✗ Not δ."), cell("markdown", ":::{solution-end}\\n:::")]}
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = (Path(folder) / "a.ipynb").write_text(json.dumps(notebook))
    ...     check_solutions(folder)
    ['a.ipynb: the solution of ex-a does not pass its check: ✗ Not δ.']
    """
    problems = []
    for path in sorted(Path(folder).rglob("*.ipynb")):
        name = path.relative_to(folder).as_posix()
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        opened: list[str] = []
        solved: dict[str, list[str]] = {}
        current = None
        for cell in cells:
            source = "".join(cell.get("source", ""))
            if cell.get("cell_type") == "markdown":
                opened += [m["label"] for m in EXERCISE.finditer(source)]
                if match := _SOLUTION.search(source):
                    current = match["label"]
                    solved[current] = []
                if "{solution-end}" in source:
                    current = None
            elif current is not None:
                solved[current] += [line.strip() for line in _text(cell).splitlines() if line.strip()]
        for label in opened:
            lines = solved.get(label)
            if lines is None:
                problems.append(f"{name}: the exercise {label} has no solution")
            elif wrong := [line for line in lines if line.startswith("✗")]:
                problems.append(f"{name}: the solution of {label} does not pass its check: {wrong[0]}")
            elif not any(line.startswith("✓") for line in lines):
                problems.append(f"{name}: the solution of {label} shows no ✓ line (was its check called?)")
    return problems
