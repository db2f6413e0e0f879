"""One interface for every LLM the compendium talks to, selected by name.

A backend answers a list of :class:`Request` (a system and a user message) in the same
order, with one of two readouts:

- :meth:`Backend.generate`: greedy responses (the paper's readout);
- :meth:`Backend.score`: the probability of every answer 0..S (our distribution readout);
- :meth:`Backend.score_and_generate`: both, for a comparison of the two on the same prompts.

Backends are registered as ``"module:Class"`` strings and imported only when chosen,
so optional engines (vLLM) are never needed by the others. A backend that cannot do
something raises :class:`~empathylab.errors.BackendError` saying why.
"""

from __future__ import annotations

import difflib
import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from empathylab.errors import BackendError

__all__ = [
    "Request",
    "Backend",
    "BACKENDS",
    "PLAIN_TEMPLATE",
    "backend_class",
    "load_backend",
    "backend_options",
    "format_prompt",
    "prompt_as_sent",
]

BACKENDS: dict[str, str] = {
    "transformers": "empathylab.llm.transformers_backend:TransformersBackend",
    "vllm": "empathylab.llm.vllm_backend:VLLMBackend",
    "openai": "empathylab.llm.openai_backend:OpenAIBackend",
    "fake": "empathylab.llm.fake_backend:FakeBackend",
}

#: How a base model without a chat template is prompted: system, blank line, user, and a
#: trailing space so that the next token is the number itself (see the book).
PLAIN_TEMPLATE = "{system}\n\n{user} "


@dataclass(frozen=True)
class Request:
    """One prompt: a system message and a user message.

    ``tags`` are the caller's labels for the request (Part I tags ``in_group``; Part II
    ``count``, the numbers an answer holds). Backends that talk to a model ignore them;
    the fake backend reads them. They take no part in equality or hashing.
    """

    system: str
    user: str
    tags: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


class Backend(ABC):
    """The contract every backend implements; answers come back in request order."""

    name: ClassVar[str]

    @abstractmethod
    def generate(
        self,
        requests: Sequence[Request],
        max_new_tokens: int = 128,
        stop: Callable[[str], bool] | None = None,
    ) -> list[str]:
        """Return the greedy response to each request (at most ``max_new_tokens`` tokens).

        ``stop``, a function of the response so far, allows a backend to stop a row once
        it returns True (the caller's rule that more text cannot change what it reads);
        backends that cannot stop per row ignore it.
        """

    @abstractmethod
    def score(self, requests: Sequence[Request], scale: int) -> np.ndarray:
        """Return an array ``(len(requests), scale + 1)``: P(answer = a) for a = 0..scale."""

    def score_and_generate(
        self,
        requests: Sequence[Request],
        scale: int,
        max_new_tokens: int = 128,
        stop: Callable[[str], bool] | None = None,
    ) -> tuple[np.ndarray, list[str]]:
        """Return both readouts of the same requests: :meth:`score`'s array and :meth:`generate`'s responses.

        The same answers as the two calls; a backend that can read each prompt once for
        both overrides it (the transformers backend does), the others ask twice.
        """
        return self.score(requests, scale), self.generate(requests, max_new_tokens, stop)

    @abstractmethod
    def info(self) -> dict[str, str]:
        """Return provenance for stored results (model, revision, template...); no secrets."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the model or connections."""


def backend_class(name: str) -> type[Backend]:
    """Return the backend class registered as ``name``, importing its module now.

    >>> backend_class("transformers").name
    'transformers'
    """
    if name not in BACKENDS:
        close = difflib.get_close_matches(name, BACKENDS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise BackendError(f"Unknown backend {name!r}.{hint} Valid backends: {', '.join(BACKENDS)}.")
    module, cls = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def load_backend(name: str, model: str, **options: Any) -> Backend:
    """Create the backend ``name`` for ``model`` (a model spec or, for APIs, a model name)."""
    return backend_class(name)(model, **options)


def backend_options(profile: Any, backend: str | None = None) -> dict[str, Any]:
    """Return the keyword arguments a profile's ``llm:`` section gives ``backend``.

    ``backend`` defaults to ``profile.llm.backend``; ``profile`` is a
    :class:`~empathylab.profiles.Profile` (both parts pass theirs).

    >>> from empathylab.profiles import load_profile
    >>> backend_options(load_profile("demo"))
    {'device': 'cpu', 'batch_size': 16, 'dtype': None}
    >>> sorted(backend_options(load_profile("demo"), "fake"))
    ['in_group_effect', 'noise', 'refusal_rate', 'seed']
    """
    llm = profile.llm
    name = backend or llm.backend
    if name == "transformers":
        dtype = None if llm.dtype == "auto" else llm.dtype
        return {"device": profile.device, "batch_size": llm.batch_size, "dtype": dtype}
    if name == "vllm":
        return {**llm.vllm.model_dump(), "seed": profile.seed, "dtype": llm.dtype}
    if name == "fake":
        return {**llm.fake.model_dump(), "seed": profile.seed}
    return llm.api.model_dump()


def format_prompt(tokenizer: Any, request: Request) -> tuple[str, str]:
    """Return ``(text, mode)``: the request as the model sees it, and how it was built.

    This is the one place where chat templates are applied. Modes: ``chat`` (the
    tokenizer's chat template with system and user roles), ``chat-system-in-user``
    (the template rejects a system role, so the system text opens the user message,
    separated by a blank line) and ``plain`` (no chat template: :data:`PLAIN_TEMPLATE`).
    """
    if not getattr(tokenizer, "chat_template", None):
        return PLAIN_TEMPLATE.format(system=request.system, user=request.user), "plain"
    messages = [
        {"role": "system", "content": request.system},
        {"role": "user", "content": request.user},
    ]
    kwargs = {"tokenize": False, "add_generation_prompt": True}
    try:
        return tokenizer.apply_chat_template(messages, **kwargs), "chat"
    except Exception:  # jinja's TemplateError: "System role not supported" and the like
        merged = [{"role": "user", "content": f"{request.system}\n\n{request.user}"}]
        return tokenizer.apply_chat_template(merged, **kwargs), "chat-system-in-user"


def prompt_as_sent(model: str, request: Request) -> tuple[str, str]:
    """Return the text a local model reads for ``request``, and its format (:func:`format_prompt`).

    Only the model's tokenizer is loaded (seconds): this is the prompt exactly as the
    transformers and vLLM backends send it.

    >>> text, mode = prompt_as_sent("embedded:smollm2-135m-instruct", Request("Be brief.", "Hi"))
    >>> mode, text.splitlines()[0]
    ('chat', '<|im_start|>system')
    """
    from empathylab.llm.weights import load_tokenizer

    return format_prompt(load_tokenizer(model), request)
