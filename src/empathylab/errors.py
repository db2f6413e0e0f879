"""The project's exceptions: one clear message for each kind of bad input."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

__all__ = [
    "scrub",
    "ScrubSecrets",
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


_CREDENTIALS = (
    # an Authorization header's value: "Bearer sk-...", "Basic YWxpY2U6cHc="
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{6,}"), r"\1***"),
    (re.compile(r"\b(Basic\s+)(?=\S*[0-9+/=])[A-Za-z0-9+/=]{8,}"), r"\1***"),
    # user:password@ in a URL
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@"), r"\1***@"),
    # key=value forms in query strings, headers and messages
    (
        re.compile(
            r"(?i)\b((?:api[_-]?key|access[_-]?token|auth[_-]?token|password|secret)"
            r"[\"']?\s*[=:]\s*[\"']?)[^\s&,;\"']+"
        ),
        r"\1***",
    ),
    # OpenAI-style and Hugging Face keys wherever they stand
    (re.compile(r"\b(sk|hf)([-_])[A-Za-z0-9_-]{12,}"), r"\1\2***"),
)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with credentials replaced by ``***``.

    Removes each string in ``secrets`` (an API key read from the environment) and the
    usual credential forms: Authorization values (``Bearer …``, ``Basic …``), a URL's
    ``user:password@``, ``api_key=…`` / ``token: …`` pairs, and ``sk-…`` / ``hf_…`` keys.

    >>> scrub("401 for http://alice:pw@host/v1 with Authorization: Basic YWxpY2U6cHc=")
    '401 for http://***@host/v1 with Authorization: Basic ***'
    >>> scrub("key abc123XYZ echoed", secrets=["abc123XYZ"])
    'key *** echoed'
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    for pattern, replacement in _CREDENTIALS:
        text = pattern.sub(replacement, text)
    return text


class ScrubSecrets(logging.Filter):
    """A logging filter that passes every record with its message scrubbed (:func:`scrub`).

    >>> log = logging.getLogger("example.scrubbed")
    >>> log.addFilter(ScrubSecrets())
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = list(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = scrub(record.getMessage(), self.secrets), None
        return True
