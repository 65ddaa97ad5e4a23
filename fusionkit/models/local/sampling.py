"""Per-row sampling inside one batched greedy ``generate``.

transformers samples a whole batch from one random stream with one temperature, so the
tokens a seeded row draws would depend on the rows beside it. Instead every batch runs
``generate`` greedily, and :func:`row_sampler_class` adds a LogitsProcessor that, for each
*sampling* row, draws the next token itself with the row's own ``torch.Generator`` (seeded
with the request's seed, or a fresh random seed) at the row's own temperature and top_p,
then raises the drawn token's logit to +inf so greedy ``argmax`` picks it. Greedy rows are not
touched, so they give exactly the tokens plain greedy decoding gives.

Consequences:

* One batch serves greedy rows, seeded rows and rows at different temperatures together
  (a vote of five seeded samples costs about one pass).
* The same seed gives the same text alone or inside any batch: a row's draws come only
  from its own generator. (A padded batch sums floating point in another order, so a
  near-tie between two tokens can still fall differently — as for greedy rows.)
* Draws happen on the CPU in float32 from the row's logits, so a seed gives the same
  stream of draws on every device.
* ``top_k``: the checkpoint's ``generation_config.top_k`` (transformers' default 50) is kept
  as today's sampling kept it; it cuts the vocabulary's long tail, which a 135M model
  otherwise samples into.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...types import Request

__all__ = ["RowPolicy", "row_sampler_class"]


@dataclass(frozen=True, slots=True)
class RowPolicy:
    """How one row picks its tokens.

    Attributes:
        temperature: 0 for greedy; else the sampling temperature.
        top_p: Nucleus sampling mass, or None for the whole distribution.
        top_k: Keep only the k likeliest tokens before top_p (None: no cut).
        seed: The generator's seed (a fresh random one for unseeded sampling).
    """

    temperature: float
    top_p: float | None = None
    top_k: int | None = None
    seed: int = 0

    @property
    def greedy(self) -> bool:
        """True for a greedy row (the sampler leaves it alone)."""
        return self.temperature == 0

    @classmethod
    def of(cls, request: Request, top_k: int | None = None) -> RowPolicy:
        """The policy of a request; unseeded sampling gets a fresh random seed."""
        seed = request.seed if request.seed is not None else secrets.randbits(63)
        return cls(request.temperature, request.top_p, top_k or None, seed)


@functools.cache
def row_sampler_class() -> type:
    """The per-row sampler, a LogitsProcessor built on first use (torch loads lazily)."""
    import torch
    from transformers import LogitsProcessor

    class RowSampler(LogitsProcessor):  # type: ignore[misc]
        """Draws each sampling row's next token with its own generator; greedy rows pass.

        Put it last in the processor list: it sees the logits after any grammar mask, and
        gives a sampling row's drawn token the one +inf logit, for greedy argmax.

        Args:
            policies: One policy per row.
        """

        def __init__(self, policies: Sequence[RowPolicy]) -> None:
            self.policies = list(policies)
            self.rows = [i for i, p in enumerate(self.policies) if not p.greedy]
            self.generators = {
                i: torch.Generator().manual_seed(self.policies[i].seed) for i in self.rows
            }

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            if not self.rows:
                return scores
            # generate() hands over a fresh float copy of the logits each step, so it is
            # changed in place; the drawn token gets +inf, which greedy argmax must pick.
            # (Writing only one value per row: filling a whole row with -inf cost ~6 ms
            # per row on a busy 2-core machine, more than the draw itself.)
            for i in self.rows:
                pick = self.draw(scores[i], self.policies[i], self.generators[i])
                scores[i, pick] = float("inf")
            return scores

        @staticmethod
        def draw(logits: Any, policy: RowPolicy, generator: Any) -> int:
            """One token id drawn from one row's logits under its policy.

            Works on the candidates only (the top_k, sorted), so a step costs one top-k
            over the vocabulary and a softmax over k values, not a full sort.
            """
            k = policy.top_k if policy.top_k is not None else logits.shape[-1]
            values, ids = torch.topk(logits, min(k, logits.shape[-1]))  # sorted, largest first
            # The draw itself runs on the CPU with a CPU generator: the same seed gives the
            # same draws on every device.
            values, ids = values.float().cpu(), ids.cpu()
            probs = torch.softmax(values / policy.temperature, dim=-1)
            if policy.top_p is not None and policy.top_p < 1.0:
                before = torch.cumsum(probs, dim=-1) - probs
                probs = probs.masked_fill(before >= policy.top_p, 0.0)  # smallest set >= top_p
            if not bool(torch.isfinite(probs).all()) or float(probs.sum()) <= 0:
                return int(ids[0])  # every token masked: argmax decides
            return int(ids[int(torch.multinomial(probs, 1, generator=generator))])

    return RowSampler
