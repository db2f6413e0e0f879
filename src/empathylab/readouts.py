"""Turning a model's output into an intensity: the paper's parsing and our distribution.

``generate`` readout (Hou et al. 2025): a response that starts with a refusal prefix is a
refusal; otherwise the integers in it are read: one integer is the answer; with several,
the first if it lies in [0, S], else the second; none, or an answer outside [0, S], is
invalid.

``distribution`` readout (ours): the probability of every valid answer 0..S is read
from the model's next-token distributions, chaining over multi-token answers with an
:class:`AnswerTrie`; the intensity is the expected answer under that distribution.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from empathylab.errors import EmpathylabError

__all__ = [
    "READOUTS",
    "REFUSAL_PREFIXES",
    "parse_response",
    "reading_is_final",
    "AnswerTrie",
    "summarize_distribution",
    "parse_many",
]

READOUTS = ("generate", "distribution")
REFUSAL_PREFIXES = ("I cannot", "I can't", "I'm not rating")
_INTEGER = re.compile(r"\b\d+\b")


def parse_response(response: str, scale: int) -> tuple[float, str]:
    """Read a response with the paper's rules; return ``(intensity, status)``.

    ``status`` is ``ok``, ``refusal`` or ``invalid``; intensity is NaN unless ``ok``.

    >>> parse_response("50 (0 to 100)", 100)
    (50.0, 'ok')
    >>> parse_response("On a scale of 0 to 100, 70", 100)
    (0.0, 'ok')
    >>> parse_response("I can't rate this", 100)
    (nan, 'refusal')
    >>> parse_response("85.5", 100)
    (85.0, 'ok')
    >>> parse_response("", 100)
    (nan, 'invalid')
    """
    text = response.strip()
    if text.startswith(REFUSAL_PREFIXES):
        return float("nan"), "refusal"
    numbers = [int(m) for m in _INTEGER.findall(text)]
    if not numbers:
        return float("nan"), "invalid"
    answer = numbers[0] if len(numbers) == 1 or 0 <= numbers[0] <= scale else numbers[1]
    if 0 <= answer <= scale:
        return float(answer), "ok"
    return float("nan"), "invalid"


def reading_is_final(response: str, scale: int) -> bool:
    """Return True when more text could not change :func:`parse_response`'s reading.

    That is the case after a refusal prefix, after a complete first integer within the
    scale, or after two complete integers; generation can stop there.

    >>> reading_is_final("57", 100), reading_is_final("57\\n", 100), reading_is_final("I can", 100)
    (False, True, False)
    """
    text = response.lstrip()
    if text.startswith(REFUSAL_PREFIXES):
        return True
    complete = [m for m in _INTEGER.finditer(text) if m.end() < len(text)]
    if not complete:
        return False
    return 0 <= int(complete[0].group()) <= scale or len(complete) >= 2


@dataclass
class AnswerTrie:
    """The token sequences of the answers 0..S after a prompt, as a prefix tree.

    ``nodes`` lists the token prefixes whose next-token distribution the scorer needs
    (the root ``()`` first, then by depth); ``parent[i]`` is the index of node ``i``'s
    parent and ``token[i]`` the token that leads to it. ``answers[a]`` is the token
    sequence of answer ``a``. ``digit_start`` holds the ids of every vocabulary token
    that starts with a digit, i.e. that would continue a number.
    """

    scale: int
    answers: list[tuple[int, ...]]
    digit_start: np.ndarray
    nodes: list[tuple[int, ...]] = field(init=False)
    parent: list[int] = field(init=False)
    token: list[int] = field(init=False)

    def __post_init__(self) -> None:
        proper = {seq[:i] for seq in self.answers for i in range(len(seq))}
        self.nodes = sorted(proper, key=lambda s: (len(s), s))
        index = {node: i for i, node in enumerate(self.nodes)}
        self.parent = [index[n[:-1]] if n else -1 for n in self.nodes]
        self.token = [n[-1] if n else -1 for n in self.nodes]

    @classmethod
    def from_tokenizer(cls, tokenizer: object, prompt: str, scale: int) -> AnswerTrie:
        """Build the trie for ``tokenizer`` by tokenizing ``prompt + str(a)`` for each answer.

        The answer's tokens are those that follow the prompt's own tokens, so tokenizers
        that merge digits (``100`` as one token) and those that spell them digit by digit
        are both handled exactly.
        """
        encode = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
        base = encode(prompt)
        answers = []
        for a in range(scale + 1):
            ids = encode(prompt + str(a))
            if ids[: len(base)] != base or len(ids) == len(base):
                raise EmpathylabError(
                    f"The tokenizer merges the answer {a} into the end of the prompt, so "
                    "its probability cannot be read token by token; use --readout generate."
                )
            answers.append(tuple(ids[len(base) :]))
        vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        digits = np.array([i for i, t in enumerate(vocab) if t and t[0].isdigit()], dtype=np.int64)
        return cls(scale, answers, digits)

    @property
    def needed_tokens(self) -> np.ndarray:
        """The vocabulary ids whose log-probabilities :meth:`answer_probabilities` reads."""
        tokens = {t for seq in self.answers for t in seq}
        return np.union1d(np.fromiter(tokens, dtype=np.int64), self.digit_start)

    def answer_probabilities(
        self, logprobs: np.ndarray, columns: np.ndarray | None = None
    ) -> np.ndarray:
        """Return P(answer = a) for a = 0..S, from log-probabilities at every node.

        ``logprobs`` has one row per node (the next-token log-probabilities after it) and
        one column per vocabulary id, or per id in ``columns`` when given (it must hold
        :attr:`needed_tokens`; absent ids count as probability 0). An answer's probability
        is the product of its tokens' probabilities times the probability that the number
        stops there (no digit follows); that last factor is known for answers that are
        themselves nodes (``1`` before ``10``) and taken as 1 for the others, whose
        continuation would leave the scale anyway.
        """
        if columns is None:
            position = lambda ids: np.atleast_1d(np.asarray(ids))  # noqa: E731
        else:
            lookup = {int(t): i for i, t in enumerate(columns)}
            missing = [int(t) for t in self.needed_tokens if int(t) not in lookup]
            if missing:
                raise ValueError(f"columns lack needed token ids, e.g. {missing[:5]}")
            position = lambda ids: np.array([lookup[int(t)] for t in np.atleast_1d(ids)])  # noqa: E731
        index = {node: i for i, node in enumerate(self.nodes)}
        probs = np.exp(logprobs)
        stop = 1.0 - probs[:, position(self.digit_start)].sum(axis=1)
        out = np.empty(self.scale + 1)
        for a, seq in enumerate(self.answers):
            logp = sum(logprobs[index[seq[:i]], position(seq[i])[0]] for i in range(len(seq)))
            node = index.get(seq)
            out[a] = np.exp(logp) * (max(stop[node], 0.0) if node is not None else 1.0)
        return out


def summarize_distribution(probs: np.ndarray | Sequence[Sequence[float]]) -> pd.DataFrame:
    """Return one row per distribution: ``intensity`` (expected answer), ``argmax``, ``p_valid``.

    ``probs[i, a]`` is the probability of answer ``a``; the expectation is taken over
    the valid answers, renormalised. A distribution with no valid mass gives NaN and
    status ``invalid``.

    >>> summarize_distribution([[0.1, 0.0, 0.3], [0.0, 0.0, 0.0]])
       intensity  argmax  p_valid   status
    0        1.5     2.0      0.4       ok
    1        NaN     NaN      0.0  invalid
    """
    p = np.asarray(probs, dtype=float)
    mass = p.sum(axis=1)
    answers = np.arange(p.shape[1])
    ok = mass > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = np.where(ok, (p * answers).sum(axis=1) / mass, np.nan)
    return pd.DataFrame(
        {
            "intensity": expected,
            "argmax": np.where(ok, p.argmax(axis=1), np.nan),
            "p_valid": mass,
            "status": np.where(ok, "ok", "invalid"),
        }
    )


def parse_many(responses: Iterable[str], scale: int) -> pd.DataFrame:
    """Return ``intensity`` and ``status`` for each response (see :func:`parse_response`).

    >>> parse_many(["7", "I cannot"], 10).status.tolist()
    ['ok', 'refusal']
    """
    rows = [parse_response(r, scale) for r in responses]
    return pd.DataFrame(rows, columns=["intensity", "status"])
