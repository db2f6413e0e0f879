"""The transformers backend: any causal LM, CPU or GPU, with shared-prefix batching.

Scoring (the distribution readout) batches requests by system prompt and length,
computes the longest common token prefix of a batch once (typically the persona's
system prompt and the start of the user prompt) and reuses its key/value cache for
every row, then reads the answer distribution by chaining over the answer tokens
(:class:`~empathylab.readouts.AnswerTrie`) from the cache of the full prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from empathylab.backends import Backend, Request, format_prompt
from empathylab.readouts import AnswerTrie, reading_is_final

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
        from empathylab.models import load_causal_lm, resolve_model

        self.source = resolve_model(model, "causal_lm", revision)
        self.model, self.tokenizer = load_causal_lm(
            model, device=device, revision=revision, dtype=dtype
        )
        self.batch_size = batch_size
        self.share_prefix = share_prefix
        self._tries: dict[tuple[int, str], AnswerTrie] = {}
        self._mode = ""

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
    ) -> list[list[int]]:
        """``indices`` grouped by system prompt and length (longest first), in batches."""
        order = sorted(indices, key=lambda i: (requests[i].system, -len(encoded[i][1])))
        return [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]

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
        by_trie: dict[int, list[int]] = {}
        for i, (text, _) in enumerate(encoded):
            by_trie.setdefault(id(self._trie(text, scale)), []).append(i)
        for members in by_trie.values():
            trie = self._trie(encoded[members[0]][0], scale)
            for batch in self._batches(requests, encoded, members):
                out[batch] = self._score_batch([encoded[i][1] for i in batch], trie)
        return out

    def _score_batch(self, rows: list[list[int]], trie: AnswerTrie) -> np.ndarray:
        """Score rows that share ``trie`` in one forward pass (after an optional prefix pass).

        The answer-trie nodes are appended after each prompt as extra tokens; a 4-D
        attention mask lets each node see the prompt and its own ancestors only, so the
        whole tree is read in the same pass as the prompt, with no cache copies.
        """
        import torch

        device = self.model.device
        n = len(rows)
        shared = _common_prefix(rows) if self.share_prefix and n > 1 else 0
        shared = min(shared, min(len(r) for r in rows) - 1)
        cache = None
        with torch.inference_mode():
            if shared > 0:
                prefix = torch.tensor([rows[0][:shared]], device=device)
                cache = getattr(self.model(input_ids=prefix, use_cache=True), _cache_name(self.model))
                cache.batch_repeat_interleave(n)
            ids, mask, positions = self._tree_inputs(rows, shared, trie)
            logits = self.model(
                input_ids=ids, attention_mask=mask, position_ids=positions,
                use_cache=cache is not None, logits_to_keep=len(trie.nodes),
                **{_cache_name(self.model): cache},
            ).logits  # fmt: skip
            needed = torch.as_tensor(trie.needed_tokens, device=device)
            # The normaliser over the whole vocabulary in the model's precision (a float64
            # copy of every logit costs more than the forward pass); the rest in float64.
            norm = torch.logsumexp(logits.float(), dim=-1, keepdim=True).double()
            logprobs = logits[..., needed].double() - norm
        columns = trie.needed_tokens
        return np.stack([trie.answer_probabilities(lp, columns) for lp in logprobs.cpu().numpy()])

    def _tree_inputs(self, rows: list[list[int]], shared: int, trie: AnswerTrie) -> tuple:
        """Input ids, 4-D mask and positions for prompts (after ``shared`` cached tokens) + trie."""
        import torch

        device = self.model.device
        suffixes = [r[shared:] for r in rows]
        width = max(len(s) for s in suffixes)
        branch = [t for t in trie.token[1:]]
        q = width + len(branch)
        pad = self.tokenizer.pad_token_id
        ids = torch.tensor(
            [[pad] * (width - len(s)) + s + branch for s in suffixes], device=device
        )
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
        mask = torch.cat(
            [torch.ones(len(rows), q, shared, dtype=torch.bool, device=device), local], 2
        )[:, None]
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
        self, requests: Sequence[Request], max_new_tokens: int = 128, stop_early: int | None = None
    ) -> list[str]:
        """Return greedy responses in request order.

        ``stop_early=S`` stops a row as soon as :func:`~empathylab.readouts.reading_is_final`
        says more text cannot change its reading on a 0..S scale; the stored response is
        then shorter than the paper's 128 tokens but reads the same. ``None``: no early stop.
        """
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        encoded = self._encode(requests)
        out = [""] * len(requests)
        tokenizer = self.tokenizer
        for batch in self._batches(requests, encoded, range(len(requests))):
            rows = [encoded[i][1] for i in batch]
            width = max(len(r) for r in rows)
            pad = tokenizer.pad_token_id
            ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=self.model.device)
            mask = (torch.arange(width)[None, :] >= torch.tensor([width - len(r) for r in rows])[:, None])
            criteria = StoppingCriteriaList()
            if stop_early is not None:

                class _Final(StoppingCriteria):
                    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                        texts = tokenizer.batch_decode(input_ids[:, width:], skip_special_tokens=True)
                        done = [reading_is_final(t, stop_early) for t in texts]
                        return torch.tensor(done, device=input_ids.device)

                criteria.append(_Final())
            with torch.inference_mode():
                generated = self.model.generate(
                    input_ids=ids, attention_mask=mask.long().to(self.model.device),
                    max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad,
                    stopping_criteria=criteria, top_p=None, top_k=None, temperature=None,
                )  # fmt: skip
            texts = tokenizer.batch_decode(generated[:, width:], skip_special_tokens=True)
            for i, text in zip(batch, texts):
                out[i] = text
        return out

    # ------------------------------------------------------------------ provenance

    def info(self) -> dict[str, str]:
        """Return the model's provenance plus this backend's settings and prompt mode."""
        import hashlib

        from empathylab.models import model_info

        template = getattr(self.tokenizer, "chat_template", None) or ""
        return {
            "backend": self.name,
            **model_info(self.model, self.tokenizer, self.source),
            "device": str(self.model.device),
            "prompt_mode": self._mode
            or format_prompt(self.tokenizer, Request("s", "u"))[1],
            "chat_template_sha256": hashlib.sha256(template.encode()).hexdigest()[:16],
            "batch_size": str(self.batch_size),
            "share_prefix": str(self.share_prefix),
        }


def _cache_name(model: Any) -> str:
    """The name of the key/value cache in ``model.forward`` and its output.

    transformers 5 renamed ``past_key_values`` to ``cache`` (the old name warns on every
    call, and goes in 5.40); older versions know only ``past_key_values``.
    """
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _common_prefix(rows: list[list[int]]) -> int:
    first = rows[0]
    length = min(len(r) for r in rows)
    for row in rows[1:]:
        i = 0
        while i < length and row[i] == first[i]:
            i += 1
        length = i
    return length
