"""A fake backend: seeded, instant answers for tests and for teaching the analyses.

Registered as ``fake`` (``llm.backend: fake`` in a profile, ``--backend fake`` on the
command line). No model is loaded; every answer is a deterministic function of the
seed and the request's text, so a run is reproducible and a rerun resumes exactly.

How it answers, on a scale found in the prompt (``from 0 ... to S`` or ``between a
and b``; 0–100 when neither is found):

- each request gets a mean at ``0.5 + noise · z`` of the scale, ``z`` drawn from the
  user message (so the same narrative is rated alike by every perceiver) plus a smaller
  draw from the whole request, and ``in_group_effect`` more when the caller tagged the
  request ``in_group`` (:attr:`~empathylab.llm.Request.tags`): a planted effect an
  analysis should find;
- :meth:`FakeBackend.score` returns a discretised normal distribution around that mean;
- :meth:`FakeBackend.generate` returns the rounded mean (``count`` numbers, comma
  separated, when the request's tags ask for several), or a refusal
  (``"I cannot rate this."``) for a seeded share ``refusal_rate`` of the requests.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence

import numpy as np

from empathylab.llm.backend import Backend, Request

__all__ = ["FakeBackend", "REFUSAL"]

#: What a refusing fake model says (Part I reads it as a refusal).
REFUSAL = "I cannot rate this."

_FROM_TO = re.compile(r"from (\d+(?:\.\d+)?)\D[^.]*?\bto (\d+(?:\.\d+)?)")
_BETWEEN = re.compile(r"between (\d+(?:\.\d+)?) and (\d+(?:\.\d+)?)")


def _uniform(*parts: object) -> float:
    """Return a number in [0, 1) fixed by ``parts`` (the same on every machine)."""
    digest = hashlib.sha256("\0".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _normal(*parts: object) -> float:
    u1, u2 = _uniform(*parts, "a"), _uniform(*parts, "b")
    return float(np.sqrt(-2 * np.log(1 - u1)) * np.cos(2 * np.pi * u2))


def _scale(request: Request) -> tuple[float, float, bool]:
    """Return the scale's bounds and whether the prompt writes them as decimals."""
    text = f"{request.system}\n{request.user}"
    found = _FROM_TO.search(text) or _BETWEEN.search(text)
    if not found:
        return 0.0, 100.0, False
    return float(found[1]), float(found[2]), "." in found[1] + found[2]


class FakeBackend(Backend):
    """Seeded answers with an optional planted in-group effect and refusal rate.

    >>> fake = FakeBackend(seed=0, in_group_effect=0.2, noise=0.0)
    >>> asked = "Rate it from 0 (not at all) to 10 (extremely)."
    >>> fake.generate([Request(asked, "A story."), Request(asked, "A story.", tags={"in_group": True})])
    ['5', '7']
    >>> fake.score([Request(asked, "A story.")], 10).shape
    (1, 11)
    """

    name = "fake"

    def __init__(
        self,
        model: str = "fake",
        *,
        seed: int = 0,
        in_group_effect: float = 0.0,
        refusal_rate: float = 0.0,
        noise: float = 0.15,
    ) -> None:
        if not -1 <= in_group_effect <= 1 or not 0 <= refusal_rate <= 1 or not 0 <= noise <= 1:
            raise ValueError(
                "fake backend: in_group_effect must lie in [-1, 1], refusal_rate and noise in [0, 1] "
                f"(got {in_group_effect}, {refusal_rate}, {noise})."
            )
        self.model, self.seed = model, seed
        self.in_group_effect, self.refusal_rate, self.noise = in_group_effect, refusal_rate, noise

    def _mean(self, request: Request) -> float:
        """Return the request's mean answer as a share of its scale, in [0, 1]."""
        share = 0.5 + self.noise * (
            _normal(self.seed, request.user) + 0.3 * _normal(self.seed, request.system, request.user)
        )
        if request.tags and request.tags.get("in_group"):
            share += self.in_group_effect
        return min(max(share, 0.0), 1.0)

    def generate(
        self,
        requests: Sequence[Request],
        max_new_tokens: int = 128,
        stop: Callable[[str], bool] | None = None,
    ) -> list[str]:
        """Return one answer per request: the rounded mean on its scale, or a refusal."""
        out = []
        for request in requests:
            if _uniform(self.seed, "refuse", request.system, request.user) < self.refusal_rate:
                out.append(REFUSAL)
                continue
            low, high, decimals = _scale(request)
            value = low + self._mean(request) * (high - low)
            count = int((request.tags or {}).get("count", 1))
            text = f"{value:.1f}" if decimals else f"{value:.0f}"
            out.append(", ".join([text] * count))
        return out

    def score(self, requests: Sequence[Request], scale: int) -> np.ndarray:
        """Return P(answer = a) for a = 0..scale: a normal around the mean, discretised."""
        answers = np.arange(scale + 1)
        spread = max(self.noise * scale / 3, 0.5)
        means = np.array([self._mean(r) * scale for r in requests]).reshape(-1, 1)
        weights = np.exp(-0.5 * ((answers[None, :] - means) / spread) ** 2)
        return weights / weights.sum(axis=1, keepdims=True)

    def info(self) -> dict[str, str]:
        """Return the fake's settings (they move every answer, so they are provenance)."""
        return {
            "backend": self.name,
            "model": self.model,
            "seed": str(self.seed),
            "in_group_effect": str(self.in_group_effect),
            "refusal_rate": str(self.refusal_rate),
            "noise": str(self.noise),
        }
