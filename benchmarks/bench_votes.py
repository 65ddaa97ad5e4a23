"""Benchmark: VoteStore write throughput under concurrent writers, and ratings time.

Run from the repository root:

    .venv/bin/python benchmarks/bench_votes.py            # full run
    .venv/bin/python benchmarks/bench_votes.py --quick    # smaller, for a smoke test

Prints a Markdown table for benchmarks/README.md ("Votes and ratings").
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fusionkit.votes.ratings import ratings  # noqa: E402
from fusionkit.votes.store import VoteStore  # noqa: E402

CHILD = """
import sys, time
from pathlib import Path
from fusionkit.votes.store import VoteStore
path, name, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
store = VoteStore(path)
(go.parent / f"ready-{name}").touch()
while not go.exists():
    time.sleep(0.001)
for i in range(n):
    store.vote(f"s{i % 20}", "ship" if i % 2 else "skip", voter=f"{name}-{i}")
store.close()
"""


def bench_writes(threads: int, procs: int, per_writer: int) -> tuple[int, float]:
    """All writers start together; returns (votes written, seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "votes.db"
        store = VoteStore(path)
        go = Path(tmp) / "go"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        children = [
            subprocess.Popen(
                [sys.executable, "-c", CHILD, str(path), f"p{k}", str(per_writer), str(go)],
                env=env,
            )
            for k in range(procs)
        ]
        while len(list(Path(tmp).glob("ready-*"))) < procs:
            time.sleep(0.005)
        start_evt = threading.Event()

        def writer(k: int) -> None:
            start_evt.wait()
            for i in range(per_writer):
                store.vote(f"s{i % 20}", "ship" if i % 2 else "skip", voter=f"t{k}-{i}")

        pool = [threading.Thread(target=writer, args=(k,)) for k in range(threads)]
        for t in pool:
            t.start()
        t0 = time.perf_counter()
        go.touch()
        start_evt.set()
        for t in pool:
            t.join()
        for c in children:
            c.wait()
        elapsed = time.perf_counter() - t0
        total = len(store.votes_frame())
        expected = (threads + procs) * per_writer
        assert total == expected, (total, expected)
        store.close()
        return total, elapsed


def simulate(n_models: int, n_battles: int, seed: int = 0) -> list[tuple[str, str, str]]:
    rng = np.random.default_rng(seed)
    strength = np.linspace(-2, 2, n_models)
    i = rng.integers(0, n_models, n_battles)
    j = (i + rng.integers(1, n_models, n_battles)) % n_models
    p = 1 / (1 + np.exp(-(strength[i] - strength[j])))
    u = rng.random(n_battles)
    winner = np.where(np.abs(u - p) < 0.05, "tie", np.where(u < p, "a", "b"))
    return [(f"m{a}", f"m{b}", w) for a, b, w in zip(i, j, winner, strict=True)]


def bench_ratings(n_models: int, n_battles: int, rounds: int) -> float:
    rows = simulate(n_models, n_battles)
    t0 = time.perf_counter()
    ratings(rows, rounds=rounds)
    return time.perf_counter() - t0


def bench_panel_clicks(subjects: int, clicks: int, displayed: bool) -> float:
    """Milliseconds per VotePanel click; displayed, each click also re-renders and sends
    the snapshot beside the view (IPython's display calls are stubbed: no kernel)."""
    import IPython.display as ipd

    from fusionkit.widgets.voting import VotePanel

    ipd.display = lambda *a, **k: None  # type: ignore[assignment]
    ipd.update_display = lambda *a, **k: None  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as tmp:
        store = VoteStore(Path(tmp) / "panel.db")
        names = [f"Tool {i}" for i in range(subjects)]
        panel = VotePanel(store, names, voter="ana")
        if displayed:
            panel._ipython_display_()
        t0 = time.perf_counter()
        for i in range(clicks):
            panel.buttons(names[i % subjects])[i % 2].click()
        secs = time.perf_counter() - t0
        assert sum(sum(t.values()) for t in store.tallies().values()) == subjects
        store.close()
    return secs / clicks * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    per = 200 if args.quick else 1000
    print("| writers | votes | seconds | votes/s |")
    print("|---|---:|---:|---:|")
    for threads, procs in ((1, 0), (8, 0), (0, 4), (8, 2)):
        total, secs = bench_writes(threads, procs, per)
        label = f"{threads} threads + {procs} processes"
        print(f"| {label} | {total} | {secs:.2f} | {total / secs:,.0f} |")
    print()
    print("| models | battles | bootstrap rounds | seconds |")
    print("|---:|---:|---:|---:|")
    cases = [(10, 1000, 1000), (10, 5000, 1000), (20, 20000, 1000), (50, 50000, 1000)]
    if args.quick:
        cases = cases[:2]
    for models, battles, rounds in cases:
        secs = min(bench_ratings(models, battles, rounds) for _ in range(2))
        print(f"| {models} | {battles} | {rounds} | {secs:.2f} |")
    assert not math.isnan(secs)
    print()
    print("| VotePanel subjects | snapshot displayed | ms per click |")
    print("|---:|---|---:|")
    for subjects in (2, 10):
        for displayed in (False, True):
            ms = min(
                bench_panel_clicks(subjects, 100 if args.quick else 400, displayed)
                for _ in range(2)
            )
            print(f"| {subjects} | {'yes' if displayed else 'no'} | {ms:.2f} |")


if __name__ == "__main__":
    main()
