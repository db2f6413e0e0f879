from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from empathylab import llmpathy
from empathylab.book import check_html
from empathylab.tables import table


def _cells(frame: pd.DataFrame, **kwargs) -> list[list[str]]:
    """The shown table as rows of cell texts, the header first."""
    return [line.split(" ") for line in table(frame, **kwargs).to_string(delimiter=" ").splitlines()]


def _html_page(tmp_path, shown) -> list[str]:
    """``check_html`` on a page whose one cell output is ``shown`` (a frame or a styler)."""
    folder = tmp_path / "html"
    folder.mkdir(parents=True)
    page = f'<div class="cell_output docutils container"><div class="output text_html">{shown.to_html()}</div></div>'
    (folder / "page.html").write_text(page)
    return check_html(folder, root=tmp_path)


def test_numbers_print_as_a_reader_reads_them():
    frame = pd.DataFrame(
        {
            "model": ["m", "m"],
            "n_items": pd.array([12, None], dtype="Int64"),
            "delta": [-0.8834001, np.nan],
            "p_perm": [2.552056e-09, 0.0123],
            "prompts": [5330050, 12],
            "hours": [947.564444, 0.5],
            "item_id": [61450, 7],
        }
    )
    header, first, second = _cells(frame)
    assert header == ["model", "n_items", "delta", "p_perm", "prompts", "hours", "item_id"]
    assert first == ["m", "12", "-0.883", "<", "0.001", "5,330,050", "947.564", "61450"]
    assert second == ["m", "–", "–", "0.012", "12", "0.500", "7"]
    assert _cells(frame[["hours"]], precision=1)[1] == ["947.6"]


def test_p_values_are_never_zero_or_in_scientific_notation():
    frame = pd.DataFrame({"p": [0.0, 1e-12, 0.04999, 1.0], "narrative_p": [0.5, 0.2, np.nan, 0.0004]})
    shown = table(frame).to_string()
    assert "0.000" not in shown and "e-" not in shown
    assert [row[0] for row in _cells(frame)[1:]] == ["<", "<", "0.05", "1.0"]


def test_timestamps_print_to_the_second():
    started = pd.to_datetime(["2026-12-07T15:53:33.922801+00:00", None], utc=True)
    frame = pd.DataFrame({"chapter": ["a", "b"], "started": started, "seconds": [4.374757, 1.0]})
    shown = table(frame, precision=1).to_string()
    assert "2026-12-07 15:53:33 UTC" in shown and ".922801" not in shown
    assert "4.4" in shown and "–" in shown


def test_the_index_is_never_shown_but_a_meaningful_one_becomes_columns():
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    assert _cells(frame)[0] == ["x"]
    assert _cells(frame.iloc[[1]])[0] == ["x"]  # a filtered integer index is no information
    named = frame.set_axis(pd.Index(["a", "b"], name="topic"))
    assert _cells(named) == [["topic", "x"], ["a", "1.000"], ["b", "2.000"]]
    crossed = pd.crosstab(pd.Series(["u", "v"], name="writer"), pd.Series(["u", "u"], name="reader"))
    assert table(crossed).to_string().splitlines()[0] == "writer \\ reader u"


def test_a_wide_table_shows_delta_its_interval_and_p_after_the_identifying_columns():
    columns = [
        "model",
        "grouping",
        "n_items",
        "excluded_share",
        "delta",
        "p_floor",
        "null_low",
        "null_high",
        "p_perm",
        "verdict",
    ]
    frame = pd.DataFrame([["m", "religion", 12, 0.0, 0.5, 0.008, -0.2, 0.2, 0.01, "higher"]], columns=columns)
    assert _cells(frame)[0] == [
        "model",
        "grouping",
        "delta",
        "null_low",
        "null_high",
        "p_perm",
        "n_items",
        "excluded_share",
        "p_floor",
        "verdict",
    ]
    assert _cells(frame, first=())[0] == columns
    assert _cells(frame, first=["verdict"])[0][:3] == ["model", "grouping", "verdict"]
    narrow = frame[["model", "n_items", "delta"]]
    assert _cells(narrow)[0] == ["model", "n_items", "delta"]


def test_part_two_uses_the_same_helper():
    assert llmpathy.table is table


def test_the_book_check_passes_a_formatted_table_and_reports_the_raw_one(tmp_path):
    frame = pd.DataFrame(
        {
            "grouping": ["religion", "ethnicity"],
            "delta": [-0.883400123, np.nan],
            "p": [2.552056e-09, 0.3],
            "prompts": [5330050, 217800],
        }
    )
    assert _html_page(tmp_path / "formatted", table(frame)) == []
    problems = _html_page(tmp_path / "raw", frame)  # as a notebook shows a bare frame
    kinds = {re.sub(r" in a table.*", "", p.removeprefix("page.html: ")) for p in problems}
    assert kinds == {
        "raw float",
        "scientific notation",
        "missing value shown as NaN/None",
        "number without thousands separators",
        "index column (a row header)",
    }


@pytest.mark.parametrize("precision", [1, 2, 3])
def test_precision_is_the_number_of_decimals(precision):
    assert _cells(pd.DataFrame({"r": [0.123456]}), precision=precision)[1] == [f"{0.123456:.{precision}f}"]
