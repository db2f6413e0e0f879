"""Backends for the Ray engine's tests, importable by Ray's worker processes.

Ray workers import what they run by module name, so these live in a plain module that the
tests put on the workers' ``PYTHONPATH`` (see ``test_ray_engine.py``).
"""

from __future__ import annotations

import time

from empathylab.llm.fake_backend import FakeBackend


class SlowFake(FakeBackend):
    """The fake backend, taking ``delay`` seconds per chunk (a model's time, for kill tests)."""

    def __init__(self, model: str, delay: float = 0.2, **options) -> None:
        super().__init__(model, **options)
        self.delay = delay

    def score(self, requests, scale):
        time.sleep(self.delay)
        return super().score(requests, scale)


class FailingFake(FakeBackend):
    """The fake backend, raising on every chunk with a prompt that contains ``needle``."""

    def __init__(self, model: str, needle: str = "", **options) -> None:
        super().__init__(model, **options)
        self.needle = needle

    def score(self, requests, scale):
        if any(self.needle in r.user for r in requests):
            raise RuntimeError("planted failure")
        return super().score(requests, scale)


def slow(name: str, model: str, **options) -> SlowFake:
    """A ``make_backend`` giving :class:`SlowFake` whatever backend the profile names."""
    return SlowFake(model, seed=0)


def failing(name: str, model: str, needle: str = "", **options) -> FailingFake:
    """A ``make_backend`` (with ``needle`` bound by ``functools.partial``) giving :class:`FailingFake`."""
    return FailingFake(model, needle=needle, seed=0)


def fake_vllm(name: str, model: str, **options):
    """A ``make_backend`` giving the real vLLM backend over a fake ``vllm`` module.

    The fake engine answers from the prompt's token ids alone (the same in every process):
    the digit ``sum(ids) % 10`` with probability 0.6 and a newline with 0.4, or that digit
    as greedy text. It is installed in the process that builds the backend, so on Ray it
    runs inside the worker actor, as vLLM would.
    """
    import math
    import sys
    import types

    from empathylab.llm import load_backend

    class Logprob:
        def __init__(self, logprob: float) -> None:
            self.logprob = logprob

    class Output:
        def __init__(self, text: str, logprobs) -> None:
            self.outputs = [types.SimpleNamespace(text=text, logprobs=logprobs)]

    class SamplingParams:
        def __init__(self, **kwargs) -> None:
            self.kwargs = kwargs

    class LLM:
        def __init__(self, **kwargs) -> None:
            from transformers import AutoTokenizer

            self.tokenizer = AutoTokenizer.from_pretrained(kwargs["model"])

        def get_tokenizer(self):
            return self.tokenizer

        def generate(self, prompts, params):
            digit = {d: self.tokenizer(str(d), add_special_tokens=False)["input_ids"][0] for d in range(10)}
            newline = self.tokenizer("\n", add_special_tokens=False)["input_ids"][0]
            out = []
            for prompt in prompts:
                d = sum(prompt["prompt_token_ids"]) % 10
                if params.kwargs.get("logprobs") is None:
                    out.append(Output(str(d), None))
                else:
                    top = {digit[d]: Logprob(math.log(0.6)), newline: Logprob(math.log(0.4))}
                    out.append(Output("", [top]))
            return out

    sys.modules["vllm"] = types.ModuleType("vllm")
    sys.modules["vllm"].__version__ = "0.0.fake"
    sys.modules["vllm"].LLM = LLM
    sys.modules["vllm"].SamplingParams = SamplingParams
    return load_backend("vllm", model, **options)


def unloadable(name: str, model: str, **options):
    """A ``make_backend`` that fails as a node without the model's weights would."""
    from empathylab.errors import ModelNotFoundError

    raise ModelNotFoundError(f"Model {model!r} is not on this node (planted)")
