"""VoteStore: community votes (ship/skip) and pairwise battles in one SQLite file.

What lives where: this module holds :class:`VoteStore` (connections, transactions, the
queries and exports), its records :class:`Vote` and :class:`Battle`, and the validation of
verdicts and winners. The file format — the ``application_id`` identity, the schema
history (:data:`MIGRATIONS`), and the read-only inspection that refuses foreign or damaged
files — is in :mod:`fusionkit.votes._schema`, so each reads in one sitting; its public
names (``APPLICATION_ID``, ``MIGRATIONS``, ``SCHEMA_VERSION``, ``Migration``) are
importable from here as before.

Design:

* **Our file, or hands off.** Every store carries SQLite's ``application_id`` header
  field set to :data:`APPLICATION_ID` (``"FKVS"``) and its schema version in
  ``user_version``. Before writing anything, an existing file is inspected *read-only*
  (see :mod:`fusionkit.votes._schema`). Random bytes, a damaged header, or a SQLite
  database of another kind raise :class:`~fusionkit.errors.CorruptStoreError` and the
  file is left byte-identical. Damage found later, mid-operation, raises the same error.
* **Migrations** are applied in one ``BEGIN IMMEDIATE`` transaction, together with the new
  ``user_version``; a new file is created in rollback-journal mode (so the header with our
  application id reaches the main file at once) and switched to WAL afterwards.
* **Concurrent writers lose nothing.** WAL, a busy timeout, one connection per thread (and
  per process, re-opened after a fork), and every write in ``BEGIN IMMEDIATE`` — a writer
  takes the write lock before reading, so two writers never both read and then collide.
  ``synchronous=NORMAL``: in WAL mode that never corrupts the file and a crashed *process*
  loses nothing; only a power cut may roll back the last commits (the usual WAL trade-off,
  which keeps vote throughput in the thousands per second).
* **Only what is given is stored**: subject, voter, verdict/winner, prompt and the time.
"""

from __future__ import annotations

import os
import random
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import InvalidRequestError, StoreError
from ._schema import (  # the public names stay importable from here, as before
    APPLICATION_ID,
    MIGRATIONS,
    SCHEMA_VERSION,
    Migration,
    apply_migrations,
    corrupt,
    inspect_file,
    read_only_uri,
)

if TYPE_CHECKING:  # pandas is imported lazily: building a store must stay light.
    import pandas as pd

__all__ = [
    "APPLICATION_ID",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "VERDICTS",
    "WINNERS",
    "Battle",
    "Migration",
    "Vote",
    "VoteStore",
    "normalize_verdict",
    "normalize_winner",
]


#: Accepted ship/skip verdicts.
VERDICTS: tuple[str, ...] = ("ship", "skip")
#: Accepted battle outcomes: side A won, side B won, a tie, or both answers were bad.
WINNERS: tuple[str, ...] = ("a", "b", "tie", "bothbad")

_BUSY_TIMEOUT_S = 60.0
_SURROGATES = re.compile("[\ud800-\udfff]")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Vote:
    """One ship/skip vote as recorded.

    Attributes:
        subject: What was voted on.
        voter: Who voted.
        verdict: ``"ship"`` or ``"skip"``.
        previous: The voter's verdict before this one, or None for a first vote.
        created_at: Unix time of the vote.
    """

    subject: str
    voter: str
    verdict: str
    previous: str | None
    created_at: float


@dataclass(frozen=True, slots=True)
class Battle:
    """One pairwise battle as recorded.

    Attributes:
        model_a: The model shown as side A.
        model_b: The model shown as side B.
        winner: ``"a"``, ``"b"``, ``"tie"`` or ``"bothbad"``.
        voter: Who voted.
        prompt: The prompt both models answered, if given.
        created_at: Unix time of the vote.
    """

    model_a: str
    model_b: str
    winner: str
    voter: str
    prompt: str | None
    created_at: float


# -- validation (shared with ratings.py) -----------------------------------------------------


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError(f"{what} must be a non-empty string, got {value!r}.")
    # A lone UTF-16 surrogate (e.g. from a mis-decoded name) cannot be encoded for SQLite;
    # store it as U+FFFD rather than fail the vote with UnicodeEncodeError.
    return _SURROGATES.sub("\ufffd", value)


def normalize_verdict(verdict: object) -> str:
    """Return ``"ship"`` or ``"skip"`` (case-insensitive), or raise InvalidRequestError."""
    key = verdict.strip().lower() if isinstance(verdict, str) else None
    if key not in VERDICTS:
        raise InvalidRequestError(
            f"unknown verdict {verdict!r}; use one of {', '.join(map(repr, VERDICTS))}."
        )
    return key


def normalize_winner(winner: object) -> str:
    """Return one of :data:`WINNERS`, or raise InvalidRequestError.

    Case, spaces, ``_`` and ``-`` are ignored, so ``"Both bad"`` and ``"both_bad"`` both
    mean ``"bothbad"``; ``"model_a"``/``"model_b"`` are accepted for ``"a"``/``"b"``.
    """
    key = None
    if isinstance(winner, str):
        key = "".join(ch for ch in winner.lower() if ch not in " _-")
        key = {"modela": "a", "modelb": "b"}.get(key, key)
    if key not in WINNERS:
        raise InvalidRequestError(
            f"unknown winner {winner!r}; use one of {', '.join(map(repr, WINNERS))}."
        )
    return key


