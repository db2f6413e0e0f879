"""Interactive heatmaps for the HTML book: one self-contained inline SVG, no script, no network.

The static figures of :mod:`empathylab.gaps.plots` stay for print; these draw the same
matrix, in the same layout and colours (``RdBu_r``, centred on zero, the baseline first,
white lines between races and cultural clusters), for a reader who wants to explore:

- hovering a cell shows its z-normalised mean, the raw mean intensity, the number of
  narratives behind it and the p-values of its two paired t-tests (the cell against the
  perceiver's and against the experiencer's in-group cell, the paper's mask);
- a checkbox hides or shows the cells that fail the Bonferroni-corrected tests (hatched
  grey while hidden), with CSS alone;
- several panels (one per emotion, prompt variation or model) share one colour scale and
  are switched with radio buttons, CSS alone again.

Every element id starts with a figure id that is new on each call (or given), so several
figures on one page do not clash. The output is plain HTML (an ``<svg>`` per panel, a
``<style>`` scoped to the figure), held by :class:`HeatmapHTML`, which Jupyter and
myst-nb display through ``_repr_html_``.
"""

from __future__ import annotations

import html
import math
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from empathylab.errors import EmpathylabError
from empathylab.verdicts import format_p

__all__ = ["HeatmapHTML", "heatmap_html", "heatmap_grid_html", "heatmap_from_results"]

_CMAP = "RdBu_r"  # the static figure's colormap (empathylab.gaps.plots.gap_heatmap)
_FONT = 11  # px
_NAN_FILL = "#bdbdbd"
_ANNOTATE_UP_TO = 8  # identities: the static figure writes the values into the cells up to here


