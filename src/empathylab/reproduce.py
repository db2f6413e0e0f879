"""What a reader needs to redo a chapter: the command, the tables as CSV, and what the answers are.

Each chapter ends with a *Reproduce this* box: the exact command that executes it with the
profile it was built with, and a zip of CSV files (the result tables behind its figures) for
a spreadsheet. A book built from simulated answers (the fake backend: the ``class``
profile) says so on every page (:func:`simulated_notice`, shown by the book's theme).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pandas as pd

from empathylab.errors import EmpathylabError
from empathylab.profiles import Profile, load_profile

__all__ = ["EXECUTED", "command", "save_tables", "executed_profile", "simulated_notice"]

#: Where ``empathylab book execute`` writes the executed chapters (as in :mod:`empathylab.book`).
EXECUTED = Path("build/executed")


def command(chapter: str, profile: Profile | str) -> str:
    """Return the shell command that executes ``chapter`` (e.g. ``gaps/running``) with ``profile``.

    >>> command("gaps/running", "class")
    'empathylab book execute --profile class --chapter gaps/running'
    """
    name = profile.name if isinstance(profile, Profile) else str(profile)
    return f"empathylab book execute --profile {name} --chapter {chapter}"


def save_tables(chapter: str, tables: dict[str, pd.DataFrame], root: str | Path = ".") -> Path:
    """Write ``tables`` as CSV files into one zip next to the executed chapter; return its path.

    The zip is ``build/executed/<chapter>-tables.zip`` (the chapter's *Reproduce this* box
    links it), one ``<name>.csv`` per table, with a named index kept as columns.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as root:
    ...     path = save_tables("gaps/x", {"deltas": pd.DataFrame({"delta": [0.1]})}, root)
    ...     path.name, zipfile.ZipFile(path).namelist()
    ('x-tables.zip', ['deltas.csv'])
    """
    if not tables:
        raise EmpathylabError(f"No tables to save for {chapter}.")
    path = Path(root) / EXECUTED / f"{chapter}-tables.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, frame in tables.items():
            frame = frame.reset_index() if not isinstance(frame.index, pd.RangeIndex) else frame
            buffer = io.StringIO()
            frame.to_csv(buffer, index=False)
            archive.writestr(f"{name}.csv", buffer.getvalue())
    return path


def executed_profile(folder: str | Path = EXECUTED) -> str | None:
    """Return the profile every executed chapter under ``folder`` was run with (None: none executed).

    Read from papermill's record of the parameters in each notebook. Chapters executed with
    different profiles would make one book of two runs: that raises
    :class:`~empathylab.errors.EmpathylabError` naming them.
    """
    seen: dict[str, list[str]] = {}
    for path in sorted(Path(folder).rglob("*.ipynb")):
        metadata = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
        profile = metadata.get("papermill", {}).get("parameters", {}).get("profile")
        if profile is not None:
            seen.setdefault(str(profile), []).append(path.relative_to(folder).as_posix())
    if len(seen) > 1:
        listed = "; ".join(f"{p}: {', '.join(paths[:3])}" for p, paths in seen.items())
        raise EmpathylabError(
            f"The chapters in {folder} were executed with different profiles ({listed}). "
            "Execute them all with one: make book PROFILE=<name>."
        )
    return next(iter(seen), None)


def simulated_notice(profile: Profile | str) -> str | None:
    """Return the sentence every page shows when ``profile``'s answers are simulated, else None.

    >>> simulated_notice("demo") is None
    True
    >>> print(simulated_notice("class"))  # doctest: +ELLIPSIS
    Simulated answers: this book was built with the profile class, whose fake backend ...
    """
    cfg = load_profile(profile)
    if cfg.llm.backend != "fake":
        return None
    fake = cfg.llm.fake
    named = isinstance(profile, Profile) or not str(profile).endswith((".yaml", ".yml"))
    where = f"params/{cfg.name}.yaml" if named else str(profile)
    return (
        f"Simulated answers: this book was built with the profile {cfg.name}, whose fake backend "
        f"answers every prompt from a seeded simulation (a planted in-group effect of "
        f"{fake.in_group_effect:g} of the scale, {100 * fake.refusal_rate:g} % refusals); no language "
        "model was asked. The analyses are real. For a real model, set llm.backend: transformers "
        f"in {where}, or build with make book PROFILE=demo."
    )
