"""Checks for the book's exercises: a student calls one on an answer and reads one line.

Each exercise of the course (the page *Course*) names the check that goes with it, e.g.
``course.gaps.check_delta(answer, matrix, "religion")``. A check computes the right answer
from the same objects the student worked on, so it holds on any profile (the simulated
``class`` answers, the demo's embedded models, a real model), and returns a
:class:`Feedback`: ``ok`` and the one line shown under the cell. Typical wrong answers
get a line that says what went wrong, not only that it did.

Modules: :mod:`empathylab.course.gaps` (Parts I and III), :mod:`empathylab.course.llmpathy`
(Part II).
"""

from __future__ import annotations

from empathylab.course import gaps, llmpathy
from empathylab.course.feedback import Feedback, close, no_answer

__all__ = ["Feedback", "close", "gaps", "llmpathy", "no_answer"]
