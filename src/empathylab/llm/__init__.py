"""The shared LLM layer: every way the compendium talks to a language model.

Both wings (:mod:`empathylab.gaps`, :mod:`empathylab.llmpathy`) use it; it imports
neither. What it holds, one job per module:

- :mod:`~empathylab.llm.backend`: :class:`Request`, the :class:`Backend` contract
  (``generate`` and ``score``), the lazy registry (:func:`load_backend`) and prompt
  formatting;
- one module per backend: ``transformers_backend``, ``vllm_backend``,
  ``openai_backend`` and ``fake_backend`` (seeded, for tests and teaching);
- :mod:`~empathylab.llm.weights`: embedded and hub models;
- :mod:`~empathylab.llm.trie`: the answer trie of the distribution readout;
- :mod:`~empathylab.llm.store`: the chunked, resumable Parquet store (and one-file results);
- :mod:`~empathylab.llm.runs`: the one resumable-run loop both parts use.

"""

from empathylab.llm.backend import (
    BACKENDS,
    PLAIN_TEMPLATE,
    Backend,
    Request,
    backend_class,
    backend_options,
    format_prompt,
    load_backend,
    prompt_as_sent,
)
from empathylab.llm.runs import answer_chunks, provenance
from empathylab.llm.store import ChunkStore, model_slug, read_chunks, read_frame, read_metadata, write_frame
from empathylab.llm.trie import AnswerTrie, summarize_distribution
from empathylab.llm.weights import (
    ModelSource,
    load_causal_lm,
    load_encoder,
    load_tokenizer,
    model_info,
    resolve_model,
)

__all__ = [
    "BACKENDS",
    "PLAIN_TEMPLATE",
    "AnswerTrie",
    "Backend",
    "ChunkStore",
    "ModelSource",
    "Request",
    "answer_chunks",
    "backend_class",
    "backend_options",
    "format_prompt",
    "prompt_as_sent",
    "load_backend",
    "load_causal_lm",
    "load_tokenizer",
    "load_encoder",
    "model_info",
    "model_slug",
    "provenance",
    "read_metadata",
    "read_chunks",
    "read_frame",
    "write_frame",
    "resolve_model",
    "summarize_distribution",
]
