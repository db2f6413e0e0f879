"""The transformers backend: any causal LM, CPU or GPU, with shared-prefix batching.

Both readouts batch requests by system prompt and length and share prefixes at two
levels: the longest token prefix common to all requests of one system prompt (the
persona's system prompt and the start of the user prompt) is computed once and its
key/value cache kept, across batches and calls, until another prefix replaces it; a
batch whose rows share more extends that cache by its own common tokens once, for all
its rows. Scoring then reads the answer distribution by chaining over the answer tokens
(:class:`~empathylab.llm.trie.AnswerTrie`) in the same pass as the rest of the prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from empathylab.llm.backend import Backend, Request, format_prompt
from empathylab.llm.trie import AnswerTrie

__all__ = ["TransformersBackend"]


class TransformersBackend(Backend):
    """A Hugging Face causal LM: ``embedded:gemma-3-270m``, a local folder or a hub id.

    ``batch_size`` rows are scored or generated together; ``share_prefix=False``
    turns the shared-prefix cache off (a plain batched forward, for comparison).
    """

    name = "transformers"

    def __init__(
        self,
        model: str,
        *,
        device: str = "auto",
        dtype: Any = None,
        revision: str | None = None,
        batch_size: int = 16,
        share_prefix: bool = True,
    ) -> None:
        from empathylab.llm.weights import load_causal_lm, resolve_model

        self.source = resolve_model(model, "causal_lm", revision)
        self.model, self.tokenizer = load_causal_lm(model, device=device, revision=revision, dtype=dtype)
        self.batch_size = batch_size
        self.share_prefix = share_prefix
        self._tries: dict[tuple[int, str], AnswerTrie] = {}
        self._mode = ""
        self._prefix: tuple[tuple, Any] = ((), None)  # (dtype, device, *prefix tokens), its cache
        self._head: Any = None  # the output layer's weight, False when it is not plain

    # ------------------------------------------------------------------ prompts

    def _encode(self, requests: Sequence[Request]) -> list[tuple[str, list[int]]]:
        out = []
        for request in requests:
            text, self._mode = format_prompt(self.tokenizer, request)
            # A chat template writes the BOS token itself; plain text needs it added.
            special = self._mode == "plain"
            ids = self.tokenizer(text, add_special_tokens=special)["input_ids"]
            out.append((text, ids))
        return out

    def _batches(
        self, requests: Sequence[Request], encoded: list, indices: Sequence[int]
    ) -> list[tuple[int, list[int]]]:
        """``indices`` grouped by system prompt, longest first, in batches of one group.

        Returns ``(base, batch)`` pairs: ``base`` is the number of leading tokens that
        every request of the batch's group shares (0 with ``share_prefix=False``).
        """
        groups: dict[str, list[int]] = {}
        for i in sorted(indices, key=lambda i: (requests[i].system, -len(encoded[i][1]))):
            groups.setdefault(requests[i].system, []).append(i)
        out = []
        for members in groups.values():
            rows = [encoded[i][1] for i in members]
            base = _shared_length(rows) if self.share_prefix else 0
            size = self.batch_size
            out += [(base, members[i : i + size]) for i in range(0, len(members), size)]
        return out

    def _prefix_cache(self, rows: list[list[int]], base: int) -> tuple[int, Any]:
        """Return ``(shared, cache)``: the key/value cache of the rows' common first tokens.

        The first ``base`` tokens come from the kept cache (computed once per prefix);
        the batch's further common tokens extend a copy of it. The cache is repeated for
        every row; ``(0, None)`` when the rows share nothing or sharing is off.
        """
        import copy

        import torch

        shared = _shared_length(rows) if self.share_prefix else 0
        base = min(base, shared)
        if shared == 0:
            return 0, None
        name = _cache_name(self.model)
        device = self.model.device
        # the kept cache is only valid for the model's current precision and device
        key = (str(self.model.dtype), str(device), *rows[0][:base])
        with torch.inference_mode():
            if base and self._prefix[0] != key:
                prefix = torch.tensor([rows[0][:base]], device=device)
                self._prefix = (key, getattr(self.model(input_ids=prefix, use_cache=True), name))
            cache = copy.deepcopy(self._prefix[1]) if base else None
            if shared > base:
                more = torch.tensor([rows[0][base:shared]], device=device)
                cache = getattr(self.model(input_ids=more, use_cache=True, **{name: cache}), name)
        cache.batch_repeat_interleave(len(rows))
        return shared, cache

    def _trie(self, text: str, scale: int) -> AnswerTrie:
        # How an answer tokenizes depends only on the last characters of the prompt,
        # which every prompt of a variation shares ("...Emotion intensity: ").
        key = (scale, text[-24:])
        if key not in self._tries:
            self._tries[key] = AnswerTrie.from_tokenizer(self.tokenizer, text, scale)
        return self._tries[key]

    # ------------------------------------------------------------------ scoring

    def score(self, requests: Sequence[Request], scale: int) -> np.ndarray:
        """Return P(answer = a) for a = 0..scale, one row per request, in request order."""
        encoded = self._encode(requests)
        out = np.zeros((len(requests), scale + 1))
        for trie, members in self._by_trie(encoded, scale):
            for base, batch in self._batches(requests, encoded, members):
                out[batch] = self._score_batch([encoded[i][1] for i in batch], trie, base)[0]
        return out

    def _by_trie(self, encoded: list, scale: int) -> list[tuple[AnswerTrie, list[int]]]:
        """The requests' indices grouped by the answer trie their prompt ending gives."""
        groups: dict[int, tuple[AnswerTrie, list[int]]] = {}
        for i, (text, _) in enumerate(encoded):
            trie = self._trie(text, scale)
            groups.setdefault(id(trie), (trie, []))[1].append(i)
        return list(groups.values())

    def _score_batch(
        self, rows: list[list[int]], trie: AnswerTrie, base: int = 0, *, keep: bool = False
    ) -> tuple[np.ndarray, Any]:
        """Score rows that share ``trie`` in one forward pass (after an optional prefix pass).

        The answer-trie nodes are appended after each prompt as extra tokens; a 4-D
        attention mask lets each node see the prompt and its own ancestors only, so the
        whole tree is read in the same pass as the prompt, with no cache copies. Returns the
        probabilities and, with ``keep``, the pass's ``(cache, attention, logits, last)`` for
        greedy decoding after the prompts (:class:`_Rows`): the tree's tokens cut from the
        cache, the next-token logits and the position of each prompt's last token; else None.
        """
        import torch

        device = self.model.device
        shared, cache = self._prefix_cache(rows, base)
        needed = torch.as_tensor(trie.needed_tokens, device=device)
        branch = len(trie.nodes) - 1
        with torch.inference_mode():
            ids, mask, positions = self._tree_inputs(rows, shared, trie)
            inputs = {
                "input_ids": ids,
                "attention_mask": mask,
                "position_ids": positions,
                "use_cache": keep or cache is not None,
            }
            norm, picked, first, cache = self._read_head(inputs, cache, branch + 1, needed, following=keep)
            logprobs = (picked - norm).cpu().numpy()
        probabilities = np.stack([trie.answer_probabilities(lp, trie.needed_tokens) for lp in logprobs])
        if not keep:
            return probabilities, None
        cache.crop(-branch)  # the answer tree's tokens: the prompts' cache remains
        width = ids.shape[1] - branch
        lengths = torch.tensor([len(r) - shared for r in rows], device=device)
        real = torch.arange(width, device=device)[None, :] >= (width - lengths)[:, None]
        attention = torch.cat([real.new_ones(len(rows), shared), real], 1).long()
        return probabilities, (cache, attention, first, positions[:, width - 1])

    def _read_head(
        self, inputs: dict, cache: Any, keep: int, needed: Any, *, following: bool = False
    ) -> tuple[Any, Any, Any, Any]:
        """Return the log normaliser and the ``needed`` logits at the last ``keep`` positions.

        Both in float64, followed, with ``following``, by the whole vocabulary's logits at
        the first of those positions (where greedy text starts; float32, else None) and the
        key/value cache the pass leaves (None unless ``inputs`` ask for one). Where the output layer is a plain linear
        map (checked once against the model's own logits), the vocabulary is read in slices
        of :data:`HEAD_SLICE` words, each slice's ``logsumexp`` taken while it is in cache:
        the logits of the whole vocabulary (11 positions x 262,144 words per row for Gemma)
        are never written to memory, which makes the output layer 1.4 x faster on a CPU.
        """
        import torch

        name = _cache_name(self.model)
        weight = self._plain_head()
        if weight is None:
            output = self.model(**inputs, logits_to_keep=keep, **{name: cache})
            logits = output.logits
            # The normaliser over the whole vocabulary in the model's precision (a float64
            # copy of every logit costs more than the forward pass); the rest in float64.
            norm = torch.logsumexp(logits.float(), dim=-1, keepdim=True).double()
            first = logits[:, 0].float() if following else None
            return norm, logits[..., needed].double(), first, getattr(output, name, None)
        decoder = self.model.get_decoder()
        output = decoder(**inputs, **{_cache_name(decoder): cache})
        hidden = output.last_hidden_state[:, -keep:]
        norm, picked = _sliced_head(hidden, weight, needed)
        first = torch.nn.functional.linear(hidden[:, :1], weight)[:, 0].float() if following else None
        return norm, picked, first, getattr(output, _cache_name(decoder), None)

    def _plain_head(self) -> Any:
        """The output layer's weight when logits are ``hidden @ weight.T`` and nothing else.

        Decided once, by comparing the sliced reading with the model's own logits on a
        short input; models that scale, cap or bias their logits keep the full path.
        """
        import torch

        if self._head is None:
            head = self.model.get_output_embeddings()
            self._head = False
            if isinstance(head, torch.nn.Linear) and head.bias is None and hasattr(self.model, "get_decoder"):
                ids = torch.tensor([[self.tokenizer.bos_token_id or 0, 1, 2, 3]], device=self.model.device)
                needed = torch.arange(min(64, head.out_features), device=self.model.device)
                with torch.inference_mode():
                    logits = self.model(input_ids=ids).logits[:, -2:].float()
                    decoder = self.model.get_decoder()
                    norm, picked = _sliced_head(
                        decoder(input_ids=ids).last_hidden_state[:, -2:], head.weight, needed
                    )
                expected = logits[..., needed].double() - torch.logsumexp(logits, -1, keepdim=True).double()
                if torch.allclose(picked - norm, expected, atol=1e-3):
                    self._head = head.weight
        return self._head if self._head is not False else None

    def _tree_inputs(self, rows: list[list[int]], shared: int, trie: AnswerTrie) -> tuple:
        """Input ids, 4-D mask and positions for prompts (after ``shared`` cached tokens) + trie."""
        import torch

        device = self.model.device
        suffixes = [r[shared:] for r in rows]
        width = max(len(s) for s in suffixes)
        branch = [t for t in trie.token[1:]]
        q = width + len(branch)
        pad = self.tokenizer.pad_token_id
        ids = torch.tensor([[pad] * (width - len(s)) + s + branch for s in suffixes], device=device)
        lengths = torch.tensor([len(s) for s in suffixes], device=device)
        # ancestors[t, u]: branch node u (1-based in trie order) is node t or an ancestor of it
        k = len(branch)
        ancestors = torch.zeros(k, k, dtype=torch.bool)
        for t in range(1, k + 1):
            node = t
            while node > 0:
                ancestors[t - 1, node - 1] = True
                node = trie.parent[node]
        col = torch.arange(width, device=device)
        real = col[None, :] >= (width - lengths)[:, None]  # (n, width) real suffix keys
        causal = col[:, None] >= col[None, :]  # (width, width)
        suffix_q = (causal[None] & real[:, None, :]) | torch.eye(width, dtype=torch.bool, device=device)[None]
        top = torch.cat([suffix_q, torch.zeros(len(rows), width, k, dtype=torch.bool, device=device)], 2)
        bottom = torch.cat(
            [real[:, None, :].expand(-1, k, -1), ancestors.to(device)[None].expand(len(rows), -1, -1)], 2
        )
        local = torch.cat([top, bottom], 1)  # (n, q, q)
        mask = torch.cat([torch.ones(len(rows), q, shared, dtype=torch.bool, device=device), local], 2)[
            :, None
        ]
        if self.model.config._attn_implementation == "eager":
            mask = torch.zeros(mask.shape, dtype=self.model.dtype, device=device).masked_fill(
                ~mask, torch.finfo(self.model.dtype).min
            )
        depth = torch.tensor([len(trie.nodes[t]) for t in range(1, k + 1)], device=device)
        suffix_pos = (shared + (col[None, :] - (width - lengths)[:, None])).clamp(min=shared)
        branch_pos = (shared + lengths - 1)[:, None] + depth[None, :]
        return ids, mask, torch.cat([suffix_pos, branch_pos], 1)

    # ------------------------------------------------------------------ generation

    def generate(
        self,
        requests: Sequence[Request],
        max_new_tokens: int = 128,
        stop: Callable[[str], bool] | None = None,
    ) -> list[str]:
        """Return greedy responses in request order.

        ``stop`` (a function of the decoded response so far) stops a row as soon as it
        returns True, e.g. when more text cannot change the response's reading; the response
        is then shorter than ``max_new_tokens`` but reads the same. ``None``: no early stop.

        Each batch's prompts are read in one pass (after the cached system-prompt prefix);
        then batches write their answers together, as many as ``DECODE_BUDGET`` bytes
        of key/value cache hold, each row leaving as soon as it is finished.
        """
        encoded = self._encode(requests)
        out = [""] * len(requests)
        batches = self._batches(requests, encoded, range(len(requests)))
        if not self._plain_greedy():
            for base, batch in batches:
                ids, mask, width, shared, cache = self._generate_inputs(encoded, batch, base)
                texts = self._hf_generate(ids, mask, width, cache, max_new_tokens, stop)
                for i, text in zip(batch, texts):
                    out[i] = text
            return out
        read = (self._prefill(batch, *self._generate_inputs(encoded, batch, base)) for base, batch in batches)
        for states in _decode_groups(read, max_new_tokens):
            for state in _merged(states):
                for i, text in zip(state.rows, self._decode(state, max_new_tokens, stop)):
                    out[i] = text
        return out

    def score_and_generate(
        self,
        requests: Sequence[Request],
        scale: int,
        max_new_tokens: int = 128,
        stop: Callable[[str], bool] | None = None,
    ) -> tuple[np.ndarray, list[str]]:
        """Return :meth:`score`'s array and :meth:`generate`'s responses, each prompt read once.

        The distribution readout's pass over a batch (prompts and answer tree together)
        also leaves the prompts' key/value cache and the next-token logits after each
        prompt: the answer tree's tokens are cut from the cache and greedy decoding goes
        on from there, as :meth:`generate` does after reading the prompts. A batch whose
        cache cannot be cut (a sliding window already full) reads its prompts twice.
        """
        if not self._plain_greedy():
            return super().score_and_generate(requests, scale, max_new_tokens, stop)
        encoded = self._encode(requests)
        probabilities = np.zeros((len(requests), scale + 1))
        texts = [""] * len(requests)
        for trie, members in self._by_trie(encoded, scale):
            read = (
                self._score_and_prefill(encoded, batch, trie, base, probabilities)
                for base, batch in self._batches(requests, encoded, members)
            )
            for states in _decode_groups(read, max_new_tokens):
                for state in _merged(states):
                    for i, text in zip(state.rows, self._decode(state, max_new_tokens, stop)):
                        texts[i] = text
        return probabilities, texts

    def _score_and_prefill(
        self, encoded: list, batch: list[int], trie: AnswerTrie, base: int, probabilities: np.ndarray
    ) -> _Rows:
        """Score one batch into ``probabilities`` and return its rows ready to write."""
        rows = [encoded[i][1] for i in batch]
        if not _croppable(self.model, max(len(r) for r in rows) + len(trie.nodes) - 1):
            probabilities[batch] = self._score_batch(rows, trie, base)[0]
            return self._prefill(batch, *self._generate_inputs(encoded, batch, base))
        probabilities[batch], kept = self._score_batch(rows, trie, base, keep=True)
        return _Rows(list(batch), *kept)

    def _generate_inputs(self, encoded: list, batch: list[int], base: int) -> tuple:
        """Return ``(ids, mask, width, shared, cache)`` of one batch for generation.

        The layout is [shared prefix (cached)][left padding][rest of the prompt]: the padding
        sits after the cached prefix, masked out, and positions count real tokens only.
        """
        import torch

        rows = [encoded[i][1] for i in batch]
        shared, cache = self._prefix_cache(rows, base)
        rest = [r[shared:] for r in rows]
        width = shared + max(len(r) for r in rest)
        pad = self.tokenizer.pad_token_id
        ids = torch.tensor(
            [rows[0][:shared] + [pad] * (width - shared - len(r)) + r for r in rest], device=self.model.device
        )
        col = torch.arange(width)[None, :]
        mask = (col < shared) | (col >= torch.tensor([width - len(r) for r in rest])[:, None])
        return ids, mask, width, shared, cache

    def _prefill(self, batch: list[int], ids: Any, mask: Any, width: int, shared: int, cache: Any) -> _Rows:
        """Read one batch's prompts (after the cached prefix); return the rows ready to write."""
        import torch

        name = _cache_name(self.model)
        attention = mask.long().to(ids.device)
        positions = (attention.cumsum(-1) - 1).masked_fill(attention == 0, 1)
        with torch.inference_mode():
            output = self.model(
                input_ids=ids[:, shared:],
                attention_mask=attention,
                position_ids=positions[:, shared:],
                use_cache=True,
                logits_to_keep=1,
                **{name: cache},
            )
        return _Rows(
            list(batch), getattr(output, name), attention, output.logits[:, -1].float(), positions[:, -1]
        )

    def _decode(self, state: _Rows, max_new_tokens: int, stop: Callable[[str], bool] | None) -> list[str]:
        """Greedy decoding that drops each row from the batch as soon as it is finished.

        A row ends at an end-of-sequence token or when ``stop`` holds for its text, as in
        ``model.generate``; the rows still writing go on in a smaller batch (their key/value
        cache is cut to them), so a batch costs the sum of its answers' lengths rather than
        its longest answer times its size: an instruction-tuned model that now and then
        writes 128 tokens no longer holds its finished rows in every step.
        """
        import torch

        tokenizer, name = self.tokenizer, _cache_name(self.model)
        eos = self.model.generation_config.eos_token_id
        eos = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
        cache, attention, logits, last = state.cache, state.attention, state.logits, state.last
        alive = list(range(len(state.rows)))
        written: list[list[int]] = [[] for _ in alive]
        with torch.inference_mode():
            for step in range(max_new_tokens):
                chosen = logits.argmax(-1)
                keep = []
                for j, row in enumerate(alive):
                    token = int(chosen[j])
                    if token in eos:
                        continue
                    written[row].append(token)
                    if stop is None or not stop(tokenizer.decode(written[row], skip_special_tokens=True)):
                        keep.append(j)
                if not keep or step == max_new_tokens - 1:
                    break
                if len(keep) < len(alive):
                    index = torch.tensor(keep, device=chosen.device)
                    cache.batch_select_indices(index)
                    attention, chosen, last = attention[index], chosen[index], last[index]
                    alive = [alive[j] for j in keep]
                attention = torch.cat([attention, attention.new_ones(len(alive), 1)], 1)
                last = last + 1
                output = self.model(
                    input_ids=chosen[:, None],
                    attention_mask=attention,
                    position_ids=last[:, None],
                    use_cache=True,
                    logits_to_keep=1,
                    **{name: cache},
                )
                cache, logits = getattr(output, name), output.logits[:, -1].float()
        return tokenizer.batch_decode(written, skip_special_tokens=True)

    def _hf_generate(
        self,
        ids: Any,
        mask: Any,
        width: int,
        cache: Any,
        max_new_tokens: int,
        stop: Callable[[str], bool] | None,
    ) -> list[str]:
        """``model.generate`` (greedy): for models whose generation config changes the scores."""
        import torch
        from transformers import StoppingCriteriaList

        tokenizer, device = self.tokenizer, self.model.device
        criteria = StoppingCriteriaList()
        if stop is not None:
            criteria.append(_stop_when(tokenizer, width, stop))
        kept = {_cache_name(self.model): cache} if cache is not None else {}
        with torch.inference_mode():
            generated = self.model.generate(
                input_ids=ids,
                attention_mask=mask.long().to(device),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                stopping_criteria=criteria,
                top_p=None,
                top_k=None,
                temperature=None,
                **kept,
            )
        return tokenizer.batch_decode(generated[:, width:], skip_special_tokens=True)

    def _plain_greedy(self) -> bool:
        """True when greedy decoding is the argmax of the model's logits at every step.

        That is, when the model's generation config sets nothing that changes the scores
        before the choice (a repetition penalty, banned or forced tokens, a minimum length),
        so :meth:`_decode` gives what ``model.generate`` gives.
        """
        config = self.model.generation_config
        neutral = {
            "repetition_penalty": (None, 1.0),
            "encoder_repetition_penalty": (None, 1.0),
            "no_repeat_ngram_size": (None, 0),
            "bad_words_ids": (None,),
            "suppress_tokens": (None,),
            "begin_suppress_tokens": (None,),
            "forced_bos_token_id": (None,),
            "forced_eos_token_id": (None,),
            "min_length": (None, 0),
            "min_new_tokens": (None, 0),
            "sequence_bias": (None,),
            "exponential_decay_length_penalty": (None,),
            "renormalize_logits": (None, False),
            "num_beams": (None, 1),
        }
        return all(getattr(config, key, None) in values for key, values in neutral.items())

    # ------------------------------------------------------------------ provenance

    def info(self) -> dict[str, str]:
        """Return the model's provenance plus this backend's settings and prompt mode."""
        import hashlib

        from empathylab.llm.weights import model_info

        template = getattr(self.tokenizer, "chat_template", None) or ""
        return {
            "backend": self.name,
            **model_info(self.model, self.tokenizer, self.source),
            "device": str(self.model.device),
            "prompt_mode": self._mode or format_prompt(self.tokenizer, Request("s", "u"))[1],
            "chat_template_sha256": hashlib.sha256(template.encode()).hexdigest()[:16],
            "batch_size": str(self.batch_size),
            "share_prefix": str(self.share_prefix),
        }


