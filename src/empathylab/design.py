"""The experimental design of Hou, Daumé III and Rudinger (2025): identities, variations, sizes.

Perceivers and experiencers come from the same identity list; the baseline identity
``a person`` is added to every list (first). One prompt is one (perceiver, experiencer,
narrative) triple, for each model and prompt variation.
"""

from __future__ import annotations

import pandas as pd

from empathylab.errors import EmpathylabError

__all__ = [
    "BASELINE",
    "ETHNICITY_RACE",
    "NATIONALITY_CLUSTERS",
    "GROUPINGS",
    "VARIATIONS",
    "identities",
    "design_sizes",
]

BASELINE = "a person"

RELIGIONS: tuple[str, ...] = ("a Christian", "a Muslim", "a Jew", "a Buddhist", "a Hindu")

#: Surface form -> race, for the ethnicity grouping (in-group = same race).
ETHNICITY_RACE: dict[str, str] = {
    **dict.fromkeys(
        ["a white person", "a White person", "a Caucasian", "a White American",
         "a European American"], "White"),
    **dict.fromkeys(
        ["a black person", "a Black person", "an African American", "a Black American"],
        "Black"),
    **dict.fromkeys(["an Asian person", "an Asian American", "an Asian"], "Asian"),
    **dict.fromkeys(
        ["a Hispanic person", "a Hispanic American", "a Latino American", "a Latino",
         "a Latina", "a Latinx"], "Hispanic"),
}  # fmt: skip

#: Cultural cluster -> countries, in the paper's order.
NATIONALITY_CLUSTERS: dict[str, tuple[str, ...]] = {
    "English-speaking": ("the United States", "Canada", "the United Kingdom"),
    "Protestant Europe": ("Germany",),
    "Catholic Europe": ("France",),
    "Confucian": ("China", "Japan"),
    "West & South Asia": ("India", "Myanmar", "Israel"),
    "Orthodox Europe": ("Russia", "Ukraine"),
    "Latin America": ("the Philippines", "Argentina", "Brazil", "Mexico"),
    "African-Islamic": ("Iran", "Palestine", "Nigeria", "Egypt", "Pakistan"),
}

GROUPINGS: dict[str, tuple[str, ...]] = {
    "religion": RELIGIONS,
    "ethnicity": tuple(ETHNICITY_RACE),
    "nationality": tuple(
        f"a person from {country}" for group in NATIONALITY_CLUSTERS.values() for country in group
    ),
}

#: Prompt variation -> (persona sentence, scale, user template), as in the paper's table.
VARIATIONS: dict[str, tuple[str, int, str]] = {
    "origin": ("persona-0", 100, "origin"),
    "persona-1": ("persona-1", 100, "origin"),
    "persona-2": ("persona-2", 100, "origin"),
    "persona-3": ("persona-3", 100, "origin"),
    "1-person": ("persona-0", 100, "1-person"),
    "3-person": ("persona-0", 100, "3-person"),
    "10-scale": ("persona-0", 10, "origin"),
}


def _check_grouping(grouping: str) -> None:
    if grouping not in GROUPINGS:
        raise EmpathylabError(
            f"Unknown grouping {grouping!r}; valid groupings: {', '.join(GROUPINGS)}."
        )


def identities(grouping: str, *, baseline: bool = True) -> list[str]:
    """Return the identity list of a grouping, the baseline ``a person`` first.

    >>> identities("religion")
    ['a person', 'a Christian', 'a Muslim', 'a Jew', 'a Buddhist', 'a Hindu']
    >>> len(identities("nationality", baseline=False))
    21
    """
    _check_grouping(grouping)
    return ([BASELINE] if baseline else []) + list(GROUPINGS[grouping])


def design_sizes(
    n_narratives: int,
    groupings: list[str] | tuple[str, ...] | None = None,
    n_variations: int = 1,
    n_models: int = 1,
) -> pd.DataFrame:
    """Return the number of prompts per grouping for a given number of narratives.

    One row per grouping with columns ``grouping``, ``identities`` (with the
    baseline), ``cells`` (perceiver × experiencer pairs), ``narratives`` and
    ``prompts`` (= cells × narratives × variations × models).

    >>> design_sizes(6050).set_index("grouping")["prompts"].to_dict()
    {'religion': 217800, 'ethnicity': 2184050, 'nationality': 2928200}
    """
    chosen = list(GROUPINGS if groupings is None else groupings)
    for grouping in chosen:
        _check_grouping(grouping)
    rows = []
    for grouping in chosen:
        n = len(identities(grouping))
        rows.append(
            {
                "grouping": grouping,
                "identities": n,
                "cells": n * n,
                "narratives": n_narratives,
                "prompts": n * n * n_narratives * n_variations * n_models,
            }
        )
    return pd.DataFrame(rows)
