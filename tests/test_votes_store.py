"""VoteStore: votes, battles, export, concurrent writers, corrupt and foreign files."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from fusionkit.errors import CorruptStoreError, InvalidRequestError, StoreError
from fusionkit.votes.store import APPLICATION_ID, SCHEMA_VERSION, VoteStore


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def side_files(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name != path.name)


# -- votes ------------------------------------------------------------------------------------


def test_votes_are_one_per_voter_changeable_with_history(tmp_path: Path) -> None:
    store = VoteStore(tmp_path / "votes.db")
    first = store.vote("Mistral 9B Edge", "ship", voter="ana")
    assert first.previous is None and first.verdict == "ship"
    store.vote("Mistral 9B Edge", "ship", voter="bo")
    store.vote("Other tool", "skip", voter="ana")
    assert store.tally("Mistral 9B Edge") == {"ship": 2, "skip": 0}
    changed = store.vote("Mistral 9B Edge", "SKIP", voter="ana")  # case-insensitive
    assert changed.previous == "ship" and changed.verdict == "skip"
    assert store.tally("Mistral 9B Edge") == {"ship": 1, "skip": 1}
    assert store.current_vote("Mistral 9B Edge", "ana") == "skip"
    assert store.current_vote("Mistral 9B Edge", "nobody") is None
    assert store.tally("never voted on") == {"ship": 0, "skip": 0}
    assert store.subjects() == ["Mistral 9B Edge", "Other tool"]  # first-vote order
    assert store.tallies() == {
        "Mistral 9B Edge": {"ship": 1, "skip": 1},
        "Other tool": {"ship": 0, "skip": 1},
    }
    votes = store.votes_frame()
    assert len(votes) == 3 and list(votes.columns) == ["subject", "voter", "verdict", "updated_at"]
    history = store.history_frame()
    assert history["verdict"].tolist() == ["ship", "ship", "skip", "skip"]
    assert str(history["created_at"].dtype).startswith("datetime64")
    # Persisted: a new store on the same file sees the same state.
    store.close()
    again = VoteStore(tmp_path / "votes.db")
    assert again.tally("Mistral 9B Edge") == {"ship": 1, "skip": 1}
    assert again.schema_version == SCHEMA_VERSION


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda s: s.vote("x", "maybe", voter="ana"), "'ship', 'skip'"),
        (lambda s: s.vote("x", None, voter="ana"), "'ship', 'skip'"),
        (lambda s: s.vote("", "ship", voter="ana"), "subject must be a non-empty string"),
        (lambda s: s.vote("x", "ship", voter="  "), "voter must be a non-empty string"),
        (lambda s: s.battle("m1", "m2", "draw", voter="ana"), "'a', 'b', 'tie', 'bothbad'"),
        (lambda s: s.battle("m1", "m1", "a", voter="ana"), "two different models"),
        (lambda s: s.battle("m1", "", "a", voter="ana"), "model_b must be"),
        (lambda s: s.battle("m1", "m2", "a", voter=""), "voter must be"),
        (lambda s: s.to_csv("x.csv", table="nope"), "'votes', 'history', 'battles'"),
    ],
)
def test_invalid_input_is_refused(
    tmp_path: Path, call: Callable[[VoteStore], object], needle: str
) -> None:
    store = VoteStore(tmp_path / "votes.db")
    with pytest.raises(InvalidRequestError, match=needle):
        call(store)
    assert store.votes_frame().empty and store.battles().empty


def test_battles_and_csv_export(tmp_path: Path) -> None:
    store = VoteStore(tmp_path / "votes.db")
    before = time.time()
    rec = store.battle("model-x", "model-y", "Both bad", voter="ana", prompt="2+2?")
    assert rec.winner == "bothbad" and rec.created_at >= before
    store.battle("model-y", "model-z", "a", voter="bo")
    store.vote("tool", "ship", voter="ana")
    frame = store.battles()
    assert list(frame.columns) == ["model_a", "model_b", "winner", "voter", "prompt", "created_at"]
    assert frame["winner"].tolist() == ["bothbad", "a"]
    assert frame["prompt"].tolist()[0] == "2+2?" and frame["prompt"].isna().tolist()[1]
    assert frame["created_at"].iloc[0].timestamp() == pytest.approx(rec.created_at, abs=1e-3)
    assert store.battle_count() == 2
    for table, rows in (("votes", 1), ("history", 1), ("battles", 2)):
        out = store.to_csv(tmp_path / f"{table}.csv", table=table)
        assert len(pd.read_csv(out)) == rows


def test_html_summary_escapes_names(tmp_path: Path) -> None:
    store = VoteStore(tmp_path / "votes.db")
    store.vote("<script>alert(1)</script>", "ship", voter="ana")
    store.battle("<b>m1</b>", "m2", "a", voter="ana")
    html = store._repr_html_()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)" in html
    assert "&lt;b&gt;m1" in html and "1 current votes" in html


def test_closed_store_reopens_on_demand(tmp_path: Path) -> None:
    # Notebooks close stores in a last cell; widgets built on them must keep working.
    store = VoteStore(tmp_path / "votes.db")
    store.vote("x", "ship", voter="ana")
    store.close()
    store.close()  # twice is fine
    assert store.tally("x") == {"ship": 1, "skip": 0}
    store.vote("x", "skip", voter="bo")
    assert store.tally("x") == {"ship": 1, "skip": 1}


@pytest.mark.parametrize("bad", [None, 123, "", 1.5])
def test_bad_path_argument_is_named(bad: object) -> None:
    with pytest.raises(InvalidRequestError, match="VoteStore\\(path\\)"):
        VoteStore(bad)  # type: ignore[arg-type]


def test_path_under_a_regular_file_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "plain.txt").write_text("not a folder")
    with pytest.raises(StoreError, match="is a file"):
        VoteStore(tmp_path / "plain.txt" / "sub" / "votes.db")


def test_lone_surrogates_are_replaced_not_raised(tmp_path: Path) -> None:
    store = VoteStore(tmp_path / "votes.db")
    record = store.battle("m\ud800", "n", "a", voter="v\udcff", prompt="p\udfff")
    assert record.model_a == "m\ufffd" and record.voter == "v\ufffd"
    frame = store.battles()
    assert frame.loc[0, "model_a"] == "m\ufffd" and frame.loc[0, "prompt"] == "p\ufffd"
    store.vote("s\ud83d", "ship", voter="x")
    assert store.tally("s\ud83d") == {"ship": 1, "skip": 0}


def test_read_only_location_reads_as_read_only_not_corrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "votes.db"
    with VoteStore(path) as store:
        store.vote("x", "ship", voter="ana")
        store.battle("m1", "m2", "a", voter="ana")
    before = path.read_bytes()
    # A read-only filesystem: os.access says "no write" even to root (EROFS); the tests
    # run as root, where chmod would not stop anything, so the answer is patched.
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode, **kw: False if mode & os.W_OK else real_access(p, mode)
    )
    store = VoteStore(path)
    assert store.read_only
    assert store.tally("x") == {"ship": 1, "skip": 0} and store.battle_count() == 1
    with pytest.raises(StoreError, match="read-only") as info:
        store.vote("x", "skip", voter="bo")
    assert not isinstance(info.value, CorruptStoreError)
    assert "backup" not in str(info.value)
    assert path.read_bytes() == before


# -- concurrency ---------------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from fusionkit.votes.store import VoteStore
    path, name, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    store = VoteStore(path)
    Path(go.parent / f"ready-{name}").touch()
    deadline = time.time() + 60
    while not go.exists() and time.time() < deadline:
        time.sleep(0.002)
    for i in range(n):
        store.vote(f"subject-{i % 5}", "ship" if i % 2 else "skip", voter=f"{name}-{i}")
        if i % 5 == 0:  # change this vote: one more history row, same current count
            store.vote(f"subject-{i % 5}", "ship", voter=f"{name}-{i}")
    store.close()
    """
)


