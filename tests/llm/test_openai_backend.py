"""Tests of the openai backend against real HTTP servers on 127.0.0.1 (see openai_server.py).

One server answers with the embedded Gemma model (real generations and log-probabilities);
the others answer with scripted statuses to exercise retries and error messages.
"""

from __future__ import annotations

import logging
import math
import socket
import time

import numpy as np
import pytest
from conftest import interrupt
from openai_server import FakeServer, chat_answer, gemma_handler, models_listing, scripted_handler

from empathylab.errors import BackendError
from empathylab.llm import Request, format_prompt, load_backend
from empathylab.llm.openai_backend import OpenAIBackend

GEMMA_ID = "google/gemma-3-270m"
MAX_NEW_TOKENS = 4  # the Gemma server generates at most this many tokens (2-core CPU)
SYSTEM = "Rate the emotion from 0 to 100."  # short prompts: prefill dominates on a 2-core CPU
USERS = ["I lost my job. Anger:", "Name a colour:", "My dog died. Sadness:", "We won the cup! Joy:"]
REQUESTS = [Request(SYSTEM, u) for u in USERS]
OK = (200, {}, chat_answer("42"))


@pytest.fixture(autouse=True)
def local_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy for 127.0.0.1, and no API key from the developer's environment."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def top(*pairs: tuple[str, float]) -> dict:
    """OpenAI ``logprobs`` of a one-token answer whose alternatives have these probabilities."""
    alts = [{"token": t, "logprob": math.log(p)} for t, p in pairs]
    return {"content": [{"token": alts[0]["token"], "logprob": alts[0]["logprob"], "top_logprobs": alts}]}


# ----------------------------------------------------------------------------- real model


@pytest.fixture(scope="module")
def gemma():
    from empathylab.llm.weights import load_causal_lm

    return load_causal_lm("embedded:gemma-3-270m", device="cpu")


@pytest.fixture(scope="module")
def gemma_server(gemma):
    with FakeServer(gemma_handler(*gemma, MAX_NEW_TOKENS, GEMMA_ID)) as server:
        yield server


def direct_greedy(gemma, request: Request, max_new_tokens: int) -> str:
    import torch

    model, tokenizer = gemma
    prompt, _ = format_prompt(tokenizer, request)
    enc = tokenizer(prompt, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False)
    return tokenizer.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)


@pytest.mark.slow
def test_generate_matches_direct_greedy_generation_in_order(gemma, gemma_server) -> None:
    expected = [direct_greedy(gemma, r, MAX_NEW_TOKENS) for r in REQUESTS]
    assert len(set(expected)) > 1  # otherwise the order would not be tested
    backend = OpenAIBackend(GEMMA_ID, base_url=gemma_server.url, concurrency=3)
    assert backend.generate(REQUESTS, max_new_tokens=MAX_NEW_TOKENS) == expected
    assert backend.info()["server_model"] == GEMMA_ID
    body = gemma_server.calls("/chat/completions")[-1].body
    assert body["messages"][0] == {"role": "system", "content": SYSTEM}
    assert (body["temperature"], body["seed"], body["max_tokens"]) == (0, 0, MAX_NEW_TOKENS)
    backend.close()


@pytest.mark.slow
def test_score_reads_real_top_logprobs_and_refuses_digit_by_digit(gemma, gemma_server) -> None:
    import torch

    model, tokenizer = gemma
    backend = OpenAIBackend(GEMMA_ID, base_url=gemma_server.url, concurrency=2, top_logprobs=20)
    with pytest.raises(BackendError, match=r"digit by digit.*needs a local model.*--readout generate"):
        backend.score(REQUESTS[:2], scale=100)
    # Scale 5: single digits are whole answers, so the readout works; compare with a forward pass.
    got = backend.score(REQUESTS[:2], scale=5)
    for row, request in zip(got, REQUESTS[:2]):
        enc = tokenizer(format_prompt(tokenizer, request)[0], return_tensors="pt")
        with torch.no_grad():
            logprobs = torch.log_softmax(model(**enc).logits[0, -1].float(), dim=-1)
        expected = np.zeros(6)
        for i in logprobs.topk(20).indices.tolist():
            text = tokenizer.decode([i]).strip()
            if text.isdigit() and int(text) <= 5:
                expected[int(text)] += math.exp(logprobs[i])
        assert expected.sum() > 0.1  # Gemma does answer with digits here
        np.testing.assert_allclose(row, expected, rtol=1e-4, atol=1e-6)


