"""Time the readers' premium model: our crossed-intercept REML fit against statsmodels.

Run by hand:  EMPATHYLAB_DATA_DIR=../shared/data .venv/bin/python bench/crossed_mixed.py

Fits ``intensity_z ~ same + (1 | text) + (1 | reader)`` on the crowd-enVent readers
(gender, about 6,000 ratings of 1,200 texts by 1,217 readers) with
``empathylab.gaps.crossed.fit_crossed`` and with statsmodels' MixedLM (one group, the two
factors as variance components, which is how statsmodels fits crossed effects), in one
process, and prints both times, their ratio and the largest difference in the numbers.
"""

from __future__ import annotations

import platform
import time

import pandas as pd


def main() -> None:
    import statsmodels.formula.api as smf

    from empathylab.gaps import human, premium
    from empathylab.gaps.crossed import fit_crossed

    frame = premium.premium_data(human.load_readers(), human.load_writers(), "gender").assign(one=1)
    print(
        f"{platform.processor() or platform.machine()}, {len(frame)} ratings, "
        f"{frame['item_id'].nunique()} texts, {frame['reader_id'].nunique()} readers"
    )

    start = time.perf_counter()
    ours = fit_crossed(
        frame["intensity_z"],
        frame[["same"]].assign(const=1.0)[["const", "same"]],
        frame["item_id"],
        frame["reader_id"],
    )
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    theirs = smf.mixedlm(
        "intensity_z ~ same",
        frame,
        groups="one",
        re_formula="0",
        vc_formula={"text": "0 + C(item_id)", "reader": "0 + C(reader_id)"},
    ).fit(reml=True)
    t_theirs = time.perf_counter() - start

    names = list(theirs.model.exog_vc.names)
    compared = pd.DataFrame(
        {
            "ours": [
                ours["fixed"].loc["same", "coef"],
                ours["fixed"].loc["same", "se"],
                ours["sd_a"] ** 2,
                ours["sd_b"] ** 2,
                ours["resid_sd"] ** 2,
            ],
            "statsmodels": [
                theirs.params["same"],
                theirs.bse["same"],
                theirs.vcomp[names.index("text")],
                theirs.vcomp[names.index("reader")],
                theirs.scale,
            ],
        },
        index=["premium", "se", "text variance", "reader variance", "residual variance"],
    )
    print(compared.round(5).to_string())
    print(f"ours {t_ours:.2f} s, statsmodels {t_theirs:.1f} s: {t_theirs / t_ours:.0f}x")


if __name__ == "__main__":
    main()
