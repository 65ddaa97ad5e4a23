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
* Draws happen on the CPU (float64, inverse CDF with one uniform number per step from the
  row's CPU generator), so a seed gives the same stream of draws on every device.
* ``top_k``: the checkpoint's ``generation_config.top_k`` where it sets one (SmolLM2's
  does not: the whole distribution, as an OpenAI-style server samples); top_p as asked.
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
    import numpy as np
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
            # The candidates are found with numpy on the CPU (single-threaded: a 49k-wide
            # torch op wakes threads, which costs milliseconds on a busy 2-core machine).
            if scores.device.type == "cpu":
                logits = scores.numpy()
                candidates = [self.top(logits[i], self.policies[i]) for i in self.rows]
            else:
                candidates = [self.top_on_device(scores[i], self.policies[i]) for i in self.rows]
            for i, (values, ids) in zip(self.rows, candidates, strict=True):
                pick = self.draw(values, ids, self.policies[i], self.generators[i])
                scores[i, pick] = float("inf")
            return scores

        @staticmethod
        def top(row: Any, policy: RowPolicy) -> tuple[Any, Any]:
            """The row's candidate logits and ids (numpy).

            With top_k: the k largest, largest first. Else, with top_p: the largest 1024
            when they already hold top_p of the mass (they always do unless the
            distribution is nearly flat), else the whole row, largest first. Else the whole
            row unsorted (inverse-CDF sampling needs no order; a 49k sort costs ~5 ms).
            """
            n = row.shape[0]
            if policy.top_k is not None and policy.top_k < n:
                ids = np.argpartition(row, -policy.top_k)[-policy.top_k :]
            elif policy.top_p is not None and policy.top_p < 1.0:
                ids = np.argpartition(row, -1024)[-1024:] if n > 1024 else np.arange(n)
                weights = np.exp((row.astype(np.float64) - row.max()) / policy.temperature)
                if weights[ids].sum() < policy.top_p * weights.sum():
                    ids = np.arange(n)
            else:
                return row.astype(np.float64), np.arange(n)
            order = np.argsort(-row[ids], kind="stable")
            return row[ids][order].astype(np.float64), ids[order]

        @staticmethod
        def top_on_device(row: Any, policy: RowPolicy) -> tuple[Any, Any]:
            """As :meth:`top`, with torch on the row's device (a GPU), then on the CPU."""
            k = min(policy.top_k or row.shape[0], row.shape[0])
            values, ids = torch.topk(row.float(), k)
            return values.cpu().double().numpy(), ids.cpu().numpy()

        @staticmethod
        def draw(values: Any, ids: Any, policy: RowPolicy, generator: Any) -> int:
            """One token id drawn from sorted candidates under the row's policy.

            Inverse-CDF sampling with one uniform number from the row's generator, so a
            row's stream of draws depends only on its seed.
            """
            u = float(torch.rand((), generator=generator, dtype=torch.float64))
            best = values.max()
            if not np.isfinite(best):
                return int(ids[0])  # every token masked: argmax decides
            weights = np.exp((values - best) / policy.temperature)  # 0 for -inf
            probs = weights / weights.sum()
            if policy.top_p is not None and policy.top_p < 1.0:
                before = np.cumsum(probs) - probs
                probs = np.where(before >= policy.top_p, 0.0, probs)  # smallest set >= top_p
                probs /= probs.sum()
            cdf = np.cumsum(probs)
            return int(ids[min(int(np.searchsorted(cdf, u, side="right")), len(ids) - 1)])

    return RowSampler
