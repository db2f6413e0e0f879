"""Part II: LLM labels for empathy (LLMPathy, Hasan et al., IEEE JSTSP 2026).

Do LLM-generated empathy labels agree with the crowd's, and does training on them (in
place of, mixed with, or added to crowd labels) give a better empathy regressor? The
names the chapters use are importable from here; the stages live in their modules:

- data: :mod:`~empathylab.llmpathy.newsemp`, :mod:`~empathylab.llmpathy.released`;
- labelling: :mod:`~empathylab.llmpathy.labels` (prompts, parsing, the label store) and
  :mod:`~empathylab.llmpathy.labelling` (a profile's labels and their agreement);
- training: :mod:`~empathylab.llmpathy.strategies`, :mod:`~empathylab.llmpathy.splits`,
  :mod:`~empathylab.llmpathy.probe`, :mod:`~empathylab.llmpathy.train`,
  :mod:`~empathylab.llmpathy.cv`, :mod:`~empathylab.llmpathy.augmenting`;
- comparing and reporting: :mod:`~empathylab.llmpathy.comparisons`,
  :mod:`~empathylab.llmpathy.fairness`, :mod:`~empathylab.llmpathy.report`,
  :mod:`~empathylab.llmpathy.plots`;
- how often the comparisons' verdicts are wrong: :mod:`~empathylab.llmpathy.calibration`.
"""

from empathylab.llmpathy import calibration, fairness, labels, newsemp, plots, released
from empathylab.llmpathy.augmenting import (
    AUGMENTATION,
    EXTRA,
    augmentation,
    augmentation_design,
    augmentation_folds,
    augmentation_sets,
    augmentation_summary,
    probe_augmentation,
)
from empathylab.llmpathy.comparisons import (
    HIGHER_IS_BETTER,
    SUMMARIES,
    TESTS,
    compare_tests,
    comparison_text,
    corrected_tests,
    cv_summary,
    paired_tests,
    replacement_summary,
    seed_scores,
    seed_summary,
    seed_tests,
    side_by_side,
)
from empathylab.llmpathy.cv import (
    cross_validation,
    finetune_cv,
    finetune_split,
    out_of_fold,
    probe_cv,
    probe_predictions,
)
from empathylab.llmpathy.labelling import (
    essays,
    label_agreement,
    label_sample,
    label_table,
    results_dir,
    sample_agreement,
    sample_agreement_text,
    user_data,
)
from empathylab.llmpathy.published import BUECHEL_BASELINES, METHODS, PUBLISHED
from empathylab.llmpathy.report import alpha_span, verdict_table
from empathylab.tables import table

__all__ = [
    "AUGMENTATION",
    "BUECHEL_BASELINES",
    "EXTRA",
    "HIGHER_IS_BETTER",
    "METHODS",
    "PUBLISHED",
    "SUMMARIES",
    "TESTS",
    "alpha_span",
    "augmentation",
    "augmentation_design",
    "augmentation_folds",
    "augmentation_sets",
    "augmentation_summary",
    "calibration",
    "compare_tests",
    "comparison_text",
    "corrected_tests",
    "cross_validation",
    "cv_summary",
    "essays",
    "fairness",
    "finetune_cv",
    "finetune_split",
    "label_agreement",
    "sample_agreement",
    "sample_agreement_text",
    "label_sample",
    "label_table",
    "labels",
    "newsemp",
    "out_of_fold",
    "paired_tests",
    "plots",
    "probe_augmentation",
    "probe_cv",
    "probe_predictions",
    "released",
    "replacement_summary",
    "results_dir",
    "seed_scores",
    "seed_summary",
    "seed_tests",
    "side_by_side",
    "table",
    "user_data",
    "verdict_table",
]