#: Bytes of key/value cache that batches writing their answers together may hold (their
#: prompts' cache and room for every new token): rows that finish early leave, so the long
#: answers of several batches share one tail of small steps instead of each batch paying
#: its own. SmolLM2-135M's batches of 16 need about 0.2 GB each; an 8B model's, 1.5 GB.
DECODE_BUDGET = 2 * 2**30


def _decode_groups(states: Iterable[_Rows], max_new_tokens: int) -> Iterator[list[_Rows]]:
    """Group consecutive read batches whose caches, grown by ``max_new_tokens``, fit ``DECODE_BUDGET``.

    Every group holds at least one batch; batches are read only as the groups need them.
    """
    group: list[_Rows] = []
    used = 0
    for state in states:
        layers = getattr(state.cache, "layers", [])
        per_token = sum(2 * layer.keys[:1, :, :1].nbytes for layer in layers if layer.keys is not None)
        size = per_token * len(state.rows) * (state.attention.shape[1] + max_new_tokens)
        if group and used + size > DECODE_BUDGET:
            yield group
            group, used = [], 0
        group.append(state)
        used += size
    if group:
        yield group


@dataclass
class _Rows:
    """Rows of a generate call after reading their prompts: what :meth:`TransformersBackend._decode` needs."""

    rows: list[int]  #: request indices, in row order
    cache: Any  #: key/value cache of the prompts
    attention: Any  #: (rows, cached tokens) mask: 1 for real tokens
    logits: Any  #: next-token logits after each prompt
    last: Any  #: position of each prompt's last token


