"""The transformers backend on the embedded Gemma model (real weights, CPU)."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch

from empathylab.gaps import design
from empathylab.gaps.reading import parse_response, reading_is_final
from empathylab.llm import PLAIN_TEMPLATE, Request, format_prompt, load_backend
from empathylab.llm.trie import summarize_distribution

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def backend():
    return load_backend("transformers", "embedded:gemma-3-270m", device="cpu", batch_size=4)


@pytest.fixture(scope="module")
def requests_():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "emotion": ["anger", "joy", "fear"],
            "item_id": [1, 2, 3],
            "generated_text": [
                "someone cut me off on the highway",
                "I passed my driving test on the first try after months of practice",
                "a dog chased me",
            ],
            "first_person_text": ["x"] * 3,
            "third_person_text": ["y"] * 3,
        }
    )
    prompts = list(design.grid(frame, "religion", "origin", ["a Jew", "a Muslim"]))
    return [Request(p.system, p.user) for p in prompts]


def test_plain_fallback_for_a_base_model(backend, requests_):
    text, mode = format_prompt(backend.tokenizer, requests_[0])
    assert mode == "plain" and text == PLAIN_TEMPLATE.format(
        system=requests_[0].system, user=requests_[0].user
    )
    assert text.endswith("Emotion intensity: ")


def test_distribution_readout_is_a_distribution_over_the_scale(backend, requests_):
    probs = backend.score(requests_, 100)
    assert probs.shape == (len(requests_), 101)
    assert (probs >= 0).all() and (probs.sum(axis=1) <= 1 + 1e-9).all()
    summary = summarize_distribution(probs)
    assert summary.intensity.between(0, 100).all()
    assert (summary.p_valid > 0.5).all()  # the base model puts most of its mass on numbers


def test_batching_and_the_shared_prefix_do_not_change_the_answer(backend, requests_):
    together = backend.score(requests_, 100)
    alone = np.stack([backend.score([r], 100)[0] for r in requests_[:3]])
    assert np.allclose(together[:3], alone, atol=1e-4)
    backend.share_prefix = False
    try:
        assert np.allclose(backend.score(requests_, 100), together, atol=1e-4)
    finally:
        backend.share_prefix = True


def test_chaining_equals_separate_forward_passes(backend, requests_):
    """P(answer) read in one pass equals the product of next-token probabilities."""
    tokenizer, model = backend.tokenizer, backend.model
    text, _ = format_prompt(tokenizer, requests_[1])
    ids = tokenizer(text)["input_ids"]

    def next_logprobs(extra: list[int]) -> torch.Tensor:
        with torch.inference_mode():
            logits = model(torch.tensor([ids + extra])).logits[0, -1].double()
        return torch.log_softmax(logits, -1)

    digit = {d: tokenizer.convert_tokens_to_ids(str(d)) for d in range(10)}
    root, after_four = next_logprobs([]), next_logprobs([digit[4]])
    p_42 = float(root[digit[4]].exp() * after_four[digit[2]].exp())
    p_100 = float(
        root[digit[1]].exp()
        * next_logprobs([digit[1]])[digit[0]].exp()
        * next_logprobs([digit[1], digit[0]])[digit[0]].exp()
    )
    probs = backend.score([requests_[1]], 100)[0]
    assert probs[42] == pytest.approx(p_42, rel=1e-3)
    assert probs[100] == pytest.approx(p_100, rel=1e-3)


def test_scale_ten(backend, requests_):
    probs = backend.score(requests_[:2], 10)
    assert probs.shape == (2, 11) and (probs.sum(axis=1) <= 1 + 1e-9).all()


def test_generate_stops_early_with_the_same_reading(backend, requests_):
    full = backend.generate(requests_[:2], 24)
    short = backend.generate(requests_[:2], 24, stop=partial(reading_is_final, scale=100))
    for long_text, short_text in zip(full, short):
        assert long_text.startswith(short_text)
        assert parse_response(long_text, 100) == parse_response(short_text, 100) or (
            np.isnan(parse_response(long_text, 100)[0]) and np.isnan(parse_response(short_text, 100)[0])
        )
    assert sum(map(len, short)) <= sum(map(len, full))


def test_info_records_provenance(backend):
    info = backend.info()
    assert info["backend"] == "transformers" and info["spec"] == "embedded:gemma-3-270m"
    assert info["prompt_mode"] == "plain" and info["gguf_sha256"]


class _ChatTokenizer:
    """A tokenizer whose chat template rejects the system role (as Gemma's and some others do)."""

    chat_template = "{{ messages }}"

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=True):
        if any(m["role"] == "system" for m in messages):
            raise ValueError("System role not supported")
        return "<user>" + messages[0]["content"] + "<assistant>"


def test_chat_template_without_system_role_merges_it_into_the_user_message():
    text, mode = format_prompt(_ChatTokenizer(), Request("SYS", "USER"))
    assert mode == "chat-system-in-user" and text == "<user>SYS\n\nUSER<assistant>"


