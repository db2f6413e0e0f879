"""Small OpenAI-compatible HTTP servers on 127.0.0.1 for the tests of the openai backend.

:class:`FakeServer` runs a ``ThreadingHTTPServer`` on a free port in a thread and passes
every request to a handler function, recording what it received. Handlers:

- :func:`gemma_handler`: answers chat completions with a real causal LM (greedy decoding,
  real top log-probabilities of the first generated token);
- :func:`scripted_handler`: answers chat completions with canned statuses and bodies.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from empathylab.llm import Request, format_prompt
from empathylab.llm.transformers_backend import _cache_name


@dataclass
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


#: A handler returns (status, extra headers, JSON body or None).
Reply = tuple[int, dict[str, str], Any]
Handler = Callable[[Received], Reply]


class FakeServer:
    """An HTTP server on 127.0.0.1 (free port) whose answers come from ``handler``.

    ``url`` is the base URL (``http://127.0.0.1:PORT/v1``); ``received`` lists the requests;
    ``max_in_flight`` is the largest number of requests handled at the same time.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.received: list[Received] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._request_class())
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def calls(self, path_end: str) -> list[Received]:
        """The requests whose path ends with ``path_end``."""
        return [r for r in self.received if r.path.endswith(path_end)]

    def _request_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else a 40 ms delayed-ACK stall per answer

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                received = Received(self.command, self.path, dict(self.headers.items()), body)
                with server._lock:
                    server.received.append(received)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    status, headers, payload = server.handler(received)
                finally:
                    with server._lock:
                        server.in_flight -= 1
                data = b"" if payload is None else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out
                    pass

            do_GET = do_POST = _serve

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

        return _Handler


def chat_answer(content: str | None, model: str = "served-model", logprobs: Any = None) -> dict:
    """An OpenAI chat.completion body with one choice."""
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": content},
        "logprobs": logprobs,
        "finish_reason": "length",
    }
    return {"id": "chatcmpl-0", "object": "chat.completion", "model": model, "choices": [choice]}


def models_listing(ids: Iterable[str]) -> dict:
    """An OpenAI /models body."""
    return {"object": "list", "data": [{"id": i, "object": "model"} for i in ids]}


def scripted_handler(
    script: list[Reply | Handler],
    models: Reply = (200, {}, None),
    delay: Callable[[Received], float] | None = None,
) -> Handler:
    """Answer /models with ``models`` and each chat request with the next reply of ``script``.

    A reply may be a handler, called with the request. The last reply repeats forever. A ``models`` body of None lists no models (200, empty
    data). ``delay(received)`` seconds are slept before answering a chat request.
    """
    import time

    lock = threading.Lock()
    position = [0]

    def handle(received: Received) -> Reply:
        if received.path.endswith("/models"):
            status, headers, body = models
            return status, headers, models_listing([]) if body is None else body
        if delay is not None:
            time.sleep(delay(received))
        with lock:
            reply = script[min(position[0], len(script) - 1)]
            position[0] += 1
        return reply(received) if callable(reply) else reply

    return handle


def gemma_handler(model: Any, tokenizer: Any, max_tokens_cap: int, model_id: str) -> Handler:
    """Answer chat requests with ``model``: greedy decoding, step by step, one request at a time.

    The prompt is built with :func:`format_prompt` from the system and user messages;
    at most ``min(max_tokens, max_tokens_cap)`` tokens are generated, stopping at eos.
    With ``logprobs``, the first generated token's ``top_logprobs`` alternatives are
    returned in OpenAI's format (token text from ``tokenizer.decode``).
    """
    import torch

    lock = threading.Lock()
    eos = model.generation_config.eos_token_id
    stop = {tokenizer.eos_token_id, *(eos if isinstance(eos, list) else [eos])} - {None}

    def handle(received: Received) -> Reply:
        if received.path.endswith("/models"):
            return 200, {}, models_listing([model_id])
        if not received.path.endswith("/chat/completions"):
            return 404, {}, {"error": {"message": f"no route {received.path}"}}
        body = received.body
        if body.get("model") != model_id:
            return 404, {}, {"error": {"message": f"model {body.get('model')!r} does not exist"}}
        messages = {m["role"]: m["content"] for m in body["messages"]}
        prompt, _ = format_prompt(tokenizer, Request(messages.get("system", ""), messages["user"]))
        ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
        generated: list[int] = []
        first_logprobs = past = None
        with lock, torch.no_grad():
            for _ in range(min(int(body.get("max_tokens", 16)), max_tokens_cap)):
                out = model(input_ids=ids, use_cache=True, logits_to_keep=1, **{_cache_name(model): past})
                logits, past = out.logits[0, -1].float(), getattr(out, _cache_name(model))
                if first_logprobs is None:
                    first_logprobs = torch.log_softmax(logits, dim=-1)
                token = int(logits.argmax())
                if token in stop:
                    break
                generated.append(token)
                ids = torch.tensor([[token]])
        logprobs = None
        if body.get("logprobs") and first_logprobs is not None:
            values, indices = first_logprobs.topk(int(body.get("top_logprobs") or 1))
            top = [
                {"token": tokenizer.decode([int(i)]), "logprob": float(v)} for v, i in zip(values, indices)
            ]
            first = {"token": top[0]["token"], "logprob": top[0]["logprob"], "top_logprobs": top}
            logprobs = {"content": [first]}
        text = tokenizer.decode(generated, skip_special_tokens=True)
        return 200, {}, chat_answer(text, model_id, logprobs)

    return handle