def _merged(states: list[_Rows]) -> list[_Rows]:
    """Return ``states`` as one, their caches left-padded to one length, where every cache layer allows it.

    Positions travel with each row and the padding is masked out, so a row reads the
    same keys and values as alone. Sliding-window caches (Gemma 3) keep their own
    bookkeeping of lengths and are not merged: they are returned as they are.
    """
    import torch
    from transformers.cache_utils import DynamicLayer

    if len(states) < 2 or not all(
        all(type(layer) is DynamicLayer for layer in getattr(s.cache, "layers", [None])) for s in states
    ):
        return states
    length = max(s.attention.shape[1] for s in states)

    def left(tensor: Any, dim: int) -> Any:
        missing = length - tensor.shape[dim]
        if missing == 0:
            return tensor
        shape = list(tensor.shape)
        shape[dim] = missing
        return torch.cat([tensor.new_zeros(shape), tensor], dim)

    cache = states[0].cache
    for k, layer in enumerate(cache.layers):
        layer.keys = torch.cat([left(s.cache.layers[k].keys, -2) for s in states], 0)
        layer.values = torch.cat([left(s.cache.layers[k].values, -2) for s in states], 0)
    return [
        _Rows(
            [i for s in states for i in s.rows],
            cache,
            torch.cat([left(s.attention, 1) for s in states], 0),
            torch.cat([s.logits for s in states], 0),
            torch.cat([s.last for s in states], 0),
        )
    ]


