"""Quality, honestly reported: does fusing a pool beat its own first member, greedy?

On the committed held-out item set (``fusionkit.tasks.load_quality_items``: 240 seeded
items of graded difficulty: arithmetic with 1-3 operations, word problems, multiple
choice), every mode runs on every item:

- ``single``: the pool's first member alone, greedy (temperature 0): the baseline;
- every fusion mode the library registers (``fusionkit.fusion.MODES``: ``vote``,
  ``best-of``, ``merge``, ``debate``, ...), through the public ``fusionkit.afuse`` only.

Every final answer is graded by ``fusionkit.tasks.grade`` (the answer a person would
read, with the prompt as the question). Reported per mode: accuracy with a 95 %
bootstrap interval; the paired difference to ``single`` with a paired bootstrap
interval (items resampled, both conditions together); the oracle rate (any candidate
right: what a perfect selector could reach); the selection efficiency
``(fused - single) / (oracle - single)``; how many final answers contain judge-prompt
delimiters (``<<<``, ``>>>``, ``RESPONSE A``); judge fallbacks; median latency per item.
Writes ``<out>.json`` (configuration, every item's record, the summary) and ``<out>.md``
(the table).

Run (the embedded SmolLM2-135M in NF4, the default):
    .venv/bin/python -W ignore benchmarks/bench_fusion_quality.py --n 30
Any pool by spec:
    ... --pool edge,edge,edge --judge edge
    ... --pool http://127.0.0.1:8080/v1#m --judge http://127.0.0.1:8080/v1#m
    ... --modes single,vote --vote-size 5 --n 120 --seed 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import fusionkit as fk
from fusionkit.fusion import MODES
from fusionkit.models.specs import spec_form
from fusionkit.tasks import Task, grade, load_quality_items

DELIMITERS = re.compile(r"<<<|>>>|RESPONSE [A-Z]\b")
BOOTSTRAP_ROUNDS = 2000


def build_pool(specs: str, built: dict[str, Any], max_batch_size: int | None = None) -> list[Any]:
    """Models from a comma-separated spec list; each distinct spec is built once, so a
    repeated local model is one model (its micro-batcher serves every occurrence).
    ``max_batch_size`` goes to local models only (a GPU takes far more rows a step)."""
    pool = []
    for spec in (s.strip() for s in specs.split(",") if s.strip()):
        if spec not in built:
            local = spec_form(spec) in ("edge", "local")
            kwargs = {"max_batch_size": max_batch_size} if local and max_batch_size else {}
            built[spec] = fk.model(spec, **kwargs)
        pool.append(built[spec])
    if not pool:
        raise SystemExit(f"no model in spec list {specs!r}")
    return pool


def _given(**kwargs: Any) -> dict[str, Any]:
    """The keyword arguments that are set (None leaves ``fusionkit.afuse``'s default)."""
    return {k: v for k, v in kwargs.items() if v is not None}


def _answer_kind(task: Task) -> str:
    return "auto" if task.kind == "choice" else "number"


async def run_single(task: Task, model: Any, args: argparse.Namespace) -> dict[str, Any]:
    t = time.perf_counter()
    try:
        c = await model.acomplete(
            task.prompt, max_tokens=args.max_tokens, temperature=0.0, cache=args.cache
        )
        text, error = c.text, None
    except fk.FusionkitError as exc:
        text, error = "", f"{type(exc).__name__}: {exc}"
    extracted, ok = grade(task, text)
    return {
        "answer": text,
        "extracted": extracted,
        "correct": ok,
        "seconds": time.perf_counter() - t,
        "error": error,
        "candidates": None,
    }


async def run_fusion(
    task: Task, mode: str, pool: list[Any], judge: Any, seed: int, args: argparse.Namespace
) -> dict[str, Any]:
    t = time.perf_counter()
    kwargs = _given(
        max_tokens=args.max_tokens,
        judge_max_tokens=args.judge_max_tokens,
        temperature=args.temperature,
        seed=seed,
        rounds=args.rounds if mode == "debate" else None,
        extract=_answer_kind(task),
        cache=args.cache,
        progress=False,
        mode_options=args.mode_options.get(mode) or None,
    )
    try:
        r = await fk.afuse(task.prompt, pool, judge, mode, **kwargs)
    except fk.FusionkitError as exc:
        return {
            "answer": "",
            "extracted": None,
            "correct": False,
            "seconds": time.perf_counter() - t,
            "error": f"{type(exc).__name__}: {exc}",
            "candidates": [],
        }
    seconds = time.perf_counter() - t
    extracted, ok = grade(task, r.answer)
    candidates = []
    for c in r.candidates:
        c_text = c.text if getattr(c, "ok", True) else ""
        c_extracted, c_ok = grade(task, c_text)
        candidates.append({"text": c_text, "extracted": c_extracted, "correct": c_ok})
    judgment = getattr(r, "judgment", None)
    return {
        "answer": r.answer,
        "extracted": extracted,
        "correct": ok,
        "seconds": seconds,
        "error": None,
        "candidates": candidates,
        "method": getattr(judgment, "method", None),
        "fallback": bool(getattr(judgment, "fallback", False)),
        "fallback_reason": getattr(judgment, "fallback_reason", None),
        "tie_break": getattr(judgment, "tie_break", None),
        "votes": getattr(judgment, "votes", None),
    }


# -- statistics -----------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def bootstrap(
    columns: Sequence[Sequence[float]], stat: Any, rounds: int, rng: random.Random
) -> tuple[float | None, float | None]:
    """95 % percentile interval of ``stat(*columns)`` over items resampled with
    replacement; the columns are resampled together (paired). Rounds where the statistic
    is undefined (None) are dropped."""
    n = len(columns[0])
    values = []
    for _ in range(rounds):
        idx = [rng.randrange(n) for _ in range(n)]
        v = stat(*[[col[i] for i in idx] for col in columns])
        if v is not None:
            values.append(v)
    if len(values) < rounds // 2:
        return None, None
    return _percentile(values, 0.025), _percentile(values, 0.975)


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def _efficiency(fused: Sequence[float], single: Sequence[float], oracle: Sequence[float]):
    gap = _mean(oracle) - _mean(single)
    return None if gap <= 0 else (_mean(fused) - _mean(single)) / gap


