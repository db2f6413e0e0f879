"""The project's exceptions: one clear message for each kind of bad input."""

from __future__ import annotations

__all__ = [
    "EmpathylabError",
    "DataFileError",
    "ProfileError",
    "ModelNotFoundError",
    "BackendError",
]


class EmpathylabError(Exception):
    """Base class: the CLI prints the message of these errors alone, with no traceback."""


class DataFileError(EmpathylabError):
    """A data file is missing, has the wrong hash, or does not have the expected format."""


class ProfileError(EmpathylabError):
    """A run profile is missing, malformed, or has unknown keys or wrong types."""


class ModelNotFoundError(EmpathylabError):
    """A model id or folder cannot be found (offline, misspelled, or not downloaded)."""


class BackendError(EmpathylabError):
    """A backend is unknown, unreachable, refuses the request, or lacks a capability."""
