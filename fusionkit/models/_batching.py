"""The micro-batcher behind :class:`~fusionkit.models.local.LocalModel`.

Requests that reach one local model at about the same time are served by a single batched
``generate``: on a CPU or a GPU, one forward pass over a batch of 5 costs little more than
a pass over one row, so five concurrent requests finish several times sooner together than
one after another.

How it works:

* Each request becomes a :class:`Job` holding a :class:`concurrent.futures.Future`; the
  async caller awaits it with :func:`asyncio.wrap_future`. Nothing here is bound to an
  event loop, so one model serves the background loop of ``run_sync``, a notebook's own
  loop and plain threads alike.
* Calls made from an event loop hand their jobs over at the end of the loop iteration
  that made them (:meth:`MicroBatcher.submit_from_loop`), so the calls of one
  ``asyncio.gather`` always arrive together; other threads submit directly.
* One worker thread per model takes the oldest job, waits until ``window_s`` has passed
  since that job *arrived* (a job that already waited behind a running ``generate`` starts
  at once), then takes up to ``max_batch_size`` waiting jobs with the same
  :func:`group_key` in arrival order. Jobs of other groups wait for the next round.
* The worker exits after ``idle_s`` without work and is started again by the next
  request, so a model nobody holds any more can be garbage-collected.

Grouping (what may share one ``generate``): every greedy request, whatever its
``max_tokens`` and ``stop`` (the batch runs to the largest budget and each row is stopped
at its own budget and stop strings); unseeded sampling requests with equal temperature and
top_p. A seeded *sampling* request runs alone, because the random stream a row sees depends
on the rows beside it and a seed must give the same answer every time. Streaming requests
run alone too.

The per-row pieces a batched ``generate`` needs live here as well: :func:`row_stopper_class`
(a stopping criterion that ends each row at its own budget, stop strings or cancellation)
and :class:`StreamSink` (hands a streaming row's text from the worker thread to the
caller's event loop).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..types import Request

__all__ = [
    "END",
    "BatchStats",
    "BatcherClosed",
    "Job",
    "MicroBatcher",
    "StreamSink",
    "cut_at_stop",
    "group_key",
    "row_stopper_class",
]


class BatcherClosed(RuntimeError):
    """The micro-batcher (and so its model) was closed."""


@dataclass(slots=True, eq=False)
class Job:
    """One request waiting for (or inside) a batched generate.

    Attributes:
        request: The validated request.
        future: Resolved with the Completion, or with the error, by the worker.
        enqueued_at: ``time.perf_counter()`` when the request arrived.
        stream: For a streaming request, the sink that receives text chunks (else None).
        cancelled: Set by the caller when it stops waiting; the generate stops that row.
    """

    request: Request
    future: concurrent.futures.Future[Any] = field(default_factory=concurrent.futures.Future)
    enqueued_at: float = field(default_factory=time.perf_counter)
    stream: Any = None
    cancelled: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True, slots=True)
class BatchStats:
    """What the micro-batcher did so far (a snapshot).

    Attributes:
        generate_calls: How many ``generate`` calls ran (counted as each starts).
        requests: How many requests they served.
        batch_sizes: The size of every batch, in order.
    """

    generate_calls: int = 0
    requests: int = 0
    batch_sizes: tuple[int, ...] = ()

    @property
    def batched_requests(self) -> int:
        """Requests that shared their ``generate`` with at least one other request."""
        return sum(n for n in self.batch_sizes if n > 1)

    @property
    def max_batch(self) -> int:
        """The largest batch so far (0 before any request)."""
        return max(self.batch_sizes, default=0)


def group_key(job: Job) -> Hashable:
    """Jobs with equal keys may share one ``generate`` (see the module docstring)."""
    r = job.request
    if job.stream is not None:
        return ("alone", id(job))
    if r.temperature == 0:
        # Greedy decoding ignores the seed, so a seeded greedy request (every fusion judge
        # call is one) may share a batch; only seeded *sampling* must run alone.
        return ("greedy",)
    if r.seed is not None:
        return ("alone", id(job))
    return ("sample", r.temperature, r.top_p)


class MicroBatcher:
    """A worker thread that groups waiting jobs into batches and runs them.

    Args:
        run_batch: Called in the worker thread with a list of jobs that may share one
            ``generate``; it must resolve every job's future (result or exception).
        max_batch_size: At most this many jobs per batch.
        window_s: How long the oldest waiting job waits for company, in seconds.
        name: Thread name (for debuggers and ``threading.enumerate()``).
        idle_s: The worker exits after this long without work (restarted on demand).
    """

    def __init__(
        self,
        run_batch: Callable[[list[Job]], None],
        *,
        max_batch_size: int = 8,
        window_s: float = 0.005,
        name: str = "fusionkit-local",
        idle_s: float = 30.0,
    ) -> None:
        self._run_batch = run_batch
        self.max_batch_size = max_batch_size
        self.window_s = window_s
        self.idle_s = idle_s
        self._name = name
        self._cond = threading.Condition()
        self._pending: deque[Job] = deque()
        self._by_loop: dict[asyncio.AbstractEventLoop, list[Job]] = {}
        self._thread: threading.Thread | None = None
        self._closed = False
        self._generate_calls = 0
        self._requests = 0
        self._sizes: list[int] = []

    @property
    def stats(self) -> BatchStats:
        """A snapshot of the counters."""
        with self._cond:
            return BatchStats(self._generate_calls, self._requests, tuple(self._sizes))

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def submit(self, job: Job) -> concurrent.futures.Future[Any]:
        """Queue a job (thread-safe) and return its future.

        Raises:
            BatcherClosed: After :meth:`close`.
        """
        self._enqueue([job])
        return job.future

    def submit_from_loop(
        self, job: Job, loop: asyncio.AbstractEventLoop
    ) -> concurrent.futures.Future[Any]:
        """Queue a job from an event loop; jobs of one loop iteration arrive together.

        ``asyncio.gather(*calls)`` starts its tasks in one iteration of the loop, so their
        jobs are handed over in one go at the end of it: they share a batch whatever the
        timing (a descheduled loop thread or a garbage-collection pause longer than the
        window would otherwise split them). Must be called from ``loop``'s thread.

        Raises:
            BatcherClosed: After :meth:`close`.
        """
        with self._cond:
            if self._closed:
                raise BatcherClosed("the model was closed")
            waiting = self._by_loop.setdefault(loop, [])
            waiting.append(job)
            first = len(waiting) == 1
        if first:
            loop.call_soon(self._flush, loop)
        return job.future

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._cond:
            jobs = self._by_loop.pop(loop, [])
        try:
            self._enqueue(jobs)
        except BatcherClosed as exc:
            for job in jobs:
                if job.future.set_running_or_notify_cancel():
                    job.future.set_exception(exc)

    def _enqueue(self, jobs: list[Job]) -> None:
        with self._cond:
            if self._closed:
                raise BatcherClosed("the model was closed")
            self._pending.extend(jobs)
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify()

    def close(self, timeout: float | None = None) -> None:
        """Stop the worker after the batch it is running; fail the jobs still waiting."""
        with self._cond:
            self._closed = True
            left = list(self._pending)
            self._pending.clear()
            thread = self._thread
            self._cond.notify_all()
        for job in left:
            if job.future.set_running_or_notify_cancel():
                job.future.set_exception(BatcherClosed("the model was closed"))
            if job.stream is not None:
                job.stream.close()  # wakes the stream's reader, which then sees the error
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # -- worker ---------------------------------------------------------------------------

    def _next_batch(self) -> list[Job] | None:
        """Wait for work and return the next batch, or None when the worker should exit."""
        with self._cond:
            idle_since = time.monotonic()
            while not self._pending:
                if self._closed:
                    self._thread = None
                    return None
                left = self.idle_s - (time.monotonic() - idle_since)
                if left <= 0:
                    # Exit under the lock, so a submit() that comes later starts a new thread.
                    self._thread = None
                    return None
                self._cond.wait(left)
            # Give the oldest job's companions until `window_s` after it arrived.
            first = self._pending[0]
            deadline = first.enqueued_at + self.window_s
            while len(self._pending) < self.max_batch_size and not self._closed:
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                self._cond.wait(left)
            if not self._pending:  # close() took them
                self._thread = None
                return None
            key = group_key(self._pending[0])
            batch: list[Job] = []
            rest: deque[Job] = deque()
            while self._pending:
                job = self._pending.popleft()
                if len(batch) < self.max_batch_size and group_key(job) == key:
                    batch.append(job)
                else:
                    rest.append(job)
            self._pending = rest
        # A caller that gave up before its batch started is dropped here.
        return [job for job in batch if job.future.set_running_or_notify_cancel()]

    def _work(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            if not batch:
                continue
            # Counted before the batch runs: a caller woken by its result must already
            # see its batch in the stats.
            with self._cond:
                self._generate_calls += 1
                self._requests += len(batch)
                self._sizes.append(len(batch))
            try:
                self._run_batch(batch)
            except BaseException as exc:  # noqa: BLE001 - never let the worker die silently
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(exc)


# -- per-row pieces of a batched generate (torch loads lazily) -------------------------------

#: Put on a stream's queue after its last chunk.
END = object()


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` at the earliest stop string; say whether one was found."""
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


@functools.cache
def row_stopper_class() -> type:
    """The per-row stopping criterion, built on first use so torch loads lazily."""
    import torch
    from transformers import StoppingCriteria

    class RowStopper(StoppingCriteria):  # type: ignore[misc]
        """Stops each row of a batch at its own budget, stop strings, or cancellation.

        Returns one flag per row (transformers ANDs them into its unfinished-rows mask),
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

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            if self.first_token_at is None:
                self.first_token_at = time.perf_counter()
            step = input_ids.shape[1] - self.prompt_len
            live = [i for i, e in enumerate(self.ended_at) if e is None]
            rows: list[list[int]] | None = None
            if any(self.jobs[i].request.stop for i in live):
                rows = input_ids[:, self.prompt_len :].tolist()
            for i in live:
                request = self.jobs[i].request
                if self.jobs[i].cancelled.is_set():
                    self.ended_at[i], self.reason[i] = step, "cancelled"
                elif rows is not None and request.stop:
                    tail = self.tokenizer.decode(rows[i][-self.tail[i] :], skip_special_tokens=True)
                    if any(s in tail for s in request.stop):
                        self.ended_at[i], self.reason[i] = step, "stop"
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
