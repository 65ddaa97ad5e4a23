"""SQLite response cache: re-running a notebook costs nothing.

Only deterministic requests are cached (temperature 0 or a seed). The key is a SHA-256 of
the model's *identity* (provider, base URL, model name, quantization — never an API key),
the messages and the sampling parameters. A corrupt cache file is moved aside with a
warning and a fresh one is started; the cache never crashes a run.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
import warnings
from pathlib import Path

from . import config
from .types import Completion, Request

__all__ = ["ResponseCache", "cache_key", "default_cache"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key        TEXT PRIMARY KEY,
    model      TEXT NOT NULL,
    completion TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""


def cache_key(identity: str, request: Request) -> str:
    """Stable key for a (model identity, request) pair."""
    payload = json.dumps(
        {
            "identity": identity,
            "messages": [m.to_dict() for m in request.messages],
            "params": request.params(),
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ResponseCache:
    """A response cache in one SQLite file, safe for concurrent writers (WAL + busy timeout).

    Args:
        path: The SQLite file. Its folder is created if needed.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._disabled = False

    def __repr__(self) -> str:
        return f"ResponseCache({str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection | None:
        if self._disabled:
            return None
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        with self._lock:
            for attempt in range(2):
                try:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("PRAGMA busy_timeout=30000")
                    conn.executescript(_SCHEMA)
                    conn.execute("SELECT count(*) FROM responses LIMIT 1").fetchone()
                    self._local.conn = conn
                    return conn
                except sqlite3.DatabaseError as exc:
                    if conn is not None:
                        conn.close()
                    if attempt == 0 and self._is_corrupt(exc):
                        self._move_aside(exc)
                        continue
                    warnings.warn(
                        f"fusionkit response cache at {self.path} cannot be used ({exc}); "
                        "continuing without a cache.",
                        RuntimeWarning,
                        stacklevel=3,
                    )
                    self._disabled = True
                    return None
        return None

    @staticmethod
    def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
        text = str(exc).lower()
        return any(s in text for s in ("not a database", "malformed", "corrupt", "no such column"))

    def _move_aside(self, exc: BaseException) -> None:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
        for suffix in ("", "-wal", "-shm"):
            p = Path(str(self.path) + suffix)
            if p.exists():
                p.replace(Path(str(aside) + suffix))
        warnings.warn(
            f"fusionkit response cache at {self.path} was damaged ({exc}); moved it to "
            f"{aside} and started a fresh cache.",
            RuntimeWarning,
            stacklevel=4,
        )

    def get(self, identity: str, request: Request) -> Completion | None:
        """Return the cached completion for this request, marked ``cached=True``, or None."""
        conn = self._connect()
        if conn is None:
            return None
        try:
            row = conn.execute(
                "SELECT completion FROM responses WHERE key = ?", (cache_key(identity, request),)
            ).fetchone()
        except sqlite3.DatabaseError:
            return None
        if row is None:
            return None
        try:
            data = json.loads(row[0])
            data["cached"] = True
            return Completion.from_dict(data)
        except (ValueError, TypeError, KeyError):
            return None

    def put(self, identity: str, request: Request, completion: Completion) -> None:
        """Store a completion (only whole, successful ones reach here)."""
        conn = self._connect()
        if conn is None:
            return
        data = completion.to_dict()
        data["cached"] = False
        try:
            conn.execute(
                "INSERT OR REPLACE INTO responses(key, model, completion, created_at) "
                "VALUES (?, ?, ?, ?)",
                (cache_key(identity, request), completion.model, json.dumps(data), time.time()),
            )
        except sqlite3.DatabaseError as exc:
            warnings.warn(f"fusionkit cache write failed: {exc}", RuntimeWarning, stacklevel=2)

    def __len__(self) -> int:
        conn = self._connect()
        if conn is None:
            return 0
        return int(conn.execute("SELECT count(*) FROM responses").fetchone()[0])

    def clear(self) -> None:
        """Delete every cached response."""
        conn = self._connect()
        if conn is not None:
            conn.execute("DELETE FROM responses")

    def rows(self) -> list[tuple[str, str, str]]:
        """All rows as (key, model, completion JSON) — for audits such as secret scans."""
        conn = self._connect()
        if conn is None:
            return []
        return list(conn.execute("SELECT key, model, completion FROM responses"))


_default: dict[Path, ResponseCache] = {}
_default_lock = threading.Lock()


def default_cache() -> ResponseCache | None:
    """The cache at ``$FUSIONKIT_HOME/cache.db``, or None when ``FUSIONKIT_CACHE=0``."""
    if not config.cache_enabled():
        return None
    path = config.home() / "cache.db"
    with _default_lock:
        if path not in _default:
            _default[path] = ResponseCache(path)
        return _default[path]
