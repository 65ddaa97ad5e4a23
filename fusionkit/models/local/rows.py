"""Per-row pieces of one batched ``generate``: stopping, stop strings, streaming.

A batch holds rows with their own budgets, stop strings and callers; transformers sees one
batch. :func:`row_stopper_class` builds the stopping criterion that ends each row on its
own terms, :class:`StreamSink` hands a streaming row's text to the caller's event loop, and
:func:`looping_at` spots a row stuck repeating itself. torch loads lazily (on first use).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Sequence
from typing import Any

from .batching import Job

__all__ = [
    "END",
    "StreamSink",
    "cut_at_stop",
    "loop_breaker_class",
    "loop_period",
    "looping_at",
    "row_stopper_class",
]

#: Put on a stream's queue after its last chunk.
END = object()


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` at the earliest stop string; say whether one was found."""
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


#: A row whose last LOOP_SPAN tokens repeat one span of at most LOOP_MAX_PERIOD tokens (at
#: least four times over) is looping and is stopped. 64 tokens of one repeated phrase is far past anything
#: an ordinary answer writes (a markdown table rule of 12 columns is ~36 tokens), so greedy
#: answers to ordinary prompts are untouched; a 135M model that falls into "the the the"
#: or a repeated sentence stops there instead of burning its whole budget.
LOOP_SPAN = 64
LOOP_MAX_PERIOD = 16