def test_generate_reads_the_same_with_and_without_the_shared_prefix(backend, requests_):
    shared = backend.generate(requests_, 6)
    backend.share_prefix = False
    try:
        assert backend.generate(requests_, 6) == shared
    finally:
        backend.share_prefix = True


def test_the_prefix_of_a_system_prompt_is_computed_once_and_kept(backend, requests_):
    system = requests_[0].system
    group = [r for r in requests_ if r.system == system]
    first = backend.score(group, 100)
    kept = backend._prefix
    assert len(kept[0]) > 10  # the system prompt's tokens at least
    again = backend.score(group, 100)
    assert backend._prefix[1] is kept[1]  # reused, not recomputed
    assert np.array_equal(first, again)


def _tiny(config_class, model_class, **extra):
    from types import SimpleNamespace

    from empathylab.llm.transformers_backend import TransformersBackend

    config = config_class(
        vocab_size=5000,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=8,
        **extra,
    )
    torch.manual_seed(0)
    backend = TransformersBackend.__new__(TransformersBackend)
    backend.model, backend.tokenizer, backend._head = (
        model_class(config).eval(),
        SimpleNamespace(bos_token_id=1),
        None,
    )
    return backend


def test_the_sliced_output_layer_equals_the_full_one_and_is_used_only_where_plain():
    from transformers import Gemma2Config, Gemma2ForCausalLM, LlamaConfig, LlamaForCausalLM

    from empathylab.llm.transformers_backend import HEAD_SLICE, _sliced_head

    torch.manual_seed(1)
    hidden, weight = torch.randn(3, 4, 16), torch.randn(2 * HEAD_SLICE + 7, 16)
    needed = torch.tensor([0, 5, HEAD_SLICE + 3, 2 * HEAD_SLICE + 6])
    norm, picked = _sliced_head(hidden, weight, needed)
    logits = hidden @ weight.T
    assert torch.allclose(norm, torch.logsumexp(logits.double(), -1, keepdim=True), atol=1e-5)
    assert torch.allclose(picked, logits[..., needed].double(), atol=1e-5)
    plain = _tiny(LlamaConfig, LlamaForCausalLM)
    assert plain._plain_head() is plain.model.get_output_embeddings().weight
    capped = _tiny(Gemma2Config, Gemma2ForCausalLM, final_logit_softcapping=0.5)
    assert capped._plain_head() is None  # logits capped by tanh: the model's own path


