from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest
from conftest import ROOT

from empathylab import book
from empathylab.errors import EmpathylabError

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
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n  - file: build/executed/nope\n"
    )
    with pytest.raises(EmpathylabError, match="notebooks/nope.md is missing"):
        book.chapters(tmp_path)


@pytest.mark.slow
def test_papermill_injects_the_profile(tmp_path):
    root = _book(tmp_path)
    [out] = book.execute_book("paper", root=root)
    assert book.glued(out) == {"profile_seen": "'paper'"}


@pytest.mark.slow
def test_the_kernel_shows_no_tqdm_warning_but_other_warnings(tmp_path):
    import nbformat

    # huggingface_hub imports tqdm.auto, which warns in a kernel without ipywidgets
    body = "import warnings\nimport tqdm.auto\nwarnings.warn('still shown', UserWarning)"
    [out] = book.execute_book("demo", root=_book(tmp_path, body=body))
    streams = [
        o.get("text", "") for c in nbformat.read(out, as_version=4).cells for o in c.get("outputs", [])
    ]
    assert "still shown" in "".join(streams)
    assert "TqdmWarning" not in "".join(streams)


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
    from empathylab.gaps.design import design_sizes

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
    for folder in ("_ext", "_templates"):  # the local Sphinx extension and templates _config.yml names
        if (ROOT / "book" / folder).is_dir():
            shutil.copytree(
                ROOT / "book" / folder, root / "book" / folder, ignore=shutil.ignore_patterns("__pycache__")
            )
    (root / "_toc.yml").write_text("format: jb-book\nroot: index\n")
    (root / "index.md").write_text(page)
    jb = Path(sys.executable).with_name("jupyter-book")
    done = subprocess.run(
        [str(jb), "build", str(root), "--all", "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
        timeout=300,
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


PAGE = """<html><head><script>var x = "FutureWarning: in a script is not shown";</script></head><body>
<p>The prose may say FutureWarning: or /tmp/ and site-packages: it is written, not computed.</p>
<div class="cell docutils container"><div class="cell_input docutils container"><pre>import warnings</pre></div>
<div class="cell_output docutils container">{output}</div></div>
<p>A glued value: <span class="pasted-text">{glued}</span>.</p>
</body></html>
"""


def _page(
    tmp_path: Path,
    output: str = "<div class='output text_html'><table><tr><td>1</td></tr></table></div>",
    glued: str = "results/demo",
) -> Path:
    folder = tmp_path / "html"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "page.html").write_text(PAGE.format(output=output, glued=glued))
    return folder


def test_check_html_passes_a_clean_page_whatever_its_prose_says(tmp_path):
    assert book.check_html(_page(tmp_path), root=tmp_path) == []


def test_check_html_reports_a_warning_in_an_output(tmp_path):
    stderr = (
        '<div class="output stderr highlight-myst-ansi notranslate"><div class="highlight"><pre><span></span>'
        "/opt/venv/lib/python3.11/site-packages/transformers/utils/generic.py:1036: FutureWarning: "
        "`past_key_values` is deprecated\n  return func(*args, **kwargs)\n</pre></div></div>"
    )
    problems = book.check_html(_page(tmp_path, output=stderr * 3), root=tmp_path)
    assert len(problems) == 1
    assert problems[0].startswith("sub/page.html: FutureWarning, path site-packages in an output (3 times): ")
    assert "`past_key_values` is deprecated" in problems[0]


@pytest.mark.parametrize(
    "output, what",
    [
        (
            '<div class="output traceback"><pre>Traceback (most recent call last):\n  ValueError</pre></div>',
            "error output",
        ),
        ("<pre>DeprecationWarning: old</pre>", "DeprecationWarning in an output"),
        ("<pre>x/tqdm/auto.py:21: TqdmWarning: IProgress not found</pre>", "TqdmWarning in an output"),
        ("<pre>loaded /home/someone/model.gguf</pre>", "path /home/ in an output"),
        ("<pre>saved to /root/.cache/x</pre>", "path /root/ in an output"),
    ],
)
def test_check_html_reports_tracebacks_warnings_and_machine_paths(tmp_path, output, what):
    problems = book.check_html(_page(tmp_path, output=output), root=tmp_path)
    assert problems and any(what in p for p in problems), problems


def test_check_html_reports_the_repository_path_in_a_glued_value(tmp_path):
    root = tmp_path / "checkout"
    root.mkdir()
    problems = book.check_html(_page(tmp_path, glued=f"{root}/results/demo"), root=root)
    assert len(problems) == 1 and f"path {root} in an output: {root}/results/demo" in problems[0]


def test_book_check_command_exits_non_zero_on_a_problem(tmp_path, capsys):
    from empathylab.cli import main

    clean = _page(tmp_path)
    assert main(["book", "check", "--html", str(clean)]) == 0
    (clean / "bad.html").write_text(PAGE.format(output="<pre>UserWarning: odd</pre>", glued=""))
    assert main(["book", "check", "--html", str(clean)]) == 2
    assert "bad.html: UserWarning in an output: UserWarning: odd" in capsys.readouterr().out


def _table(body: str, head: str = "<thead><tr><th>x</th></tr></thead>") -> str:
    return f"<div class='output text_html'><table>{head}<tbody>{body}</tbody></table></div>"


@pytest.mark.parametrize(
    "cell, kind",
    [
        ("<td>-0.883400</td>", "raw float"),
        ("<td>2.552056e-09</td>", "scientific notation"),
        ("<td>NaN</td>", "missing value shown as NaN/None"),
        ("<td>None</td>", "missing value shown as NaN/None"),
        ("<td>&lt;NA&gt;</td>", "missing value shown as NaN/None"),
        ("<td>NaT</td>", "missing value shown as NaN/None"),
        ("<td>2026-12-07T15:53:33.922801+00:00</td>", "timestamp with microseconds"),
        ("<td>5330050</td>", "number without thousands separators"),
        ("<th>0</th><td>1</td>", "index column (a row header)"),
    ],
)
def test_check_html_reports_each_kind_of_raw_table_cell_once_per_page(tmp_path, cell, kind):
    rows = "".join(f"<tr>{cell}</tr>" for _ in range(3))
    problems = book.check_html(_page(tmp_path, output=_table(rows)), root=tmp_path)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"sub/page.html: {kind} in a table (3 cells), e.g. ")


