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

Grouping (what may share one ``generate``): every request that is not streamed, whatever
its ``max_tokens``, ``stop``, temperature, top_p, seed or schema. The batch runs to the
largest budget and each row stops at its own budget and stop strings; each sampling row
draws from its own seeded generator (:mod:`fusionkit.models.local.sampling`) and each
schema'd row follows its own grammar (:mod:`fusionkit.models.local.constrained`), so a
row's answer does not depend on the rows beside it. Streaming requests run alone (one
streamer per ``generate``).

The per-row pieces of a batched ``generate`` (stopping criterion, stream sink) live in
:mod:`fusionkit.models.local.rows`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from ...types import Request

__all__ = ["BatchStats", "BatcherClosed", "Job", "MicroBatcher", "group_key"]


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
    if job.stream is not None:
        return ("alone", id(job))
    # Greedy, sampled, seeded and schema'd rows all batch: sampling and grammars are per row.
    return ("batch",)


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
