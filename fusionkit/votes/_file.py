"""The vote store's file: connections, transactions, errors and the schema upgrade.

Split from :mod:`fusionkit.votes.store` (the queries): :class:`StoreFile` owns the SQLite
file — one connection per thread (re-opened after a fork or a ``close()``), every write
in ``BEGIN IMMEDIATE``, sqlite3 errors turned into :class:`~fusionkit.errors.StoreError`
or :class:`~fusionkit.errors.CorruptStoreError` with advice, the migrations and the switch
to WAL. The design notes are in :mod:`fusionkit.votes.store`.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self, TypeVar

from ..errors import InvalidRequestError, StoreError
from ._schema import apply_migrations, corrupt, inspect_file, read_only_uri

__all__ = ["StoreFile"]

_BUSY_TIMEOUT_S = 60.0
T = TypeVar("T")


class StoreFile:
    """One SQLite vote-store file, safe for many threads and processes.

    Args:
        path: The SQLite file; created (with its folder) if missing.

    Raises:
        CorruptStoreError: The file is damaged or is not a vote store (left untouched).
        StoreError: The file was written by a newer fusionkit, cannot be opened, or the
            path is unusable (under a regular file).
        InvalidRequestError: ``path`` is not a path (None, a number, empty).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
            raise InvalidRequestError(
                f"VoteStore(path) needs a file path such as 'votes.db', got {path!r}."
            )
        self.path = Path(path)
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._generation = 0  # bumped by close(): threads' cached connections go stale
        self.read_only = False
        for parent in self.path.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise StoreError(
                        f"VoteStore path {self.path} lies under {parent}, which is a file, "
                        "not a folder; choose another path."
                    )
                break
        self.read_only = inspect_file(self.path) == "read-only"
        if self.read_only:
            return  # nothing to create or migrate; reads go through a mode=ro connection
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder of {self.path}: {exc}") from exc
        self._migrate()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- connections ------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        if self.read_only:
            conn = sqlite3.connect(
                read_only_uri(self.path),
                uri=True,
                timeout=_BUSY_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")
            return conn
        conn = sqlite3.connect(
            self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        # After a fork the child must not reuse its parent's connection; after close()
        # every thread opens a fresh one (the store reopens on demand).
        stale = (
            getattr(self._local, "pid", None) != os.getpid()
            or getattr(self._local, "generation", None) != self._generation
        )
        if conn is None or stale:
            with self._translate("opening the file"):
                conn = self._open()
            self._local.conn, self._local.pid = conn, os.getpid()
            self._local.generation = self._generation
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    def close(self) -> None:
        """Release the file: close every connection this store opened (in any thread).

        Safe to call twice. The store stays usable: its next call reopens the file, so a
        widget showing this store keeps working after a notebook cell closed it.
        """
        self._generation += 1
        with self._conns_lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            try:
                conn.close()
            except sqlite3.Error:  # pragma: no cover - closing is best effort
                pass

    @contextmanager
    def _translate(self, action: str) -> Iterator[None]:
        """Turn sqlite3 errors into the fusionkit error tree, with advice."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if "readonly" in text or "read-only" in text:
                raise StoreError(
                    f"{self.path} is read-only (file or folder permissions, or a read-only "
                    f"filesystem), so {action} is not possible; reads still work. Copy the "
                    "file somewhere writable to vote."
                ) from exc
            if "locked" in text or "busy" in text:
                raise StoreError(
                    f"{self.path} stayed locked by another writer for {_BUSY_TIMEOUT_S:.0f} s "
                    f"while {action}; retry, or check for a process holding it open."
                ) from exc
            if "no such table" in text or "no such column" in text:
                raise corrupt(self.path, f"its schema was changed by hand ({exc})") from exc
            raise StoreError(f"{self.path}: SQLite failed while {action}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise corrupt(self.path, f"SQLite reported damage while {action} ({exc})") from exc

    @contextmanager
    def _write(self, action: str) -> Iterator[sqlite3.Connection]:
        """One write transaction, holding the write lock from its first statement."""
        if self.read_only:
            raise StoreError(
                f"{self.path} is read-only (file or folder permissions, or a read-only "
                f"filesystem), so {action} is not possible; reads still work. Copy the file "
                "somewhere writable to vote."
            )
        conn = self._conn()
        with self._translate(action):
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _read(self, action: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn()
        with self._translate(action):
            return fn(conn)

    # -- schema ---------------------------------------------------------------------------

    def _migrate(self) -> None:
        with self._write("creating or upgrading the schema") as conn:
            apply_migrations(conn, self.path)
        self._switch_to_wal()

    def _switch_to_wal(self) -> None:
        """Put the file in WAL mode (persistent in the file), racing other openers safely.

        Changing the journal mode needs the file to itself, and SQLite answers "locked" at
        once, without waiting, when two connections would otherwise deadlock (one holding
        its write lock, this one a read lock). So retry with short random sleeps until the
        switch succeeds or another connection has made it, within the busy timeout.
        """
        conn = self._conn()
        deadline = time.monotonic() + _BUSY_TIMEOUT_S
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
                if str(mode).lower() == "wal":
                    return
                conn.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError as exc:
                locked = "locked" in str(exc).lower() or "busy" in str(exc).lower()
                if not locked or time.monotonic() > deadline:
                    with self._translate("switching to WAL"):
                        raise
                time.sleep(random.uniform(0.005, 0.05))

    @property
    def schema_version(self) -> int:
        """The file's schema version (``PRAGMA user_version``)."""
        return self._read(
            "reading the version",
            lambda c: int(c.execute("PRAGMA user_version").fetchone()[0]),
        )
