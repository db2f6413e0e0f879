"""How often are the book's verdicts wrong? The appendix's calibration, larger, by hand.

Run by hand:  .venv/bin/python bench/calibration.py [N_SIMS] [--heavy]

The book's appendix runs :func:`empathylab.gaps.calibration.calibrate` and
:func:`empathylab.llmpathy.calibration.calibrate` at the profile's ``calibration.n_sims``
(the demo: 200) within its build budget. This runs them with N_SIMS simulated runs per
verdict and condition (default 1,000), which shrinks the Monte Carlo interval of a 5 %
rate to about ±1.4 points; ``--heavy`` adds the verdicts read off result tables (the
heatmap mask, Δδ, additivity) at the paper's size of 6,050 narratives, minutes a
simulated run. It prints one line per row (rate, Monte Carlo interval, the runs'
seconds) and the machine, for BENCHMARKS.md.
"""

from __future__ import annotations

import platform
import sys
import time

import pandas as pd


def main() -> None:
    from empathylab import verdicts
    from empathylab.gaps import calibration as part1
    from empathylab.llmpathy import calibration as part2

    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n_sims = int(args[0]) if args else 1000
    heavy = "--heavy" in sys.argv
    print(
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, n_sims {n_sims}"
    )
    rows = []
    for scenario in part1.scenarios(("demo", "paper"), heavy=heavy):
        start = time.perf_counter()
        row = part1.calibrate([scenario], n_sims=n_sims).iloc[0]
        seconds = time.perf_counter() - start
        rows.append(row)
        print(
            f"{row['rate']:6.1%} [{row['mc_low']:5.1%}, {row['mc_high']:5.1%}] {row['n_sims']:>5} runs "
            f"{seconds:7.1f} s  {'null   ' if row['null'] else 'planted'} "
            f"{'' if row['used'] else '(comparison) '}{row['label']}",
            flush=True,
        )
    part2_rows = []
    for folds, effect in ((10, 0.0), (10, part2.PLANTED), (1, 0.0)):
        table = part2.calibrate(max(n_sims, 5000), 5, folds, effect=effect)
        part2_rows.append(table)
        for _, row in table.iterrows():
            print(
                f"{row['rate']:6.1%} [{row['mc_low']:5.1%}, {row['mc_high']:5.1%}] {row['n_sims']:>5} tables "
                f"{'null   ' if row['null'] else 'planted'} {row['test']} ({folds} folds)"
            )
    together = pd.concat(
        [
            pd.DataFrame(rows)[["label", "null", "used", "rate", "mc_low"]],
            pd.concat(part2_rows).assign(label=lambda t: t["test"])[
                ["label", "null", "used", "rate", "mc_low"]
            ],
        ],
        ignore_index=True,
    )
    print(verdicts.calibration_summary(together))


if __name__ == "__main__":
    main()
