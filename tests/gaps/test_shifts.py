"""Δδ between two runs (issue 22, items 3, 4, 5, 9, 12): units, direction words, Holm, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from empathylab.gaps import design, in_group, simulate_results
from empathylab.gaps.shifts import delta_shift

P = design.BASELINE


def _pair(
    effect_a: float,
    effect_b: float,
    *,
    perceiver_offsets_b: list[float] | None = None,
    n_items: int = 40,
    seed: int = 3,
    variations: tuple[str, str] = ("origin", "pt-other"),
) -> pd.DataFrame:
    """Two runs on the same narratives (shared narrative and identity effects), fresh noise each.

    Run B may add a fixed offset per perceiver (the baseline's row included): a change of
    the matrix's spread with the same in-group effect.
    """
    ids = design.identities("religion")
    base = simulate_results("religion", n_items=n_items, effect=0.0, noise_sd=0.0, seed=seed)
    pos = {label: k for k, label in enumerate(ids)}
    p, e = base["perceiver"].map(pos).to_numpy(), base["experiencer"].map(pos).to_numpy()
    mask = in_group(ids, "religion")[p, e]
    cells = np.random.default_rng(seed + 1).normal(0, 2, (2, len(ids)))
    base["intensity"] += cells[0][p] + cells[1][e]
    frames = []
    for k, (variation, effect) in enumerate(zip(variations, (effect_a, effect_b))):
        run = base.assign(variation=variation)
        noise = np.random.default_rng(100 * seed + k).normal(0, 4, len(base))
        run["intensity"] = base["intensity"] + effect * mask + noise
        if k == 1 and perceiver_offsets_b is not None:
            run["intensity"] += np.asarray(perceiver_offsets_b)[p]
        frames.append(run)
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------- three units (item 4)


def test_perceiver_offsets_move_z_delta_but_not_the_raw_or_reference_scaled_gap():
    # The issue's case: an instruction that adds perceiver-specific offsets moved z-δ by
    # −1.52 with the same raw gap. Same in-group effect (6 points) in both runs.
    offsets = [0.0, -14.0, -7.0, 0.0, 7.0, 14.0]  # the baseline's row first
    runs = _pair(6.0, 6.0, perceiver_offsets_b=offsets)
    row = delta_shift(runs, n_boot=1000).iloc[0]
    assert row["diff_ci_high"] < -0.5 and row["delta"] < 0.5 * row["delta_reference"]  # z-δ moved
    assert row["diff_raw_ci_low"] < 0 < row["diff_raw_ci_high"]  # the raw gap did not
    assert row["diff_ref_ci_low"] < 0 < row["diff_ref_ci_high"]
    assert abs(row["delta_raw"] - row["delta_raw_reference"]) < 1.0
    assert row["verdict"] == "the units disagree" and row["verdict"] != "narrower"
    assert row["p"] == max(row["p_z"], row["p_raw"], row["p_ref"]) and row["p_z"] < 0.001 < row["p_raw"]


def test_the_three_units_agree_on_a_planted_change_and_come_from_one_computation():
    runs = _pair(8.0, 3.0)
    row = delta_shift(runs, n_boot=800).iloc[0]
    assert row["verdict"] == "narrower" and row["toward"] == "out-group"
    for diff, high in (("delta_diff", "diff_ci_high"), ("delta_diff_raw", "diff_raw_ci_high")):
        assert row[high] < 0, diff
    assert row["diff_ref_ci_high"] < 0
    # raw δ is the in-group minus out-group mean of the cells; reference-scaled = raw / SD(reference)
    ref = runs[(runs.variation == "origin") & (runs.perceiver != P) & (runs.experiencer != P)]
    means = ref.groupby(["perceiver", "experiencer"])["intensity"].mean()
    inside = means.index.get_level_values(0) == means.index.get_level_values(1)
    raw_ref = means[inside].mean() - means[~inside].mean()
    assert row["delta_raw_reference"] == pytest.approx(raw_ref)
    assert row["delta_reference"] == pytest.approx(raw_ref / means.std(ddof=0))
    assert row["delta_diff_ref"] == pytest.approx(row["delta_diff_raw"] / means.std(ddof=0))
    # each interval is symmetric about its estimate: a bootstrap-t interval
    assert row["diff_raw_ci_high"] - row["delta_diff_raw"] == pytest.approx(
        row["delta_diff_raw"] - row["diff_raw_ci_low"]
    )


def test_the_private_half_width_is_gone_in_favour_of_the_shared_rule():
    from empathylab.gaps import shifts

    assert not hasattr(shifts, "_half_width")
    assert shifts.boot_t_half_width.__module__ == "empathylab.verdicts"


# ---------------------------------------------------------------- direction words (item 3)


def test_a_more_negative_gap_is_wider_toward_the_out_group_not_narrower():
    # The issue's case: δ −2.09 → −2.40 was printed as "a narrower gap".
    from empathylab.gaps.report import shift_summary

    runs = _pair(-5.0, -8.0)
    row = delta_shift(runs, n_boot=800).iloc[0]
    assert row["delta_reference"] < 0 and row["delta"] < row["delta_reference"]
    assert row["verdict"] == "wider" and row["toward"] == "out-group"
    assert row["abs_ci_low"] > 0 and row["abs_raw_ci_low"] > 0 and row["abs_ref_ci_low"] > 0
    text = shift_summary(delta_shift(runs, n_boot=800))
    assert "a wider gap" in text and "narrower" not in text


def test_the_issue_numbers_in_the_sentence_read_wider():
    from empathylab.gaps.report import shift_summary
    from empathylab.gaps.shifts import UNITS, shift_verdict

    row = {
        "variation": "pt-other",
        "reference": "origin",
        "n_items": 12,
        "delta": -2.40,
        "delta_reference": -2.09,
        "delta_raw": -6.0,
        "delta_raw_reference": -5.2,
        "raw_ci_low": -7.0,
        "raw_ci_high": -5.0,
        "raw_reference_ci_low": -6.1,
        "raw_reference_ci_high": -4.3,
        "p": 0.004,
        "toward": "out-group",
        "mean_shift": 0.0,
        "shift_ci_low": -0.5,
        "shift_ci_high": 0.5,
    }
    for diff, low, high, absolute, abs_low, abs_high in UNITS.values():
        row |= {diff: -0.31, low: -0.52, high: -0.08, absolute: 0.31, abs_low: 0.08, abs_high: 0.52}
    row["verdict"] = shift_verdict(row)
    assert row["verdict"] == "wider"
    text = shift_summary(pd.DataFrame([row]))
    assert "a wider gap" in text and "narrower" not in text and "−2.09 → −2.40" in text


def test_a_gap_that_changes_sign_is_called_reversed_and_one_that_reaches_zero_crosses_zero():
    row = delta_shift(_pair(6.0, -6.0), n_boot=800).iloc[0]
    assert row["verdict"] == "reversed" and row["toward"] == "out-group"
    crossing = delta_shift(_pair(6.0, -0.6, seed=5), n_boot=800).iloc[0]
    assert crossing["raw_ci_low"] < 0 < crossing["raw_ci_high"] and crossing["delta_raw"] < 0
    assert crossing["verdict"] == "crosses zero" and crossing["toward"] == "out-group"


def test_a_gap_that_shrinks_to_near_zero_on_the_same_side_is_narrower():
    row = delta_shift(_pair(6.0, 0.5, seed=3), n_boot=800).iloc[0]
    assert (
        row["raw_ci_low"] < 0 < row["raw_ci_high"] and row["delta_raw"] > 0
    )  # the run's gap: not told from 0
    assert row["verdict"] == "narrower" and row["toward"] == "out-group"


def test_few_narratives_leave_the_verdict_undetermined():
    row = delta_shift(_pair(8.0, 1.0, n_items=4), n_boot=300).iloc[0]
    assert row["verdict"].startswith("undetermined: 4 narratives")


def test_with_no_change_the_verdict_is_rarely_a_change():
    found = 0
    for seed in range(40):
        row = delta_shift(_pair(5.0, 5.0, n_items=12, seed=seed), n_boot=300, seed=seed).iloc[0]
        found += row["verdict"] not in ("no change detected", "the units disagree")
    assert found <= 5  # nominal 5 % (2 of 40 expected); the intersection over units is stricter


# ---------------------------------------------------------------- Holm and the perspective table (item 5)


def test_holm_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    from empathylab.gaps.shifts import holm

    p = np.array([0.001, 0.2, 0.013, 0.04, 0.03, 0.5, 0.0101])
    assert np.allclose(holm(p), multipletests(p, method="holm")[1])
    assert np.isnan(holm([0.01, np.nan])[1]) and holm([0.01, np.nan])[0] == 0.01


def _perspective_runs(n_items: int = 30) -> pd.DataFrame:
    effects = {"origin": 6.0, "pt-other": 1.0, "pt-self": 6.0, "pt-objective": 6.0, "pt-control": 6.0}
    frames = [
        _pair(6.0, effect, n_items=n_items, variations=("origin", variation))
        for variation, effect in effects.items()
        if variation != "origin"
    ]
    origin = frames[0][frames[0]["variation"] == "origin"]
    return pd.concat([origin, *(f[f["variation"] != "origin"] for f in frames)], ignore_index=True)


def test_each_instruction_is_compared_with_the_control_and_origin_with_holm_over_all():
    from empathylab.gaps.experiments import perspective_shifts
    from empathylab.gaps.shifts import holm

    table = perspective_shifts(_perspective_runs(), n_boot=600)
    pairs = table[["variation", "reference"]].values.tolist()
    assert pairs == [
        ["pt-other", "pt-control"],
        ["pt-self", "pt-control"],
        ["pt-objective", "pt-control"],
        ["pt-other", "origin"],
        ["pt-self", "origin"],
        ["pt-objective", "origin"],
        ["pt-control", "origin"],
    ]
    assert np.allclose(table["p_holm"], holm(table["p"]))
    assert (table["p_holm"] >= table["p"]).all()
    by = table.set_index(["variation", "reference"])["verdict"]
    assert by["pt-other", "pt-control"] == "narrower"
    assert by["pt-self", "pt-control"] in ("no change detected", "the units disagree")
    with pytest.raises(Exception, match="lack pt-control"):
        perspective_shifts(_perspective_runs()[lambda t: t["variation"] != "pt-control"], n_boot=50)


def test_the_holm_verdict_can_withdraw_an_unadjusted_change():
    from empathylab.gaps.shifts import UNITS, shift_verdict

    row = {"n_items": 12, "p": 0.02, "delta_raw": 3.0, "delta_raw_reference": 4.0}
    row |= dict.fromkeys(("raw_ci_low", "raw_reference_ci_low"), 1.0)
    row |= dict.fromkeys(("raw_ci_high", "raw_reference_ci_high"), 6.0)
    for diff, low, high, absolute, abs_low, abs_high in UNITS.values():
        row |= {diff: -1.0, low: -1.8, high: -0.2, absolute: -1.0, abs_low: -1.8, abs_high: -0.2}
    assert shift_verdict(row) == "narrower"
    assert shift_verdict(row, p=0.06) == "no change detected after Holm's correction"


# ---------------------------------------------------------------- base vs tuned (item 9)


def test_the_pair_sentence_is_an_association_naming_the_format_change():
    from empathylab.gaps.report import pair_summary

    runs = _pair(4.0, 7.0, variations=("origin", "origin"))
    runs["model"] = np.repeat(["b", "t"], len(runs) // 2)
    shifts = delta_shift(runs, by="model", reference="b", n_boot=300).assign(pair=0, grouping="religion")
    status = pd.DataFrame(
        {
            "pair": [0, 0],
            "role": ["base", "instruction-tuned"],
            "model": ["b", "t"],
            "available": [True, True],
            "command": ["x", "y"],
        }
    )
    text = pair_summary(status, {"b", "t"}, shifts, {"b": "plain", "t": "chat"})
    assert "association" in text and "b read plain text" in text and "t its chat template" in text
    assert "not the effect of tuning alone" in text
    assert "association" in pair_summary(status, {"b", "t"}, shifts)  # formats unknown: still worded so


# ---------------------------------------------------------------- the command line (items 11, 12)


def _store(root, rows: pd.DataFrame) -> None:
    from empathylab.gaps.rows import COLUMNS
    from empathylab.llm.store import ChunkStore

    for (model, readout, variation, grouping), part in rows.groupby(
        ["model", "readout", "variation", "grouping"]
    ):
        folder = root / model / readout / variation / grouping
        ChunkStore(folder, {"test": True}, columns=COLUMNS).write(0, part.reset_index(drop=True), {})


def _one_line_error(capsys, argv: list[str], match: str) -> None:
    from empathylab.cli import main

    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = [line for line in captured.err.strip().splitlines() if not line.startswith("note: ")]
    assert len(lines) == 1 and lines[0].startswith("empathylab: error: "), captured.err
    assert match in lines[0], lines[0]


@pytest.fixture
def store(tmp_path):
    narrower = _pair(6.0, 3.0, n_items=16, variations=("origin", "pt-other"))
    same = _pair(6.0, 6.0, n_items=16, variations=("origin", "pt-control"))
    rows = pd.concat([narrower, same[same["variation"] == "pt-control"]], ignore_index=True)
    rows = pd.concat(
        [rows, simulate_results("nationality", n_items=6, effect=3.0, seed=0)], ignore_index=True
    )
    _store(tmp_path / "runs", rows)
    return tmp_path / "runs"


def test_compare_gives_one_json_object_per_grouping_in_three_units(store, capsys):
    from empathylab.cli import main

    argv = ["gaps", "compare", str(store), "--a-variation", "origin", "--b-variation", "pt-other"]
    assert main([*argv, "--json", "--bootstrap", "500"]) == 0
    captured = capsys.readouterr()
    [line] = captured.out.strip().splitlines()  # nationality has no pt-other run: left out, with a note
    assert "note: only A holds nationality; left out." in captured.err
    row = json.loads(line)
    assert row["grouping"] == "religion" and row["n_items"] == 16 and row["verdict"] == "narrower"
    assert row["a"] == "synthetic / generate / origin" and row["b"] == "synthetic / generate / pt-other"
    for name in ("delta_diff", "delta_diff_raw", "delta_diff_ref"):
        assert row[name] < 0
    for key in ("diff_ci_high", "diff_raw_ci_high", "diff_ref_ci_high", "p"):
        assert row[key] < 0.05
    assert main([*argv, "--bootstrap", "500"]) == 0
    text = capsys.readouterr().out.strip()
    assert text.startswith(
        "religion: B (synthetic / generate / pt-other) against A (synthetic / generate / origin)"
    )
    assert (
        "Δδ z −" in text and "raw −" in text and "reference-scaled −" in text and text.endswith(": narrower")
    )


def test_compare_of_two_folders_uses_the_narratives_both_answered(store, tmp_path, capsys):
    from empathylab.cli import main

    other = _pair(6.0, 6.0, n_items=10, seed=8, variations=("origin", "pt-self"))
    _store(tmp_path / "other", other[other["variation"] == "pt-self"])
    argv = ["gaps", "compare", str(store), str(tmp_path / "other"), "--a-variation", "origin", "--json"]
    assert main([*argv, "--grouping", "religion", "--bootstrap", "200"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["n_items"] == 10 and row["b"].endswith("pt-self")


def test_compare_refuses_bad_input_with_one_line(store, tmp_path, capsys):
    _one_line_error(capsys, ["gaps", "compare", str(tmp_path / "nothing")], "No stored results")
    _one_line_error(
        capsys,
        ["gaps", "compare", str(store), "--b-variation", "pt-other"],
        "A (" + str(store) + ") holds 3 runs of the religion grouping; choose one with --a-variation "
        "(origin, pt-control, pt-other)",
    )
    _one_line_error(
        capsys,
        ["gaps", "compare", str(store), "--a-variation", "origin", "--b-variation", "pt-selff"],
        "pt-selff",
    )
    _one_line_error(
        capsys,
        [
            "gaps",
            "compare",
            str(store),
            "--a-variation",
            "origin",
            "--b-variation",
            "pt-other",
            "--grouping",
            "caste",
        ],
        "Unknown grouping 'caste'",
    )
    # no narrative in common
    later = _pair(6.0, 6.0, n_items=20, variations=("origin", "pt-self"))
    later = later[(later["variation"] == "pt-self") & (later["item_id"] >= 16)]
    _store(tmp_path / "later", later)
    _one_line_error(
        capsys,
        [
            "gaps",
            "compare",
            str(store),
            str(tmp_path / "later"),
            "--a-variation",
            "origin",
            "--grouping",
            "religion",
        ],
        "share no complete narrative",
    )
    # another design: fewer identities
    ids = design.identities("religion")[:4]
    fewer = simulate_results("religion", n_items=16, seed=0, variation="pt-self")
    _store(tmp_path / "fewer", fewer[fewer["perceiver"].isin(ids) & fewer["experiencer"].isin(ids)])
    _one_line_error(
        capsys,
        [
            "gaps",
            "compare",
            str(store),
            str(tmp_path / "fewer"),
            "--a-variation",
            "origin",
            "--grouping",
            "religion",
        ],
        "are runs of different designs",
    )
    # no grouping in common
    _one_line_error(
        capsys,
        [
            "gaps",
            "compare",
            str(store),
            str(tmp_path / "fewer"),
            "--a-variation",
            "origin",
            "--grouping",
            "nationality",
        ],
        "No results with grouping nationality",
    )
    argv = [
        "gaps",
        "compare",
        str(store),
        "--a-variation",
        "origin",
        "--b-variation",
        "pt-other",
        "--model",
        "other",
    ]
    _one_line_error(capsys, argv, "No results with model other")


def test_analyze_rounds_the_means_as_asked_and_puts_the_masks_in_the_json(store, capsys):
    from empathylab.cli import main

    argv = ["gaps", "analyze", str(store), "--variation", "origin", "--grouping", "religion", "--json"]
    argv += ["--permutations", "200", "--bootstrap", "0", "--no-mixed"]
    assert main(argv) == 0
    exact = json.loads(capsys.readouterr().out)
    assert main([*argv, "--round-means", "0"]) == 0
    rounded = json.loads(capsys.readouterr().out)
    assert rounded["delta"] != exact["delta"] and abs(rounded["delta"] - exact["delta"]) < 0.1
    mask = np.asarray(exact["mask"])
    assert mask.shape == (6, 6) and mask.dtype == bool
    assert exact["perm_exact"] is True  # five religions: all 120 arrangements enumerated
    assert main([*argv, "--sampled"]) == 0
    sampled = json.loads(capsys.readouterr().out)
    assert sampled["perm_exact"] is False and sampled["n_permutations"] == 200