def summarise(records: list[dict[str, Any]], modes: list[str], rounds: int, seed: int):
    rng = random.Random(seed)
    single = (
        [float(r["modes"]["single"]["correct"]) for r in records] if "single" in modes else None
    )
    rows = []
    for mode in modes:
        res = [r["modes"][mode] for r in records]
        ok = [float(x["correct"]) for x in res]
        row: dict[str, Any] = {"mode": mode, "n": len(ok), "correct": int(sum(ok))}
        row["accuracy"] = _mean(ok)
        row["accuracy_ci"] = bootstrap([ok], _mean, rounds, rng)
        by_kind = {}
        for kind in ("arithmetic", "word", "choice"):
            k_ok = [o for o, r in zip(ok, records, strict=True) if r["kind"] == kind]
            if k_ok:
                by_kind[kind] = f"{int(sum(k_ok))}/{len(k_ok)}"
        row["by_kind"] = by_kind
        by_level: dict[int, str] = {}
        for level in sorted({int(r.get("difficulty") or 1) for r in records}):
            l_ok = [
                o
                for o, r in zip(ok, records, strict=True)
                if int(r.get("difficulty") or 1) == level
            ]
            by_level[level] = f"{int(sum(l_ok))}/{len(l_ok)}"
        row["by_difficulty"] = by_level
        ties = Counter(x.get("tie_break") for x in res if x.get("tie_break"))
        row["tie_breaks"] = dict(ties)
        if mode != "single":
            oracle = [float(any(c["correct"] for c in x["candidates"] or [])) for x in res]
            row["oracle"] = _mean(oracle)
            row["oracle_ci"] = bootstrap([oracle], _mean, rounds, rng)
            if single is not None:
                diff = [a - b for a, b in zip(ok, single, strict=True)]
                row["vs_single"] = _mean(diff)
                row["vs_single_ci"] = bootstrap([diff], _mean, rounds, rng)
                row["efficiency"] = _efficiency(ok, single, oracle)
                row["efficiency_ci"] = bootstrap([ok, single, oracle], _efficiency, rounds, rng)
            row["fallbacks"] = sum(bool(x.get("fallback")) for x in res)
        row["delimiters"] = sum(bool(DELIMITERS.search(x["answer"] or "")) for x in res)
        row["no_answer"] = sum(x["extracted"] is None for x in res)
        row["errors"] = sum(x["error"] is not None for x in res)
        secs = [x["seconds"] for x in res]
        row["median_s"] = statistics.median(secs)
        row["mean_s"] = statistics.mean(secs)
        rows.append(row)
    return rows


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def _ci(ci: tuple[float | None, float | None] | None, signed: bool = False) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return "—"
    f = "{:+.1f}" if signed else "{:.1f}"
    return f"[{f.format(100 * ci[0])}, {f.format(100 * ci[1])}]"


