"""Planning a run: the design's prompts per model and variation, and GPU-hours at a rate."""

from __future__ import annotations

import pytest

from empathylab.errors import EmpathylabError
from empathylab.gaps import design, plan_run, plan_second_readout
from empathylab.gaps.planning import cluster_hours, workload


def test_the_published_design_is_5_3_million_prompts_per_model_and_variation(mirror, tmp_path):
    table = workload(plan_run("paper", out=tmp_path, check_model=False))
    assert len(table) == 4 * 7 and set(table["readout"]) == {"generate"}
    assert (table["prompts"] == 5_330_050).all()  # 6,050 narratives, three groupings
    assert int(table["prompts"].sum()) == 149_241_400


def test_a_cell_of_the_workload_is_what_the_grid_enumerates(mirror, tmp_path):
    plan = plan_run("demo", out=tmp_path, groupings=["religion"], variations=["origin"], check_model=False)
    enumerated = sum(1 for _ in design.grid(plan.narratives, "religion", "origin", plan.people("religion")))
    assert workload(plan)[["variation", "groupings", "prompts"]].values.tolist() == [
        ["origin", "religion", enumerated]
    ]
    second = workload(plan_second_readout("demo", out=tmp_path / "second", check_model=False))
    assert set(second["readout"]) == {"generate"} and set(second["variation"]) == {"origin"}


def test_hours_fall_as_one_over_the_gpus():
    table = cluster_hours(7_200_000, 50.0, [1, 8, 64])
    assert table["hours"].iloc[0] == pytest.approx(40.0)
    assert table["hours"].iloc[2] == pytest.approx(40.0 / 64)
    assert table["gpu_hours"].tolist() == pytest.approx([40.0] * 3)


@pytest.mark.parametrize(
    ("rate", "gpus", "message"), [(0, [1], "positive"), (10, [0], "at least 1"), (10, [], "at least 1")]
)
def test_a_bad_rate_or_gpu_count_is_refused(rate, gpus, message):
    with pytest.raises(EmpathylabError, match=message):
        cluster_hours(100, rate, gpus)
