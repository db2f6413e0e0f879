"""The ``empathylab`` command line: data, profiles and the book."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from empathylab.errors import EmpathylabError, scrub

__all__ = ["main"]


def _data_list(args: argparse.Namespace) -> None:
    from empathylab.data import registry

    reg = registry()
    for key, row in reg.iterrows():
        print(f"{key}\t{row.bytes:>9,d} B\t{row.license}")
    print(f"{len(reg)} files; EMPATHYLAB_DATA_DIR selects an offline mirror.")


def _data_fetch(args: argparse.Namespace) -> None:
    from empathylab.data import fetch_all

    paths = fetch_all(progress=True)
    print(f"{len(paths)} data files present and verified (sha256).")


def _profile_show(args: argparse.Namespace) -> None:
    from empathylab.profiles import load_profile

    print(load_profile(args.profile).to_yaml(), end="")


def _book_execute(args: argparse.Namespace) -> None:
    from empathylab.book import execute_book

    execute_book(args.profile, root=args.root, only=args.chapter)


def _book_check(args: argparse.Namespace) -> None:
    from empathylab.book import check_html
    from empathylab.exercises import check_solutions

    problems = check_html(args.html) + check_solutions(args.executed)
    for problem in problems:
        print(problem)
    if problems:
        raise EmpathylabError(f"{len(problems)} problem(s) shown to readers in {args.html} (listed above).")
    print(f"{args.html}: no warning, traceback, build-machine path or raw table cell in the outputs.")


def _gaps_run(args: argparse.Namespace) -> None:
    from empathylab.gaps.runner import plan_run, run_gaps

    plan = plan_run(
        args.profile,
        model=args.model,
        backend=args.backend,
        readout=args.readout,
        reading_range=args.reading_range,
        groupings=args.grouping,
        variations=args.variation,
        items_per_emotion=args.items_per_emotion,
        shard=args.shard,
        out=args.out,
        engine=args.engine,
        ray_address=args.ray_address,
    )
    summary = run_gaps(plan, progress=True)
    print(summary.to_string(index=False))
    print(f"Results: {plan.root}")


def _note_unfinished(results_dir: str) -> None:
    """Say on stderr which runs under ``results_dir`` are unfinished (their gaps are not refusals)."""
    from empathylab.gaps.rows import unfinished_runs

    unfinished = unfinished_runs(results_dir)
    for run in unfinished.head(3).itertuples():
        print(
            f"note: {run.folder} is unfinished ({run.stored} of {run.expected} prompts stored); "
            "narratives lacking prompts are left out as if refused. Finish it with "
            "`empathylab gaps run` and the same profile.",
            file=sys.stderr,
        )
    if len(unfinished) > 3:
        print(f"note: and {len(unfinished) - 3} more unfinished runs.", file=sys.stderr)


def _select(results: Any, where: str, selection: dict[str, list[str] | None]) -> Any:
    """Keep the rows of ``results`` (read from ``where``) whose run keys are among those wanted.

    ``selection`` maps a run key (grouping, variation, model, readout) to the values wanted
    (None or empty: all). A model may be named by its spec or its folder name.
    """
    from empathylab.gaps import design
    from empathylab.llm.store import model_slug

    for value in selection.get("grouping") or []:
        if value not in design.GROUPINGS:
            raise EmpathylabError(
                f"Unknown grouping {value!r}; valid groupings: {', '.join(design.GROUPINGS)}."
            )
    for column, wanted in selection.items():
        if not wanted:
            continue
        values = results[column].astype(str)
        chosen = values.isin(wanted)
        if column == "model":  # a model may be named by its spec or its folder name
            chosen |= values.map(model_slug).isin([model_slug(w) for w in wanted])
        if not chosen.any():
            have = ", ".join(sorted(values.unique()))
            raise EmpathylabError(f"No results with {column} {', '.join(wanted)} in {where}; found: {have}.")
        results = results[chosen]
    return results


def _gaps_analyze(args: argparse.Namespace) -> None:
    import json

    from empathylab import gaps
    from empathylab.gaps.results import read_result_table

    results = read_result_table(args.results_dir)  # checks columns, values and repeats
    _note_unfinished(args.results_dir)
    selection = {
        "grouping": args.grouping,
        "variation": args.variation,
        "model": args.model,
        "readout": args.readout,
    }
    results = _select(results, args.results_dir, selection)
    runs = gaps.analyze(
        results,
        n_permutations=args.permutations,
        seed=args.seed,
        n_boot=args.bootstrap,
        mixed=args.mixed,
        round_means=args.round_means,
        exact=args.exact,
    )
    if args.json:
        for run in runs:
            print(json.dumps(gaps.jsonable(run), allow_nan=False))
        return
    import pandas as pd

    from empathylab.gaps.report import runs_table

    with pd.option_context("display.width", 200, "display.max_columns", None):
        print(runs_table(runs).round(4).to_string(index=False))


#: The columns of ``gaps compare`` that name a run (``--a-KEY``/``--b-KEY``, or ``--KEY`` for both).
_COMPARE_KEYS = ("variation", "model", "readout")


def _gaps_compare(args: argparse.Namespace) -> None:
    import json

    from empathylab import gaps
    from empathylab.gaps.results import read_result_table
    from empathylab.gaps.shifts import compare_runs, run_choices

    paths = {"A": args.a_dir, "B": args.b_dir or args.a_dir}
    sides, read = {}, {}
    for side, path in paths.items():
        if path not in read:
            read[path] = read_result_table(path)  # checks columns, values and repeats
            _note_unfinished(path)
        rows = read[path]
        low = side.lower()
        selection = {"grouping": args.grouping}
        selection |= {key: getattr(args, f"{low}_{key}") or getattr(args, key) for key in _COMPARE_KEYS}
        rows = _select(rows, path, selection)
        for grouping, part in rows.groupby("grouping", sort=False):
            choices = run_choices(part)
            if choices:
                options = " and ".join(
                    f"--{low}-{key} ({', '.join(values)})" for key, values in choices.items()
                )
                raise EmpathylabError(
                    f"{side} ({path}) holds {part.groupby(list(choices)).ngroups} runs of the {grouping} "
                    f"grouping; choose one with {options}, or --grouping to leave {grouping} out."
                )
        sides[side] = rows
    table = compare_runs(sides["A"], sides["B"], n_boot=args.bootstrap, seed=args.seed)
    held = {side: set(rows["grouping"].astype(str)) for side, rows in sides.items()}
    for side, other in (("A", "B"), ("B", "A")):
        if alone := sorted(held[side] - held[other]):
            print(f"note: only {side} holds {', '.join(alone)}; left out.", file=sys.stderr)
    if paths["A"] == paths["B"] and all(a == b for a, b in zip(table["a"], table["b"])):
        print(
            "note: A and B select the same runs; choose B with --b-variation, --b-model or --b-readout.",
            file=sys.stderr,
        )
    for note in table["note"].dropna().unique():
        print(f"note: {note}.", file=sys.stderr)
    if args.json:
        for row in table.to_dict("records"):
            print(json.dumps(gaps.jsonable(row), allow_nan=False))
        return
    for row in table.to_dict("records"):
        print(_compare_line(row))


def _compare_line(row: dict[str, Any]) -> str:
    """One line of ``gaps compare``: Δδ in three units with intervals, p and the verdict."""

    def num(x: float) -> str:
        return f"{x:+.2f}".replace("-", "\u2212")

    def plain(x: float) -> str:
        return f"{x:.2f}".replace("-", "\u2212")

    def unit(name: str, low: str, high: str) -> str:
        return f"{num(row[name])} [{num(row[low])}, {num(row[high])}]"

    from empathylab.verdicts import format_p

    verdict = row["verdict"]
    if row.get("toward") and verdict in ("reversed", "crosses zero"):
        verdict += f", toward the {row['toward']}"
    return (
        f"{row['grouping']}: B ({row['b']}) against A ({row['a']}), {row['n_items']} narratives: "
        f"δ {plain(row['delta_reference'])} → {plain(row['delta'])} (z), "
        f"{plain(row['delta_raw_reference'])} → {plain(row['delta_raw'])} points; "
        f"Δδ z {unit('delta_diff', 'diff_ci_low', 'diff_ci_high')}, "
        f"raw {unit('delta_diff_raw', 'diff_raw_ci_low', 'diff_raw_ci_high')} points, "
        f"reference-scaled {unit('delta_diff_ref', 'diff_ref_ci_low', 'diff_ref_ci_high')}; "
        f"{format_p(row['p'])}: {verdict}"
    )


def _gaps_human(args: argparse.Namespace) -> None:
    import json

    import pandas as pd

    from empathylab import gaps
    from empathylab.gaps import anchor
    from empathylab.gaps.results import read_result_table

    results = read_result_table(args.results_dir)  # checks columns, values and repeats
    _note_unfinished(args.results_dir)
    tables = anchor.anchor(results, n_boot=args.bootstrap, seed=args.seed, premium=not args.no_premium)
    if args.json:
        for kind, table in tables.items():
            for row in table.astype(object).where(table.notna(), None).to_dict("records"):
                print(json.dumps(gaps.jsonable({"kind": kind, **row}), allow_nan=False))
        return
    with pd.option_context("display.width", 200, "display.max_columns", None):
        for kind, table in tables.items():
            print(f"\n{kind}:\n{table.round(3).to_string(index=False)}")


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    """Profile overrides from the Part II options that were given."""
    training = {
        key: value
        for key, value in {
            "finetune_strategies": getattr(args, "strategy", None),
            "finetune_seeds": getattr(args, "seed", None),
            "max_epochs": getattr(args, "max_epochs", None),
            "llm": getattr(args, "llm", None),
        }.items()
        if value is not None
    }
    labelling = {k: v for k, v in {"sample": getattr(args, "sample", None)}.items() if v is not None}
    out: dict[str, object] = {"llmpathy": {"training": training, "labelling": labelling}}
    if getattr(args, "encoder", None):
        out["models"] = {"encoder": args.encoder}
    if getattr(args, "ray_address", None):
        out["llm"] = {"ray": {"address": args.ray_address}}
    return out


def _labels_run(args: argparse.Namespace) -> None:
    from empathylab.llmpathy.labelling import label_sample
    from empathylab.profiles import load_profile

    cfg = load_profile(args.profile, **_overrides(args))
    if args.all:
        cfg = load_profile(cfg, llmpathy={"labelling": {"sample": None}})
    labels = label_sample(cfg, prompt=args.prompt, model=args.model, backend=args.backend, engine=args.engine)
    print(
        f"{len(labels)} essays, {int(labels['valid'].sum())} valid labels, "
        f"{int((~labels['valid']).sum())} missing (raw answers kept)."
    )


def _labels_agreement(args: argparse.Namespace) -> None:
    import json

    from empathylab.llmpathy.labelling import label_agreement
    from empathylab.llmpathy.released import released_agreement

    table = label_agreement(args.profile, min_labels=args.min_labels)
    released = released_agreement(n_boot=args.bootstrap)
    keys = ["dataset", "split", "a", "b", "alpha", "alpha_ci_low", "alpha_ci_high", "pearson", "n"]
    if args.json:
        for row in [*table.to_dict("records"), *released[keys].to_dict("records")]:
            print(json.dumps({k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}))
    else:
        print("Public essays (NewsEmp22 train):")
        print(table.round(4).to_string(index=False))
        print("\nEvery released label file (95 % bootstrap interval of alpha):")
        print(released[keys].round(4).to_string(index=False))


def _train(args: argparse.Namespace) -> None:
    import pandas as pd

    from empathylab import llmpathy
    from empathylab.profiles import load_profile

    cfg = load_profile(args.profile, **_overrides(args))
    if args.method == "probe":
        table = llmpathy.cv_summary(llmpathy.probe_cv(cfg, progress=True))
    else:
        table = llmpathy.finetune_split(cfg, progress=True)
    with pd.option_context("display.width", 200, "display.max_columns", None):
        print(table.round(4).to_string(index=False))
    print(f"Results: {llmpathy.results_dir(cfg)}")


def _group(commands: Any, name: str, help: str) -> Any:
    """Add a command that takes an ACTION (``empathylab NAME ACTION ...``)."""
    return commands.add_parser(name, help=help).add_subparsers(dest="action", required=True, metavar="ACTION")


def _profile_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="demo", help="profile name or path (default: demo)")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line naming the option, as the package's are."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local: in this process (default); ray: worker actors on a Ray cluster (the ray extra)",
    )
    parser.add_argument(
        "--ray-address", help="the Ray cluster to join (auto, ray://head:10001; default: llm.ray.address)"
    )


def _whole(low: int, high: int) -> Callable[[str], int]:
    """Return an argparse type: a whole number from ``low`` to ``high``, or a clear error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low:,} to {high:,}, got {value:,}")
        return value

    parse.__name__ = "whole number"
    return parse