def _writer(store: VoteStore, name: str, n: int, go: threading.Event, errors: list) -> None:
    try:
        go.wait(60)
        for i in range(n):
            store.vote(f"subject-{i % 5}", "ship" if i % 2 else "skip", voter=f"{name}-{i}")
            if i % 5 == 0:
                store.vote(f"subject-{i % 5}", "ship", voter=f"{name}-{i}")
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        errors.append(exc)


def test_concurrent_threads_and_processes_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "votes.db"
    store = VoteStore(path)
    n, threads_n, procs_n = 500, 8, 2
    go_file = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), f"p{k}", str(n), str(go_file)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for k in range(procs_n)
    ]
    deadline = time.time() + 60
    while len(list(tmp_path.glob("ready-*"))) < procs_n and time.time() < deadline:
        if any(p.poll() not in (None, 0) for p in procs):
            break
        time.sleep(0.01)
    go, errors = threading.Event(), []
    threads = [
        threading.Thread(target=_writer, args=(store, f"t{k}", n, go, errors))
        for k in range(threads_n)
    ]
    for t in threads:
        t.start()
    go_file.touch()  # processes and threads start writing together
    go.set()
    for t in threads:
        t.join(120)
    outs = [p.communicate(timeout=120) for p in procs]
    assert not errors, errors
    assert [p.returncode for p in procs] == [0] * procs_n, [o[1][-2000:] for o in outs]

    writers = threads_n + procs_n
    votes = store.votes_frame()
    assert len(votes) == writers * n
    assert votes["voter"].nunique() == writers * n
    assert len(store.history_frame()) == writers * (n + n // 5)
    tallies = store.tallies()
    assert sum(t["ship"] + t["skip"] for t in tallies.values()) == writers * n
    # Every writer: odd i ship, even i skip, but every i % 5 == 0 changed to ship.
    ship_each = sum(1 for i in range(n) if i % 2 or i % 5 == 0)
    assert sum(t["ship"] for t in tallies.values()) == writers * ship_each


def test_many_threads_can_create_the_same_new_store(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def open_and_vote(k: int) -> None:
        try:
            barrier.wait(10)
            VoteStore(path).vote("s", "ship", voter=f"v{k}")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=open_and_vote, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert VoteStore(path).tally("s") == {"ship": 6, "skip": 0}


# -- damaged, foreign, old and new files ----------------------------------------------------


def test_random_bytes_are_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "votes.db"
    path.write_bytes(os.urandom(16384))
    before = digest(path)
    with pytest.raises(CorruptStoreError, match="not a SQLite database") as info:
        VoteStore(path)
    assert "new path" in str(info.value) and "move this file aside" in str(info.value)
    assert digest(path) == before
    assert side_files(path) == []


def test_short_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "votes.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 20)
    with pytest.raises(CorruptStoreError):
        VoteStore(path)


@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_foreign_sqlite_file_is_refused_and_left_untouched(tmp_path: Path, journal: str) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA journal_mode = {journal}")
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO users (name) VALUES ('x')")
    conn.commit()
    conn.close()
    assert side_files(path) == []
    before = digest(path)
    with pytest.raises(CorruptStoreError, match=r"another kind \(tables: users\)"):
        VoteStore(path)
    assert digest(path) == before
    assert side_files(path) == []  # not even -wal/-shm files


def test_damaged_store_body_gives_corrupt_store_error(tmp_path: Path) -> None:
    path = tmp_path / "votes.db"
    store = VoteStore(path)
    for i in range(3000):
        store.vote(f"subject-{i}", "ship", voter="a-rather-long-voter-name-to-fill-pages")
    store.close()
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 8 * page
    data[3 * page : len(data) - page] = os.urandom(len(data) - 4 * page)
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptStoreError, match="damage|not a usable"):
        VoteStore(path).votes_frame()


def test_a_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "votes.db"
    VoteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    before = digest(path)
    with pytest.raises(StoreError, match="newer fusionkit") as info:
        VoteStore(path)
    assert not isinstance(info.value, CorruptStoreError)
    assert digest(path) == before


def test_an_empty_file_becomes_a_store(tmp_path: Path) -> None:
    path = tmp_path / "votes.db"
    path.touch()
    store = VoteStore(path)
    store.vote("s", "ship", voter="ana")
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="folder"):
        VoteStore(tmp_path)


