"""Per-token log-probabilities for the rows of a batched ``generate`` that ask for them.

A request with ``logprobs=True`` gets, for each generated token, its natural-log
probability under the model's own distribution at temperature 1: the raw logits, before
any grammar mask, loop ban or sampling bonus. That is the model's confidence in what it
wrote (what a cascade's ``auto`` signal and a vote's tie-break read), whatever picked the
token.

:func:`logprob_recorder_class` builds a LogitsProcessor to put FIRST in the list. At each
step it reads the token the previous step chose (``input_ids[:, -1]``) and records its
log-probability from the previous step's normalizer, then keeps the current step's logits
and normalizer for the asking rows only (one vector per row: no history). The last step's
token is read from ``generate``'s output by :meth:`finish`. Rows that did not ask cost
nothing; a batch with no asking row gets no recorder at all. Padding after a row finished
is recorded too and cut off by the caller at the row's token count.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

__all__ = ["logprob_recorder_class"]


@functools.cache
def logprob_recorder_class() -> type:
    """The log-probability recorder, a LogitsProcessor built on first use (torch loads lazily)."""
    import numpy as np
    import torch
    from transformers import LogitsProcessor

    class LogprobRecorder(LogitsProcessor):  # type: ignore[misc]
        """Records each asking row's chosen-token log-probability under the raw logits.

        Put it first in the processor list: later processors change ``scores`` in place.

        Args:
            rows: Indices of the rows that asked for log-probabilities.
            batch_size: Rows in the batch.
        """

        def __init__(self, rows: Sequence[int], batch_size: int) -> None:
            self.rows = list(rows)
            self.values: list[list[float]] = [[] for _ in range(batch_size)]
            # The previous step's logits of the asking rows and their log-sum-exp.
            self._logits: Any = None
            self._lse: Any = None

        def _take(self, chosen: Sequence[int]) -> None:
            """Record the log-probability of ``chosen[row]`` under the kept step."""
            if self._logits is None:
                return
            picks = [int(chosen[row]) for row in self.rows]
            if self._lse is None:  # on a device: already log-softmaxed there
                index = torch.tensor(picks, device=self._logits.device)
                taken = self._logits.gather(1, index[:, None])[:, 0].tolist()
            else:
                taken = (self._logits[np.arange(len(picks)), picks] - self._lse).tolist()
            for row, value in zip(self.rows, taken, strict=True):
                self.values[row].append(float(value))
            self._logits = self._lse = None

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            if not self.rows:
                return scores
            if self._logits is not None:
                self._take(input_ids[:, -1].tolist())
            if scores.device.type == "cpu":
                # numpy, single-threaded: a 49k-wide torch op wakes threads, which costs
                # milliseconds on a busy small CPU (see sampling.py). float64 so the
                # normalizer of a peaked distribution keeps its digits.
                raw = scores.numpy() if scores.dtype == torch.float32 else scores.float().numpy()
                logits = raw[self.rows].astype(np.float64)
                top = logits.max(axis=1, keepdims=True)
                self._lse = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
                self._logits = logits
            else:  # on a GPU the vectors stay there; only the picked values travel
                self._logits = torch.log_softmax(scores[self.rows].double(), dim=-1)
                self._lse = None
            return scores

        def finish(self, last_tokens: Sequence[int]) -> list[list[float]]:
            """Record the last step's tokens (from ``generate``'s output); the per-row lists.

            Args:
                last_tokens: The token each row got at the last step (one per batch row).

            Returns:
                One list per batch row (empty for rows that did not ask).
            """
            self._take(last_tokens)
            return self.values

    return LogprobRecorder
