"""What a check returns: right or not, and one line saying why."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["Feedback", "close", "no_answer"]


@dataclass(frozen=True)
class Feedback:
    """The verdict of one exercise check.

    Attributes
    ----------
    ok : bool
        Whether the answer is right.
    message : str
        One line for the student: what is right, or what is wrong and a hint.

    A notebook shows it as that line, marked ✓ or ✗; ``bool(feedback)`` is ``ok``.

    >>> Feedback(True, "δ is right.")
    ✓ δ is right.
    >>> bool(Feedback(False, "Not yet."))
    False
    """

    ok: bool
    message: str

    def __repr__(self) -> str:
        return f"{'✓' if self.ok else '✗'} {self.message}"

    def __bool__(self) -> bool:
        return self.ok


def no_answer(answer: Any) -> Feedback | None:
    """Return a "not answered yet" :class:`Feedback` for the starting code's ``None`` or ``...``.

    Returns None when there is an answer to check.

    >>> no_answer(None)
    ✗ No answer yet: replace the None (or ...) with your answer and run the cell again.
    >>> no_answer(0.3) is None
    True
    """
    if answer is None or answer is Ellipsis:
        return Feedback(
            False, "No answer yet: replace the None (or ...) with your answer and run the cell again."
        )
    return None


def close(answer: Any, expected: float, tolerance: float = 1e-6) -> bool:
    """Return whether ``answer`` is a number within ``tolerance`` of ``expected`` (relative or absolute).

    >>> close(0.1234567, 0.1234568), close("0.12", 0.12), close(float("nan"), 0.1)
    (True, False, False)
    """
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return False
    if isinstance(answer, str) or math.isnan(value):
        return False
    return math.isclose(value, expected, rel_tol=tolerance, abs_tol=tolerance)
