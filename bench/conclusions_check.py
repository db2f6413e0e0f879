"""Do the book's Part I conclusions survive a change of how the answers are computed?

Run by hand, on two results folders of the same design (e.g. float32 and bfloat16):

    .venv/bin/python bench/conclusions_check.py REFERENCE_DIR CANDIDATE_DIR [--permutations 10000]

For every run present in both (model, readout, grouping, variation) it prints the
prompt-level agreement of the intensities (Pearson r, largest difference), δ under each,
|Δδ| as a share of the reference's bootstrap interval width (the speed issue's target:
under 0.1), whether the permutation verdicts agree and whether the heatmap masks (the
cells drawn after the Bonferroni-corrected tests) are the same; then one line per target.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd


def main() -> None:
    from empathylab import gaps
    from empathylab.report import runs_table
    from empathylab.store import read_results

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference")
    parser.add_argument("candidate")
    parser.add_argument("--permutations", type=int, default=10_000)
    args = parser.parse_args()

    keys = ["model", "readout", "grouping", "variation"]
    ref, cand = read_results(args.reference), read_results(args.candidate)
    # the model spec may be stored under another name; compare runs by the design keys
    ref_runs = runs_table(gaps.analyze(ref, n_permutations=args.permutations, mixed=False, skip_incomplete=True))
    cand_runs = runs_table(gaps.analyze(cand, n_permutations=args.permutations, mixed=False, skip_incomplete=True))
    rows = []
    for _, r in ref_runs.iterrows():
        match = cand_runs[(cand_runs[keys] == r[keys]).all(axis=1)]
        if match.empty:
            continue
        c = match.iloc[0]
        run = {k: r[k] for k in keys}
        pick = lambda f: f[(f[keys[2:]] == r[keys[2:]]).all(axis=1) & (f["readout"] == r["readout"])]  # noqa: E731
        a, b = pick(ref), pick(cand)
        cell = ["perceiver", "experiencer", "item_id"]
        joined = a[[*cell, "intensity"]].merge(b[[*cell, "intensity"]], on=cell, suffixes=("_ref", "_cand")).dropna()
        width = r["bootstrap_ci_high"] - r["bootstrap_ci_low"]
        mask_ref = gaps.heatmap_data(a, r["grouping"])[1]
        mask_cand = gaps.heatmap_data(b, r["grouping"])[1]
        rows.append(run | {
            "prompts": len(joined),
            "r": float(np.corrcoef(joined["intensity_ref"], joined["intensity_cand"])[0, 1]),
            "max_abs_diff": float((joined["intensity_ref"] - joined["intensity_cand"]).abs().max()),
            "delta_ref": r["delta"], "delta_cand": c["delta"],
            "shift_of_width": abs(c["delta"] - r["delta"]) / width,
            "verdict_same": bool(r["significant"] == c["significant"]),
            "mask_same": bool(np.array_equal(np.asarray(mask_ref), np.asarray(mask_cand))),
            "mask_cells_changed": int((mask_ref.to_numpy() != mask_cand.loc[mask_ref.index, mask_ref.columns].to_numpy()).sum()),
            "mask_cells": int(mask_ref.size),
        })  # fmt: skip
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 220, "display.max_columns", None):
        print(table.drop(columns=["model"]).round(4).to_string(index=False))
    print(f"\nruns compared: {len(table)}")
    print(f"δ moves < 0.1 of its bootstrap width in every run: {bool((table['shift_of_width'] < 0.1).all())} "
          f"(largest {table['shift_of_width'].max():.3f})")  # fmt: skip
    print(f"permutation verdicts the same: {int(table['verdict_same'].sum())} of {len(table)}")
    print(f"heatmap masks the same: {int(table['mask_same'].sum())} of {len(table)}")


if __name__ == "__main__":
    main()
