"""One run of Part I's results, checked: the helpers every analysis module shares.

A *run* is one (model, readout, grouping, variation) selection of the rows of
:func:`empathylab.gaps.read_results`; ``check_run`` checks one and returns it with
its identities and positions, ``prepare_run`` applies the exclusion rule of a matrix.
These helpers are shared within Part I and not part of its public names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from empathylab.errors import EmpathylabError
from empathylab.gaps import design

__all__ = ["RUN_KEYS"]


#: The columns that identify one run, in the order results are reported.
RUN_KEYS = ("model", "readout", "grouping", "variation")

MATRIX_COLUMNS = ("grouping", "perceiver", "experiencer", "item_id", "intensity")


def check_columns(frame: Any, required: tuple[str, ...] | list[str], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise EmpathylabError(
            f"{what} needs a DataFrame of result rows (see empathylab.gaps.rows.read_results), "
            f"not {type(frame).__name__}."
        )
    missing = [c for c in required if c not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns)) or "none"
        raise EmpathylabError(f"{what} needs column(s) {', '.join(missing)}; the results have {found}.")


def run_label(results: pd.DataFrame) -> str:
    parts = [f"{k}={results[k].iloc[0]}" for k in RUN_KEYS if k in results.columns and len(results)]
    return ", ".join(parts)


@dataclass
class Run:
    """One checked run as arrays: positions of perceiver and experiencer in ``ids``."""

    grouping: str
    ids: list[str]
    rows: pd.DataFrame  # the run's rows (without the baseline's when it is left out)
    p: np.ndarray  # perceiver position in ids, per row
    e: np.ndarray  # experiencer position in ids, per row
    item: np.ndarray  # position of the row's item_id in items
    items: np.ndarray  # the distinct item_ids, sorted
    intensity: np.ndarray  # float, NaN when missing


def _positions(column: pd.Series, ids: list[str]) -> np.ndarray:
    codes, uniques = pd.factorize(column)
    pos = {label: k for k, label in enumerate(ids)}
    lookup = np.array([pos.get(str(u), -1) for u in uniques], dtype=np.int64)
    return lookup[codes]


def check_run(results: pd.DataFrame, what: str, extra: tuple[str, ...] = (), baseline: bool = True) -> Run:
    """Check one run and encode it (see the module docstring for what is checked)."""
    check_columns(results, MATRIX_COLUMNS + extra, what)
    if results.empty:
        raise EmpathylabError(f"{what}: the selection is empty (no result rows).")
    for key in RUN_KEYS:
        if key in results.columns:
            values = pd.unique(results[key])
            if len(values) != 1:
                shown = ", ".join(map(str, values[:6])) + (", ..." if len(values) > 6 else "")
                raise EmpathylabError(
                    f"{what} takes one run, but the rows hold {len(values)} values of "
                    f"{key} ({shown}): select one {key}, or use gaps.analyze, which splits runs."
                )
    grouping = str(results["grouping"].iloc[0])
    if grouping not in design.GROUPINGS:
        raise EmpathylabError(
            f"Unknown grouping {grouping!r}; valid groupings: {', '.join(design.GROUPINGS)}."
        )
    blank = results[["perceiver", "experiencer", "item_id"]].isna().any(axis=1)
    if blank.any():
        raise EmpathylabError(f"{what}: {int(blank.sum())} row(s) lack a perceiver, experiencer or item_id.")
    valid = design.identities(grouping)
    present = {str(v) for v in pd.unique(results["perceiver"])}
    present |= {str(v) for v in pd.unique(results["experiencer"])}
    unknown = sorted(present - set(valid))
    if unknown:
        raise EmpathylabError(
            f"Unknown {grouping} identit{'y' if len(unknown) == 1 else 'ies'} "
            f"{', '.join(map(repr, unknown))}; valid: {', '.join(valid)}."
        )
    ids = [i for i in valid if i in present]
    others = [i for i in ids if i != design.BASELINE]
    if len(others) < 2:
        raise EmpathylabError(
            f"{what}: the {grouping} rows hold {len(others)} identit"
            f"{'y' if len(others) == 1 else 'ies'} besides {design.BASELINE!r} "
            f"({', '.join(others) or 'none'}); a gap needs at least two."
        )
    p, e = _positions(results["perceiver"], ids), _positions(results["experiencer"], ids)
    if not baseline and design.BASELINE in ids:
        keep = (p != 0) & (e != 0)  # the baseline comes first in design order
        results, p, e = results[keep], p[keep] - 1, e[keep] - 1
        ids = ids[1:]
    item, items = pd.factorize(results["item_id"], sort=True)
    items = np.asarray(items)
    n = len(ids)
    key = (item.astype(np.int64) * n + p) * n + e
    size = len(items) * n * n
    if size <= 4 * len(key) + 1_000_000:
        repeats = int((np.bincount(key, minlength=size) > 1).sum())
    else:
        ordered = np.sort(key)
        repeats = int((ordered[1:] == ordered[:-1]).sum())
    if repeats:
        raise EmpathylabError(
            f"{what}: {repeats} (perceiver, experiencer, item_id) triple(s) appear more than "
            f"once in the same run ({run_label(results)}); each prompt must appear once."
        )
    intensity = pd.to_numeric(results["intensity"], errors="coerce").to_numpy(dtype=float)
    return Run(grouping, ids, results, p, e, item, items, intensity)


def find_exclusions(run: Run) -> tuple[np.ndarray, dict[str, Any]]:
    """Return the per-item 'complete' flags and the exclusion report."""
    ok = ~np.isnan(run.intensity)
    answered = np.bincount(run.item[ok], minlength=len(run.items))
    complete = answered == len(run.ids) ** 2
    n_items, n_kept = len(run.items), int(complete.sum())
    report = {
        "n_items": n_items,
        "n_kept": n_kept,
        "n_excluded": n_items - n_kept,
        "excluded_share": (n_items - n_kept) / n_items if n_items else float("nan"),
    }
    return complete, report


def prepare_run(
    results: pd.DataFrame, what: str, baseline: bool = True, extra: tuple[str, ...] = ()
) -> tuple[Run, np.ndarray, np.ndarray, dict[str, Any]]:
    """Check a run and apply the exclusion rule.

    Returns the run, the kept-row mask, the cell array ``X[kept item, perceiver,
    experiencer]`` (kept items in item_id order) and the exclusion report.
    """
    run = check_run(results, what, extra, baseline)
    complete, report = find_exclusions(run)
    if report["n_kept"] == 0:
        cells_per_item = len(run.ids) ** 2
        unfinished = int((np.bincount(run.item, minlength=len(run.items)) < cells_per_item).sum())
        if unfinished:  # prompts never stored: an interrupted run or one shard, not refusals
            raise EmpathylabError(
                f"{what}: the run is unfinished ({run_label(results)}): {unfinished} of "
                f"{report['n_items']} narratives lack stored prompts of the {cells_per_item} "
                "perceiver x experiencer pairs, so none can be analysed yet. Finish it with "
                "`empathylab gaps run` and the same profile (all shards), then analyse again."
            )
        raise EmpathylabError(
            f"{what}: no narrative has an answer in every perceiver x experiencer pair "
            f"({report['n_items']} narratives, all excluded; {run_label(results)}). "
            "Check the refusal and invalid shares (gaps.answer_stats)."
        )
    rows = complete[run.item]
    new_code = np.cumsum(complete) - 1
    n = len(run.ids)
    cells = np.full((report["n_kept"], n, n), np.nan)
    cells[new_code[run.item[rows]], run.p[rows], run.e[rows]] = run.intensity[rows]
    return run, rows, cells, report


def znorm(matrix: np.ndarray) -> np.ndarray:
    sd = matrix.std()  # population std (ddof=0), as the paper
    if sd == 0 or not np.isfinite(sd):
        return np.zeros_like(matrix)
    return (matrix - matrix.mean()) / sd


def matrix_labels(matrix: Any, what: str) -> tuple[list[str], np.ndarray]:
    if not isinstance(matrix, pd.DataFrame):
        raise EmpathylabError(
            f"{what} needs the matrix as a DataFrame labelled by identity "
            f"(see gaps.emotion_matrix), not {type(matrix).__name__}."
        )
    rows, cols = list(map(str, matrix.index)), list(map(str, matrix.columns))
    if rows != cols:
        raise EmpathylabError(
            f"{what} needs a square matrix with the same identities, in the same order, "
            f"as rows and columns; rows {rows}, columns {cols}."
        )
    values = matrix.to_numpy(dtype=float)
    if not np.isfinite(values).all():
        raise EmpathylabError(f"{what}: the matrix has missing (NaN) cells.")
    return rows, values


def sort_runs(frame: pd.DataFrame) -> pd.DataFrame:
    order = {
        "grouping": {g: k for k, g in enumerate(design.GROUPINGS)},
        "variation": {v: k for k, v in enumerate(design.VARIATIONS)},
    }

    def key(column: pd.Series) -> pd.Series:
        if column.name in order:
            return column.map(lambda v: (order[column.name].get(v, len(order[column.name])), str(v)))
        return column.astype(str)

    return frame.sort_values(list(RUN_KEYS), key=key, kind="stable").reset_index(drop=True)