class HeatmapHTML:
    """An interactive heatmap as HTML, displayed by Jupyter and myst-nb (``_repr_html_``).

    Parameters
    ----------
    html : str
        The figure's markup: a ``<div>`` holding a ``<style>``, the controls and one
        ``<svg>`` per panel.
    figure_id : str
        The prefix of every id in the markup.

    Examples
    --------
    >>> fig = HeatmapHTML("<div id='x'></div>", "x")
    >>> fig.figure_id, fig._repr_html_() == str(fig), fig.size
    ('x', True, 18)
    """

    def __init__(self, html: str, figure_id: str) -> None:
        self.html = html
        self.figure_id = figure_id

    def _repr_html_(self) -> str:
        return self.html

    def __str__(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return f"HeatmapHTML(figure_id={self.figure_id!r}, {self.size:,} bytes)"

    @property
    def size(self) -> int:
        """The size of the markup in bytes (UTF-8)."""
        return len(self.html.encode("utf-8"))

    def save(self, path: str | Path, title: str = "Heatmap") -> Path:
        """Write the figure as a standalone HTML page and return its path."""
        path = Path(path)
        page = (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title></head>\n<body>\n{self.html}\n</body></html>\n"
        )
        path.write_text(page, encoding="utf-8")
        return path


@dataclass
class _Panel:
    """What one heatmap draws; every array is (identities, identities), perceivers by rows."""

    title: str | None
    labels: list[str]
    z: np.ndarray
    shown: np.ndarray | None = None
    raw: np.ndarray | None = None
    n: np.ndarray | None = None
    p_perceiver: np.ndarray | None = None
    p_experiencer: np.ndarray | None = None
    threshold: float | None = None


def heatmap_html(
    matrix: pd.DataFrame,
    grouping: str,
    shown: pd.DataFrame | None = None,
    title: str | None = None,
    *,
    tests: pd.DataFrame | None = None,
    n: int | pd.DataFrame | None = None,
    limit: float | None = None,
    figure_id: str | None = None,
) -> HeatmapHTML:
    """Return the interactive version of :func:`empathylab.gaps.plots.gap_heatmap`.

    Parameters
    ----------
    matrix, grouping, shown, title
        As for :func:`empathylab.gaps.plots.gap_heatmap`: the z-normalised matrix
        (perceivers by rows, the baseline first), the grouping (for the separator
        lines), the mask (True where a cell is drawn; None: no mask and no checkbox) and
        a title.
    tests : pandas.DataFrame, optional
        :func:`empathylab.gaps.cells.cell_tests` of the same rows: gives each tested
        cell's two p-values, the raw means (not the baseline's, which it does not test)
        and, from ``dof``, the number of narratives.
    n : int or pandas.DataFrame, optional
        Narratives behind each cell (one number for all, or a matrix); default from
        ``tests``.
    limit : float, optional
        The colour scale runs from -limit to +limit (default: the largest absolute value).
    figure_id : str, optional
        The prefix of the figure's element ids (default: a new random one per call).

    Returns
    -------
    HeatmapHTML
        The figure; a notebook cell that ends with it displays it.

    Examples
    --------
    >>> m = pd.DataFrame([[0.0, 1.0], [-1.0, 0.5]], index=["a person", "a Jew"],
    ...                  columns=["a person", "a Jew"])
    >>> fig = heatmap_html(m, "religion", n=12)
    >>> fig.html.count("</title></rect>"), "a Jew → a person: mean -1.000, n = 12" in fig.html
    (4, True)
    """
    panel = _panel_from_frames(title, matrix, shown, tests, n)
    return _render([panel], grouping, limit, figure_id, title)


def heatmap_grid_html(
    panels: list[tuple[Any, ...]],
    grouping: str,
    title: str | None = None,
    *,
    limit: float | None = None,
    figure_id: str | None = None,
) -> HeatmapHTML:
    """Return the interactive version of :func:`empathylab.gaps.plots.heatmap_grid`.

    One panel is shown at a time, picked with radio buttons; all share one colour scale
    (±the largest absolute value of all panels, unless ``limit`` is given) and one mask
    checkbox.

    Parameters
    ----------
    panels : list of tuple
        ``(title, matrix, shown)`` as for :func:`empathylab.gaps.plots.heatmap_grid`, or
        ``(title, matrix, shown, tests, n)`` with ``tests`` and ``n`` as for
        :func:`heatmap_html` (either may be None).
    grouping : str
        The grouping, for the separator lines.
    title : str, optional
        A title above the controls.
    limit, figure_id
        As for :func:`heatmap_html`.

    Examples
    --------
    >>> m = pd.DataFrame([[0.0, 1.0], [-1.0, 0.5]], index=["a person", "a Jew"],
    ...                  columns=["a person", "a Jew"])
    >>> fig = heatmap_grid_html([("one", m, None), ("two", -m, None)], "religion")
    >>> fig.html.count("<svg"), fig.html.count('type="radio"')
    (3, 2)
    """
    if not panels:
        raise EmpathylabError("heatmap_grid_html needs at least one panel.")
    built = []
    for spec in panels:
        if len(spec) not in (3, 5):
            raise EmpathylabError(
                "heatmap_grid_html: a panel is (title, matrix, shown) or (title, matrix, shown, tests, n), "
                f"not a tuple of {len(spec)}."
            )
        name, matrix, shown, tests, n = (*spec, None, None) if len(spec) == 3 else spec
        built.append(_panel_from_frames(None if name is None else str(name), matrix, shown, tests, n))
    return _render(built, grouping, limit, figure_id, title)


def heatmap_from_results(
    results: pd.DataFrame,
    grouping: str,
    title: str | None = None,
    *,
    by: str | None = None,
    alpha: float = 0.05,
    round_means: int | None = None,
    limit: float | None = None,
    figure_id: str | None = None,
) -> HeatmapHTML:
    """Return the interactive heatmap of one grouping straight from a run's rows.

    The matrix and the mask are :func:`empathylab.gaps.cells.heatmap_data`'s (the same
    exclusion, z-normalisation and Bonferroni-corrected paired t-tests); the hover text
    adds each cell's raw mean, the number of kept narratives and the two p-values.

    Parameters
    ----------
    results : pandas.DataFrame
        Rows of :func:`empathylab.gaps.rows.read_results`, one run per grouping (or per
        value of ``by``), as :func:`empathylab.gaps.cells.heatmap_data` takes them.
    grouping : str
        The grouping to draw.
    title : str, optional
        The figure's title.
    by : str, optional
        A column (``emotion``, ``variation``, ``model``): one panel per value, switched
        with radio buttons, on one colour scale. Each panel is normalised and tested on
        its own rows; a value whose rows have no narrative answered in every cell is left
        out and named under the figure.
    alpha : float
        Family-wise level of the mask before the Bonferroni division (the paper: 0.05).
    round_means : int, optional
        As for :func:`empathylab.gaps.cells.heatmap_data`.
    limit, figure_id
        As for :func:`heatmap_html`.

    Examples
    --------
    >>> from empathylab.gaps import simulate_results
    >>> rows = simulate_results("religion", n_items=12, effect=5.0, seed=0)
    >>> fig = heatmap_from_results(rows, "religion", "Religion")
    >>> fig.html.count("</title></rect>"), "n = 12, t-test p" in fig.html, "id=" in fig.html
    (36, True, True)
    """
    rows = results[results["grouping"] == grouping]
    if rows.empty:
        raise EmpathylabError(f"heatmap_from_results: no rows for grouping {grouping!r}.")
    if by is None:
        return _render([_panel_from_rows(title, rows, alpha, round_means)], grouping, limit, figure_id, title)
    if by not in rows.columns:
        raise EmpathylabError(f"heatmap_from_results: the rows have no column {by!r}.")
    panels, skipped = [], []
    for value, part in rows.groupby(by, sort=False):
        try:
            panels.append(_panel_from_rows(str(value), part, alpha, round_means))
        except EmpathylabError as exc:
            if "no narrative has an answer" not in str(exc):
                raise
            skipped.append(str(value))
    if not panels:
        raise EmpathylabError(
            f"heatmap_from_results: no value of {by!r} has a narrative answered in every cell."
        )
    note = f"Left out (no narrative answered in every cell): {', '.join(skipped)}." if skipped else None
    return _render(panels, grouping, limit, figure_id, title, note)


# --- building panels -------------------------------------------------------------------


def _panel_from_frames(
    title: str | None,
    matrix: pd.DataFrame,
    shown: pd.DataFrame | None,
    tests: pd.DataFrame | None,
    n: int | pd.DataFrame | None,
) -> _Panel:
    if not isinstance(matrix, pd.DataFrame):
        raise EmpathylabError(
            f"heatmap_html needs the matrix as a DataFrame labelled by identity, not {type(matrix).__name__}."
        )
    labels = [str(label) for label in matrix.index]
    if [str(c) for c in matrix.columns] != labels:
        raise EmpathylabError(
            "heatmap_html needs a square matrix with the same identities, in the same order, "
            f"as rows and columns; rows {labels}, columns {list(map(str, matrix.columns))}."
        )
    k = len(labels)
    panel = _Panel(title, labels, matrix.to_numpy(dtype=float))
    if shown is not None:
        panel.shown = shown.loc[matrix.index, matrix.columns].to_numpy(dtype=bool)
    if tests is not None and len(tests):
        where = {label: i for i, label in enumerate(labels)}
        raw, pp, pe = (np.full((k, k), np.nan) for _ in range(3))
        dof = np.full((k, k), np.nan)
        for row in tests.itertuples(index=False):
            i, j = where.get(str(row.perceiver)), where.get(str(row.experiencer))
            if i is None or j is None:
                continue
            raw[i, j], pp[i, j], pe[i, j] = row.mean, row.p_perceiver, row.p_experiencer
            raw[i, i], raw[j, j] = row.mean_perceiver_in, row.mean_experiencer_in
            dof[i, j] = row.dof
        panel.p_perceiver, panel.p_experiencer = pp, pe
        panel.raw = raw if np.isfinite(raw).any() else None
        panel.threshold = float(tests["threshold"].iloc[0]) if "threshold" in tests.columns else None
        if n is None and np.isfinite(dof).any():
            n = int(np.nanmax(dof)) + 1  # every cell has the same kept narratives
    if isinstance(n, pd.DataFrame):
        panel.n = n.loc[matrix.index, matrix.columns].to_numpy(dtype=float)
    elif n is not None:
        panel.n = np.full((k, k), float(n))
    return panel


def _panel_from_rows(title: str | None, rows: pd.DataFrame, alpha: float, round_means: int | None) -> _Panel:
    """The matrix, mask, raw means, n and cell p-values of one run, as heatmap_data computes them."""
    from empathylab.gaps.cells import shown_cells
    from empathylab.gaps.checks import prepare_run, znorm
    from empathylab.gaps.matrices import round_as_authors

    run, _, cells, _ = prepare_run(rows, "heatmap_from_results")
    ids = list(run.ids)
    k = len(ids)
    raw = cells.mean(axis=0)
    values = raw if round_means is None else round_as_authors(raw, int(round_means))
    pp, pe = _cell_p_values(cells, ids)
    return _Panel(
        title=title,
        labels=ids,
        z=znorm(values),
        shown=shown_cells(cells, ids, alpha),
        raw=raw,
        n=np.full((k, k), float(cells.shape[0])),
        p_perceiver=pp,
        p_experiencer=pe,
        threshold=alpha / k**2,
    )


def _cell_p_values(cells: np.ndarray, ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """p of the paired t-tests of (i, i) and of (j, j) against (i, j); NaN where untested.

    The same ``scipy.stats.ttest_rel`` that :func:`empathylab.gaps.cells.shown_cells`
    calls, vectorised over the cells.
    """
    from scipy import stats

    from empathylab.gaps.design import BASELINE

    k = len(ids)
    diagonal = cells[:, np.arange(k), np.arange(k)]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # identical columns or one narrative: p is NaN
        pp = stats.ttest_rel(np.broadcast_to(diagonal[:, :, None], cells.shape), cells, axis=0).pvalue
        pe = stats.ttest_rel(np.broadcast_to(diagonal[:, None, :], cells.shape), cells, axis=0).pvalue
    untested = np.eye(k, dtype=bool)
    base = np.array([label == BASELINE for label in ids])
    untested |= base[:, None] | base[None, :]
    pp, pe = np.array(pp, dtype=float), np.array(pe, dtype=float)
    pp[untested] = np.nan
    pe[untested] = np.nan
    return pp, pe


# --- drawing ---------------------------------------------------------------------------


def _render(
    panels: list[_Panel],
    grouping: str,
    limit: float | None,
    figure_id: str | None,
    title: str | None,
    note: str | None = None,
) -> HeatmapHTML:
    import matplotlib as mpl
    from matplotlib.colors import Normalize, to_hex

    fid = figure_id or f"elhm-{uuid.uuid4().hex[:10]}"
    if not fid.replace("-", "").replace("_", "").isalnum() or not fid[0].isalpha():
        raise EmpathylabError(
            f"figure_id must start with a letter and hold letters, digits, - or _: {fid!r}."
        )
    if limit is None:
        finite = [np.abs(p.z[np.isfinite(p.z)]) for p in panels]
        limit = max((float(f.max()) for f in finite if f.size), default=0.0)
    limit = float(limit) or 1.0
    cmap = mpl.colormaps[_CMAP]
    norm = Normalize(-limit, limit)

    def colour(value: float) -> str:
        return to_hex(cmap(norm(value))) if math.isfinite(value) else _NAN_FILL

    masked = any(p.shown is not None for p in panels)
    threshold = next((p.threshold for p in panels if p.threshold is not None), None)
    stops = "".join(
        f'<stop offset="{t:.2f}" stop-color="{to_hex(cmap(1 - t))}"/>' for t in np.linspace(0, 1, 11)
    )
    defs = (
        '<svg width="0" height="0" style="position:absolute" aria-hidden="true" focusable="false"><defs>'
        f'<linearGradient id="{fid}-grad" x1="0" y1="0" x2="0" y2="1">{stops}</linearGradient>'
        f'<pattern id="{fid}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#e6e6e6"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#a0a0a0" stroke-width="2"/></pattern></defs></svg>'
    )
    parts = [f'<div id="{fid}" class="elhm">', _style(fid, len(panels), masked)]
    if title and len(panels) > 1:  # a single panel carries the title itself
        parts.append(f'<p class="elhm-title">{html.escape(title)}</p>')
    if masked:
        rule = f" (both p below {threshold:.2g})" if threshold else ""
        parts.append(
            f'<input type="checkbox" id="{fid}-mask" checked="checked"/>'
            f'<label for="{fid}-mask"> hide the cells that fail the Bonferroni-corrected paired '
            f"t-tests{rule}, as the paper does (hatched grey)</label><br/>"
        )
    if len(panels) > 1:
        for k, panel in enumerate(panels):
            checked = ' checked="checked"' if k == 0 else ""
            parts.append(
                f'<input type="radio" name="{fid}-pick" id="{fid}-r{k}"{checked}/>'
                f'<label for="{fid}-r{k}">{html.escape(panel.title or str(k + 1))}</label> '
            )
    parts.append(defs)
    parts.append('<div class="elhm-panels">')
    for k, panel in enumerate(panels):
        parts.append(_panel_svg(panel, f"{fid}-p{k}", fid, grouping, limit, colour, masked))
    parts.append("</div>")
    if note:
        parts.append(f'<p class="elhm-note">{html.escape(note)}</p>')
    parts.append("</div>")
    return HeatmapHTML("\n".join(parts), fid)


def _style(fid: str, n_panels: int, masked: bool) -> str:
    rules = [
        f"#{fid}{{font-family:sans-serif;font-size:{_FONT}px;margin:0.5em 0}}",
        f"#{fid} .elhm-title{{font-weight:bold;margin:0 0 0.3em 0}}",
        f"#{fid} svg text{{fill:currentColor}}",
        f"#{fid} text.a{{pointer-events:none;text-anchor:middle;fill:#000}}",
        f"#{fid} text.w{{fill:#fff}}",
        f"#{fid} .g rect:hover{{stroke:#000;stroke-width:2}}",
        f"#{fid} .elhm-note{{font-size:0.9em;opacity:0.8}}",
    ]
    if masked:
        rules += [
            f"#{fid}-mask:checked ~ .elhm-panels rect.m{{fill:url(#{fid}-hatch)}}",
            f"#{fid}-mask:checked ~ .elhm-panels text.m{{display:none}}",
        ]
    if n_panels > 1:
        rules.append(f"#{fid} .elhm-panel{{display:none}}")
        rules += [f"#{fid}-r{k}:checked ~ .elhm-panels #{fid}-p{k}{{display:block}}" for k in range(n_panels)]
    return "<style>" + "\n".join(rules) + "</style>"


def _short(label: str) -> str:
    return label.removeprefix("a person from ")


def _text_width(text: str, size: float = _FONT) -> float:
    return 0.6 * size * len(text)


def _fmt(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if math.isfinite(value) else "not available"


def _cell_title(panel: _Panel, i: int, j: int) -> str:
    from empathylab.gaps.design import BASELINE

    p, e = panel.labels[i], panel.labels[j]
    text = f"{_short(p)} → {_short(e)}: mean {_fmt(float(panel.z[i, j]))}"
    if panel.raw is not None and math.isfinite(panel.raw[i, j]):
        text += f" (z; raw {panel.raw[i, j]:.1f})"
    if panel.n is not None and math.isfinite(panel.n[i, j]):
        text += f", n = {int(panel.n[i, j])}"
    if BASELINE in (p, e):
        return text + "; the baseline, not tested"
    if i == j:
        return text + "; an in-group cell, not tested"
    if panel.p_perceiver is not None:
        pp, pe = float(panel.p_perceiver[i, j]), float(panel.p_experiencer[i, j])  # type: ignore[index]
        text += f", t-test {format_p(pp)} vs the perceiver's in-group, {format_p(pe)} vs the experiencer's"
    if panel.shown is not None:
        text += "; drawn" if panel.shown[i, j] else "; masked"
    return text


def _description(panel: _Panel, grouping: str) -> str:
    k = len(panel.labels)
    finite = np.isfinite(panel.z)
    text = (
        f"{panel.title + ': h' if panel.title else 'H'}eatmap of the {grouping} grouping, the z-normalised "
        f"mean intensity for {k} perceivers (rows) by {k} experiencers (columns), the baseline first."
    )
    if finite.any():
        hi = np.unravel_index(np.where(finite, panel.z, -np.inf).argmax(), panel.z.shape)
        lo = np.unravel_index(np.where(finite, panel.z, np.inf).argmin(), panel.z.shape)
        text += (
            f" Highest: {_short(panel.labels[hi[0]])} rating {_short(panel.labels[hi[1]])}, "
            f"{panel.z[hi]:.2f}; lowest: {_short(panel.labels[lo[0]])} rating "
            f"{_short(panel.labels[lo[1]])}, {panel.z[lo]:.2f}."
        )
    if panel.shown is not None:
        text += f" {int((~panel.shown).sum())} of {k * k} cells fail the corrected t-tests (masked)."
    return text + " Each cell's title gives its mean, n and t-test p."


def _panel_svg(
    panel: _Panel, pid: str, fid: str, grouping: str, limit: float, colour: Any, masked: bool
) -> str:
    from empathylab.gaps.plots import group_edges

    labels = panel.labels
    k = len(labels)
    short = [_short(label) for label in labels]
    cell = int(min(44, max(16, 440 // max(k, 1))))
    label_w = max((_text_width(s) for s in short), default=0.0)
    left = math.ceil(label_w) + 30
    top = 26 if panel.title else 8
    side = cell * k
    sin, cos = math.sin(math.radians(55)), math.cos(math.radians(55))
    bottom = math.ceil(label_w * sin + _FONT * cos) + 24
    bar_x = left + side + 22
    bar_h = max(side, 120)
    width = bar_x + 14 + 44 + 18
    height = top + max(side + bottom, bar_h + 46)
    annotate = k <= _ANNOTATE_UP_TO
    desc = _description(panel, grouping)
    out = [
        f'<div class="elhm-panel" id="{pid}">',
        f'<svg viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" style="max-width:100%;height:auto" role="group" '
        f'aria-labelledby="{pid}-t" aria-describedby="{pid}-d">',
        f'<title id="{pid}-t">{html.escape(panel.title or "Heatmap of " + grouping)}</title>',
        f'<desc id="{pid}-d">{html.escape(desc)}</desc>',
    ]
    if panel.title:
        out.append(
            f'<text x="{left + side / 2:.1f}" y="16" text-anchor="middle" font-size="13" '
            f'font-weight="bold">{html.escape(panel.title)}</text>'
        )
    out.append('<g class="g">')
    for i in range(k):
        out.append(f'<g transform="translate(0 {top + i * cell})">')
        for j in range(k):
            x = left + j * cell
            value = float(panel.z[i, j])
            fill = colour(value)
            hidden = panel.shown is not None and not panel.shown[i, j]
            title = html.escape(_cell_title(panel, i, j), quote=False)
            mark = ' class="m"' if hidden else ""
            out.append(
                f'<rect{mark} x="{x}" width="{cell}" height="{cell}" fill="{fill}"><title>{title}</title></rect>'
            )
            if annotate and math.isfinite(value):
                cls = ("a w" if _dark(fill) else "a") + (" m" if hidden else "")
                out.append(
                    f'<text class="{cls}" x="{x + cell / 2:g}" y="{cell / 2 + 4:g}">{value:.2f}</text>'
                )
        out.append("</g>")
    out.append("</g>")
    for edge in group_edges(labels, grouping):
        at = edge * cell
        out.append(
            f'<path d="M{left} {top + at}h{side}M{left + at} {top}v{side}" stroke="#fff" '
            'stroke-width="2.5" pointer-events="none"/>'
        )
    for i, name in enumerate(short):
        out.append(
            f'<text x="{left - 5}" y="{top + i * cell + cell / 2 + 4:.1f}" text-anchor="end">'
            f"{html.escape(name)}</text>"
        )
    base = top + side + 6
    for j, name in enumerate(short):
        x = left + j * cell + cell / 2 + 4
        out.append(
            f'<text x="{x:.1f}" y="{base}" text-anchor="end" transform="rotate(-55 {x:.1f} {base})">'
            f"{html.escape(name)}</text>"
        )
    out.append(
        f'<text x="{left + side / 2:.1f}" y="{top + side + bottom - 6}" text-anchor="middle">experiencer</text>'
    )
    mid = top + side / 2
    out.append(
        f'<text x="12" y="{mid:.1f}" text-anchor="middle" transform="rotate(-90 12 {mid:.1f})">perceiver</text>'
    )
    # the colour bar, +limit at the top as in the static figure
    out.append(
        f'<rect x="{bar_x}" y="{top}" width="14" height="{bar_h}" fill="url(#{fid}-grad)" stroke="#888" '
        'stroke-width="0.5"/>'
    )
    for value, y in ((limit, top), (0.0, top + bar_h / 2), (-limit, top + bar_h)):
        out.append(
            f'<path d="M{bar_x + 14} {y:.1f}h3" stroke="#888"/><text x="{bar_x + 19}" y="{y + 4:.1f}">'
            f"{_tick(value)}</text>"
        )
    lx = bar_x + 14 + 44 + 10
    out.append(
        f'<text x="{lx}" y="{mid:.1f}" text-anchor="middle" transform="rotate(-90 {lx} {mid:.1f})">'
        "z-normalised intensity</text>"
    )
    if masked:
        ky = top + bar_h + 14
        out.append(
            f'<rect x="{bar_x}" y="{ky}" width="14" height="14" fill="url(#{fid}-hatch)" stroke="#888" '
            f'stroke-width="0.5"/><text x="{bar_x + 19}" y="{ky + 11}">masked</text>'
        )
    out.append("</svg></div>")
    return "\n".join(out)


def _tick(value: float) -> str:
    return "0" if value == 0 else f"{value:+.2f}"


def _dark(hex_colour: str) -> bool:
    r, g, b = (int(hex_colour[k : k + 2], 16) / 255 for k in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.45
