"""The ``empathylab`` command line: data, profiles and the book."""

from __future__ import annotations

import argparse
import sys

from empathylab.errors import EmpathylabError

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


def _gaps_run(args: argparse.Namespace) -> None:
    from empathylab.runner import plan_run, run_gaps

    plan = plan_run(
        args.profile, model=args.model, backend=args.backend, readout=args.readout,
        groupings=args.grouping, variations=args.variation,
        items_per_emotion=args.items_per_emotion, shard=args.shard, out=args.out,
    )  # fmt: skip
    summary = run_gaps(plan, progress=True)
    print(summary.to_string(index=False))
    print(f"Results: {plan.root}")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``empathylab`` command."""
    parser = argparse.ArgumentParser(
        prog="empathylab", description="An executable research compendium on LLMs and empathy."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = commands.add_parser("data", help="the public data files").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    data.add_parser("list", help="list the registered files").set_defaults(func=_data_list)
    data.add_parser("fetch", help="download (or check the mirror of) every file").set_defaults(
        func=_data_fetch
    )

    profile = commands.add_parser("profile", help="run profiles").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    show = profile.add_parser("show", help="print a validated profile with its defaults")
    show.add_argument("profile", help="profile name (params/NAME.yaml) or path")
    show.set_defaults(func=_profile_show)

    gaps = commands.add_parser("gaps", help="Part I: intergroup empathy gaps").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    run = gaps.add_parser(
        "run",
        help="ask a model for every prompt of the design (resumable)",
        description="Ask a model for the emotion intensity of every perceiver x experiencer x "
        "narrative prompt and store the answers. Options override the profile; a killed run "
        "resumes where it stopped when started again.",
    )
    run.add_argument("--profile", default="demo", help="profile name or path (default: demo)")
    run.add_argument("--model", help="model spec: embedded:NAME, hub id, local folder, or API model")
    run.add_argument("--backend", help="transformers | vllm | openai")
    run.add_argument("--readout", help="distribution | generate")
    run.add_argument("--grouping", action="append", help="religion | ethnicity | nationality (repeatable)")
    run.add_argument("--variation", action="append", help="origin, persona-1..3, 1-person, 3-person, 10-scale (repeatable)")
    run.add_argument("--items-per-emotion", type=int, help="narratives per emotion")
    run.add_argument("--shard", default="1/1", help="k/N: run part k of N (default 1/1)")
    run.add_argument("--out", help="results folder (default: the profile's output_dir/gaps)")
    run.set_defaults(func=_gaps_run)

    book = commands.add_parser("book", help="the executable book").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    execute = book.add_parser("execute", help="execute the chapters with papermill")
    execute.add_argument("--profile", default="demo", help="profile name or path (default: demo)")
    execute.add_argument("--root", default=".", help="the book's root folder (default: .)")
    execute.add_argument(
        "--chapter", action="append", help="execute only chapters whose path contains this"
    )
    execute.set_defaults(func=_book_execute)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (2 for bad input, with one message)."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except EmpathylabError as exc:
        print(f"empathylab: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
