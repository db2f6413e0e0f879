from __future__ import annotations

import pytest

from empathylab.errors import EmpathylabError
from empathylab.gaps import design


def test_identity_lists_have_the_published_sizes_with_the_baseline_first():
    sizes = {g: len(design.identities(g)) for g in design.PAPER_GROUPINGS}
    assert sizes == {"religion": 6, "ethnicity": 19, "nationality": 22}
    for grouping in design.GROUPINGS:
        ids = design.identities(grouping)
        assert ids[0] == design.BASELINE and len(set(ids)) == len(ids)


def test_ethnicity_maps_surface_forms_to_four_races():
    races = design.ETHNICITY_RACE
    assert sorted(set(races.values())) == ["Asian", "Black", "Hispanic", "White"]
    assert [list(races.values()).count(r) for r in ("White", "Black", "Asian", "Hispanic")] == [5, 4, 3, 6]


def test_nationalities_follow_the_cluster_order():
    ids = design.identities("nationality", baseline=False)
    assert ids[0] == "a person from the United States" and ids[-1] == "a person from Pakistan"
    assert sum(len(c) for c in design.NATIONALITY_CLUSTERS.values()) == 21


def test_design_sizes_reproduce_the_published_counts():
    sizes = design.design_sizes(6050).set_index("grouping")["prompts"]
    assert sizes.to_dict() == {"religion": 217_800, "ethnicity": 2_184_050, "nationality": 2_928_200}
    # four models x seven variations: "about 150 million prompts"
    total = design.design_sizes(6050, n_variations=7, n_models=4)["prompts"].sum()
    assert 145e6 < total < 155e6


def test_design_sizes_scale_with_the_subsample():
    table = design.design_sizes(24, ["religion"], n_variations=2)
    assert table.to_dict("records") == [
        {"grouping": "religion", "identities": 6, "cells": 36, "narratives": 24, "prompts": 1728}
    ]


def test_unknown_grouping_lists_valid_ones():
    with pytest.raises(EmpathylabError, match="valid groupings: religion, ethnicity, nationality"):
        design.identities("caste")
