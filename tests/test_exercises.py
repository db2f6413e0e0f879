"""The course's exercises: every chapter of Parts I–III has one, every check they call exists
and is tested, and a solution that does not pass its check is caught."""

from __future__ import annotations

import json
from pathlib import Path

import empathylab.course.gaps
from empathylab.book import chapters
from empathylab.exercises import check_solutions, exercises

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("gaps/", "llmpathy/", "beyond/")


def _course_checks() -> dict[str, object]:
    import importlib

    found = {}
    for name in ("gaps", "llmpathy"):
        try:
            module = importlib.import_module(f"empathylab.course.{name}")
        except ModuleNotFoundError:
            continue
        found.update({f: getattr(module, f) for f in module.__all__})
    return found


def test_every_chapter_of_parts_one_to_three_has_an_exercise() -> None:
    table = exercises(ROOT)
    wanted = {
        c.source.relative_to(ROOT / "notebooks").with_suffix("").as_posix()
        for c in chapters(ROOT)
        if c.source.relative_to(ROOT / "notebooks").as_posix().startswith(PARTS)
    }
    assert wanted - set(table["chapter"]) == set()
    assert table["label"].is_unique
    assert (table["title"] != "").all()


def test_every_exercise_calls_a_check_of_the_course_and_every_check_is_used() -> None:
    table = exercises(ROOT)
    checks = _course_checks()
    assert set(empathylab.course.gaps.__all__) <= set(checks)
    assert set(table["check"]) - set(checks) == set()
    assert set(checks) - set(table["check"]) == set()


def test_every_check_has_a_test() -> None:
    tests = "".join(p.read_text() for p in (ROOT / "tests").glob("test_course_*.py"))
    assert [
        name for name in _course_checks() if f"check.{name}(" not in tests and f"{name}(" not in tests
    ] == []


def _notebook(tmp: Path, solution_output: str | None) -> Path:
    def cell(kind: str, source: str, out: str | None = None) -> dict:
        outputs = [{"output_type": "execute_result", "data": {"text/plain": out}}] if out else []
        return {"cell_type": kind, "source": source, "outputs": outputs}

    cells = [
        cell("markdown", ":::{exercise-start}\n:label: ex-x-1\n:::"),
        cell("code", "answer = None", "✗ No answer"),
    ]
    if solution_output is not None:
        cells += [
            cell("markdown", ":::{exercise-end}\n:::\n\n:::{solution-start} ex-x-1\n:class: dropdown\n:::"),
            cell("code", "answer = 1", solution_output),
            cell("markdown", ":::{solution-end}\n:::"),
        ]
    (tmp / "x.ipynb").write_text(json.dumps({"cells": cells}))
    return tmp


def test_check_solutions_passes_a_right_solution_and_ignores_the_starting_cell(tmp_path: Path) -> None:
    assert check_solutions(_notebook(tmp_path, "✓ δ = 0.3")) == []


def test_check_solutions_catches_a_rotten_a_silent_and_a_missing_solution(tmp_path: Path) -> None:
    assert "does not pass its check: ✗ Not δ" in check_solutions(_notebook(tmp_path, "✗ Not δ"))[0]
    assert "no ✓ line" in check_solutions(_notebook(tmp_path, "0.3"))[0]
    assert "has no solution" in check_solutions(_notebook(tmp_path, None))[0]