# ----------------------------------------------------------------------------- scripted servers


def test_load_backend_by_name_checks_the_model_list() -> None:
    with FakeServer(scripted_handler([OK], models=(200, {}, models_listing(["m1", "m2"])))) as server:
        backend = load_backend("openai", "m1", base_url=server.url + "/")
        assert isinstance(backend, OpenAIBackend) and backend.name == "openai"
        assert backend.generate([Request("s", "u")]) == ["42"]
        assert "Authorization" not in server.calls("/chat/completions")[0].headers
        with pytest.raises(BackendError, match=r"'m3' is not served by .*available: m1, m2"):
            load_backend("openai", "m3", base_url=server.url)


def test_retries_429_honouring_retry_after() -> None:
    busy = (429, {"Retry-After": "0"}, {"error": {"message": "slow down"}})
    with FakeServer(scripted_handler([busy, busy, OK])) as server:
        backend = OpenAIBackend("m", base_url=server.url, backoff=5.0, check=False)
        start = time.monotonic()
        assert backend.generate([Request("s", "u")]) == ["42"]
        assert time.monotonic() - start < 2.0  # Retry-After: 0 wins over backoff 5 s
        assert len(server.calls("/chat/completions")) == 3


def test_500_forever_fails_after_max_retries(caplog: pytest.LogCaptureFixture) -> None:
    with FakeServer(scripted_handler([(500, {}, {"error": "boom"})])) as server:
        backend = OpenAIBackend("m", base_url=server.url, max_retries=3, backoff=0.01)
        with pytest.raises(BackendError, match=r"4 attempts .* failed, the last with HTTP 500"):
            backend.generate([Request("s", "u")])
        assert len(server.calls("/chat/completions")) == 4
        assert sum("retrying" in r.getMessage() for r in caplog.records) == 3


def test_timeouts_are_retried() -> None:
    with FakeServer(scripted_handler([OK], delay=lambda r: 0.6)) as server:
        backend = OpenAIBackend("m", base_url=server.url, timeout=0.2, max_retries=1, backoff=0.01)
        with pytest.raises(BackendError, match=r"2 attempts .* within 0.2 s \(timeout\)") as caught:
            backend.generate([Request("s", "u")])
        assert "unreachable" not in str(caught.value)  # it answered /models: slow, not gone
        assert len(server.calls("/chat/completions")) == 2


