"""One ``httpx.AsyncClient`` per event loop, created off the loop and closed at exit.

A client's connections belong to the loop they were opened on, so a model used both
through the sync API (fusionkit's background loop) and with ``await`` in a notebook
(the notebook's loop) needs one client per loop.

Two details matter to users:

* Creating a client loads the SSL context (~0.25 s of CPU). Done on the event loop, that
  would freeze a notebook's widgets on a model's first call, so it runs in a worker
  thread (:func:`asyncio.to_thread`).
* A script that uses the sync API and never calls ``close()`` would print "unclosed
  transport" ResourceWarnings at exit. An :mod:`atexit` hook closes every open client
  on its loop; it is registered after :mod:`fusionkit._sync`'s hook (which stops the
  background loop) and therefore runs before it. A model dropped without ``close()``
  (a notebook cell run again) has its clients closed by :meth:`ClientPool.close_soon`.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
import weakref
from collections.abc import Callable

import httpx

__all__ = ["ClientPool"]


class ClientPool:
    """The clients of one model, by event loop.

    Args:
        factory: Builds a new client (called in a worker thread).
    """

    def __init__(self, factory: Callable[[], httpx.AsyncClient]) -> None:
        self._factory = factory
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient]
        self._clients = weakref.WeakKeyDictionary()
        self._pending: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Task[httpx.AsyncClient]
        ] = weakref.WeakKeyDictionary()
        # The sync API's loop thread and a notebook's loop may both touch it.
        self.lock = threading.Lock()

    def __len__(self) -> int:
        with self.lock:
            return len(self._clients)

    def client_for(self, loop: asyncio.AbstractEventLoop) -> httpx.AsyncClient | None:
        """The client of ``loop``, if one was made."""
        with self.lock:
            return self._clients.get(loop)

    async def get(self) -> httpx.AsyncClient:
        """The running loop's client, created (off the loop, once) on first use."""
        loop = asyncio.get_running_loop()
        with self.lock:
            # A finished loop (each asyncio.run) never leaves the weak map by itself.
            for done in [lp for lp in self._clients if lp.is_closed()]:
                del self._clients[done]
            client = self._clients.get(loop)
        if client is not None and not client.is_closed:
            return client
        # Many first calls at once share one creation: only this loop's thread runs this
        # code, and there is no await between the look-up and the insert.
        task = self._pending.get(loop)
        if task is None:
            task = loop.create_task(asyncio.to_thread(self._factory))
            self._pending[loop] = task
        try:
            client = await asyncio.shield(task)
        finally:
            if task.done() and self._pending.get(loop) is task:
                del self._pending[loop]
        with self.lock:
            current = self._clients.get(loop)
            if current is None or current.is_closed:
                self._clients[loop] = current = client
        if current is not client:  # closed and re-made meanwhile: ours is surplus
            await client.aclose()
        _OPEN.add(self)
        return current

    def _take_all(self) -> list[tuple[asyncio.AbstractEventLoop, httpx.AsyncClient]]:
        with self.lock:
            clients = list(self._clients.items())
            self._clients.clear()
        return clients

    async def aclose(self) -> None:
        """Close every client, each on its own loop. Safe to call twice."""
        current = asyncio.get_running_loop()
        for loop, client in self._take_all():
            if loop is current:
                await client.aclose()
            elif loop.is_running() and not loop.is_closed():
                future = asyncio.run_coroutine_threadsafe(client.aclose(), loop)
                try:
                    await asyncio.wait_for(asyncio.wrap_future(future), timeout=5)
                except (asyncio.TimeoutError, RuntimeError, httpx.HTTPError):
                    pass
            # A stopped loop's sockets close with it; nothing to await there.

    def close_soon(self) -> None:
        """Schedule every client's close on its loop without waiting (a model was dropped)."""
        for loop, client in self._take_all():
            if client.is_closed or loop.is_closed() or not loop.is_running():
                continue
            try:
                asyncio.run_coroutine_threadsafe(client.aclose(), loop)
            except RuntimeError:  # the loop closed meanwhile
                pass

    def close_blocking(self, timeout: float = 2.0) -> None:
        """Close every client whose loop still runs, from outside the loops (at exit)."""
        for loop, client in self._take_all():
            if client.is_closed or loop.is_closed() or not loop.is_running():
                continue
            try:
                asyncio.run_coroutine_threadsafe(client.aclose(), loop).result(timeout)
            except Exception:  # noqa: BLE001 - best effort while the interpreter exits
                pass


_OPEN: weakref.WeakSet[ClientPool] = weakref.WeakSet()


def _close_at_exit() -> None:
    for pool in list(_OPEN):
        pool.close_blocking()


atexit.register(_close_at_exit)