def markdown(rows: list[dict[str, Any]]) -> str:
    head = (
        "| mode | accuracy [95 % CI] | vs single, paired (pts) [95 % CI] | oracle (any member "
        "right) | selection efficiency | arithmetic | word | choice | no answer | delimiters "
        "in answer | judge fallbacks | median s / item |\n"
        "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [head]
    for r in rows:
        vs = (
            f"{100 * r['vs_single']:+.1f} {_ci(r.get('vs_single_ci'), signed=True)}"
            if "vs_single" in r
            else "—"
        )
        eff = r.get("efficiency")
        eff_s = "—" if eff is None else f"{eff:+.2f} {_ci2(r.get('efficiency_ci'))}"
        oracle = f"{_pct(r['oracle'])} {_ci(r.get('oracle_ci'))}" if "oracle" in r else "—"
        k = r["by_kind"]
        lines.append(
            f"| {r['mode']} | {_pct(r['accuracy'])} ({r['correct']}/{r['n']}) "
            f"{_ci(r['accuracy_ci'])} | {vs} | {oracle} | {eff_s} | {k.get('arithmetic', '—')} "
            f"| {k.get('word', '—')} | {k.get('choice', '—')} | {r['no_answer']} "
            f"| {r['delimiters']} | {r.get('fallbacks', '—')} | {r['median_s']:.1f} |"
        )
    levels = sorted({lv for r in rows for lv in r.get("by_difficulty", {})})
    if levels:
        lines += [
            "",
            "Correct by difficulty (1 easiest), and how ties were broken:",
            "",
            "| mode | " + " | ".join(f"level {lv}" for lv in levels) + " | tie-breaks |",
            "|---|" + "---:|" * len(levels) + "---|",
        ]
        for r in rows:
            cells = " | ".join(r["by_difficulty"].get(lv, "—") for lv in levels)
            ties = ", ".join(f"{k} {v}" for k, v in sorted(r.get("tie_breaks", {}).items()))
            lines.append(f"| {r['mode']} | {cells} | {ties or '—'} |")
    return "\n".join(lines)


def _ci2(ci: tuple[float | None, float | None] | None) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return ""
    return f"[{ci[0]:+.2f}, {ci[1]:+.2f}]"


# -- the run --------------------------------------------------------------------------------


async def main_async(args: argparse.Namespace) -> None:
    available = MODES
    modes = (
        [m.strip() for m in args.modes.split(",") if m.strip()]
        if args.modes
        else [
            "single",
            *available,
        ]
    )
    unknown = [m for m in modes if m != "single" and m not in available]
    if unknown:
        raise SystemExit(f"unknown mode(s) {unknown}; this fusionkit has {list(available)}")
    built: dict[str, Any] = {}
    t = time.perf_counter()
    pool = build_pool(args.pool, built, args.max_batch_size)
    vote_pool = (pool * args.vote_size)[: args.vote_size] if args.vote_size > 0 else pool
    judge = build_pool(args.judge, built, args.max_batch_size)[0] if args.judge else None
    print(f"models ready in {time.perf_counter() - t:.0f} s: {sorted(built)}", flush=True)
    tasks = load_quality_items(args.items, n=args.n)
    sem = asyncio.Semaphore(args.concurrency)
    records: list[dict[str, Any]] = [
        {
            "id": task.id,
            "kind": task.kind,
            "difficulty": task.difficulty,
            "expected": task.answer,
            "prompt": task.prompt,
            "modes": {},
        }
        for task in tasks
    ]
    done = 0
    started = time.perf_counter()
    deadline = started + args.time_limit if args.time_limit else None

    async def one(i: int, task: Task, mode: str) -> None:
        nonlocal done
        seed = args.seed * 1_000_003 + i * 101
        async with sem:
            if deadline is not None and time.perf_counter() > deadline:
                return  # past --time-limit: start nothing new; the item is left out whole
            if mode == "single":
                res = await run_single(task, pool[0], args)
            else:
                members = vote_pool if mode in ("vote", "vote-weighted") else pool
                res = await run_fusion(task, mode, members, judge, seed, args)
        records[i]["modes"][mode] = res
        done += 1
        print(
            f"[{done}/{len(tasks) * len(modes)}] {task.id} {mode}: "
            f"{'Y' if res['correct'] else 'n'} ({res['extracted']!r} vs {task.answer!r}) "
            f"{res['seconds']:.1f} s" + (f" ERROR {res['error']}" if res["error"] else ""),
            flush=True,
        )

    await asyncio.gather(*(one(i, t, m) for i, t in enumerate(tasks) for m in modes))
    wall = time.perf_counter() - started
    complete = [r for r in records if len(r["modes"]) == len(modes)]
    if len(complete) < len(records):
        print(
            f"--time-limit {args.time_limit:.0f} s reached: {len(complete)} of {len(records)} "
            "items have every mode and are reported; the rest are left out whole.",
            flush=True,
        )
        finished = {r["id"] for r in complete}
        records, tasks = complete, [t for t in tasks if t.id in finished]
    if not records:
        raise SystemExit("no item finished every mode within --time-limit")
    rows = summarise(records, modes, args.bootstrap, args.seed)
    table = markdown(rows)
    config = {
        "argv": sys.argv,
        "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "fusionkit": getattr(fk, "__version__", "?"),
        "pool": args.pool,
        "vote_pool": [repr(m) for m in vote_pool],
        "judge": args.judge,
        "modes": modes,
        "n": len(tasks),
        "seed": args.seed,
        "max_tokens": args.max_tokens,
        "judge_max_tokens": args.judge_max_tokens,
        "temperature": args.temperature,
        "rounds": args.rounds,
        "concurrency": args.concurrency,
        "max_batch_size": args.max_batch_size,
        "time_limit": args.time_limit,
        "bootstrap_rounds": args.bootstrap,
        "wall_s": wall,
        "models": {spec: repr(m) for spec, m in built.items()},
        "items": str(args.items or "committed quality items"),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"config": config, "summary": rows, "items": records}
    out.with_suffix(".json").write_text(json.dumps(payload, indent=1, default=str))
    note = (
        f"{len(tasks)} items, pool `{args.pool}`, vote pool of {len(vote_pool)}, "
        f"judge `{args.judge}`, seed {args.seed}, max_tokens {args.max_tokens}, judge "
        f"max_tokens {args.judge_max_tokens}, concurrency {args.concurrency}; wall "
        f"{wall:.0f} s ({wall / max(len(tasks), 1):.1f} s per item, all modes)."
    )
    out.with_suffix(".md").write_text(f"{note}\n\n{table}\n")
    print(f"\n{note}\n\n{table}\n\nwrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=30, help="first N committed items (default 30)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--modes", default=None, help="comma list; default single + every mode")
    ap.add_argument("--pool", default="edge,edge,edge", help="comma-separated model specs")
    ap.add_argument(
        "--vote-size",
        type=int,
        default=5,
        help="members of the vote pool: the pool repeated to this size (0: the pool)",
    )
    ap.add_argument("--judge", default="edge", help="judge spec ('' for none)")
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--judge-max-tokens", type=int, default=96)
    ap.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="members' temperature (default: the library's choice)",
    )
    ap.add_argument("--rounds", type=int, default=2, help="debate rounds")
    ap.add_argument("--concurrency", type=int, default=4, help="fusions in flight at once")
    ap.add_argument("--cache", action="store_true", help="use the response cache")
    ap.add_argument(
        "--max-batch-size",
        type=int,
        default=None,
        help="rows per generate step for local models (default: the library's; a GPU takes more)",
    )
    ap.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="seconds: start no new item after this; report the items that finished every mode",
    )
    ap.add_argument("--bootstrap", type=int, default=BOOTSTRAP_ROUNDS)
    ap.add_argument("--items", default=None, help="a JSON-lines task file instead")
    ap.add_argument(
        "--mode-option",
        action="append",
        default=[],
        metavar="MODE:KEY=VALUE",
        help="an option of one mode (repeatable; VALUE read as JSON when it parses), "
        "e.g. cascade:threshold=-0.5",
    )
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    ap.add_argument(
        "--out",
        default=f"reports/quality/quality-{stamp}",
        help="output path without suffix (.json and .md are written)",
    )
    args = ap.parse_args(argv)
    args.mode_options = {}
    for item in args.mode_option:
        mode, sep, rest = item.partition(":")
        key, eq, value = rest.partition("=")
        if not (sep and eq and mode and key):
            ap.error(f"--mode-option takes MODE:KEY=VALUE, got {item!r}")
        try:
            parsed: Any = json.loads(value)
        except ValueError:
            parsed = value
        args.mode_options.setdefault(mode, {})[key] = parsed
    return args


def main() -> None:
    args = parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; {vars(args)}", flush=True)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