def test_ctrl_c_during_a_transformers_run_prints_one_line_and_keeps_the_chunks(tmp_path, mirror):
    """The issue's case: a 29-frame KeyboardInterrupt traceback from inside torch; now one line."""
    import os
    import subprocess
    import sys
    import time

    from conftest import interrupt, tiny_profile

    from empathylab.llm.store import verify_chunk

    profile = tiny_profile(tmp_path, chunk=8, identities=None)
    cmd = [sys.executable, "-m", "empathylab.cli", "gaps", "run", "--profile", str(profile)]
    env = {**os.environ, "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while not list(tmp_path.rglob("chunk-*.parquet")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    time.sleep(0.3)  # into the next chunk's forward passes
    interrupt(proc)
    chunks = list(tmp_path.rglob("chunk-*.parquet"))
    assert chunks and all(verify_chunk(c) is None for c in chunks)
    assert not list(tmp_path.rglob(".*tmp-*")) and not list(tmp_path.rglob(".claim-*"))


# ------------------------------------------------------------------ the instruction-tuned SmolLM2


@pytest.fixture(scope="module")
def smollm2():
    return load_backend("transformers", "embedded:smollm2-135m-instruct", device="cpu", batch_size=4)


def _brute_force(model, tokenizer, text: str, scale: int) -> np.ndarray:
    """P(answer = a) for a = 0..scale, each from its own forward pass over prompt + answer.

    An answer's probability is the product of its tokens' probabilities, times the
    probability that no digit follows where a longer answer on the scale could (``1``
    before ``10``): the definition of :meth:`AnswerTrie.answer_probabilities`, computed
    here without the trie, the batching, the shared prefix or the sliced output layer.
    """
    vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    digit_start = [i for i, t in enumerate(vocab) if t and t[0].isdigit()]
    prompt = tokenizer(text, add_special_tokens=False)["input_ids"]
    words = {a: tokenizer(str(a), add_special_tokens=False)["input_ids"] for a in range(scale + 1)}
    out = np.empty(scale + 1)
    for a, answer in words.items():
        with torch.inference_mode():
            logits = model(torch.tensor([prompt + answer])).logits[0].double()
        logp = torch.log_softmax(logits[len(prompt) - 1 :], -1)
        p = float(sum(logp[k, t] for k, t in enumerate(answer)).exp())
        longer = any(len(w) > len(answer) and w[: len(answer)] == answer for w in words.values())
        if longer:
            p *= 1.0 - float(logp[len(answer), digit_start].exp().sum())
        out[a] = p
    return out


@pytest.mark.parametrize("scale", [100, 10])
def test_smollm2_distribution_readout_equals_brute_force_enumeration(smollm2, requests_, scale):
    tokenizer = smollm2.tokenizer
    text, mode = format_prompt(tokenizer, requests_[1])
    assert mode == "chat" and text.endswith("<|im_start|>assistant\n")
    # digits are single tokens here, so every answer's path is its digits
    assert all(
        len(tokenizer(str(a), add_special_tokens=False)["input_ids"]) == len(str(a)) for a in range(101)
    )
    expected = _brute_force(smollm2.model, tokenizer, text, scale)
    together = smollm2.score(requests_[:4], scale)  # batched, shared prefix, sliced output layer
    np.testing.assert_allclose(together[1], expected, rtol=2e-3, atol=1e-9)
    assert together[1].sum() <= 1 + 1e-9


def test_smollm2_generate_answers_through_its_chat_template(smollm2, requests_):
    texts = smollm2.generate(requests_[:2], 24)
    assert all(isinstance(t, str) and t for t in texts)
    assert smollm2.info()["prompt_mode"] == "chat"


@pytest.mark.parametrize("which", ["smollm2", "gemma"])
@pytest.mark.parametrize("stopping", [True, False])
def test_generate_writes_what_model_generate_writes(which, stopping, request, requests_):
    """Rows of several batches decoded together, leaving as they finish, give model.generate's texts."""
    from empathylab.llm import transformers_backend

    engine = request.getfixturevalue("smollm2" if which == "smollm2" else "backend")
    stop = partial(reading_is_final, scale=100) if stopping else None
    ours = engine.generate(requests_, 40, stop=stop)
    if which == "smollm2":  # its cache is merged across batches (Gemma's sliding-window cache is not)
        encoded = engine._encode(requests_)
        batches = engine._batches(requests_, encoded, range(len(requests_)))
        states = [engine._prefill(b, *engine._generate_inputs(encoded, b, base)) for base, b in batches[:2]]
        assert len(transformers_backend._merged(states)) == 1
    engine._plain_greedy = lambda: False  # model.generate, batch by batch
    try:
        theirs = engine.generate(requests_, 40, stop=stop)
    finally:
        del engine._plain_greedy
    assert ours == theirs and len(set(ours)) > 1


@pytest.mark.parametrize("which", ["smollm2", "gemma"])
@pytest.mark.parametrize("cut", [True, False])
def test_both_readouts_from_one_reading_equal_the_two_readouts(which, cut, request, requests_, monkeypatch):
    """score_and_generate reads each prompt once: the same distributions and texts as score and generate.

    ``cut=False`` is a model whose cache cannot lose the answer tree's tokens (a full
    sliding window): each batch then reads its prompts twice, with the same answers.
    """
    from empathylab.llm import transformers_backend

    engine = request.getfixturevalue("smollm2" if which == "smollm2" else "backend")
    stop = partial(reading_is_final, scale=100)
    if not cut:
        monkeypatch.setattr(transformers_backend, "_croppable", lambda model, tokens: False)
    separate = engine.score(requests_, 100), engine.generate(requests_, 40, stop=stop)
    prompt_reads = []  # the generate readout's own reading of the prompts
    prefill = engine._prefill
    monkeypatch.setattr(engine, "_prefill", lambda *args: prompt_reads.append(1) or prefill(*args))
    probabilities, texts = engine.score_and_generate(requests_, 100, 40, stop=stop)
    np.testing.assert_array_equal(probabilities, separate[0])
    assert texts == separate[1] and len(set(texts)) > 1
    assert (len(prompt_reads) > 0) is not cut


def test_both_readouts_on_a_backend_that_cannot_share_ask_twice(requests_):
    from empathylab.llm import load_backend as load

    fake = load("fake", "fake-model")
    probabilities, texts = fake.score_and_generate(requests_, 10, 8)
    np.testing.assert_array_equal(probabilities, fake.score(requests_, 10))
    assert texts == fake.generate(requests_, 8)


def test_batches_decode_together_as_far_as_the_cache_budget_allows(monkeypatch):
    from types import SimpleNamespace

    from empathylab.llm import transformers_backend
    from empathylab.llm.transformers_backend import _decode_groups, _Rows

    def read(rows: int, tokens: int) -> _Rows:  # one layer, 2 heads of 4 float32: 64 bytes a token
        layer = SimpleNamespace(keys=torch.zeros(rows, 2, tokens, 4))
        return _Rows(list(range(rows)), SimpleNamespace(layers=[layer]), torch.ones(rows, tokens), None, None)

    monkeypatch.setattr(transformers_backend, "DECODE_BUDGET", 64 * 16 * 30)
    pulled = []
    states = (pulled.append(k) or read(16, 10) for k in range(5))  # 16 rows x (10 + 5) tokens each
    groups = _decode_groups(states, max_new_tokens=5)
    assert len(next(groups)) == 2 and pulled == [0, 1, 2]  # the third batch would not fit
    assert [len(g) for g in groups] == [2, 1]
    monkeypatch.setattr(transformers_backend, "DECODE_BUDGET", 1)
    assert [len(g) for g in _decode_groups([read(16, 10)] * 2, 5)] == [1, 1]  # never an empty group
