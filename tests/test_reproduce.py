"""The *Reproduce this* boxes, the notice of simulated answers, and the launch buttons' paths."""

from __future__ import annotations

import importlib.util
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from empathylab.errors import EmpathylabError
from empathylab.profiles import load_profile
from empathylab.reproduce import command, executed_profile, save_tables, simulated_notice

ROOT = Path(__file__).resolve().parents[1]


def test_save_tables_writes_one_csv_per_table_with_a_named_index_as_a_column(tmp_path: Path) -> None:
    named = pd.DataFrame({"delta": [0.1, 0.2]}, index=pd.Index(["religion", "ethnicity"], name="grouping"))
    path = save_tables("gaps/grouping", {"deltas": named, "plain": pd.DataFrame({"n": [3]})}, tmp_path)
    assert path == tmp_path / "build/executed/gaps/grouping-tables.zip"
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["deltas.csv", "plain.csv"]
        assert archive.read("deltas.csv").decode().splitlines()[0] == "grouping,delta"
        assert archive.read("plain.csv").decode().splitlines() == ["n", "3"]
    with pytest.raises(EmpathylabError, match="No tables"):
        save_tables("gaps/grouping", {}, tmp_path)


def test_command_names_the_profile_and_the_chapter() -> None:
    assert command("llmpathy/mitigation", load_profile("class")) == (
        "empathylab book execute --profile class --chapter llmpathy/mitigation"
    )


def _executed(folder: Path, name: str, profile: str) -> None:
    (folder / name).parent.mkdir(parents=True, exist_ok=True)
    notebook = {"cells": [], "metadata": {"papermill": {"parameters": {"profile": profile}}}}
    (folder / name).write_text(json.dumps(notebook))


def test_executed_profile_is_the_one_profile_of_every_chapter(tmp_path: Path) -> None:
    assert executed_profile(tmp_path) is None
    _executed(tmp_path, "gaps/a.ipynb", "class")
    _executed(tmp_path, "b.ipynb", "class")
    assert executed_profile(tmp_path) == "class"
    _executed(tmp_path, "gaps/c.ipynb", "demo")
    with pytest.raises(EmpathylabError, match="different profiles.*class.*demo"):
        executed_profile(tmp_path)


def test_the_class_profile_is_simulated_and_says_how_to_switch() -> None:
    cfg = load_profile("class")
    assert cfg.llm.backend == "fake" and cfg.llm.fake.in_group_effect > 0 and cfg.llm.fake.refusal_rate > 0
    notice = simulated_notice("class")
    assert (
        "Simulated answers" in notice and "llm.backend: transformers" in notice and "PROFILE=demo" in notice
    )
    assert simulated_notice("demo") is None and simulated_notice("paper") is None


def test_the_class_profile_keeps_the_demo_design() -> None:
    """Same chapters, parameters and figures: only the backend and the build's costs differ."""
    demo, taught = load_profile("demo").model_dump(), load_profile("class").model_dump()
    assert taught["gaps"] == demo["gaps"] and taught["stimuli"] == demo["stimuli"]
    assert taught["models"] == demo["models"]


def _launch():
    spec = importlib.util.spec_from_file_location("launch", ROOT / "book/_ext/launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_launch_buttons_open_the_chapter_source_and_colab_is_left_out() -> None:
    page = "build/executed/gaps/grouping"
    context = {
        "pathto": lambda name, resource=0: f"../../../{name}",
        "header_buttons": [
            {"type": "group", "label": "download-buttons", "buttons": [{"url": "x.ipynb"}, {"url": "x.pdf"}]},
            {
                "type": "group",
                "label": "launch-buttons",
                "buttons": [
                    {"label": "launch-binder-button", "url": f"https://mybinder.org/v2/gh/o/r/main?urlpath=lab/tree/{page}.ipynb"},
                    {"label": "launch-colab-button", "url": f"https://colab/{page}.ipynb"},
                ],
            },
        ],
    }  # fmt: skip
    _launch().point_at_sources(None, page, "page.html", context, None)
    downloads, launches = context["header_buttons"]
    assert [b["url"] for b in launches["buttons"]] == [
        "https://mybinder.org/v2/gh/o/r/main?urlpath=lab/tree/notebooks/gaps/grouping.md"
    ]
    assert downloads["buttons"][1]["url"] == "../../../_sources/notebooks/gaps/grouping.md"
