"""Panel, decision page and FusionConsole: parallelism and overheads.

Measures:

1. A panel review with FakeModel personas of a fixed latency: wall time against the
   sequential sum (the personas run in one ``asyncio.gather``).
2. ``compare()`` (two panels at once) and the decision page's HTML rendering time.
3. FusionConsole: how long Run blocks the caller, and the console's overhead over a
   direct ``fuse()`` of the same pool (event callbacks re-render the status table).
4. With ``--edge``: ``compare()`` of two cards on the real embedded model (2 tools x 5
   personas, the panel's defaults: schema-constrained, greedy), with how many reviews are
   usable (a score, a verdict and a take that passes the panel's checks), how many were
   re-asked, cut at a loop, had their verdict decided by the score, or repeat the worked
   example's score, and the wall time.

Usage: ``.venv/bin/python benchmarks/bench_panel.py [--edge]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from fusionkit.fusion.engine import fuse
from fusionkit.models.fake import FakeModel
from fusionkit.panel.compare import compare
from fusionkit.panel.review import Panel
from fusionkit.panel.types import Persona, ToolCard

CARD_A = ToolCard(
    "Edge 4-bit", "Offline edge model", "Edge LLM", "Free", "pip install", "Runs on a CPU."
)
CARD_B = ToolCard("Cloud Pro", "Hosted model", "Hosted LLM", "$20/mo", "Sign up", "Remote API.")
REPLY = json.dumps({"reason": "Saves hours every week.", "score": 80, "verdict": "ship"})


class Votes:
    def tally(self, name: str) -> dict[str, int]:
        return {"ship": 7, "skip": 2}


def best_of(fn, n: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def bench_panel() -> None:
    print("| personas | latency each | sequential sum | wall (best of 3) |")
    print("|---:|---:|---:|---:|")
    for n, lat in ((5, 0.2), (5, 0.5), (20, 0.2)):
        personas = [Persona(f"P{i}", focus=f"angle {i}") for i in range(n)]
        panel = Panel(FakeModel("fake", REPLY, latency=lat), personas=personas)
        wall = best_of(lambda panel=panel: panel.review(CARD_A, progress=False))
        print(f"| {n} | {lat:.1f} s | {n * lat:.1f} s | {wall:.3f} s |")


def bench_compare() -> None:
    panel = Panel(FakeModel("fake", REPLY, latency=0.2))
    wall = best_of(lambda: compare(CARD_A, CARD_B, panel=panel, votes=Votes(), progress=False))
    d = compare(CARD_A, CARD_B, panel=panel, votes=Votes(), progress=False)
    render = statistics.median(
        [best_of(d._repr_html_, n=1) for _ in range(50)]  # warm Jinja cache first
    )
    print(f"\ncompare(): 2 tools x 5 personas x 0.2 s (2.0 s sequential): {wall:.3f} s wall")
    print(f"decision page HTML render: {render * 1000:.2f} ms (median of 50)")


def bench_console() -> None:
    from fusionkit.widgets.console import FusionConsole

    pool = [FakeModel(f"m{i}", "42", latency=0.2) for i in range(4)]
    direct = best_of(lambda: fuse("6 * 7?", pool, mode="vote"))
    console = FusionConsole(pool, mode="vote", prompt="6 * 7?")
    blocks, totals = [], []
    for _ in range(3):
        t = time.perf_counter()
        console.run_button.click()
        blocks.append(time.perf_counter() - t)
        console.wait(30)
        totals.append(time.perf_counter() - t)
    print(
        f"\nFusionConsole, 4 members x 0.2 s, vote: Run blocks the caller {min(blocks) * 1000:.1f} ms; "
        f"run to done {min(totals):.3f} s vs direct fuse() {direct:.3f} s"
    )


def bench_edge() -> None:
    from fusionkit.models.local.embedded import edge_model
    from fusionkit.panel.parse import take_problem
    from fusionkit.panel.personas import DEFAULT_PERSONAS

    t = time.perf_counter()
    model = edge_model(cache=False, progress=False)
    model.complete("Hi", max_tokens=1)  # load now, so the wall time below is the panel's
    load = time.perf_counter() - t
    panel = Panel(model)
    t = time.perf_counter()
    d = compare(CARD_A, CARD_B, panel=panel, progress=True)
    wall = time.perf_counter() - t
    reviews = [r for res in (d.panel_a, d.panel_b) if res is not None for r in res.reviews]
    usable = [r for r in reviews if r.has_view and take_problem(r.take) is None]
    example_scores = {p.name: p.example_score for p in DEFAULT_PERSONAS}
    copied = sum(r.score == example_scores.get(r.persona) for r in usable)
    notes = [r.note or "" for r in reviews]
    print(
        f"\nedge model compare() (2 tools x 5 personas, max_tokens {panel.max_tokens}): "
        f"{len(usable)}/{len(reviews)} usable reviews; {wall:.1f} s wall "
        f"(model load {load:.1f} s before it); "
        f"{sum(r.attempts for r in reviews)} model calls "
        f"({sum(r.attempts > 1 for r in reviews)} re-asked); "
        f"{sum('looped' in n for n in notes)} takes cut at a loop; "
        f"{sum('score decides' in n for n in notes)} verdicts decided by the score; "
        f"{copied} usable reviews repeat their worked example's score"
    )
    for res in (d.panel_a, d.panel_b):
        if res is None:
            continue
        print(f"  {res.subject_name}: {res.headline}")
        for r in res.reviews:
            print(f"    {r.persona:<8} {r.label:<16} {r.take[:110]!r} {r.error or ''}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--edge", action="store_true", help="also run the real embedded model")
    args = parser.parse_args()
    bench_panel()
    bench_compare()
    bench_console()
    if args.edge:
        bench_edge()


if __name__ == "__main__":
    main()
