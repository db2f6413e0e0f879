"""A backend for any OpenAI-compatible chat endpoint (vLLM, llama.cpp, Ollama, OpenAI, Groq...).

Requests go to ``POST {base_url}/chat/completions`` with ``temperature: 0`` and ``seed: 0``,
``concurrency`` at a time, and come back in request order. 429, 5xx, timeouts and
connection errors are retried with exponential backoff (``backoff * 2**attempt`` seconds
plus a little jitter, or the server's ``Retry-After``, capped at 120 s); other failures
raise :class:`~empathylab.errors.BackendError` at once.

The API key is read only from the environment variable named by ``api_key_env``; when it
is unset no ``Authorization`` header is sent (local servers need none). The key never
appears in :meth:`OpenAIBackend.info`, in error messages, in log records or in reprs;
user and password in ``base_url`` are removed from everything shown as well.

With ``check=True`` the constructor sends ``GET {base_url}/models`` once, so that a wrong
URL, a dead server or a bad key fails before a run starts. Some servers do not implement
``/models``: on a 404 there, a one-token chat request decides (it working means the
endpoint is fine; a 404 there too means the base URL is wrong). When the server lists
models, ``model`` must be among them (``name`` also matches Ollama's ``name:latest``).
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import os
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import requests
from requests.adapters import HTTPAdapter

from empathylab.errors import BackendError, ScrubSecrets, scrub
from empathylab.llm.backend import Backend, Request

__all__ = ["OpenAIBackend", "redact_url"]

logger = logging.getLogger("empathylab.llm.openai")
for _name in ("empathylab.llm.openai", "urllib3.connectionpool"):  # a server's text or a URL's key
    logging.getLogger(_name).addFilter(ScrubSecrets())

_RETRY_AFTER_CAP = 120.0  # seconds; longer waits (daily quotas) are not worth blocking a run on
_CHECK_TIMEOUT = 10.0
_INTEGER = re.compile(r"\d+")


def redact_url(url: str) -> str:
    """Return ``url`` without any ``user:password@`` part, and keys in its query hidden.

    >>> redact_url("https://me:secret@api.example.com/v1?api-key=abc123")
    'https://api.example.com/v1?api-key=***'
    """
    parts = urlsplit(url)
    if "@" in parts.netloc:
        url = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return scrub(url)


class _KeyAuth(requests.auth.AuthBase):
    """Send the API key as a bearer token, and nothing else.

    Set as the session's auth so that requests never falls back on ``~/.netrc``, whose
    Basic credentials would replace the key (and could be echoed back by the server).
    """

    def __init__(self, key: str | None) -> None:
        self.key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.pop("Authorization", None)
        if self.key:
            request.headers["Authorization"] = f"Bearer {self.key}"
        return request


class _Retryable(Exception):
    """A failure worth retrying; ``what`` describes it for the final error message."""

    def __init__(self, what: str, retry_after: float | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.retry_after = retry_after


class _Aborted(Exception):
    """Another request of the same batch failed; stop retrying this one."""


class OpenAIBackend(Backend):
    """Chat completions from an OpenAI-compatible HTTP endpoint.

    Parameters
    ----------
    model : the model name the endpoint knows (``meta-llama/Llama-3.1-8B-Instruct``, ``llama3``...).
    base_url : the API root, usually ending in ``/v1`` (``http://localhost:8000/v1``).
    api_key_env : name of the environment variable holding the API key (read at construction).
    concurrency : requests in flight at once.
    timeout : seconds to wait for each HTTP answer.
    max_retries : retries after the first attempt (429, 5xx, timeouts, connection errors).
    top_logprobs : alternatives asked for by :meth:`score` (OpenAI and vLLM allow up to 20).
    top_p : nucleus sampling bound sent with every request when set (Hasan et al. label
        with 0.01); at temperature 0 it only matters to servers that sample anyway.
    check : query ``/models`` now, so that configuration errors fail at once.
    backoff : base of the exponential backoff, in seconds.
    """

    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 8,
        timeout: float = 60.0,
        max_retries: int = 5,
        top_logprobs: int = 20,
        top_p: float | None = None,
        check: bool = True,
        backoff: float = 1.0,
    ) -> None:
        if concurrency < 1 or max_retries < 0 or top_logprobs < 1 or timeout <= 0:
            raise BackendError(
                "openai backend: concurrency and top_logprobs must be >= 1, max_retries >= 0 "
                f"and timeout > 0 (got {concurrency}, {top_logprobs}, {max_retries}, {timeout})."
            )
        if urlsplit(base_url).scheme not in ("http", "https"):
            raise BackendError(
                f"openai backend: base_url {redact_url(base_url)!r} must start with http:// or "
                "https:// (e.g. http://localhost:8000/v1)."
            )
        if "@" in urlsplit(base_url).netloc:
            raise BackendError(
                f"openai backend: base_url {redact_url(base_url)!r} (as shown) holds a user name or "
                "password before '@'; they would be sent in place of the API key and could be echoed "
                f"back. Remove them and give the key in the environment variable {api_key_env}."
            )
        self.model = model
        self.base_url = base_url.rstrip("/")  # shown and recorded (redacted), may hold a ?query
        self.shown_url = redact_url(self.base_url)
        self.api_key_env = api_key_env
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.top_logprobs = top_logprobs
        self.top_p = top_p
        self.backoff = backoff
        self.server_model = ""  # the "model" field of the last answer
        self._merges_digits = False  # seen a multi-digit first token: whole-number tokenizer
        self._key = os.environ.get(api_key_env) or None
        self._abort = threading.Event()
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_maxsize=concurrency, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["Content-Type"] = "application/json"
        self._session.auth = _KeyAuth(self._key)
        if check:
            try:
                self._check()
            except BackendError:
                self._session.close()
                raise

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self.model!r}, base_url={self.shown_url!r})"

    # ------------------------------------------------------------------ public API

    def generate(
        self,
        requests: Sequence[Request],
        max_new_tokens: int = 128,
        stop: Callable[[str], bool] | None = None,
    ) -> list[str]:
        """Return the greedy answer text of each request, in order ("" when the content is null).

        ``stop`` is ignored: an endpoint decodes each answer to its end.
        """
        answers = self._map(requests, {"max_tokens": max_new_tokens})
        return [_message(a, self.shown_url).get("content") or "" for a in answers]

    def score(self, requests: Sequence[Request], scale: int) -> np.ndarray:
        """Return ``(len(requests), scale + 1)``: P(answer = a) read from the first answer token.

        A chat endpoint only reports the ``top_logprobs`` most likely first tokens, so
        this readout works for tokenizers that write whole numbers as one token (Llama 3:
        ``57``, ``100``): P(a) is the summed probability of the top tokens whose text,
        stripped of white space, is the integer ``a`` (``" 57"`` and ``"57"`` both count).
        Answers outside the top K get 0, so a row sums to the valid mass captured (< 1);
        single digits also include numbers that continue after them (``5`` then ``7``),
        which for a whole-number tokenizer is negligible.

        If ``scale >= 10`` and the numeric top tokens of a batch are all single digits
        (a digit-by-digit tokenizer, like Gemma's), the first token cannot tell 5 from
        57 and BackendError is raised; once a multi-digit token has been seen from this
        endpoint, single-digit-only rows are accepted as such. Rows with no numeric token
        are all zero (an invalid answer). BackendError is also raised when the endpoint
        returns no log-probabilities at all.
        """
        extra = {"max_tokens": 1, "logprobs": True, "top_logprobs": self.top_logprobs}
        answers = self._map(requests, extra)
        out = np.zeros((len(answers), scale + 1))
        lengths: set[int] = set()
        for row, answer in enumerate(answers):
            for alt in _top_logprobs(answer, self.shown_url):
                text = str(alt.get("token", "")).strip()
                if not _INTEGER.fullmatch(text):
                    continue
                lengths.add(len(text))
                value = int(text)
                if value <= scale:
                    out[row, value] += math.exp(float(alt.get("logprob", -math.inf)))
        if any(n > 1 for n in lengths):
            self._merges_digits = True
        if scale >= 10 and lengths and not self._merges_digits:
            raise BackendError(
                f"model {self.model!r} at {self.shown_url} spells numbers digit by digit, so its "
                "first answer token cannot tell 5 from 57: the distribution readout needs a local "
                "model (backend transformers or vllm), or use --readout generate."
            )
        return out

    def info(self) -> dict[str, str]:
        """Return provenance (no secrets): backend, model, base_url, server_model, api_key_env...."""
        return {
            "backend": self.name,
            "model": self.model,
            "base_url": self.shown_url,
            "server_model": self.server_model,
            "api_key_env": self.api_key_env,
            "concurrency": str(self.concurrency),
            "max_retries": str(self.max_retries),
            "top_logprobs": str(self.top_logprobs),
        }

    def close(self) -> None:
        """Close the HTTP connections."""
        self._session.close()

    # ------------------------------------------------------------------ internals

    def _url(self, endpoint: str) -> str:
        """The URL of ``endpoint`` under the API root, keeping the root's query (``?api-version=``)."""
        parts = urlsplit(self.base_url)
        return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}/{endpoint}"))

    def _check(self) -> None:
        """GET /models once; raise BackendError on anything that would make every request fail."""
        url = self._url("models")
        wait = min(self.timeout, _CHECK_TIMEOUT)
        try:
            resp = self._session.get(url, timeout=wait)
        except requests.ReadTimeout:
            raise BackendError(
                f"the endpoint {self.shown_url} accepted the connection but did not answer "
                f"/models within {wait:g} s: the server is busy or hung; try again "
                "later or raise llm.api.timeout."
            ) from None
        except requests.RequestException as err:
            raise BackendError(
                f"the endpoint {self.shown_url} is unreachable ({type(err).__name__}): check that "
                "the server is running and that base_url is right (e.g. http://localhost:8000/v1)."
            ) from None
        if resp.status_code == 404:  # no /models on some servers: let one tiny chat decide
            logger.info("%s/models answered 404; trying a one-token chat request", self.shown_url)
            messages = [{"role": "user", "content": "Hi"}]
            self._post({"model": self.model, "messages": messages, "max_tokens": 1}, retries=0)
            return
        if resp.status_code != 200:
            self._raise_for(resp, "GET /models")
        try:
            ids = [str(m["id"]) for m in resp.json()["data"]]
        except (ValueError, KeyError, TypeError):
            return  # a listing we cannot read is no reason to refuse the endpoint
        if ids and self.model not in ids and f"{self.model}:latest" not in ids:
            shown = ", ".join(ids[:20]) + (f" and {len(ids) - 20} more" if len(ids) > 20 else "")
            raise BackendError(f"model {self.model!r} is not served by {self.shown_url}; available: {shown}.")

    def _map(self, items: Sequence[Request], extra: dict[str, Any]) -> list[dict]:
        """Send one chat request per item, ``concurrency`` at a time; answers in request order."""
        payloads = [
            {
                "model": self.model,
                "messages": [
                    {"role": "system", "content": r.system},
                    {"role": "user", "content": r.user},
                ],
                "temperature": 0,
                "seed": 0,
                **({} if self.top_p is None else {"top_p": self.top_p}),
                **extra,
            }
            for r in items
        ]
        if not payloads:
            return []
        self._abort.clear()
        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(payloads)))
        try:
            futures = [pool.submit(self._post, p) for p in payloads]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        except KeyboardInterrupt:
            # Ctrl-C: drop the queued requests and stop the others' retries; do not wait
            # for the ones in flight (they end at their timeout; nothing is stored from them).
            self._abort.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        with pool:  # every request has ended: the pool exits at once
            failed = [f for f in futures if f in done and f.exception() is not None]
            if failed:
                self._abort.set()  # stop the others' retries; the pool exits when they return
                for f in futures:
                    f.cancel()
                errors = [f.exception() for f in failed]
                raise next((e for e in errors if not isinstance(e, _Aborted)), errors[0])
            return [f.result() for f in futures]

    def _post(self, payload: dict[str, Any], retries: int | None = None) -> dict:
        """POST one chat completion with retries; return the decoded JSON answer."""
        retries = self.max_retries if retries is None else retries
        url = self._url("chat/completions")
        for attempt in range(retries + 1):
            if self._abort.is_set():
                raise _Aborted("another request failed")
            try:
                return self._post_once(url, payload)
            except _Retryable as err:
                if attempt == retries:
                    raise BackendError(
                        f"{attempt + 1} attempt{'s' * (attempt > 0)} at {self.shown_url}/chat/completions failed, the "
                        f"last with {err.what}; the server is overloaded or failing: try later or "
                        "lower the concurrency."
                    ) from None
                delay = self.backoff * 2**attempt if err.retry_after is None else err.retry_after
                delay += random.uniform(0, 0.1 * self.backoff)  # jitter: retries do not align
                logger.warning(
                    "%s from %s (attempt %d of %d); retrying in %.2f s",
                    err.what,
                    self.shown_url,
                    attempt + 1,
                    retries + 1,
                    delay,
                )
                self._abort.wait(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _post_once(self, url: str, payload: dict[str, Any]) -> dict:
        try:
            resp = self._session.post(url, data=json.dumps(payload), timeout=self.timeout)
        except requests.Timeout:
            raise _Retryable(f"no answer within {self.timeout:g} s (timeout)") from None
        except requests.ConnectionError as err:
            raise _Retryable(f"a connection error ({type(err).__name__})") from None
        except requests.RequestException as err:  # a broken answer (ChunkedEncodingError...)
            raise _Retryable(f"a broken answer ({type(err).__name__})") from None
        if resp.status_code == 429 or resp.status_code >= 500:
            raise _Retryable(f"HTTP {resp.status_code}", _retry_after(resp))
        if resp.status_code != 200:
            self._raise_for(resp, "POST /chat/completions")
        try:
            answer = resp.json()
        except ValueError:
            raise BackendError(
                f"{self.shown_url}/chat/completions answered with something that is not JSON; "
                "is base_url an OpenAI-compatible API (usually ending in /v1)?"
            ) from None
        if isinstance(answer, dict) and answer.get("model"):
            self.server_model = str(answer["model"])
        return answer

    def _raise_for(self, resp: requests.Response, what: str) -> None:
        """Raise the BackendError that explains a non-retryable HTTP status."""
        status = resp.status_code
        if status in (401, 403):  # the server's text is left out: some echo part of the key
            key = (
                f"refused the API key from ${self.api_key_env}"
                if self._key
                else f"requires an API key, but ${self.api_key_env} is not set"
            )
            raise BackendError(
                f"the endpoint {self.shown_url} {key} ({status} to {what}): set "
                f"{self.api_key_env} to a valid key for this endpoint, or name another variable "
                "with api_key_env."
            )
        detail = self._server_message(resp)
        if status == 404:
            raise BackendError(
                f"not found (404 to {what}): the model {self.model!r} or the base URL "
                f"{self.shown_url} is wrong (it usually ends in /v1); server said: {detail}"
            )
        raise BackendError(f"the endpoint {self.shown_url} rejected {what} (HTTP {status}): {detail}")

    def _server_message(self, resp: requests.Response) -> str:
        """The server's error message on one line, truncated, with the API key scrubbed."""
        try:
            body = resp.json()
            err = body.get("error", body.get("detail", body)) if isinstance(body, dict) else body
            text = str(err.get("message", err) if isinstance(err, dict) else err)
        except ValueError:
            text = resp.text
        text = scrub(" ".join(text.split()), [self._key or ""]) or "(no message)"
        return text if len(text) <= 200 else text[:199] + "…"


def _retry_after(resp: requests.Response) -> float | None:
    """Seconds asked for by a Retry-After header (a number or an HTTP date), capped; else None."""
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), _RETRY_AFTER_CAP)


def _message(answer: dict, where: str) -> dict:
    """The first choice's message of a chat answer."""
    try:
        return answer["choices"][0]["message"] or {}
    except (KeyError, IndexError, TypeError):
        raise BackendError(
            f"{where}/chat/completions answered without choices[0].message; is it an "
            "OpenAI-compatible chat endpoint?"
        ) from None


def _top_logprobs(answer: dict, where: str) -> list[dict]:
    """The top alternatives of the first answer token; BackendError when there are none."""
    try:
        alternatives = answer["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
    except (KeyError, IndexError, TypeError):
        alternatives = None
    if not alternatives:
        raise BackendError(
            f"the endpoint {where} does not return top log-probabilities, so the distribution "
            "readout needs a local model (backend transformers or vllm), or use --readout generate."
        )
    return alternatives