def loop_period(
    ids: Sequence[int], span: int = LOOP_SPAN, max_period: int = LOOP_MAX_PERIOD
) -> int | None:
    """The period of the loop the last ``span`` ids are stuck in, or None.

    Args:
        ids: A row's generated ids so far.
        span: How many trailing ids must be periodic.
        max_period: The longest repeated span looked for (at most ``span // 3``, so a loop
            is always at least three repetitions).

    Returns:
        The shortest period p (ids[-1] == ids[-1 - p] and so on over the span), or None.
    """
    if len(ids) < span:
        return None
    tail = list(ids[-span:])
    for p in range(1, min(max_period, span // 3) + 1):
        if tail[p:] == tail[:-p]:
            return p
    return None


def looping_at(
    ids: Sequence[int], span: int = LOOP_SPAN, max_period: int = LOOP_MAX_PERIOD
) -> bool:
    """True when the last ``span`` ids repeat one span of at most ``max_period`` ids."""
    return loop_period(ids, span, max_period) is not None


#: Schema'd rows are not stopped (that would leave invalid JSON); a loop there is broken
#: instead, sooner (48 tokens, three repeats): the token that would repeat it is banned,
#: so the row must write something else, and its grammar's maxLength ends a string.
SCHEMA_LOOP_SPAN = 48


@functools.cache
def loop_breaker_class() -> type:
    """The loop breaker for schema'd rows, a LogitsProcessor built on first use."""
    import torch
    from transformers import LogitsProcessor

    class LoopBreaker(LogitsProcessor):  # type: ignore[misc]
        """Bans the token that would continue a row's loop (only rows in ``rows``).

        Put it after the grammar mask: a ban that would leave a row no allowed token is
        skipped (the grammar has the last word).

        Args:
            rows: The indices of the rows to guard.
            prompt_len: The padded prompt width (generated ids start there).
        """

        def __init__(self, rows: Sequence[int], prompt_len: int) -> None:
            self.rows = list(rows)
            self.prompt_len = prompt_len
            self.breaks = 0

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            if not self.rows or input_ids.shape[1] - self.prompt_len < SCHEMA_LOOP_SPAN:
                return scores
            tails = input_ids[self.rows, -SCHEMA_LOOP_SPAN:].tolist()
            for row, tail in zip(self.rows, tails, strict=True):
                period = loop_period(tail, SCHEMA_LOOP_SPAN)
                if period is None:
                    continue
                banned = tail[-period]  # what the loop would write next
                if int(torch.isfinite(scores[row]).sum()) > 1:
                    scores[row, banned] = float("-inf")
                    self.breaks += 1
            return scores

    return LoopBreaker


@functools.cache
def row_stopper_class() -> type:
    """The per-row stopping criterion, built on first use so torch loads lazily."""
    import torch
    from transformers import StoppingCriteria

    class RowStopper(StoppingCriteria):  # type: ignore[misc]
        """Stops each row of a batch at its own budget, stop strings, a loop, or cancellation.

        A row with a schema is never stopped for looping: its grammar bounds it, and cutting
        it would leave invalid JSON. Returns one flag per row (transformers ANDs them into its unfinished-rows mask),
        and records when each row ended and when the first token came.
        """

        def __init__(self, jobs: Sequence[Job], prompt_len: int, tokenizer: Any) -> None:
            self.jobs = list(jobs)
            self.prompt_len = prompt_len
            self.tokenizer = tokenizer
            self.ended_at: list[int | None] = [None] * len(jobs)
            self.reason: list[str | None] = [None] * len(jobs)
            self.first_token_at: float | None = None
            # A stop string of n characters spans at most 4n byte-level tokens.
            self.tail = [4 * max((len(s) for s in j.request.stop), default=0) + 2 for j in jobs]
            self.loop_guard = [getattr(j.request, "schema", None) is None for j in jobs]

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            if self.first_token_at is None:
                self.first_token_at = time.perf_counter()
            step = input_ids.shape[1] - self.prompt_len
            live = [i for i, e in enumerate(self.ended_at) if e is None]
            rows: list[list[int]] | None = None
            if any(self.jobs[i].request.stop for i in live):
                rows = input_ids[:, self.prompt_len :].tolist()
            tails: list[list[int]] | None = None
            if step >= LOOP_SPAN and any(self.loop_guard[i] for i in live):
                tails = input_ids[:, -LOOP_SPAN:].tolist()
            for i in live:
                request = self.jobs[i].request
                if self.jobs[i].cancelled.is_set():
                    self.ended_at[i], self.reason[i] = step, "cancelled"
                elif rows is not None and request.stop:
                    tail = self.tokenizer.decode(rows[i][-self.tail[i] :], skip_special_tokens=True)
                    if any(s in tail for s in request.stop):
                        self.ended_at[i], self.reason[i] = step, "stop"
                if self.ended_at[i] is None and tails is not None and self.loop_guard[i]:
                    if looping_at(tails[i]):
                        self.ended_at[i], self.reason[i] = step, "loop"
                if self.ended_at[i] is None and step >= request.max_tokens:
                    self.ended_at[i], self.reason[i] = step, "length"
            flags = [e is not None for e in self.ended_at]
            return torch.tensor(flags, dtype=torch.bool, device=input_ids.device)

    return RowStopper


class StreamSink:
    """Receives a streaming row's tokens in the worker thread; feeds an asyncio queue.

    It duck-types transformers' ``BaseStreamer`` (``put``/``end``). The text it releases is
    always a prefix of the final answer: it stops at a stop string, holds back the last
    characters that could still become one, and holds back an incomplete UTF-8 character.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[Any], tokenizer: Any
    ) -> None:
        self.loop = loop
        self.queue = queue
        self.tokenizer = tokenizer
        self.stops: tuple[str, ...] = ()
        self.ids: list[int] = []
        self.sent = ""
        self.seen_prompt = False
        self.first_token_at: float | None = None

    def _push(self, item: object) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:  # the caller's loop is gone: nobody is listening any more
            pass

    def put(self, value: Any) -> None:
        if not self.seen_prompt:  # generate() first hands over the prompt ids
            self.seen_prompt = True
            return
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        self.ids.extend(int(t) for t in value.reshape(-1).tolist())
        text = self.tokenizer.decode(
            self.ids, skip_special_tokens=True, clean_up_tokenization_spaces=False
        )
        text, found = cut_at_stop(text, self.stops)
        if not found and self.stops:
            text = text[: max(0, len(text) - max(len(s) for s in self.stops) + 1)]
        text = text.rstrip("\ufffd")
        if len(text) > len(self.sent) and text.startswith(self.sent):
            self._push(text[len(self.sent) :])
            self.sent = text

    def end(self) -> None:
        """Called by generate(); the worker sends the end marker after the result is set."""

    def close(self) -> None:
        self._push(END)