# -- the store ------------------------------------------------------------------------------------


class VoteStore:
    """Ship/skip votes and pairwise battles, kept in one SQLite file.

    Safe for many writers at once: threads of one process and separate processes.

    :meth:`close` releases the file; the store reopens it on its next use, so widgets
    built on a store keep working whatever order a notebook's cells run in.

    A healthy store on a read-only filesystem (or a file without write permission) opens
    read-only: reads work, and a write raises :class:`StoreError` saying so.

    Args:
        path: The SQLite file; created (with its folder) if missing.

    Raises:
        CorruptStoreError: The file is damaged or is not a vote store (left untouched).
        StoreError: The file was written by a newer fusionkit, cannot be opened, or the
            path is unusable (under a regular file).
        InvalidRequestError: ``path`` is not a path (None, a number, empty).

    Example:
        >>> store = VoteStore(tmp / "votes.db")  # doctest: +SKIP
        >>> store.vote("Mistral 9B Edge", "ship", voter="ana")  # doctest: +SKIP
        >>> store.tally("Mistral 9B Edge")  # doctest: +SKIP
        {'ship': 1, 'skip': 0}
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

    def __repr__(self) -> str:
        return f"VoteStore({str(self.path)!r})"

    def __enter__(self) -> VoteStore:
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

    # -- ship/skip votes ------------------------------------------------------------------

    def vote(self, subject: str, verdict: str, *, voter: str) -> Vote:
        """Record ``voter``'s ship/skip verdict on ``subject``, replacing their earlier one.

        Every call is also appended to the history.

        Args:
            subject: What is voted on (a tool or model name).
            verdict: ``"ship"`` or ``"skip"`` (case-insensitive).
            voter: Who votes; one current vote per (subject, voter).

        Returns:
            The recorded :class:`Vote`, with the voter's previous verdict.

        Raises:
            InvalidRequestError: Unknown verdict, or an empty subject or voter.
        """
        subject = _text(subject, "subject")
        voter = _text(voter, "voter")
        verdict = normalize_verdict(verdict)
        now = time.time()
        with self._write("recording a vote") as conn:
            row = conn.execute(
                "SELECT verdict FROM votes WHERE subject = ? AND voter = ?", (subject, voter)
            ).fetchone()
            conn.execute(
                "INSERT INTO vote_history (subject, voter, verdict, created_at) "
                "VALUES (?, ?, ?, ?)",
                (subject, voter, verdict, now),
            )
            conn.execute(
                "INSERT INTO votes (subject, voter, verdict, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (subject, voter) DO UPDATE SET "
                "verdict = excluded.verdict, updated_at = excluded.updated_at",
                (subject, voter, verdict, now),
            )
        return Vote(subject, voter, verdict, row[0] if row else None, now)

    def tally(self, subject: str) -> dict[str, int]:
        """Current votes on ``subject``: ``{"ship": n, "skip": m}`` (zeros if none)."""
        subject = _text(subject, "subject")
        rows = self._read(
            "counting votes",
            lambda c: c.execute(
                "SELECT verdict, count(*) FROM votes WHERE subject = ? GROUP BY verdict",
                (subject,),
            ).fetchall(),
        )
        counts = dict.fromkeys(VERDICTS, 0)
        counts.update({verdict: int(n) for verdict, n in rows})
        return counts

    def tallies(self) -> dict[str, dict[str, int]]:
        """Current tallies of every subject, in first-vote order."""
        rows = self._read(
            "counting votes",
            lambda c: c.execute(
                "SELECT subject, verdict, count(*) FROM votes GROUP BY subject, verdict"
            ).fetchall(),
        )
        out = {s: dict.fromkeys(VERDICTS, 0) for s in self.subjects()}
        for subject, verdict, n in rows:
            out.setdefault(subject, dict.fromkeys(VERDICTS, 0))[verdict] = int(n)
        return out

    def current_vote(self, subject: str, voter: str) -> str | None:
        """``voter``'s current verdict on ``subject``, or None if they have not voted."""
        subject, voter = _text(subject, "subject"), _text(voter, "voter")
        row = self._read(
            "reading a vote",
            lambda c: c.execute(
                "SELECT verdict FROM votes WHERE subject = ? AND voter = ?", (subject, voter)
            ).fetchone(),
        )
        return row[0] if row else None

    def subjects(self) -> list[str]:
        """Every subject with at least one vote, in the order of its first vote."""
        rows = self._read(
            "listing subjects",
            lambda c: c.execute(
                "SELECT subject FROM vote_history GROUP BY subject ORDER BY min(id)"
            ).fetchall(),
        )
        return [r[0] for r in rows]

    # -- battles ----------------------------------------------------------------------------

    def battle(
        self,
        model_a: str,
        model_b: str,
        winner: str,
        *,
        voter: str,
        prompt: str | None = None,
    ) -> Battle:
        """Record one pairwise battle.

        Args:
            model_a: The model shown as side A.
            model_b: The model shown as side B (a different model).
            winner: ``"a"``, ``"b"``, ``"tie"`` or ``"bothbad"``.
            voter: Who voted.
            prompt: The prompt both answered (optional).

        Returns:
            The recorded :class:`Battle`.

        Raises:
            InvalidRequestError: Unknown winner, empty names, or the same model twice.
        """
        model_a, model_b = _text(model_a, "model_a"), _text(model_b, "model_b")
        voter = _text(voter, "voter")
        if model_a == model_b:
            raise InvalidRequestError(
                f"a battle needs two different models, got {model_a!r} twice."
            )
        winner = normalize_winner(winner)
        if prompt is not None and not isinstance(prompt, str):
            raise InvalidRequestError(f"prompt must be a string or None, got {prompt!r}.")
        if prompt is not None:
            prompt = _SURROGATES.sub("\ufffd", prompt)
        now = time.time()
        with self._write("recording a battle") as conn:
            conn.execute(
                "INSERT INTO battles (model_a, model_b, winner, voter, prompt, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (model_a, model_b, winner, voter, prompt, now),
            )
        return Battle(model_a, model_b, winner, voter, prompt, now)

    def battle_count(self) -> int:
        """How many battles are recorded."""
        return self._read(
            "counting battles",
            lambda c: int(c.execute("SELECT count(*) FROM battles").fetchone()[0]),
        )

    # -- export ---------------------------------------------------------------------------

    def _frame(self, sql: str, columns: Sequence[str], time_columns: Sequence[str]) -> pd.DataFrame:
        import pandas as pd

        rows = self._read("exporting", lambda c: c.execute(sql).fetchall())
        frame = pd.DataFrame.from_records(rows, columns=list(columns))
        for col in time_columns:
            frame[col] = pd.to_datetime(frame[col].astype("float64"), unit="s", utc=True)
        return frame

    def battles(self) -> pd.DataFrame:
        """Every battle, oldest first.

        Returns:
            Columns ``model_a, model_b, winner, voter, prompt, created_at`` (UTC times);
            ready for :func:`fusionkit.votes.ratings.ratings`.
        """
        return self._frame(
            "SELECT model_a, model_b, winner, voter, prompt, created_at FROM battles ORDER BY id",
            ("model_a", "model_b", "winner", "voter", "prompt", "created_at"),
            ("created_at",),
        )

    def votes_frame(self) -> pd.DataFrame:
        """Current votes: columns ``subject, voter, verdict, updated_at``."""
        return self._frame(
            "SELECT subject, voter, verdict, updated_at FROM votes ORDER BY subject, voter",
            ("subject", "voter", "verdict", "updated_at"),
            ("updated_at",),
        )

    def history_frame(self) -> pd.DataFrame:
        """Every vote ever cast, oldest first: ``id, subject, voter, verdict, created_at``."""
        return self._frame(
            "SELECT id, subject, voter, verdict, created_at FROM vote_history ORDER BY id",
            ("id", "subject", "voter", "verdict", "created_at"),
            ("created_at",),
        )

    def to_csv(self, path: str | os.PathLike[str], *, table: str = "votes") -> Path:
        """Write one table to CSV.

        Args:
            path: Where to write.
            table: ``"votes"`` (current votes), ``"history"`` or ``"battles"``.

        Returns:
            The path written.
        """
        frames: dict[str, Callable[[], pd.DataFrame]] = {
            "votes": self.votes_frame,
            "history": self.history_frame,
            "battles": self.battles,
        }
        if table not in frames:
            raise InvalidRequestError(
                f"unknown table {table!r}; use one of {', '.join(map(repr, frames))}."
            )
        out = Path(path)
        frames[table]().to_csv(out, index=False)
        return out

    # -- display ----------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """Counts for display: votes, voters, subjects, battles, models and the tallies."""

        def counts(c: sqlite3.Connection) -> tuple[Any, ...]:
            return (
                c.execute("SELECT count(*), count(DISTINCT voter) FROM votes").fetchone(),
                c.execute("SELECT count(*) FROM vote_history").fetchone()[0],
                c.execute("SELECT count(*), count(DISTINCT voter) FROM battles").fetchone(),
                c.execute(
                    "SELECT m, count(*) FROM (SELECT model_a AS m FROM battles "
                    "UNION ALL SELECT model_b FROM battles) GROUP BY m ORDER BY count(*) DESC, m"
                ).fetchall(),
            )

        (votes, voters), history, (battles, battle_voters), models = self._read(
            "summarising", counts
        )
        return {
            "path": str(self.path),
            "votes": int(votes),
            "voters": int(voters),
            "history": int(history),
            "battles": int(battles),
            "battle_voters": int(battle_voters),
            "tallies": self.tallies(),
            "models": [(m, int(n)) for m, n in models],
        }

    def _repr_html_(self) -> str:
        from ..render.html import render

        return render("votes_store.html", s=self.summary(), version=SCHEMA_VERSION)
