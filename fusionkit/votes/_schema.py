"""The vote store's file format: identity, schema history, and read-only inspection.

:mod:`fusionkit.votes.store` holds :class:`~fusionkit.votes.store.VoteStore` (connections,
transactions, the queries) and its records; this module holds what decides whether a file
is a vote store and how its schema grows, so each reads in one sitting:

* **Identity.** Every store carries SQLite's ``application_id`` header field set to
  :data:`APPLICATION_ID` (``"FKVS"``) and its schema version in ``user_version``.
* **Inspection.** :func:`inspect_file` checks an existing file *read-only* before anything
  writes to it: first its 100-byte header with plain file I/O, then (when it is a SQLite
  file) a ``mode=ro`` connection — with ``immutable=1`` when it is not ours, so not even
  ``-wal``/``-shm`` side files appear beside a foreign database. Random bytes, a damaged
  header, or a SQLite database of another kind raise :class:`CorruptStoreError` (built by
  :func:`corrupt`) and the file is left byte-identical.
* **Migrations.** :data:`MIGRATIONS` is the ordered schema history;
  :func:`apply_migrations` runs the missing steps inside the caller's write transaction.

Private: the public names (``APPLICATION_ID``, ``MIGRATIONS``, ``SCHEMA_VERSION``,
``Migration``) are re-exported by :mod:`fusionkit.votes.store`.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from ..errors import CorruptStoreError, StoreError

__all__ = [
    "APPLICATION_ID",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Migration",
    "apply_migrations",
    "corrupt",
    "inspect_file",
    "read_only_uri",
    "writable",
]

#: SQLite ``application_id`` of a vote store: the bytes ``b"FKVS"`` as a big-endian int.
APPLICATION_ID = int.from_bytes(b"FKVS", "big")


@dataclass(frozen=True, slots=True)
class Migration:
    """One step of the schema history.

    Attributes:
        version: The ``user_version`` the file has after this step.
        description: What the step adds (for humans reading the code).
        statements: SQL statements run in order, inside the migration transaction.
    """

    version: int
    description: str
    statements: tuple[str, ...]


#: The schema history, oldest first. Never edit a shipped step: append a new one.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "ship/skip votes: the current vote per (subject, voter) and the full history",
        (
            """CREATE TABLE votes (
                subject    TEXT NOT NULL,
                voter      TEXT NOT NULL,
                verdict    TEXT NOT NULL CHECK (verdict IN ('ship', 'skip')),
                updated_at REAL NOT NULL,
                PRIMARY KEY (subject, voter)
            )""",
            """CREATE TABLE vote_history (
                id         INTEGER PRIMARY KEY AUTOINCREMENT,
                subject    TEXT NOT NULL,
                voter      TEXT NOT NULL,
                verdict    TEXT NOT NULL CHECK (verdict IN ('ship', 'skip')),
                created_at REAL NOT NULL
            )""",
        ),
    ),
    Migration(
        2,
        "pairwise battles (Arena) and an index to list subjects in first-vote order",
        (
            """CREATE TABLE battles (
                id         INTEGER PRIMARY KEY AUTOINCREMENT,
                model_a    TEXT NOT NULL,
                model_b    TEXT NOT NULL,
                winner     TEXT NOT NULL CHECK (winner IN ('a', 'b', 'tie', 'bothbad')),
                voter      TEXT NOT NULL,
                prompt     TEXT,
                created_at REAL NOT NULL,
                CHECK (model_a <> model_b)
            )""",
            "CREATE INDEX vote_history_subject ON vote_history (subject, id)",
        ),
    ),
)

#: The schema version this code writes.
SCHEMA_VERSION = MIGRATIONS[-1].version

#: Tables that must exist at each version (used to recognise a damaged store).
_TABLES_AT: dict[int, frozenset[str]] = {
    1: frozenset({"votes", "vote_history"}),
    2: frozenset({"votes", "vote_history", "battles"}),
}


# -- inspecting a file without touching it -----------------------------------------------------


def _ro_uri(path: Path, *, immutable: bool) -> str:
    uri = "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro"
    return uri + "&immutable=1" if immutable else uri


def writable(path: Path) -> bool:
    """Whether SQLite can write ``path`` and its side files (``-wal``, ``-shm``, journal).

    ``os.access`` reports a read-only filesystem (EROFS) even to root.
    """
    folder = path.parent if str(path.parent) else Path(".")
    return os.access(path, os.W_OK) and os.access(folder, os.W_OK | os.X_OK)


def read_only_uri(path: Path) -> str:
    """A URI that reads ``path`` without writing anything.

    When the folder cannot be written SQLite cannot create the ``-shm`` file a WAL
    database needs even for reading; nothing can be writing there either, so the file is
    opened ``immutable``.
    """
    folder = path.parent if str(path.parent) else Path(".")
    return _ro_uri(path, immutable=not os.access(folder, os.W_OK | os.X_OK))


def corrupt(path: Path, what: str) -> CorruptStoreError:
    """The error for a file that is not a usable vote store, with what to do about it."""
    return CorruptStoreError(
        f"{path} is not a usable fusionkit vote store: {what}. The file was left untouched. "
        "Point VoteStore at a new path, or move this file aside (and restore a backup if "
        "it held votes)."
    )


def inspect_file(path: Path) -> str | None:
    """Refuse, without modifying it, a file that is not a healthy vote store.

    Returns:
        ``"read-only"`` for a healthy store that cannot be written (read-only filesystem
        or permissions), else None.

    Raises:
        CorruptStoreError: Not SQLite, damaged, or a SQLite database of another kind.
        StoreError: A store written by a newer fusionkit.
    """
    if not path.exists():
        return None
    if path.is_dir():
        raise StoreError(f"{path} is a folder; give VoteStore a file path such as votes.db.")
    with path.open("rb") as fh:
        header = fh.read(100)
    can_write = writable(path)
    if not header:
        if not can_write:
            raise StoreError(f"{path} is an empty file on a read-only location: nothing to read.")
        return None  # an empty file (e.g. from sqlite3.connect) is a new database
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        raise corrupt(path, "it is not a SQLite database (damaged, or some other kind of file)")
    ours = int.from_bytes(header[68:72], "big") == APPLICATION_ID
    wal = header[18] == 2
    # A foreign file is read immutable: no locks and no -wal/-shm beside it. A file we
    # cannot write is read without creating side files (read_only_uri), so a read-only
    # filesystem reads as read-only, not as damage.
    uri = _ro_uri(path, immutable=True) if not ours else None
    if uri is None:
        uri = _ro_uri(path, immutable=False) if can_write else read_only_uri(path)
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise corrupt(path, f"SQLite cannot open it ({exc})") from None
    try:
        tables = {
            row[0]
            for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not row[0].startswith("sqlite_")
        }
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        raise corrupt(path, f"SQLite cannot read it ({exc})") from None
    finally:
        conn.close()
    if not ours:
        if not tables and not wal:
            if not can_write:
                raise StoreError(f"{path} is an empty database on a read-only location.")
            return None  # an empty SQLite database: adopt it
        listed = ", ".join(sorted(tables)[:6]) or "none in the main file"
        raise corrupt(path, f"it is a SQLite database of another kind (tables: {listed})")
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer fusionkit (vote store schema v{version}; this "
            f"version knows up to v{SCHEMA_VERSION}). Upgrade fusionkit, or use another path. "
            "The file was left untouched."
        )
    missing = _TABLES_AT.get(version, frozenset()) - tables
    if missing:
        raise corrupt(path, f"tables {sorted(missing)} of schema v{version} are missing")
    return None if can_write else "read-only"


def apply_migrations(conn: sqlite3.Connection, path: Path) -> None:
    """Stamp our application id and run the schema steps the file lacks.

    Call inside a ``BEGIN IMMEDIATE`` transaction: the id and version are re-read under
    the write lock, since another process may have just created the file.

    Args:
        conn: A connection to the store, in a write transaction.
        path: The file (for error messages).

    Raises:
        CorruptStoreError: The file became a SQLite database of another kind.
        StoreError: The file was written by a newer fusionkit.
    """
    app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if app_id not in (0, APPLICATION_ID) or (app_id == 0 and version != 0):
        raise corrupt(path, "it became a SQLite database of another kind")
    if version > SCHEMA_VERSION:  # pragma: no cover - inspect_file caught it first
        raise StoreError(f"{path} was written by a newer fusionkit (v{version}).")
    if app_id == 0:
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    for step in MIGRATIONS:
        if step.version > version:
            for statement in step.statements:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {step.version}")
