"""Do the book's Part I conclusions survive a change of how the answers are computed?

Run by hand, on two results folders of the same design (e.g. float32 and bfloat16; a
profile's folder such as ``results/demo`` or its ``gaps/`` folder):

    .venv/bin/python bench/conclusions_check.py REFERENCE_DIR CANDIDATE_DIR [--permutations 10000]

For every run present in both (model, readout, grouping, variation) it prints the
prompt-level agreement of the intensities (Pearson r, largest difference), δ under each,
|Δδ| as a share of the reference's bootstrap interval width (the speed issue's target:
under 0.1), whether the permutation verdicts agree and whether the heatmap masks (the
cells drawn after the Bonferroni-corrected tests) are the same; then one line per target.
Where both folders hold Part II's fine-tunings (``llmpathy/finetune/*.parquet``), it
compares their test PCCs run by run with the spread over the reference's seeds (the
target: every PCC moves by less than that spread; with one seed there is none, and the
script says so).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    from empathylab import gaps
    from empathylab.gaps.report import runs_table
    from empathylab.gaps.rows import read_results

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference")
    parser.add_argument("candidate")
    parser.add_argument("--permutations", type=int, default=10_000)
    args = parser.parse_args()

    keys = ["model", "readout", "grouping", "variation"]
    # a profile's results folder holds Part I's runs under gaps/ (beside human/, llmpathy/)
    part1 = lambda d: Path(d) / "gaps" if (Path(d) / "gaps").is_dir() else Path(d)  # noqa: E731
    ref, cand = read_results(part1(args.reference)), read_results(part1(args.candidate))
    # the model spec may be stored under another name; compare runs by the design keys
    ref_runs = runs_table(
        gaps.analyze(ref, n_permutations=args.permutations, mixed=False, skip_incomplete=True)
    )
    cand_runs = runs_table(
        gaps.analyze(cand, n_permutations=args.permutations, mixed=False, skip_incomplete=True)
    )
    rows = []
    for _, r in ref_runs.iterrows():
        match = cand_runs[(cand_runs[keys] == r[keys]).all(axis=1)]
        if match.empty:
            continue
        c = match.iloc[0]
        run = {k: r[k] for k in keys}
        a, b = (f[(f[keys] == r[keys]).all(axis=1)] for f in (ref, cand))
        cell = ["perceiver", "experiencer", "item_id"]
        joined = (
            a[[*cell, "intensity"]]
            .merge(b[[*cell, "intensity"]], on=cell, suffixes=("_ref", "_cand"))
            .dropna()
        )
        width = r["bootstrap_ci_high"] - r["bootstrap_ci_low"]
        mask_ref, mask_cand = (_mask(f, r["grouping"]) for f in (a, b))
        rows.append(
            run
            | {
                "prompts": len(joined),
                "r": float(np.corrcoef(joined["intensity_ref"], joined["intensity_cand"])[0, 1]),
                "max_abs_diff": float((joined["intensity_ref"] - joined["intensity_cand"]).abs().max()),
                "delta_ref": r["delta"],
                "delta_cand": c["delta"],
                "shift_of_width": abs(c["delta"] - r["delta"]) / width,
                "verdict_same": bool(r["significant"] == c["significant"]),
                "mask_same": (mask_ref is None and mask_cand is None)
                or (
                    mask_ref is not None
                    and mask_cand is not None
                    and bool(np.array_equal(np.asarray(mask_ref), np.asarray(mask_cand)))
                ),
                "mask_cells_changed": 0
                if mask_ref is None or mask_cand is None
                else int(
                    (mask_ref.to_numpy() != mask_cand.loc[mask_ref.index, mask_ref.columns].to_numpy()).sum()
                ),
                "mask_cells": 0 if mask_ref is None else int(mask_ref.size),
            }
        )
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 220, "display.max_columns", None):
        print(table.drop(columns=["model"]).round(4).to_string(index=False))
    print(f"\nruns compared: {len(table)}")
    # a run with no δ under either (every narrative misses a cell) has nothing to move
    no_delta = table["delta_ref"].isna() & table["delta_cand"].isna()
    held = (table["shift_of_width"] < 0.1) | no_delta
    print(
        f"δ moves < 0.1 of its bootstrap width in every run: {bool(held.all())} "
        f"(largest {table['shift_of_width'].max():.3f}; {int(no_delta.sum())} run(s) with no δ under either)"
    )
    print(f"permutation verdicts the same: {int(table['verdict_same'].sum())} of {len(table)}")
    print(f"heatmap masks the same: {int(table['mask_same'].sum())} of {len(table)}")
    finetuned(Path(args.reference), Path(args.candidate))


def _pccs(folder: Path) -> pd.DataFrame:
    runs = [pd.read_parquet(f) for f in sorted(folder.rglob("finetune/*.parquet"))]
    rows = [
        {
            "strategy": r["strategy"].iat[0],
            "alpha": r["alpha"].iat[0],
            "seed": r["seed"].iat[0],
            "pcc": float(np.corrcoef(r["crowd"], r["prediction"])[0, 1]),
        }
        for r in runs
    ]
    return pd.DataFrame(rows, columns=["strategy", "alpha", "seed", "pcc"])


def finetuned(reference: Path, candidate: Path) -> None:
    """Print each fine-tuning's test PCC in both folders against the reference's seed spread."""
    ref, cand = _pccs(reference), _pccs(candidate)
    if ref.empty or cand.empty:
        print("fine-tuned PCCs: not in both folders")
        return
    keys = ["strategy", "alpha", "seed"]
    both = ref.merge(cand, on=keys, suffixes=("_ref", "_cand"))
    spread = ref.groupby(["strategy", "alpha"], dropna=False)["pcc"].std().rename("seed_sd")
    both = both.join(spread, on=["strategy", "alpha"])
    both["moved"] = (both["pcc_cand"] - both["pcc_ref"]).abs()
    print("\n" + both.round(5).to_string(index=False))
    if both["seed_sd"].notna().all():
        print(
            f"fine-tuned PCCs move by less than their seed spread: {bool((both['moved'] < both['seed_sd']).all())}"
        )
    else:
        print(f"fine-tuned PCCs: largest move {both['moved'].max():.5f}; one seed per run, so no seed spread")


def _mask(rows: pd.DataFrame, grouping: str):
    """The heatmap mask of one run, or None where no narrative is complete (no δ, no heatmap)."""
    from empathylab import gaps
    from empathylab.errors import EmpathylabError

    try:
        return gaps.heatmap_data(rows, grouping)[1]
    except EmpathylabError:
        return None


if __name__ == "__main__":
    main()
