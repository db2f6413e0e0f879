"""The vLLM backend: offline batched inference on NVIDIA GPUs.

vLLM is an optional extra (``pip install 'empathylab[vllm]'``, Linux with an NVIDIA
GPU). It is imported only when a :class:`VLLMBackend` is created, so importing this
module never needs it.

Prompts are built with :func:`~empathylab.llm.format_prompt` and tokenized here,
then handed to vLLM as token ids (``{"prompt_token_ids": [...]}``), so that ``generate``
and ``score`` see exactly the same tokens. A chat-templated text already holds the
template's special tokens (its BOS), so it is tokenized without adding any; a plain
prompt is preceded by the special tokens the tokenizer puts before a text (its BOS), as
``transformers`` would add them. (Giving vLLM the text instead would add a second BOS
to chat-templated prompts.)

The ``distribution`` readout (:meth:`VLLMBackend.score`) reads vLLM's top
``top_logprobs`` next-token log-probabilities: probabilities outside that top count as
zero. The probability of each answer is therefore a lower bound, and the probability that
a number stops after a digit (no further digit follows) an upper bound.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from empathylab.errors import BackendError
from empathylab.llm.backend import Backend, Request, format_prompt
from empathylab.llm.trie import AnswerTrie
from empathylab.llm.weights import ModelSource, resolve_model

__all__ = ["VLLMBackend", "SparseTrie"]

#: Two prompts whose last ``_TAIL_CHARS`` characters agree share one answer trie: how an
#: answer is tokenized after a prompt depends only on the prompt's end.
_TAIL_CHARS = 256

_INSTALL_HINT = (
    "The vllm backend needs the optional extra: pip install 'empathylab[vllm]' "
    "(Linux with an NVIDIA GPU). Without a GPU, use --backend transformers."
)


def _import_vllm() -> Any:
    """Return the ``vllm`` module, or raise :class:`BackendError` saying how to get it."""
    try:
        import vllm
    except ImportError as err:
        if err.name == "vllm":
            raise BackendError(_INSTALL_HINT) from err
        cause = str(err).splitlines()[0] if str(err) else type(err).__name__
        message = f"vllm is installed but cannot be imported ({cause}). {_INSTALL_HINT}"
        raise BackendError(message) from err
    return vllm


@dataclass(frozen=True)
class SparseTrie:
    """An :class:`AnswerTrie` restricted to the vocabulary columns its chaining needs.

    ``columns`` (sorted token ids) are the answers' tokens and ``trie.digit_start``, and
    ``column`` maps each of them to its index; ``compact`` is the same trie with every
    token id replaced by its column index, so ``compact.answer_probabilities`` takes an
    array ``(len(trie.nodes), len(columns))`` instead of one as wide as the vocabulary.
    The column map is increasing, so
    ``compact.nodes[i]`` corresponds to ``trie.nodes[i]``.
    """

    trie: AnswerTrie
    compact: AnswerTrie
    columns: np.ndarray
    column: dict[int, int]

    @classmethod
    def from_trie(cls, trie: AnswerTrie) -> SparseTrie:
        """Return the restricted version of ``trie``."""
        answer_tokens = [t for seq in trie.answers for t in seq]
        answer_ids = np.asarray(answer_tokens, dtype=np.int64)
        columns = np.unique(np.concatenate([answer_ids, trie.digit_start]))
        column = {int(t): i for i, t in enumerate(columns)}
        compact = AnswerTrie(
            trie.scale,
            [tuple(column[t] for t in seq) for seq in trie.answers],
            np.searchsorted(columns, trie.digit_start).astype(np.int64),
        )
        return cls(trie, compact, columns, column)

    def answer_probabilities(self, node_logprobs: Sequence[Mapping[int, float]]) -> np.ndarray:
        """Return P(answer = a) for a = 0..S from sparse next-token log-probabilities.

        ``node_logprobs[i]`` maps token id -> log-probability after node ``i`` (the top
        tokens a backend returned); every other token counts as probability zero.
        """
        if len(node_logprobs) != len(self.trie.nodes):
            raise ValueError(f"expected {len(self.trie.nodes)} nodes, got {len(node_logprobs)}")
        dense = np.full((len(node_logprobs), len(self.columns)), -np.inf)
        for row, logprobs in enumerate(node_logprobs):
            for token, logprob in logprobs.items():
                col = self.column.get(token)
                if col is not None:  # other tokens play no part in the chaining
                    dense[row, col] = logprob
        return self.compact.answer_probabilities(dense)


class VLLMBackend(Backend):
    """A causal LM served by vLLM's offline ``LLM`` engine, with prefix caching on.

    Parameters
    ----------
    model : a model spec (see :func:`~empathylab.llm.weights.resolve_model`).
    tensor_parallel_size : number of GPUs the model is split over.
    gpu_memory_utilization : fraction of each GPU's memory vLLM may take.
    max_model_len : context length; None lets vLLM take the model's own.
    dtype : vLLM dtype (``"auto"``: fp16 for fp32/fp16 checkpoints, bf16 for bf16 ones).
    revision : hub revision, for hub ids.
    top_logprobs : how many next-token log-probabilities ``score`` reads per position
        (vLLM's ``max_logprobs`` is set to this).
    seed : passed to ``vllm.LLM`` and to ``generate``'s ``SamplingParams`` (decoding is greedy).

    Raises
    ------
    BackendError
        vllm is not installed, or an argument is out of range.
    ModelNotFoundError
        the model spec cannot be resolved.
    """

    name = "vllm"

    def __init__(
        self,
        model: str,
        *,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        dtype: str = "auto",
        revision: str | None = None,
        top_logprobs: int = 64,
        seed: int = 0,
    ) -> None:
        if top_logprobs < 1:
            raise BackendError(f"top_logprobs must be at least 1, not {top_logprobs}")
        if tensor_parallel_size < 1:
            raise BackendError(f"tensor_parallel_size must be at least 1, not {tensor_parallel_size}")
        vllm = _import_vllm()  # before resolving the model: fail fast, not after a conversion
        self._vllm = vllm
        self.source: ModelSource = resolve_model(model, "causal_lm", revision)
        self.tensor_parallel_size = tensor_parallel_size
        self.gpu_memory_utilization = gpu_memory_utilization
        self.max_model_len = max_model_len
        self.dtype = dtype
        self.top_logprobs = top_logprobs
        self.seed = seed
        self._llm = vllm.LLM(
            model=self.source.location,
            tokenizer_revision=self.source.revision,
            revision=self.source.revision,
            tensor_parallel_size=tensor_parallel_size,
            enable_prefix_caching=True,
            seed=seed,
            dtype=dtype,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            max_logprobs=top_logprobs,
        )
        self.tokenizer = self._llm.get_tokenizer()
        self.prompt_mode = format_prompt(self.tokenizer, Request("system", "user"))[1]
        self._plain_prefix = _special_prefix(self.tokenizer)
        self._tries: dict[tuple[str, int], SparseTrie] = {}

    # ------------------------------------------------------------------ prompts

    def _prompt(self, request: Request) -> tuple[str, list[int]]:
        """Return the request's text (from ``format_prompt``) and its token ids."""
        text, mode = format_prompt(self.tokenizer, request)
        ids = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        return text, (self._plain_prefix + ids if mode == "plain" else ids)

    def _trie(self, text: str, scale: int) -> SparseTrie:
        """Return the answer trie after ``text``, shared by prompts with the same ending."""
        key = (text[-_TAIL_CHARS:], scale)
        if key not in self._tries:
            trie = AnswerTrie.from_tokenizer(self.tokenizer, text, scale)
            self._tries[key] = SparseTrie.from_trie(trie)
        return self._tries[key]

    # ------------------------------------------------------------------ readouts

    def generate(
        self,
        requests: Sequence[Request],
        max_new_tokens: int = 128,
        stop: Callable[[str], bool] | None = None,
    ) -> list[str]:
        """Return the greedy response to each request, in request order.

        ``stop`` is accepted for the common interface and ignored: vLLM decodes to
        ``max_new_tokens`` (cheap on a GPU), so responses are complete as in the paper.
        """
        if not requests:
            return []
        prompts = [{"prompt_token_ids": self._prompt(r)[1]} for r in requests]
        params = self._vllm.SamplingParams(temperature=0, max_tokens=max_new_tokens, seed=self.seed)
        outputs = self._llm.generate(prompts, params)
        return [out.outputs[0].text for out in outputs]

    def score(self, requests: Sequence[Request], scale: int) -> np.ndarray:
        """Return an array ``(len(requests), scale + 1)``: P(answer = a), chained over tokens.

        For each request and each node of its :class:`AnswerTrie`, one one-token prompt
        (the request's tokens followed by the node's tokens) is sent to vLLM in a single
        batch; prefix caching makes the extra prompts cost a few tokens each. Only the top
        ``top_logprobs`` tokens of each next-token distribution are known; the rest count
        as zero, so the answer probabilities are lower bounds.
        """
        if not requests:
            return np.empty((0, scale + 1))
        prepared = []
        for request in requests:
            text, ids = self._prompt(request)
            prepared.append((ids, self._trie(text, scale)))
        prompts = [
            {"prompt_token_ids": ids + list(node)} for ids, trie in prepared for node in trie.trie.nodes
        ]
        params = self._vllm.SamplingParams(max_tokens=1, logprobs=self.top_logprobs, temperature=0)
        outputs = self._llm.generate(prompts, params)
        if len(outputs) != len(prompts):
            raise BackendError(f"vLLM returned {len(outputs)} outputs for {len(prompts)} prompts")
        result = np.empty((len(requests), scale + 1))
        start = 0
        for row, (_, trie) in enumerate(prepared):
            stop = start + len(trie.trie.nodes)
            node_logprobs = [_first_logprobs(out) for out in outputs[start:stop]]
            result[row] = trie.answer_probabilities(node_logprobs)
            start = stop
        return result

    # ------------------------------------------------------------------ provenance

    def info(self) -> dict[str, str]:
        """Return provenance: backend, model, location, revision, versions and settings."""
        return {
            "backend": self.name,
            "spec": self.source.spec,
            "location": self.source.spec if self.source.is_local else self.source.location,
            "revision": self.source.revision or "",
            "gguf_sha256": self.source.gguf_sha256 or "",
            "vllm_version": str(getattr(self._vllm, "__version__", "unknown")),
            "tensor_parallel_size": str(self.tensor_parallel_size),
            "prefix_caching": "yes",
            "dtype": self.dtype,
            "max_model_len": "" if self.max_model_len is None else str(self.max_model_len),
            "prompt_mode": self.prompt_mode,
            "top_logprobs": str(self.top_logprobs),
            "seed": str(self.seed),
        }

    def close(self) -> None:
        """Drop the engine and return the GPU memory it held (as far as vLLM allows)."""
        llm = self.__dict__.pop("_llm", None)
        if llm is None:
            return
        del llm
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass


def _special_prefix(tokenizer: Any) -> list[int]:
    """The special tokens the tokenizer puts before a text (its BOS, if any), as ids.

    Trailing special tokens (an EOS some tokenizers append) are left out: a prompt
    continues after its last token.
    """
    probe = "Rate it: 5"
    bare = list(tokenizer(probe, add_special_tokens=False)["input_ids"])
    full = list(tokenizer(probe)["input_ids"])
    for start in range(len(full) - len(bare) + 1):
        if full[start : start + len(bare)] == bare:
            return full[:start]
    return []


def _first_logprobs(output: Any) -> dict[int, float]:
    """Token id -> log-probability of the first generated position of a vLLM ``RequestOutput``."""
    completion = output.outputs[0]
    if not completion.logprobs:
        raise BackendError("vLLM returned no logprobs; is this vLLM version supported?")
    return {int(token): float(lp.logprob) for token, lp in completion.logprobs[0].items()}
