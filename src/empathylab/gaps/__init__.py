"""Part I: intergroup empathy gaps (Hou, Daumé III and Rudinger, NAACL 2025).

A run asks a model, given a perceiver identity, how intensely an experiencer of the same
or another identity felt an emotion; the analyses compare in-group with out-group ratings.
The names the chapters use are importable from here; the stages live in their modules:

- the design and the stimuli: :mod:`~empathylab.gaps.design`, :mod:`~empathylab.gaps.stimuli`;
- running a model: :mod:`~empathylab.gaps.runner` (prompts through :mod:`empathylab.llm`),
  :mod:`~empathylab.gaps.reading` (the paper's parsing rules);
- results: :mod:`~empathylab.gaps.results` (other tables read in), :mod:`~empathylab.gaps.answers`;
- the paper's statistics: :mod:`~empathylab.gaps.matrices` (matrices, δ, permutation
  test), :mod:`~empathylab.gaps.cells` (the heatmaps' cell tests);
- beyond the paper: :mod:`~empathylab.gaps.beyond`, :mod:`~empathylab.gaps.culture`,
  :mod:`~empathylab.gaps.compare`, :mod:`~empathylab.gaps.shifts` (Δδ between runs: a
  perspective-taking variation, an instruction-tuned model), :mod:`~empathylab.gaps.intersections`
  (race x religion), :mod:`~empathylab.gaps.experiments` (the plans of Part III); what humans say: :mod:`~empathylab.gaps.human` (their
  ratings), :mod:`~empathylab.gaps.anchor` (does a model track them),
  :mod:`~empathylab.gaps.premium` (the readers' own in-group premium), :mod:`~empathylab.gaps.crossed`;
- planning a run: :mod:`~empathylab.gaps.planning` (prompts per model, hours on N GPUs);
- all at once and for the book: :mod:`~empathylab.gaps.analysis`,
  :mod:`~empathylab.gaps.report`, :mod:`~empathylab.gaps.plots`.
"""

from empathylab.gaps import (
    anchor,
    design,
    experiments,
    human,
    interactive,
    planning,
    plots,
    premium,
    reading,
    stimuli,
)
from empathylab.gaps.analysis import analyze, jsonable
from empathylab.gaps.answers import answer_stats, exclude_incomplete
from empathylab.gaps.beyond import (
    bootstrap_delta,
    delta_by_emotion,
    mixed_model,
    narrative_delta,
    narrative_summary,
    pair_gaps,
)
from empathylab.gaps.cells import cell_tests, heatmap_data
from empathylab.gaps.checks import RUN_KEYS
from empathylab.gaps.compare import compare_readouts
from empathylab.gaps.culture import cluster_means, perceiver_map
from empathylab.gaps.intersections import additivity, interaction_model, shared_attributes
from empathylab.gaps.matrices import (
    delta,
    delta_matrix,
    emotion_matrix,
    in_group,
    out_group,
    permutation_test,
)
from empathylab.gaps.report import comparison_table, grouping_summary, runs_table, variation_summary
from empathylab.gaps.results import read_authors_results, read_result_table
from empathylab.gaps.rows import COLUMNS, read_results
from empathylab.gaps.runner import (
    RunPlan,
    compared_plan,
    plan_run,
    plan_second_readout,
    readout_pairs,
    run_gaps,
    run_pair,
)
from empathylab.gaps.shifts import delta_shift
from empathylab.gaps.simulate import simulate_results

__all__ = [
    "COLUMNS",
    "RUN_KEYS",
    "RunPlan",
    "additivity",
    "analyze",
    "anchor",
    "answer_stats",
    "bootstrap_delta",
    "cell_tests",
    "cluster_means",
    "compare_readouts",
    "comparison_table",
    "delta",
    "delta_by_emotion",
    "delta_matrix",
    "delta_shift",
    "design",
    "emotion_matrix",
    "exclude_incomplete",
    "experiments",
    "grouping_summary",
    "heatmap_data",
    "human",
    "interactive",
    "in_group",
    "interaction_model",
    "jsonable",
    "mixed_model",
    "narrative_delta",
    "narrative_summary",
    "out_group",
    "pair_gaps",
    "perceiver_map",
    "permutation_test",
    "plan_run",
    "plan_second_readout",
    "compared_plan",
    "readout_pairs",
    "planning",
    "plots",
    "premium",
    "read_authors_results",
    "read_result_table",
    "read_results",
    "reading",
    "run_gaps",
    "run_pair",
    "runs_table",
    "shared_attributes",
    "simulate_results",
    "stimuli",
    "variation_summary",
]