SEEDS = _whole(0, 2**32 - 1)
RESAMPLES = _whole(0, 1_000_000)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``empathylab`` command."""
    parser = _Parser(prog="empathylab", description="An executable research compendium on LLMs and empathy.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = _group(commands, "data", "the public data files")
    data.add_parser("list", help="list the registered files").set_defaults(func=_data_list)
    data.add_parser("fetch", help="download (or check the mirror of) every file").set_defaults(
        func=_data_fetch
    )

    profile = _group(commands, "profile", "run profiles")
    show = profile.add_parser("show", help="print a validated profile with its defaults")
    show.add_argument("profile", help="profile name (params/NAME.yaml) or path")
    show.set_defaults(func=_profile_show)

    gaps = _group(commands, "gaps", "Part I: intergroup empathy gaps")
    run = gaps.add_parser(
        "run",
        help="ask a model for every prompt of the design (resumable)",
        description="Ask a model for the emotion intensity of every perceiver x experiencer x "
        "narrative prompt and store the answers. Options override the profile; a killed run "
        "resumes where it stopped when started again.",
    )
    _profile_option(run)
    run.add_argument("--model", help="model spec: embedded:NAME, hub id, local folder, or API model")
    run.add_argument(
        "--backend", help="transformers | vllm | openai | fake (default: the profile's llm.backend)"
    )
    run.add_argument("--readout", help="distribution | generate")
    run.add_argument(
        "--reading-range",
        help="generate readout: scale ([0, S], the paper's text) | authors ([0, 100], its code)",
    )
    run.add_argument(
        "--grouping", action="append", help="religion | ethnicity | nationality | race-religion (repeatable)"
    )
    run.add_argument(
        "--variation",
        action="append",
        help="origin, persona-1..3, 1-person, 3-person, 10-scale, pt-other, pt-self, pt-objective, pt-control (repeatable)",
    )
    run.add_argument("--items-per-emotion", type=_whole(1, 10_000_000), help="narratives per emotion")
    run.add_argument("--shard", default="1/1", help="k/N: run part k of N (default 1/1)")
    run.add_argument("--out", help="results folder (default: the profile's output_dir/gaps)")
    _engine_options(run)
    run.set_defaults(func=_gaps_run)
    analyze = gaps.add_parser(
        "analyze",
        help="empathy gaps of result tables: matrix, delta, permutation test",
        description="Compute the z-normalised emotion matrix, the in-group minus out-group "
        "gap delta with its permutation test, a narrative bootstrap and a mixed model, for "
        "every (model, readout, grouping, variation) in PATH: a results folder of `empathylab "
        "gaps run`, Parquet/CSV tables (one file, or every such file under a folder) with the "
        "columns grouping, variation, perceiver, experiencer, item_id, intensity (optional: "
        "model and readout, 'unknown' when absent; emotion; status, derived from intensity "
        "when absent), or the authors' processed_results folder of "
        "{grouping}_{variation}_{model}_{perceiver}_{experiencer}.tsv files.",
    )
    analyze.add_argument(
        "results_dir",
        metavar="PATH",
        help="a results folder, a Parquet/CSV table, or the authors' processed_results folder",
    )
    analyze.add_argument(
        "--grouping", action="append", help="religion | ethnicity | nationality | race-religion (repeatable)"
    )
    analyze.add_argument("--variation", action="append", help="only this variation (repeatable)")
    analyze.add_argument("--model", action="append", help="only this model spec or folder name (repeatable)")
    analyze.add_argument("--readout", action="append", help="only this readout (repeatable)")
    analyze.add_argument(
        "--permutations", type=_whole(1, 10_000_000), default=10_000, help="permutations (default: 10000)"
    )
    analyze.add_argument(
        "--bootstrap",
        type=RESAMPLES,
        default=1000,
        help="narrative bootstrap resamples, 0 to skip (default: 1000)",
    )
    mixed = analyze.add_mutually_exclusive_group()
    mixed.add_argument(
        "--mixed",
        action="store_true",
        help="also fit the random-slope mixed model (slow; the verdicts do not use it)",
    )
    mixed.add_argument("--no-mixed", action="store_false", dest="mixed", help="no mixed model (the default)")
    analyze.add_argument(
        "--round-means",
        type=_whole(0, 15),
        metavar="N",
        help="round the cell means to N decimals before z-normalising, as the authors' code "
        "(Python's round(); they use 2); default: exact means",
    )
    how = analyze.add_mutually_exclusive_group()
    how.add_argument(
        "--exact",
        dest="exact",
        action="store_const",
        const=True,
        default=None,
        help="enumerate every arrangement of the permutation test (a diagonal in-group mask with at "
        "most 8 identities; default: enumerate where possible, else sample)",
    )
    how.add_argument(
        "--sampled",
        dest="exact",
        action="store_const",
        const=False,
        help="draw --permutations arrangements, as the authors do, also where they could be enumerated",
    )
    analyze.add_argument("--seed", type=SEEDS, default=0, help="random seed (default: 0)")
    analyze.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per line and run (with the heatmap matrix and its Bonferroni mask)",
    )
    analyze.set_defaults(func=_gaps_analyze)
    compare = gaps.add_parser(
        "compare",
        help="how the gap moved from run A to run B: delta-delta in three units, its interval and direction",
        description="Compare the gap of run B with that of run A, grouping by grouping, on the "
        "narratives both answered in every perceiver x experiencer cell: Δδ = δ(B) - δ(A) in z units "
        "(each run over the SD of its own cell means, as the paper's δ), in raw scale points, and "
        "with both runs over A's SD, each with a 95 % bootstrap-t interval from paired resamples of "
        "narratives, the p of a change in all three units, and the verdict: narrower or wider (|δ| "
        "shrinks or grows in all three units), reversed, crosses zero, toward the in-group or the "
        "out-group, no change detected, or the units disagree. A and B are read as by `gaps analyze`; "
        "B defaults to A, so two runs of one folder are compared by selecting them, e.g. "
        "`empathylab gaps compare results/demo/gaps --a-variation origin --b-variation pt-other`. "
        "Each side must hold one run (model, readout, variation) per grouping.",
    )
    compare.add_argument("a_dir", metavar="A", help="the reference run(s): a results folder or table")
    compare.add_argument(
        "b_dir", metavar="B", nargs="?", help="the compared run(s): a results folder or table (default: A)"
    )
    compare.add_argument(
        "--grouping", action="append", help="religion | ethnicity | nationality | race-religion (repeatable)"
    )
    for key, what in (
        ("variation", "variation"),
        ("model", "model spec or folder name"),
        ("readout", "readout"),
    ):
        metavar = key.upper()
        compare.add_argument(
            f"--{key}", action="append", metavar=metavar, help=f"only this {what}, on both sides"
        )
        for side in ("a", "b"):
            compare.add_argument(
                f"--{side}-{key}",
                action="append",
                metavar=metavar,
                help=f"only this {what} in {side.upper()} (overrides --{key})",
            )
    compare.add_argument(
        "--bootstrap",
        type=_whole(2, 1_000_000),
        default=2000,
        help="paired resamples of narratives (default: 2000)",
    )
    compare.add_argument("--seed", type=SEEDS, default=0, help="random seed (default: 0)")
    compare.add_argument("--json", action="store_true", help="one JSON object per line and grouping")
    compare.set_defaults(func=_gaps_compare)
    hum = gaps.add_parser(
        "human",
        help="what humans say: model vs writer and reader intensities, the readers' in-group premium",
        description="For every (model, readout, grouping, variation) in PATH (read as by `gaps "
        "analyze`): Pearson and Spearman correlations, with bootstrap intervals over narratives, of "
        "the model's intensity per narrative (the baseline cell, and the mean over all cells) with "
        "the crowd-enVent writer's own intensity and with the readers' mean, overall and per emotion; "
        "the human ceiling (readers' mean vs writer, readers' split-half reliability); and the readers' "
        "in-group premium per shared attribute (intensity ~ same group + (1 | text) + (1 | reader)).",
    )
    hum.add_argument(
        "results_dir",
        metavar="PATH",
        help="a results folder, a Parquet/CSV table, or the authors' processed_results folder",
    )
    hum.add_argument(
        "--bootstrap",
        type=RESAMPLES,
        default=1000,
        help="bootstrap resamples over narratives, 0 to skip (default: 1000)",
    )
    hum.add_argument(
        "--no-premium",
        action="store_true",
        help="skip the readers' premium (four mixed models, about a second)",
    )
    hum.add_argument("--seed", type=SEEDS, default=0, help="random seed (default: 0)")
    hum.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per line, each with its kind: tracking, ceiling, premium",
    )
    hum.set_defaults(func=_gaps_human)

    labels = _group(commands, "labels", "Part II: LLM empathy labels")
    lrun = labels.add_parser(
        "run",
        help="label public essays with an LLM (resumable)",
        description="Ask an LLM for the empathy of essays with the prompts of Hasan et al. "
        "(temperature 0); unparsable answers are asked once more, then stored as missing "
        "with the raw answer. Results go under the profile's output_dir/llmpathy/labels.",
    )
    _profile_option(lrun)
    lrun.add_argument("--prompt", default="scale-aware", choices=["scale-aware", "plain"])
    lrun.add_argument("--model", help="model spec (default: the profile's first causal_lm)")
    lrun.add_argument(
        "--backend", choices=["transformers", "vllm", "openai", "fake"], help="default: the profile's"
    )
    size = lrun.add_mutually_exclusive_group()
    size.add_argument(
        "--sample", type=_whole(1, 10_000_000), help="essays to label (default: the profile's sample)"
    )
    size.add_argument("--all", action="store_true", help="label all 1,860 public essays")
    _engine_options(lrun)
    lrun.set_defaults(func=_labels_run)
    agree = labels.add_parser("agreement", help="Krippendorff's alpha and Pearson r of every pair of sources")
    _profile_option(agree)
    agree.add_argument(
        "--min-labels",
        type=_whole(1, 10_000_000),
        default=10,
        help="least valid labels for a generated source",
    )
    agree.add_argument(
        "--bootstrap",
        type=RESAMPLES,
        default=1000,
        help="resamples for the released pairs' alpha interval, 0 to skip (default: 1000)",
    )
    agree.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per pair: a, b, alpha, pearson, n; then per released pair: dataset, split, a, b, alpha, alpha_ci_low, alpha_ci_high, pearson, n",
    )
    agree.set_defaults(func=_labels_agreement)

    train = commands.add_parser(
        "train",
        help="Part II: train empathy regressors on crowd, noise-mitigated or LLM labels",
        description="probe: frozen-encoder ridge probe under grouped cross-validation, every "
        "strategy and alpha (fast); finetune: fine-tune the encoder with the recipe of Hasan "
        "et al. on the profile's fixed split, per strategy and seed. Finished runs are stored "
        "and reused.",
    )
    _profile_option(train)
    train.add_argument("--method", default="finetune", choices=["finetune", "probe"])
    train.add_argument(
        "--encoder", help="embedded:all-MiniLM-L6-v2, roberta-base, microsoft/deberta-v3-base, a folder..."
    )
    train.add_argument(
        "--strategy", action="append", choices=["y", "y'", "y_llm"], help="repeatable (finetune)"
    )
    train.add_argument("--seed", action="append", type=SEEDS, help="repeatable (finetune)")
    train.add_argument("--max-epochs", type=_whole(1, 10_000), help="at most this many epochs (finetune)")
    train.add_argument("--llm", choices=["gpt4o", "llama3_70b"], help="released labels behind y' and y_llm")
    train.set_defaults(func=_train)

    book = _group(commands, "book", "the executable book")
    execute = book.add_parser("execute", help="execute the chapters with papermill")
    _profile_option(execute)
    execute.add_argument("--root", default=".", help="the book's root folder (default: .)")
    execute.add_argument("--chapter", action="append", help="execute only chapters whose path contains this")
    execute.set_defaults(func=_book_execute)
    check = book.add_parser(
        "check",
        help="list warnings, tracebacks, build-machine paths and raw table cells in the built book's outputs",
    )
    check.add_argument("--html", default="_build/html", help="the built book (default: _build/html)")
    check.add_argument(
        "--executed",
        default="build/executed",
        help="the executed chapters, whose exercise solutions must pass their checks (default: build/executed)",
    )
    check.set_defaults(func=_book_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (2 for bad input, with one message)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a bad option (one line already printed)
        return int(exc.code or 0)
    try:
        args.func(args)
    except EmpathylabError as exc:
        print(f"empathylab: error: {scrub(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "empathylab: interrupted; every chunk stored before the interrupt is kept: "
            "run the same command again to resume.",
            file=sys.stderr,
        )
        return INTERRUPTED
    return 0


#: Exit status after Ctrl-C (128 + SIGINT, as shells report it).
INTERRUPTED = 130


def entry() -> None:
    """The ``empathylab`` command: :func:`main`, then exit at once after an interrupt.

    After Ctrl-C, requests still in flight to an endpoint would hold the process until
    their timeout; every finished chunk is already on disk, so the process ends now.
    """
    code = main()
    if code == INTERRUPTED:
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
