"""The interactive heatmaps (empathylab.gaps.interactive): well-formed, self-contained, faithful."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from empathylab.errors import EmpathylabError
from empathylab.gaps import cell_tests, heatmap_data, simulate_results
from empathylab.gaps.interactive import HeatmapHTML, heatmap_from_results, heatmap_grid_html, heatmap_html
from empathylab.verdicts import format_p


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return simulate_results("religion", n_items=15, effect=4.0, noise_sd=6.0, seed=3)


@pytest.fixture(scope="module")
def figure(rows: pd.DataFrame) -> HeatmapHTML:
    return heatmap_from_results(rows, "religion", "Religion")


def parse(fig: HeatmapHTML) -> ET.Element:
    """The markup is XML-well-formed (void elements closed), so ElementTree parses it whole."""
    return ET.fromstring(fig.html)


def cells(root: ET.Element) -> list[ET.Element]:
    """The cell rects: those with a title (the colour bar and the legend's key have none)."""
    return [r for r in root.iter("rect") if r.find("title") is not None]


class _Checker(HTMLParser):
    """Counts start tags and checks that every non-void element closes in order."""

    VOID = {"input", "br", "stop", "path", "rect", "line"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: dict[str, int] = {}

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (self.stack[-3:], tag)
        self.stack.pop()


def test_well_formed_for_xml_and_html_parsers(figure: HeatmapHTML) -> None:
    root = parse(figure)
    assert root.tag == "div" and root.get("id") == figure.figure_id
    checker = _Checker()
    checker.feed(figure.html)
    checker.close()
    assert checker.stack == []
    assert checker.tags["svg"] == 2  # the shared defs and one panel


def test_one_rect_per_cell_with_mean_n_and_p(rows: pd.DataFrame, figure: HeatmapHTML) -> None:
    matrix, shown = heatmap_data(rows, "religion")
    rects = cells(parse(figure))
    assert len(rects) == matrix.size == 36
    titles = [r.find("title").text for r in rects]
    labels = list(matrix.index)
    tests = cell_tests(rows).set_index(["perceiver", "experiencer"])
    for k, title in enumerate(titles):
        i, j = divmod(k, len(labels))
        p, e = labels[i], labels[j]
        assert title.startswith(f"{p} → {e}: mean {matrix.iloc[i, j]:.3f}"), title
        assert "n = 15" in title
        if (p, e) in tests.index:
            row = tests.loc[(p, e)]
            assert f"t-test {format_p(row['p_perceiver'])} vs the perceiver's in-group" in title
            assert f"{format_p(row['p_experiencer'])} vs the experiencer's" in title
            assert title.endswith("; drawn" if shown.loc[p, e] else "; masked")
        else:
            assert "not tested" in title
    # the masked cells are exactly the static figure's
    masked = np.array([r.get("class") == "m" for r in rects]).reshape(shown.shape)
    assert (masked == ~shown.to_numpy()).all()
    assert masked.any() and not masked.all()


def test_colours_follow_the_static_colormap(rows: pd.DataFrame, figure: HeatmapHTML) -> None:
    import matplotlib as mpl
    from matplotlib.colors import Normalize, to_hex

    matrix, _ = heatmap_data(rows, "religion")
    limit = float(np.abs(matrix.to_numpy()).max())
    norm = Normalize(-limit, limit)
    expected = [to_hex(mpl.colormaps["RdBu_r"](norm(v))) for v in matrix.to_numpy().ravel()]
    assert [r.get("fill") for r in cells(parse(figure))] == expected


def test_mask_toggle_is_css_only(figure: HeatmapHTML) -> None:
    root = parse(figure)
    fid = figure.figure_id
    boxes = [e for e in root.iter("input") if e.get("type") == "checkbox"]
    assert [b.get("id") for b in boxes] == [f"{fid}-mask"]
    assert boxes[0].get("checked") == "checked"  # masked by default, as the paper
    assert any(e.get("for") == f"{fid}-mask" for e in root.iter("label"))
    style = root.find("style").text
    assert f"#{fid}-mask:checked ~ .elhm-panels rect.m{{fill:url(#{fid}-hatch)}}" in style
    assert any(e.get("id") == f"{fid}-hatch" for e in root.iter("pattern"))


def test_self_contained_no_script_no_network(figure: HeatmapHTML) -> None:
    text = figure.html.lower()
    assert "http" not in text
    assert not re.search(r"<script|\bsrc=|\bhref=|@import|url\((?!#)", text)
    assert "url(#" in text  # the hatch and the gradient are in the figure itself


def test_accessible_labels_axis_names_and_legend(figure: HeatmapHTML) -> None:
    root = parse(figure)
    svg = [s for s in root.iter("svg") if s.get("viewBox")][0]
    desc = svg.find("desc")
    assert desc is not None and "perceivers (rows)" in desc.text and "masked" in desc.text
    assert svg.get("aria-describedby") == desc.get("id")
    texts = [t.text for t in svg.iter("text")]
    for name in ("a person", "a Christian", "a Muslim", "a Jew", "a Buddhist", "a Hindu"):
        assert texts.count(name) == 2  # a row and a column label
    assert "perceiver" in texts and "experiencer" in texts and "z-normalised intensity" in texts
    assert any(g.get("id") == f"{figure.figure_id}-grad" for g in root.iter("linearGradient"))


def test_ids_differ_between_calls_and_are_all_prefixed(rows: pd.DataFrame) -> None:
    a, b = heatmap_from_results(rows, "religion"), heatmap_from_results(rows, "religion")
    ids_a = {e.get("id") for e in parse(a).iter() if e.get("id")}
    ids_b = {e.get("id") for e in parse(b).iter() if e.get("id")}
    assert ids_a and not ids_a & ids_b
    assert all(i.startswith(a.figure_id) for i in ids_a)
    assert len(ids_a) == len([e for e in parse(a).iter() if e.get("id")])  # unique within one
    fixed = heatmap_from_results(rows, "religion", figure_id="religion-map")
    assert fixed.figure_id == "religion-map" and 'id="religion-map-mask"' in fixed.html
    with pytest.raises(EmpathylabError, match="figure_id"):
        heatmap_from_results(rows, "religion", figure_id="1 bad")


def test_same_titles_from_the_chapter_frames(rows: pd.DataFrame, figure: HeatmapHTML) -> None:
    """heatmap_html with cell_tests gives the same hover text as heatmap_from_results."""
    matrix, shown = heatmap_data(rows, "religion")
    fig = heatmap_html(matrix, "religion", shown, "Religion", tests=cell_tests(rows))
    ours, theirs = ([r.find("title").text for r in cells(parse(f))] for f in (fig, figure))
    # cell_tests leaves the baseline out, so its row and column lack the raw mean there
    inner = [k for k in range(36) if k >= 6 and k % 6]
    assert [ours[k] for k in inner] == [theirs[k] for k in inner]
    assert ours[0] == re.sub(r" \(z; raw [\d.]+\)", "", theirs[0]) != theirs[0]


def test_static_inputs_only(rows: pd.DataFrame) -> None:
    """The static function's inputs alone: no p in the hover text; without a mask, no toggle."""
    matrix, shown = heatmap_data(rows, "religion")
    fig = heatmap_html(matrix, "religion", shown)
    titles = [r.find("title").text for r in cells(parse(fig))]
    assert len(titles) == 36 and not any("t-test" in t or "n = " in t for t in titles)
    bare = heatmap_html(matrix, "religion")
    assert 'type="checkbox"' not in bare.html and 'class="m"' not in bare.html
    with pytest.raises(EmpathylabError, match="square"):
        heatmap_html(matrix.iloc[:, ::-1], "religion")


def test_panels_switch_with_radio_buttons(rows: pd.DataFrame) -> None:
    matrix, shown = heatmap_data(rows, "religion")
    fig = heatmap_grid_html([("origin", matrix, shown), ("other", -matrix, shown)], "religion")
    root = parse(fig)
    radios = [e for e in root.iter("input") if e.get("type") == "radio"]
    assert len(radios) == 2 and {r.get("name") for r in radios} == {f"{fig.figure_id}-pick"}
    assert len(cells(root)) == 72
    style = root.find("style").text
    assert f"#{fig.figure_id}-r1:checked ~ .elhm-panels #{fig.figure_id}-p1{{display:block}}" in style
    # one colour scale: a cell and its negative get mirrored colours at both ends
    fills = [r.get("fill") for r in cells(root)]
    assert fills[0] != fills[36]
    with pytest.raises(EmpathylabError):
        heatmap_grid_html([], "religion")


def test_by_emotion_and_size(rows: pd.DataFrame) -> None:
    many = simulate_results("religion", n_items=24, effect=4.0, seed=1)
    many["emotion"] = np.where(many["item_id"].astype(str).str[-1].isin(list("02468")), "joy", "fear")
    fig = heatmap_from_results(many, "religion", by="emotion")
    labels = [e.text.strip() for e in parse(fig).iter("label") if e.get("for", "").split("-")[-1][0] == "r"]
    assert sorted(labels) == ["fear", "joy"]
    assert fig.size < 100_000
    big = heatmap_from_results(simulate_results("ethnicity", n_items=20, seed=0), "ethnicity")
    assert len(cells(parse(big))) == 19 * 19 and big.size < 100_000
    assert re.search(r"\.elhm-panels", big.html)


def test_repr_and_save(figure: HeatmapHTML, tmp_path) -> None:
    assert figure._repr_html_() == figure.html
    assert figure.figure_id in repr(figure)
    page = figure.save(tmp_path / "map.html", "Religion").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and figure.html in page


def test_unknown_grouping_or_column(rows: pd.DataFrame) -> None:
    with pytest.raises(EmpathylabError, match="no rows"):
        heatmap_from_results(rows, "nationality")
    with pytest.raises(EmpathylabError, match="no column"):
        heatmap_from_results(rows, "religion", by="colour")