def test_bad_key_names_the_variable_never_the_key(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    key = "sk-test-Zq81xKk3"
    monkeypatch.setenv("MY_LLM_KEY", key)
    caplog.set_level(logging.DEBUG)
    refused = (401, {}, {"error": {"message": f"Incorrect API key provided: {key}"}})
    # At construction: /models refuses the key.
    with FakeServer(scripted_handler([OK], models=refused)) as server:
        with pytest.raises(BackendError) as err:
            OpenAIBackend("m", base_url=server.url, api_key_env="MY_LLM_KEY")
        assert "$MY_LLM_KEY" in str(err.value) and server.url in str(err.value)
        assert key not in str(err.value)
        assert server.received[0].headers["Authorization"] == f"Bearer {key}"
    # During a run: the chat request is refused.
    with FakeServer(scripted_handler([refused])) as server:
        backend = OpenAIBackend("m", base_url=server.url, api_key_env="MY_LLM_KEY", check=False)
        with pytest.raises(BackendError, match=r"refused the API key from \$MY_LLM_KEY \(401") as err:
            backend.generate([Request("s", "u")])
        assert key not in str(err.value)
        assert server.calls("/chat/completions")[0].headers["Authorization"] == f"Bearer {key}"
        assert key not in repr(backend) + str(backend.info())
        assert backend.info()["api_key_env"] == "MY_LLM_KEY"
    # Other errors quote the server's message, with the key scrubbed if the server echoes it.
    with FakeServer(scripted_handler([(400, {}, {"error": f"bad request from {key}"})])) as server:
        backend = OpenAIBackend("m", base_url=server.url, api_key_env="MY_LLM_KEY", check=False)
        with pytest.raises(BackendError, match=r"HTTP 400\): bad request from \*\*\*") as err:
            backend.generate([Request("s", "u")])
        assert key not in str(err.value)
    assert key not in caplog.text


def test_missing_key_says_the_variable_is_not_set() -> None:
    with FakeServer(scripted_handler([OK], models=(403, {}, None))) as server:
        with pytest.raises(BackendError, match=r"requires an API key, but \$OPENAI_API_KEY is not set"):
            OpenAIBackend("m", base_url=server.url)


def test_404_and_other_4xx_errors() -> None:
    missing = (404, {}, {"error": {"message": "The model `m` does not exist"}})
    with FakeServer(scripted_handler([missing])) as server:
        backend = OpenAIBackend("m", base_url=server.url, check=False)
        with pytest.raises(BackendError, match=r"404.*'m' or the base URL .* is wrong.*does not exist"):
            backend.generate([Request("s", "u")])
    long_message = "max_tokens is too large " + "x" * 500
    with FakeServer(scripted_handler([(400, {}, {"error": {"message": long_message}})])) as server:
        backend = OpenAIBackend("m", base_url=server.url, check=False)
        with pytest.raises(BackendError, match=r"HTTP 400\): max_tokens is too large x+…$") as err:
            backend.generate([Request("s", "u")] * 3)
        assert len(str(err.value)) < 400 and "\n" not in str(err.value)


def test_models_404_is_fine_when_a_tiny_chat_works() -> None:
    with FakeServer(scripted_handler([OK], models=(404, {}, None))) as server:
        OpenAIBackend("m", base_url=server.url)
        assert server.calls("/chat/completions")[0].body["max_tokens"] == 1
    with FakeServer(scripted_handler([(404, {}, None)], models=(404, {}, None))) as server:
        with pytest.raises(BackendError, match="not found"):
            OpenAIBackend("m", base_url=server.url)


def test_unreachable_endpoint_fails_at_construction() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(BackendError, match=rf"{url} is unreachable"):
        OpenAIBackend("m", base_url=url)


def test_credentials_in_the_url_are_refused_and_never_echoed() -> None:
    """``user:pw@`` would go out as Basic auth in place of the key, and servers echo headers."""
    for url in ("https://user:hunter2@llm.invalid/v1/", "http://alice:pw@127.0.0.1:9/v1", "http://tok@h/v1"):
        with pytest.raises(BackendError, match="holds a user name or password") as err:
            OpenAIBackend("m", base_url=url, check=False)
        assert (
            "hunter2" not in str(err.value)
            and "alice:pw" not in str(err.value)
            and "tok@" not in str(err.value)
        )
    backend = OpenAIBackend("m", base_url="https://llm.invalid/v1/", check=False)
    info = backend.info()
    assert info["base_url"] == "https://llm.invalid/v1"
    assert (info["backend"], info["model"], info["concurrency"]) == ("openai", "m", "8")
    with pytest.raises(BackendError, match="must start with http"):
        OpenAIBackend("m", base_url="localhost:8000/v1", check=False)


def test_netrc_credentials_never_replace_the_key(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """requests sends ~/.netrc's Basic credentials unless the session has its own auth."""
    (tmp_path / ".netrc").write_text("machine 127.0.0.1 login alice password hunter2\n")
    (tmp_path / ".netrc").chmod(0o600)
    monkeypatch.setenv("NETRC", str(tmp_path / ".netrc"))
    monkeypatch.setenv("HOME", str(tmp_path))
    with FakeServer(scripted_handler([OK])) as server:
        OpenAIBackend("m", base_url=server.url).generate([Request("s", "u")])
        assert all("Authorization" not in r.headers for r in server.received)
        monkeypatch.setenv("MY_LLM_KEY", "sk-test-Zq81xKk3")
        OpenAIBackend("m", base_url=server.url, api_key_env="MY_LLM_KEY").generate([Request("s", "u")])
        assert server.received[-1].headers["Authorization"] == "Bearer sk-test-Zq81xKk3"


def test_every_credential_form_a_server_echoes_is_scrubbed(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    echoed = "headers: Authorization: Basic YWxpY2U6aHVudGVyMg== / Bearer abc.def-ghi, api_key=zz9 hf_ABCDEFGHIJKLMNOPQ"
    caplog.set_level(logging.DEBUG)
    with FakeServer(scripted_handler([(400, {}, {"error": echoed})] * 2)) as server:
        backend = OpenAIBackend("m", base_url=server.url + "?api-key=q9secret", check=False)
        with pytest.raises(BackendError) as err:
            backend.generate([Request("s", "u")])
    shown = str(err.value) + caplog.text + str(backend.info()) + repr(backend)
    for secret in ("YWxpY2U6aHVudGVyMg", "abc.def-ghi", "zz9", "ABCDEFGHIJKLMNOPQ", "q9secret"):
        assert secret not in shown, secret
    assert "Basic ***" in str(err.value) and backend.info()["base_url"].endswith("?api-key=***")
    assert server.received[0].path == "/v1/chat/completions?api-key=q9secret"  # the query stays a query
    logging.getLogger("empathylab.llm.openai").warning("retrying %s", "Bearer sk-live-0123456789abcdef")
    assert "sk-live" not in caplog.text and "Bearer ***" in caplog.text


def test_the_cli_scrubs_what_it_prints(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from empathylab import cli

    def fail(args):
        raise BackendError("the server said: token rejected, Authorization: Bearer sk-proj-abcdefghijklmnop")

    monkeypatch.setattr(cli, "_data_list", fail)
    assert cli.main(["data", "list"]) == 2
    err = capsys.readouterr().err
    assert "abcdefghijklmnop" not in err and "Bearer ***" in err


def test_order_is_kept_and_concurrency_bounded() -> None:
    n = 8

    def echo(received):
        return 200, {}, chat_answer(received.body["messages"][1]["content"])

    def later_first(received):  # request i answers after (n - i) * 40 ms
        return (n - int(received.body["messages"][1]["content"])) * 0.04

    with FakeServer(scripted_handler([echo], delay=later_first)) as server:
        backend = OpenAIBackend("m", base_url=server.url, concurrency=3)
        assert backend.generate([Request("s", str(i)) for i in range(n)]) == [str(i) for i in range(n)]
        assert 1 < server.max_in_flight <= 3


def test_score_maps_whole_number_tokens() -> None:
    canned = top((" 57", 0.5), ("60", 0.2), ("abc", 0.1), ("5", 0.05), ("101", 0.05), ("57", 0.03))
    with FakeServer(scripted_handler([(200, {}, chat_answer("57", logprobs=canned))])) as server:
        backend = OpenAIBackend("m", base_url=server.url, top_logprobs=7)
        probs = backend.score([Request("s", "u")] * 2, scale=100)
        body = server.calls("/chat/completions")[-1].body
        assert (body["logprobs"], body["top_logprobs"], body["max_tokens"]) == (True, 7, 1)
    assert probs.shape == (2, 101)
    expected = np.zeros(101)
    expected[[57, 60, 5]] = [0.53, 0.2, 0.05]
    np.testing.assert_allclose(probs, [expected, expected], atol=1e-12)
    np.testing.assert_allclose(probs.sum(axis=1), 0.78)  # 101 and "abc" are not valid answers


def test_score_digit_only_tokens_and_missing_logprobs() -> None:
    digits = chat_answer("5", logprobs=top(("5", 0.6), ("7", 0.3)))
    merged = chat_answer("57", logprobs=top(("57", 0.6), ("5", 0.3)))
    with FakeServer(scripted_handler([(200, {}, digits), (200, {}, merged), (200, {}, digits)])) as server:
        backend = OpenAIBackend("m", base_url=server.url, concurrency=1)
        with pytest.raises(BackendError, match="needs a local model"):
            backend.score([Request("s", "u")], scale=100)
        backend.score([Request("s", "u")], scale=100)  # a multi-digit token: whole numbers
        probs = backend.score([Request("s", "u")], scale=100)  # now single digits are answers
        np.testing.assert_allclose(probs[0, [5, 7]], [0.6, 0.3])
    with FakeServer(scripted_handler([OK])) as server:
        backend = OpenAIBackend("m", base_url=server.url)
        with pytest.raises(BackendError, match="does not return top log-probabilities"):
            backend.score([Request("s", "u")], scale=100)


def test_a_failed_request_stops_the_retries_of_the_others() -> None:
    script = [(400, {}, {"error": {"message": "bad prompt"}}), (500, {}, None)]
    with FakeServer(scripted_handler(script)) as server:
        backend = OpenAIBackend("m", base_url=server.url, concurrency=3, backoff=5.0, check=False)
        start = time.monotonic()
        with pytest.raises(BackendError, match="bad prompt"):
            backend.generate([Request("s", str(i)) for i in range(3)])
        assert time.monotonic() - start < 2.0  # not the 5 s backoff of the requests that got 500


def test_top_p_is_sent_only_when_set() -> None:
    def echo(received):
        return 200, {}, chat_answer("5, 5, 5, 5, 5, 5")

    with FakeServer(scripted_handler([echo])) as server:
        OpenAIBackend("m", base_url=server.url, top_p=0.01).generate([Request("s", "u")])
        OpenAIBackend("m", base_url=server.url).generate([Request("s", "u")])
        first, second = server.calls("/chat/completions")
        assert (first.body["temperature"], first.body["top_p"]) == (0, 0.01)
        assert "top_p" not in second.body


def test_ctrl_c_against_a_hung_server_stops_at_once_with_one_line(tmp_path, mirror):
    """Queued requests are dropped and retries stopped; the process does not wait for the server."""
    import os
    import subprocess
    import sys
    import time

    import yaml

    hung = scripted_handler([OK], models=(200, {}, models_listing(["m"])), delay=lambda r: 60)
    with FakeServer(hung) as server:
        profile = tmp_path / "hung.yaml"
        profile.write_text(
            yaml.safe_dump(
                {
                    "name": "hung",
                    "output_dir": str(tmp_path / "results"),
                    "stimuli": {"items_per_emotion": 1},
                    "llm": {"backend": "openai", "api": {"base_url": server.url, "concurrency": 2}},
                    "gaps": {"groupings": ["religion"], "variations": ["origin"], "readout": "generate"},
                }
            )
        )
        env = {**os.environ, "TQDM_DISABLE": "1", "OPENAI_API_KEY": "sk-test"}
        cmd = [
            sys.executable,
            "-m",
            "empathylab.cli",
            "gaps",
            "run",
            "--profile",
            str(profile),
            "--model",
            "m",
        ]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while (
            not any(r.path.endswith("/chat/completions") for r in server.received) and time.time() < deadline
        ):
            time.sleep(0.05)
        interrupt(proc, within=5.0)


def test_the_served_model_is_recorded_with_every_chunk(tmp_path) -> None:
    import pandas as pd

    from empathylab.llm import ChunkStore, answer_chunks, provenance, read_metadata

    def ask(texts):
        return pd.DataFrame({"answer": backend.generate([Request("s", t) for t in texts])})

    with FakeServer(scripted_handler([(200, {}, chat_answer("42", model="served-7b"))])) as server:
        backend = OpenAIBackend("m", base_url=server.url, check=False)
        store = ChunkStore(tmp_path, {"task": "t"}, columns=("answer",))
        answer_chunks(store, enumerate([["a"], ["b"]]), ask, lambda: provenance(backend.info()))
    first = read_metadata(next(tmp_path.glob("chunk-*.parquet")))
    assert first["server_model"] == "served-7b" and first["model"] == "m"