def test_migration_from_schema_v1(tmp_path: Path) -> None:
    # A version-1 file, written by hand as the first release wrote it (no battles table).
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        f"""
        PRAGMA application_id = {APPLICATION_ID};
        CREATE TABLE votes (subject TEXT NOT NULL, voter TEXT NOT NULL,
            verdict TEXT NOT NULL CHECK (verdict IN ('ship', 'skip')),
            updated_at REAL NOT NULL, PRIMARY KEY (subject, voter));
        CREATE TABLE vote_history (id INTEGER PRIMARY KEY AUTOINCREMENT,
            subject TEXT NOT NULL, voter TEXT NOT NULL,
            verdict TEXT NOT NULL CHECK (verdict IN ('ship', 'skip')), created_at REAL NOT NULL);
        INSERT INTO votes VALUES ('old tool', 'ana', 'ship', 1.0), ('old tool', 'bo', 'skip', 2.0);
        INSERT INTO vote_history (subject, voter, verdict, created_at)
            VALUES ('old tool', 'ana', 'ship', 1.0), ('old tool', 'bo', 'skip', 2.0);
        PRAGMA user_version = 1;
        """
    )
    conn.close()
    store = VoteStore(path)
    assert store.schema_version == SCHEMA_VERSION == 2
    assert store.tally("old tool") == {"ship": 1, "skip": 1}
    store.battle("m1", "m2", "tie", voter="ana")
    assert len(store.battles()) == 1
    store.vote("old tool", "ship", voter="bo")
    assert store.tally("old tool") == {"ship": 2, "skip": 0}
    assert len(store.history_frame()) == 3


def test_store_keeps_nothing_beyond_what_is_given(tmp_path: Path) -> None:
    path = tmp_path / "votes.db"
    store = VoteStore(path)
    store.vote("s", "ship", voter="ana")
    store.battle("m1", "m2", "a", voter="ana", prompt="p")
    store.close()
    conn = sqlite3.connect(path)
    columns = {
        table: [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        for (table,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        )
    }
    conn.close()
    assert columns == {
        "votes": ["subject", "voter", "verdict", "updated_at"],
        "vote_history": ["id", "subject", "voter", "verdict", "created_at"],
        "battles": ["id", "model_a", "model_b", "winner", "voter", "prompt", "created_at"],
    }
