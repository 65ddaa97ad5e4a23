"""VoteStore: community votes (ship/skip) and pairwise battles in one SQLite file.

What lives where: this module holds :class:`VoteStore`'s queries and exports; its
connections, transactions and error translation are :class:`~fusionkit.votes._file.StoreFile`
(its base class), its records :class:`Vote` and :class:`Battle` and the validation of
verdicts and winners are in :mod:`fusionkit.votes.records`. The file format — the ``application_id`` identity, the schema
history (:data:`MIGRATIONS`), and the read-only inspection that refuses foreign or damaged
files — is in :mod:`fusionkit.votes._schema`, so each reads in one sitting; its public
names (``APPLICATION_ID``, ``MIGRATIONS``, ``SCHEMA_VERSION``, ``Migration``), like the
records', are importable from here as before.

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
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequestError
from ._file import StoreFile
from ._schema import (  # the public names stay importable from here, as before
    APPLICATION_ID,
    MIGRATIONS,
    SCHEMA_VERSION,
    Migration,
)
from .records import (  # the public names stay importable from here, as before
    SURROGATES,
    VERDICTS,
    WINNERS,
    Battle,
    Vote,
    checked_text,
    normalize_verdict,
    normalize_winner,
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


# -- the store ------------------------------------------------------------------------------------


class VoteStore(StoreFile):
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

    def __repr__(self) -> str:
        return f"VoteStore({str(self.path)!r})"

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
        subject = checked_text(subject, "subject")
        voter = checked_text(voter, "voter")
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
        subject = checked_text(subject, "subject")
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
        subject, voter = checked_text(subject, "subject"), checked_text(voter, "voter")
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
        model_a, model_b = checked_text(model_a, "model_a"), checked_text(model_b, "model_b")
        voter = checked_text(voter, "voter")
        if model_a == model_b:
            raise InvalidRequestError(
                f"a battle needs two different models, got {model_a!r} twice."
            )
        winner = normalize_winner(winner)
        if prompt is not None and not isinstance(prompt, str):
            raise InvalidRequestError(f"prompt must be a string or None, got {prompt!r}.")
        if prompt is not None:
            prompt = SURROGATES.sub("\ufffd", prompt)
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
