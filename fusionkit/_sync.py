"""run_sync(): the sync API over the async core, safe inside Jupyter's running loop.

The core of fusionkit is written once, async. Every sync twin (``complete``, ``fuse``,
``review``, ...) hands its coroutine to :func:`run_sync`, which runs it on **one
long-lived background event loop** in a daemon thread.

Design note (differs slightly from DESIGN.md, which suggests running directly when no loop
runs): we *always* use the background loop. A fresh ``asyncio.run`` per call would create a
new loop each time, so per-loop resources — httpx connection pools, per-model semaphores,
the local model's micro-batcher — would be rebuilt on every call and leak. With one loop,
sync calls in a script and in Jupyter share the same machinery, and nothing calls
``asyncio.run`` or ``nest_asyncio``.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import inspect
import threading
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    loop.run_forever()


def background_loop() -> asyncio.AbstractEventLoop:
    """Return the shared background event loop, starting its thread on first use."""
    global _loop, _thread
    with _lock:
        if _loop is None or _loop.is_closed() or _thread is None or not _thread.is_alive():
            _loop = asyncio.new_event_loop()
            _thread = threading.Thread(
                target=_run_loop, args=(_loop,), name="fusionkit-loop", daemon=True
            )
            _thread.start()
        return _loop


def in_background_loop() -> bool:
    """True when called from the background loop's own thread."""
    return _thread is not None and threading.current_thread() is _thread


def run_sync(coro: Coroutine[Any, Any, T], *, timeout: float | None = None) -> T:
    """Run a coroutine to completion from synchronous code and return its result.

    Works in plain scripts and inside a running loop (Jupyter): the coroutine runs on the
    shared background loop and this thread waits for it.

    Args:
        coro: The coroutine to run.
        timeout: Seconds to wait before cancelling it; None waits forever.

    Returns:
        Whatever the coroutine returns; its exception propagates unchanged.

    Raises:
        RuntimeError: If called from inside the background loop itself (that would
            deadlock); use the async twin (``await model.acomplete(...)``) there.
    """
    if in_background_loop():
        coro.close()
        raise RuntimeError(
            "fusionkit's sync API was called from inside its own event loop; "
            "use the async twin there (for example `await model.acomplete(...)`)."
        )
    future = asyncio.run_coroutine_threadsafe(coro, background_loop())
    try:
        return future.result(timeout)
    except BaseException:
        # KeyboardInterrupt in a notebook, or a timeout: don't leave the work running.
        future.cancel()
        raise


def sync_twin(afn: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, T]:
    """Make the sync twin of an async function: same signature, same docstring.

    The twin runs ``afn`` through :func:`run_sync`, so it works in scripts and inside
    Jupyter's running loop. Its name drops the leading ``a`` (``afuse`` -> ``fuse``), its
    signature is ``afn``'s (so ``help(fk.fuse)`` and IDEs show every argument), and its
    docstring is ``afn``'s with one line saying which function it wraps. Works for
    methods too (``review = sync_twin(areview)`` in a class body): the twin calls the
    instance's own ``areview``, so a subclass that overrides the async method needs no
    new twin.

    Args:
        afn: An ``async def`` function or method.

    Returns:
        The synchronous function.

    Raises:
        TypeError: ``afn`` is not a coroutine function.
    """
    if not inspect.iscoroutinefunction(afn):
        raise TypeError(f"sync_twin needs an async function, got {afn!r}")
    name = afn.__name__[1:] if afn.__name__.startswith("a") else f"{afn.__name__}_sync"

    if next(iter(inspect.signature(afn).parameters), None) == "self":
        # A method: look the coroutine up on the instance, so a subclass's override
        # (``aclose`` of an HTTP model) is what the inherited sync twin runs.
        attr = afn.__name__

        def twin(*args: P.args, **kwargs: P.kwargs) -> T:
            self, *rest = args
            return run_sync(getattr(self, attr)(*rest, **kwargs))

    else:

        def twin(*args: P.args, **kwargs: P.kwargs) -> T:
            return run_sync(afn(*args, **kwargs))

    functools.update_wrapper(twin, afn, assigned=("__module__", "__annotations__"))

    twin.__name__ = name
    twin.__qualname__ = (
        afn.__qualname__.rsplit(".", 1)[0] + "." + name if "." in afn.__qualname__ else name
    )
    twin.__signature__ = inspect.signature(afn)  # type: ignore[attr-defined]
    doc = inspect.getdoc(afn) or ""
    note = f"Sync twin of ``{afn.__name__}`` (same arguments); works inside Jupyter's running loop."
    twin.__doc__ = f"{doc}\n\n{note}" if doc else note
    del twin.__wrapped__  # inspect must not unwrap the twin into a coroutine function
    return twin


def _shutdown() -> None:
    """At interpreter exit: finish async generators, stop and close the background loop.

    Closing it (not only stopping it) is what keeps "unclosed event loop" ResourceWarnings
    out of a script's last lines; models close their own HTTP clients in their own
    ``atexit`` hooks, which run before this one (registered later, run first).
    """
    loop, thread = _loop, _thread
    if loop is None or loop.is_closed():
        return
    if loop.is_running():
        try:
            asyncio.run_coroutine_threadsafe(loop.shutdown_asyncgens(), loop).result(timeout=2)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=2)
    if not loop.is_running():
        loop.close()


atexit.register(_shutdown)