@pytest.mark.parametrize(
    "cell",
    [
        "-0.883",
        "0.0083",
        "&lt; 0.001",
        "5,330,050",
        "947.6",
        "–",
        "2026-12-07 15:53:33 UTC",
        "2024",
        "a None b",
    ],
)
def test_check_html_passes_formatted_table_cells(tmp_path, cell):
    output = _table(f"<tr><td>{cell}</td></tr>")
    assert book.check_html(_page(tmp_path, output=output), root=tmp_path) == []


def test_check_html_reads_tables_only_in_computed_output(tmp_path):
    folder = _page(tmp_path)
    prose = "<table><tbody><tr><th>0</th><td>-0.883400</td><td>NaN</td></tr></tbody></table>"
    (folder / "api.html").write_text(f"<html><body><p>A docstring's table:</p>{prose}</body></html>")
    assert book.check_html(folder, root=tmp_path) == []


def test_the_injected_parameters_cell_is_hidden(tmp_path):
    import nbformat

    cells = [nbformat.v4.new_code_cell("profile = 'demo'"), nbformat.v4.new_code_cell("profile = 'class'")]
    cells[0].metadata["tags"] = ["parameters", "remove-cell"]
    cells[1].metadata["tags"] = ["injected-parameters"]
    path = tmp_path / "chapter.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    assert book.hide_injected_parameters(path) == 1
    assert book.hide_injected_parameters(path) == 0
    tags = [c.metadata["tags"] for c in nbformat.read(path, as_version=4).cells]
    assert tags == [["parameters", "remove-cell"], ["injected-parameters", "remove-cell"]]


def test_check_html_lets_an_identifier_go_without_separators(tmp_path):
    head = "<thead><tr><th colspan='2'>narrative</th></tr><tr><th>item_id</th><th>prompts</th></tr></thead>"
    output = _table("<tr><td>31222</td><td>31222</td></tr>", head=head)
    problems = book.check_html(_page(tmp_path, output=output), root=tmp_path)
    assert problems == [
        "sub/page.html: number without thousands separators in a table (1 cell), e.g. '31222'"
    ]