def _croppable(model: Any, tokens: int) -> bool:
    """True when a cache of ``tokens`` tokens can lose its last ones: every sliding window
    of the model (Gemma 3's local layers) is still longer than that."""
    windows = [
        w
        for config in (model.config, getattr(model.config, "text_config", None))
        for w in [getattr(config, "sliding_window", None)]
        if isinstance(w, int)
    ]
    return all(tokens < w for w in windows)


#: Vocabulary words per slice of the sliced output layer (fastest of 512-8192 on a CPU).
HEAD_SLICE = 2048


def _sliced_head(hidden: Any, weight: Any, needed: Any) -> tuple[Any, Any]:
    """Return ``logsumexp(hidden @ weight.T)`` (keepdim) and the ``needed`` columns, float64.

    The vocabulary is read :data:`HEAD_SLICE` rows of ``weight`` at a time on a CPU (in
    one piece elsewhere), and the slices' normalisers combined.
    """
    import torch

    step = HEAD_SLICE if hidden.device.type == "cpu" else weight.shape[0]
    parts = [
        torch.logsumexp(torch.nn.functional.linear(hidden, weight[i : i + step]).float(), -1)
        for i in range(0, weight.shape[0], step)
    ]
    norm = torch.logsumexp(torch.stack(parts, -1), -1, keepdim=True).double()
    picked = torch.nn.functional.linear(hidden, weight[needed]).double()
    return norm, picked


def _cache_name(model: Any) -> str:
    """The name of the key/value cache in ``model.forward`` and its output.

    transformers 5 renamed ``past_key_values`` to ``cache`` (the old name warns on every
    call, and goes in 5.40); older versions know only ``past_key_values``.
    """
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _shared_length(rows: list[list[int]]) -> int:
    """The rows' common prefix, less one token: every row keeps a token of its own."""
    return max(0, min(_common_prefix(rows), min(len(r) for r in rows) - 1))


def _common_prefix(rows: list[list[int]]) -> int:
    first = rows[0]
    length = min(len(r) for r in rows)
    for row in rows[1:]:
        i = 0
        while i < length and row[i] == first[i]:
            i += 1
        length = i
    return length


def _stop_when(tokenizer: Any, width: int, stop: Callable[[str], bool]) -> Any:
    """Return a transformers stopping criterion: a row ends once ``stop`` holds for its text."""
    import torch
    from transformers import StoppingCriteria

    class StopWhen(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            texts = tokenizer.batch_decode(input_ids[:, width:], skip_special_tokens=True)
            return torch.tensor([bool(stop(t)) for t in texts], device=input_ids.device)

    return StopWhen()
