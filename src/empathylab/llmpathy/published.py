"""Numbers reported by Hasan et al. (IEEE JSTSP 2026) and their baselines, shown next to ours."""

from __future__ import annotations

__all__ = ["PUBLISHED", "METHODS", "BUECHEL_BASELINES"]


#: Numbers reported by Hasan et al. (IEEE JSTSP 2026), shown next to ours in the book.
PUBLISHED = {
    "llm_llm_alpha": (0.80, 0.99),
    "llm_crowd_alpha": (0.19, 0.27),
    "newsemp24_test_pcc": 0.648,
    "newsemp24_test_ccc": 0.597,
    "zero_shot_gpt4_pcc": 0.581,
}

#: What each cross-validation method is, for the chapters (``{encoder}`` is filled in).
METHODS = {
    "probe": (
        "The numbers in this section come from the *frozen-encoder probe*: every essay is "
        "embedded once by `{encoder}` (mean-pooled token states, cached) and a ridge "
        "regression, its penalty chosen by leave-one-out inside the training folds, is fitted "
        "per fold. A probe is far cheaper than fine-tuning, which is what makes the whole α "
        "grid under cross-validation fit a CPU; it shows how the labels change what a "
        "regressor can learn, not the paper's fine-tuned magnitudes. The fine-tuning recipe "
        "runs on one split below."
    ),
    "finetune": (
        "The numbers in this section come from *fine-tuning* `{encoder}` with the recipe of "
        "Hasan et al. in every fold, seed, strategy and α, one more group of the training "
        "writers held out for early stopping."
    ),
}

#: Buechel et al. (2018), 10-fold CV on the same 1,860 essays, empathy PCC.
BUECHEL_BASELINES = {"CNN": 0.404, "ridge": 0.385, "feed-forward": 0.379}
