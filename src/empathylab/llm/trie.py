"""The distribution readout's answer set: a trie of the token paths of the answers 0..S.

An :class:`AnswerTrie` lets a backend read the probability of every answer 0..S from
the model's next-token distributions, chaining over multi-token answers;
:func:`summarize_distribution` turns those probabilities into an intensity (the
expected answer), the probability that the answer is valid and the most likely answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from empathylab.errors import EmpathylabError

__all__ = ["AnswerTrie", "summarize_distribution"]


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

    def answer_probabilities(self, logprobs: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
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
