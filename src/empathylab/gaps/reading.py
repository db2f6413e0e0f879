"""Turning a model's output into an intensity: the paper's parsing and our distribution.

``generate`` readout (Hou et al. 2025): a response that starts with a refusal prefix is a
refusal; otherwise the integers in it are read: one integer is the answer; with several,
the first if it lies in [0, S], else the second; none, or an answer outside [0, S], is
invalid. That is the paper's text, the reading range ``scale`` (the default). The
authors' analysis code (``analysis/process_exp_results.py``) uses [0, 100] in place of
[0, S] on every scale, so on the 10-point scale it keeps answers such as 85: the reading
range ``authors``. On the 100-point scale the two are the same; :func:`reading_changes`
counts the responses the choice reads differently.

``distribution`` readout (ours): the probability of every valid answer 0..S is read
from the model's next-token distributions, chaining over multi-token answers with an
:class:`AnswerTrie`; the intensity is the expected answer under that distribution. Its
answer set is always 0..S, whatever the reading range.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = [
    "READOUTS",
    "READING_RANGES",
    "AUTHORS_BOUND",
    "REFUSAL_PREFIXES",
    "answer_bound",
    "parse_response",
    "reading_is_final",
    "parse_many",
    "READING_CHANGES",
    "compare_readings",
    "reading_changes",
]


READOUTS = ("generate", "distribution")

READING_RANGES = ("scale", "authors")

#: The upper end of the answers the authors' analysis code accepts, on every scale.
AUTHORS_BOUND = 100

REFUSAL_PREFIXES = ("I cannot", "I can't", "I'm not rating")

_INTEGER = re.compile(r"\b\d+\b")


def answer_bound(scale: int, rule: str = "scale") -> int:
    """Return the largest answer a response may give under reading range ``rule``.

    ``scale`` is the paper's text, [0, S]; ``authors`` is the authors' code, [0, 100] on
    every scale. An unknown ``rule`` raises :class:`ValueError`.

    >>> answer_bound(10), answer_bound(10, "authors"), answer_bound(100, "authors")
    (10, 100, 100)
    """
    if rule == "scale":
        return scale
    if rule == "authors":
        return AUTHORS_BOUND
    raise ValueError(f"unknown reading range {rule!r}; valid: {', '.join(READING_RANGES)}")


def parse_response(response: str, scale: int, rule: str = "scale") -> tuple[float, str]:
    """Read a response with the paper's rules; return ``(intensity, status)``.

    Parameters
    ----------
    response : str
        The generated text.
    scale : int
        S, the top of the scale the prompt asked for (100 or 10).
    rule : {"scale", "authors"}
        The reading range: ``scale`` reads answers in [0, S] (the paper's text),
        ``authors`` in [0, 100] on every scale (the authors' analysis code); see
        :func:`answer_bound`.

    Returns
    -------
    tuple of (float, str)
        The intensity and the status, ``ok``, ``refusal`` or ``invalid``; the intensity
        is NaN unless the status is ``ok``.

    Examples
    --------
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
    >>> parse_response("85", 10), parse_response("85", 10, rule="authors")
    ((nan, 'invalid'), (85.0, 'ok'))
    """
    bound = answer_bound(scale, rule)
    text = response.strip()
    if text.startswith(REFUSAL_PREFIXES):
        return float("nan"), "refusal"
    numbers = [int(m) for m in _INTEGER.findall(text)]
    if not numbers:
        return float("nan"), "invalid"
    answer = numbers[0] if len(numbers) == 1 or 0 <= numbers[0] <= bound else numbers[1]
    if 0 <= answer <= bound:
        return float(answer), "ok"
    return float("nan"), "invalid"


def reading_is_final(response: str, scale: int, rule: str = "scale") -> bool:
    """Return True when more text could not change :func:`parse_response`'s reading.

    That is the case after a refusal prefix, after a complete first integer within the
    reading range, or after two complete integers; generation can stop there. A
    response final under ``scale`` is final under ``authors`` too, whose range holds
    [0, S].

    >>> reading_is_final("57", 100), reading_is_final("57\\n", 100), reading_is_final("I can", 100)
    (False, True, False)
    >>> reading_is_final("85 ", 10), reading_is_final("85 ", 10, rule="authors")
    (False, True)
    """
    bound = answer_bound(scale, rule)
    text = response.lstrip()
    if text.startswith(REFUSAL_PREFIXES):
        return True
    complete = [m for m in _INTEGER.finditer(text) if m.end() < len(text)]
    if not complete:
        return False
    return 0 <= int(complete[0].group()) <= bound or len(complete) >= 2


def parse_many(responses: Iterable[str], scale: int, rule: str = "scale") -> pd.DataFrame:
    """Return ``intensity`` and ``status`` for each response (see :func:`parse_response`).

    >>> parse_many(["7", "I cannot"], 10).status.tolist()
    ['ok', 'refusal']
    >>> parse_many(["85"], 10, rule="authors").intensity.tolist()
    [85.0]
    """
    rows = [parse_response(r, scale, rule) for r in responses]
    return pd.DataFrame(rows, columns=["intensity", "status"])


#: The kinds of :func:`compare_readings`, in the order :func:`reading_changes` lists them.
READING_CHANGES = (
    "same reading",
    "invalid by scale, an answer by authors",
    "an answer by scale, invalid by authors",
    "different answer",
)


def compare_readings(responses: Iterable[str], scale: int | Iterable[int]) -> pd.DataFrame:
    """Read every response under both reading ranges and say how the readings differ.

    Parameters
    ----------
    responses : iterable of str
        Generated responses.
    scale : int or iterable of int
        S for all responses, or one S per response (e.g. a results frame's scales).

    Returns
    -------
    pandas.DataFrame
        One row per response: ``response``, ``scale``, ``intensity_scale``,
        ``status_scale``, ``intensity_authors``, ``status_authors`` and ``change``, one of
        :data:`READING_CHANGES`: the same reading (the same answer, or the same kind of
        missing value), an answer under only one range, or two different answers.

    Examples
    --------
    >>> compare_readings(["7", "85", "12 or 7"], 10)[["intensity_scale", "intensity_authors", "change"]]
       intensity_scale  intensity_authors                                  change
    0              7.0                7.0                            same reading
    1              NaN               85.0  invalid by scale, an answer by authors
    2              7.0               12.0                        different answer
    """
    texts = list(responses)
    scales = [scale] * len(texts) if isinstance(scale, int) else [int(s) for s in scale]
    if len(scales) != len(texts):
        raise ValueError(f"{len(texts)} responses but {len(scales)} scales")
    rows = []
    for text, s in zip(texts, scales):
        (a, sa), (b, sb) = parse_response(text, s, "scale"), parse_response(text, s, "authors")
        if sa == "ok" and sb == "ok":
            change = READING_CHANGES[0] if a == b else READING_CHANGES[3]
        elif sa == "ok" or sb == "ok":
            change = READING_CHANGES[1] if sb == "ok" else READING_CHANGES[2]
        else:  # a refusal under one range is one under the other; so is an invalid answer
            change = READING_CHANGES[0]
        rows.append((text, s, a, sa, b, sb, change))
    return pd.DataFrame(
        rows,
        columns=[
            "response",
            "scale",
            "intensity_scale",
            "status_scale",
            "intensity_authors",
            "status_authors",
            "change",
        ],
    )


def reading_changes(responses: Iterable[str], scale: int | Iterable[int]) -> pd.DataFrame:
    """Count the responses that the two reading ranges read differently, by kind.

    Parameters
    ----------
    responses : iterable of str
        Generated responses.
    scale : int or iterable of int
        S for all responses, or one S per response.

    Returns
    -------
    pandas.DataFrame
        One row per kind of :data:`READING_CHANGES` (every kind, even when none):
        ``change``, ``responses`` (how many) and ``share`` (of all responses; NaN when
        there are none). Only the first kind leaves a reading unchanged. The third
        cannot occur for S <= 100, where [0, 100] holds [0, S]; it is listed so that the
        table always has the same rows.

    Examples
    --------
    >>> reading_changes(["7", "85", "12 or 7", "I cannot"], 10)
                                       change  responses  share
    0                            same reading          2   0.50
    1  invalid by scale, an answer by authors          1   0.25
    2  an answer by scale, invalid by authors          0   0.00
    3                        different answer          1   0.25
    """
    kinds = compare_readings(responses, scale)["change"]
    counts = kinds.value_counts().reindex(list(READING_CHANGES), fill_value=0)
    total = int(counts.sum())
    return pd.DataFrame(
        {
            "change": list(READING_CHANGES),
            "responses": counts.to_numpy(dtype=int),
            "share": counts.to_numpy(dtype=float) / total if total else np.nan,
        }
    )
