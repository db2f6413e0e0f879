from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from empathylab import book
from empathylab.errors import EmpathylabError

from conftest import ROOT

NOTEBOOK = """---
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A test chapter

```{{code-cell}} ipython3
{params}profile = "demo"
```

```{{code-cell}} ipython3
from myst_nb import glue
glue("profile_seen", profile, display=False)
{body}
```
"""


def _book(tmp_path: Path, body: str = "", params: str = ":tags: [parameters]\n") -> Path:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "chap.md").write_text(NOTEBOOK.format(body=body, params=params))
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n  - file: build/executed/chap\n"
    )
    shutil.copytree(ROOT / "params", tmp_path / "params")
    return tmp_path


def test_chapters_come_from_the_table_of_contents():
    found = book.chapters(ROOT)
    assert [c.source.relative_to(ROOT / "notebooks").as_posix() for c in found][0] == "gaps/stimuli.md"
    for chapter in found:
        assert chapter.executed.suffix == ".ipynb" and "build/executed" in chapter.executed.as_posix()


def test_a_toc_entry_without_source_is_an_error(tmp_path):
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: build/executed/nope\n")
    with pytest.raises(EmpathylabError, match="notebooks/nope.md is missing"):
        book.chapters(tmp_path)


@pytest.mark.slow
def test_papermill_injects_the_profile(tmp_path):
    root = _book(tmp_path)
    [out] = book.execute_book("paper", root=root)
    assert book.glued(out) == {"profile_seen": "'paper'"}


@pytest.mark.slow
def test_a_failing_cell_names_the_chapter_and_the_error(tmp_path):
    root = _book(tmp_path, body="raise ValueError('broken on purpose')")
    with pytest.raises(EmpathylabError, match=r"chap.md failed in cell .*ValueError: broken on purpose"):
        book.execute_book("demo", root=root)


def test_a_chapter_without_parameters_cell_is_refused(tmp_path):
    root = _book(tmp_path, params="")
    with pytest.raises(EmpathylabError, match="no cell tagged 'parameters'"):
        book.execute_book("demo", root=root)


def test_a_bad_profile_stops_before_any_chapter(tmp_path):
    root = _book(tmp_path)
    with pytest.raises(EmpathylabError, match="Unknown profile"):
        book.execute_book("nosuch", root=root)
    assert not (root / "build").exists()


@pytest.mark.slow
def test_the_stimuli_chapter_executes_and_glues_computed_numbers(mirror, tmp_path, monkeypatch):
    from empathylab.data import load_narratives
    from empathylab.design import design_sizes

    monkeypatch.chdir(ROOT)
    chapter = next(c for c in book.chapters(ROOT) if c.source.name == "stimuli.md")
    chapter = book.Chapter(chapter.source, tmp_path / "stimuli.ipynb")
    values = book.glued(book.execute_chapter(chapter, "demo", root=ROOT, progress=False))
    narratives = load_narratives()
    assert int(values["n_narratives"]) == len(narratives)
    assert int(values["prompts_per_model_variation"]) == design_sizes(len(narratives))["prompts"].sum()
    assert ast.literal_eval(values["profile_name"]) == "demo"


def _jb_build(root: Path, page: str) -> tuple[int, str]:
    """Build a one-page book with the project's _config.yml, as `make html` does."""
    import subprocess
    import sys

    shutil.copy(ROOT / "_config.yml", root / "_config.yml")
    (root / "book").mkdir(exist_ok=True)
    shutil.copy(ROOT / "book" / "references.bib", root / "book" / "references.bib")
    (root / "_toc.yml").write_text("format: jb-book\nroot: index\n")
    (root / "index.md").write_text(page)
    jb = Path(sys.executable).with_name("jupyter-book")
    done = subprocess.run(
        [str(jb), "build", str(root), "--all", "-W", "-n", "--keep-going"],
        capture_output=True, text=True, timeout=300,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "line, ok",
    [
        ("Nothing to resolve here.", True),
        ("A number: {glue:text}`no_such_key:.2f`.", False),
        ("A page: {doc}`no_such_page`.", False),
        ("A citation: {cite}`no_such_paper`.", False),
    ],
)
def test_the_book_build_fails_on_missing_glue_and_broken_references(tmp_path, line, ok):
    code, log = _jb_build(tmp_path, f"# Title\n\n{line}\n")
    assert (code == 0) == ok, log[-2000:]
