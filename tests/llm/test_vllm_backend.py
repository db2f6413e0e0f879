"""The vLLM backend, without vLLM or a GPU: its import guard, and its wiring against a fake vLLM.

The fake ``vllm`` module's ``LLM`` answers from a known synthetic next-token
distribution, so ``score`` can be checked against answer probabilities computed by hand.
"""

from __future__ import annotations

import importlib
import importlib.abc
import math
import sys
import types
from collections.abc import Callable

import numpy as np
import pytest

from empathylab.errors import BackendError
from empathylab.llm import Request, load_backend
from empathylab.llm.weights import resolve_model

GEMMA = "embedded:gemma-3-270m"
MODULE = "empathylab.llm.vllm_backend"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def tokenizer():
    """The embedded Gemma tokenizer: digits one token each, no chat template."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve_model(GEMMA, "causal_lm").location)


@pytest.fixture(scope="module")
def tid(tokenizer) -> Callable[[str], int]:
    """Token id of a single-token string such as "7" or "\\n"."""

    def tid(piece: str) -> int:
        ids = tokenizer(piece, add_special_tokens=False)["input_ids"]
        assert len(ids) == 1, (piece, ids)
        return ids[0]

    return tid


class FakeLogprob:
    def __init__(self, logprob: float) -> None:
        self.logprob = logprob


class FakeCompletion:
    def __init__(self, text: str, logprobs: list[dict[int, FakeLogprob]] | None) -> None:
        self.text = text
        self.logprobs = logprobs


class FakeRequestOutput:
    def __init__(self, prompt_token_ids: list[int], completion: FakeCompletion) -> None:
        self.prompt_token_ids = prompt_token_ids
        self.outputs = [completion]


class FakeSamplingParams:
    def __init__(self, **kwargs) -> None:
        self.kwargs = kwargs


class FakeWorld:
    """What the fake vLLM knows and records.

    ``bases`` are the prompts' token ids (as the test expects them); ``table`` maps
    ``(base index, tokens after the base)`` to a next-token distribution (token -> prob),
    defaulting to all mass on a newline. ``replies`` maps prompt ids to generated text.
    """

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.bases: list[list[int]] = []
        self.table: dict[tuple[int, tuple[int, ...]], dict[int, float]] = {}
        self.replies: dict[tuple[int, ...], str] = {}
        self.llm_kwargs: list[dict] = []
        self.calls: list[tuple[list, FakeSamplingParams]] = []

    def distribution(self, ids: list[int]) -> dict[int, float]:
        matches = [i for i, base in enumerate(self.bases) if ids[: len(base)] == base]
        assert matches, f"prompt does not start with any expected prompt: {ids}"
        i = max(matches, key=lambda i: len(self.bases[i]))
        suffix = tuple(ids[len(self.bases[i]) :])
        newline = self.tokenizer("\n", add_special_tokens=False)["input_ids"][0]
        return self.table.get((i, suffix), {newline: 1.0})

    def module(self) -> types.ModuleType:
        world = self

        class LLM:
            def __init__(self, **kwargs) -> None:
                world.llm_kwargs.append(kwargs)

            def get_tokenizer(self):
                return world.tokenizer

            def generate(self, prompts, params):
                world.calls.append((prompts, params))
                outputs = []
                for prompt in prompts:
                    ids = list(prompt["prompt_token_ids"])
                    k = params.kwargs.get("logprobs")
                    if k is None:
                        reply = FakeCompletion(world.replies[tuple(ids)], None)
                        outputs.append(FakeRequestOutput(ids, reply))
                        continue
                    dist = world.distribution(ids)
                    top = sorted(dist.items(), key=lambda kv: -kv[1])[:k]
                    logprobs = {token: FakeLogprob(math.log(p)) for token, p in top}
                    outputs.append(FakeRequestOutput(ids, FakeCompletion("", [logprobs])))
                return outputs

        fake = types.ModuleType("vllm")
        fake.__version__ = "0.0.fake"
        fake.LLM = LLM
        fake.SamplingParams = FakeSamplingParams
        return fake


@pytest.fixture
def world(tokenizer, monkeypatch) -> FakeWorld:
    world = FakeWorld(tokenizer)
    monkeypatch.setitem(sys.modules, "vllm", world.module())
    return world


def plain_ids(tokenizer, request: Request) -> list[int]:
    """The ids the backend should send for a plain (no chat template) prompt: BOS + text."""
    return tokenizer(f"{request.system}\n\n{request.user} ")["input_ids"]


REQUESTS = [
    Request("You rate emotions.", "How angry is she? Answer 0 to 100."),
    Request("You rate emotions.", "How sad is he? Answer 0 to 100."),
]


# --------------------------------------------------------------------------- without vLLM


def test_missing_vllm_is_a_clear_backend_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` fail, installed or not
    with pytest.raises(BackendError, match=r"empathylab\[vllm\]") as err:
        load_backend("vllm", GEMMA)
    assert "--backend transformers" in str(err.value)
    assert "\n" not in str(err.value)


def test_importing_the_module_does_not_import_vllm(monkeypatch):
    attempts: list[str] = []

    class Recorder(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "vllm" or name.startswith("vllm."):
                attempts.append(name)
            return None

    monkeypatch.delitem(sys.modules, "vllm", raising=False)
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    monkeypatch.setattr(sys, "meta_path", [Recorder(), *sys.meta_path])
    module = importlib.import_module(MODULE)
    assert module.VLLMBackend.name == "vllm"
    assert attempts == []
    assert "vllm" not in sys.modules


# --------------------------------------------------------------------------- wiring


def test_engine_is_built_from_the_resolved_spec(world):
    backend = load_backend("vllm", GEMMA, tensor_parallel_size=2, top_logprobs=5, max_model_len=2048, seed=3)
    (kwargs,) = world.llm_kwargs
    assert kwargs["model"] == resolve_model(GEMMA, "causal_lm").location
    assert kwargs["enable_prefix_caching"] is True
    assert kwargs["tensor_parallel_size"] == 2
    assert kwargs["max_logprobs"] == 5
    assert kwargs["max_model_len"] == 2048
    assert kwargs["seed"] == 3
    assert kwargs["revision"] is None
    info = backend.info()
    assert info["backend"] == "vllm"
    assert info["spec"] == GEMMA and info["location"] == GEMMA
    assert info["vllm_version"] == "0.0.fake"
    assert info["tensor_parallel_size"] == "2"
    assert info["prefix_caching"] == "yes"
    assert info["prompt_mode"] == "plain"
    assert info["top_logprobs"] == "5"
    assert all(isinstance(v, str) for v in info.values())
    backend.close()
    backend.close()  # idempotent


def test_generate_sends_token_ids_greedily_and_keeps_order(world, tokenizer):
    backend = load_backend("vllm", GEMMA, seed=7)
    for i, request in enumerate(REQUESTS):
        world.replies[tuple(plain_ids(tokenizer, request))] = f"reply {i}"
    assert backend.generate(REQUESTS[::-1], max_new_tokens=9) == ["reply 1", "reply 0"]
    ((prompts, params),) = world.calls
    assert [p["prompt_token_ids"] for p in prompts] == [plain_ids(tokenizer, r) for r in REQUESTS[::-1]]
    assert prompts[0]["prompt_token_ids"][:2].count(tokenizer.bos_token_id) == 1
    assert params.kwargs["temperature"] == 0
    assert params.kwargs["max_tokens"] == 9
    assert backend.generate([]) == []
    assert len(world.calls) == 1


def test_score_chains_over_digits_exactly(world, tokenizer, tid):
    backend = load_backend("vllm", GEMMA)
    world.bases = [plain_ids(tokenizer, r) for r in REQUESTS]
    nl = tid("\n")
    world.table = {
        (0, ()): {tid("7"): 0.5, tid("4"): 0.3, tid("1"): 0.2},
        (0, (tid("7"),)): {tid("0"): 0.6, nl: 0.4},
        (0, (tid("4"),)): {tid("5"): 1.0},
        (0, (tid("1"),)): {tid("0"): 1.0},
        (0, (tid("1"), tid("0"))): {tid("0"): 0.25, nl: 0.75},
        (1, ()): {tid("3"): 0.9, nl: 0.1},
    }
    probs = backend.score(REQUESTS, 100)
    assert probs.shape == (2, 101)
    expected = np.zeros((2, 101))
    expected[0, [7, 70, 45, 100, 10]] = [0.5 * 0.4, 0.5 * 0.6, 0.3 * 1.0, 0.2 * 1.0 * 0.25, 0.2 * 1.0 * 0.75]
    expected[1, 3] = 0.9
    np.testing.assert_allclose(probs, expected, atol=1e-12)

    # one batch: every request's ids followed by every trie node, in request order
    ((prompts, params),) = world.calls
    digit = {d: tid(str(d)) for d in range(10)}
    nodes = [(), *((digit[d],) for d in range(1, 10)), (digit[1], digit[0])]
    sent = [tuple(p["prompt_token_ids"]) for p in prompts]
    assert len(sent) == 2 * len(nodes)
    for row, base in enumerate(world.bases):
        got = sent[row * len(nodes) : (row + 1) * len(nodes)]
        assert sorted(got) == sorted(tuple(base) + node for node in nodes)
        assert got[0] == tuple(base)  # the root first
    assert params.kwargs == {"max_tokens": 1, "logprobs": 64, "temperature": 0}

    # the order of the rows follows the requests
    np.testing.assert_allclose(backend.score(REQUESTS[::-1], 100), expected[::-1], atol=1e-12)
    assert backend.score([], 100).shape == (0, 101)


def test_score_counts_tokens_outside_the_top_as_zero(world, tokenizer, tid):
    backend = load_backend("vllm", GEMMA, top_logprobs=2)
    world.bases = [plain_ids(tokenizer, REQUESTS[0])]
    world.table = {
        (0, ()): {tid("7"): 0.5, tid("4"): 0.3, tid("1"): 0.2},  # "1" is outside the top 2
        (0, (tid("7"),)): {tid("0"): 0.5, tid("\n"): 0.3, tid("5"): 0.2},  # so is "5"
        (0, (tid("4"),)): {tid("5"): 1.0},
    }
    probs = backend.score(REQUESTS[:1], 100)[0]
    expected = np.zeros(101)
    # P(7) uses the stop probability 1 - P(digit | 7) = 1 - 0.5 (an upper bound: truly 0.3)
    expected[[7, 70, 45]] = [0.5 * 0.5, 0.5 * 0.5, 0.3]
    np.testing.assert_allclose(probs, expected, atol=1e-12)
    assert world.calls[0][1].kwargs["logprobs"] == 2


def test_chat_template_prompts_get_one_bos(world, tokenizer, tid, monkeypatch):
    template = (
        "{{ bos_token }}{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<answer> {% endif %}"
    )
    monkeypatch.setattr(tokenizer, "chat_template", template, raising=False)
    backend = load_backend("vllm", GEMMA)
    assert backend.info()["prompt_mode"] == "chat"
    text = tokenizer.apply_chat_template(
        [{"role": "system", "content": REQUESTS[0].system}, {"role": "user", "content": REQUESTS[0].user}],
        tokenize=False,
        add_generation_prompt=True,
    )
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert ids[0] == tokenizer.bos_token_id and ids[1] != tokenizer.bos_token_id
    world.bases = [ids]
    world.table = {(0, ()): {tid("8"): 1.0}}
    probs = backend.score(REQUESTS[:1], 10)
    assert probs[0, 8] == pytest.approx(1.0)
    assert tuple(world.calls[0][0][0]["prompt_token_ids"]) == tuple(ids)


def test_bad_top_logprobs(world):
    with pytest.raises(BackendError, match="top_logprobs"):
        load_backend("vllm", GEMMA, top_logprobs=0)


def test_sparse_trie_matches_the_dense_readout():
    """Restricting the columns changes nothing: same result as AnswerTrie on the full matrix."""
    from empathylab.llm.trie import AnswerTrie
    from empathylab.llm.vllm_backend import SparseTrie

    rng = np.random.default_rng(0)
    vocab = 40
    # answers 0..12 as token sequences: "1" (id 11) prefixes 10, 11, 12 (ids 11,10 / 11,11 / 11,12)
    answers = [(10 + a,) for a in range(10)] + [(11, 10 + d) for d in range(3)]
    trie = AnswerTrie(12, answers, np.array([10 + d for d in range(10)] + [33, 37]))
    logits = rng.normal(size=(len(trie.nodes), vocab))
    logprobs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    sparse = SparseTrie.from_trie(trie)
    assert len(sparse.columns) < vocab
    rows = [{t: float(row[t]) for t in range(vocab)} for row in logprobs]
    np.testing.assert_allclose(sparse.answer_probabilities(rows), trie.answer_probabilities(logprobs))
    assert sparse.compact.nodes == [tuple(sparse.column[t] for t in n) for n in trie.nodes]
