"""Schema-constrained decoding on the embedded model: violations, cost, set-up, size.

1. **Violations**: 200 constrained generations of a reviewer verdict (reason 10-300 chars,
   score 0-100, verdict ship|skip) over 25 prompts x 8 (greedy and seeded sampling),
   submitted 8 at a time (one batch each). Every answer goes through the model boundary's
   validation; a violation is any ``StructuredOutputError``. Target: 0.
2. **Cost**: milliseconds per decoding step of a batch of 8 constrained rows vs the same 8
   prompts unconstrained for the same number of steps (open-ended prompts, so unconstrained
   rows run the whole budget), rounds alternating. Target: constrained <= 15 % slower.
3. **Set-up**: ``import llguidance`` (fresh interpreter), the token table built from the
   tokenizer, compiling the schema, a matcher, and one mask.
4. **Install size**: ``du`` of llguidance's site-packages folders.

Usage:
    .venv/bin/python benchmarks/bench_local_constrained.py [--n 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fusionkit.errors import StructuredOutputError  # noqa: E402
from fusionkit.models.local import LocalModel  # noqa: E402
from fusionkit.models.local.embedded import edge_model  # noqa: E402
from fusionkit.schema import Schema  # noqa: E402

VERDICT = {
    "type": "object",
    "properties": {
        "reason": {"type": "string", "minLength": 10, "maxLength": 300},
        "score": {"type": "integer", "minimum": 0, "maximum": 100},
        "verdict": {"enum": ["ship", "skip"]},
    },
    "required": ["reason", "score", "verdict"],
    "additionalProperties": False,
}
TOOLS = [
    "a CLI that formats SQL files",
    "a browser extension that blocks every image",
    "a solar phone charger that works in the shade",
    "a note-taking app that syncs over email",
    "a smart kettle with a touch screen",
    "a library that parses dates in 40 languages",
    "a password manager that stores passwords in plain text",
    "a bike lock that opens with a fingerprint",
    "a to-do app that deletes tasks after a day",
    "a keyboard with only ten keys",
    "a spreadsheet add-on that writes formulas from English",
    "a weather app that shows yesterday's weather",
    "a static site generator written in Bash",
    "a camera app that only takes black-and-white photos",
    "an alarm clock that runs away from you",
    "a code reviewer bot that approves everything",
    "a translation earpiece for 12 languages",
    "a calendar that schedules meetings at random",
    "a backup tool that keeps one copy on the same disk",
    "a recipe app that suggests meals from a photo of the fridge",
    "a VPN that logs every site you visit",
    "a plant sensor that texts you when soil is dry",
    "a markdown editor with live preview",
    "a fitness tracker with a 30-day battery",
    "an email client that hides all unread counts",
]


def prompt(tool: str) -> str:
    return (
        f"Review this product: {tool}. Answer with a JSON object: a reason, "
        "a score from 0 to 100, and a verdict, ship or skip."
    )


async def batch(model: LocalModel, calls: list[dict[str, Any]]) -> list[Any]:
    async def one(kw: dict[str, Any]) -> Any:
        try:
            return await model.acomplete(**kw)
        except StructuredOutputError as exc:
            return exc

    return list(await asyncio.gather(*(one(kw) for kw in calls)))


def violations(model: LocalModel, n: int) -> None:
    calls = []
    for i in range(n):
        tool = TOOLS[i % len(TOOLS)]
        sampled = i % 2 == 1
        calls.append(
            {
                "messages": prompt(tool),
                "schema": VERDICT,
                "max_tokens": 200,
                **({"temperature": 0.8, "seed": i} if sampled else {}),
            }
        )
    start = time.perf_counter()
    results: list[Any] = []
    for k in range(0, n, 8):
        results += asyncio.run(batch(model, calls[k : k + 8]))
    wall = time.perf_counter() - start
    bad = [r for r in results if isinstance(r, Exception)]
    good = [r for r in results if not isinstance(r, Exception)]
    reasons = [r.parsed["reason"] for r in good]
    tokens = [r.usage.completion_tokens for r in good]
    print(f"{n} constrained generations in {wall:.0f} s: {len(bad)} violations")
    for exc in bad[:3]:
        print("  violation:", str(exc)[:300])
    if good:
        verdicts = {v: sum(r.parsed["verdict"] == v for r in good) for v in ("ship", "skip")}
        print(
            f"  reasons: median {statistics.median(len(r) for r in reasons):.0f} chars "
            f"(min {min(len(r) for r in reasons)}, max {max(len(r) for r in reasons)}); "
            f"distinct reasons {len(set(reasons))}/{len(reasons)}; verdicts {verdicts}; "
            f"completion tokens median {statistics.median(tokens):.0f}, max {max(tokens)}; "
            f"finish reasons {sorted({r.finish_reason for r in good})}"
        )
        for r in good[:3]:
            print("  e.g.", r.text)


def cost(model: LocalModel, rounds: int) -> None:
    prompts = [prompt(t) for t in TOOLS[:8]]
    open_ended = [f"Write a long essay about {t}." for t in TOOLS[:8]]
    per_step: dict[str, list[float]] = {"constrained": [], "unconstrained": []}
    for i in range(rounds):
        start = time.perf_counter()
        rows = asyncio.run(batch(model, [{"messages": p, "schema": VERDICT, "max_tokens": 200} for p in prompts]))  # fmt: skip
        wall = time.perf_counter() - start
        steps = max(r.usage.completion_tokens for r in rows if not isinstance(r, Exception))
        per_step["constrained"].append(wall / steps)
        start = time.perf_counter()
        free = asyncio.run(batch(model, [{"messages": p, "max_tokens": steps} for p in open_ended]))
        wall = time.perf_counter() - start
        per_step["unconstrained"].append(wall / max(r.usage.completion_tokens for r in free))
        print(
            f"round {i + 1}: {steps} steps; constrained {1000 * per_step['constrained'][-1]:.1f} "
            f"ms/step, unconstrained {1000 * per_step['unconstrained'][-1]:.1f} ms/step"
        )
    c = statistics.median(per_step["constrained"])
    u = statistics.median(per_step["unconstrained"])
    print(
        f"median: constrained {1000 * c:.1f} ms/step vs {1000 * u:.1f}: {100 * (c / u - 1):+.1f} %"
    )


def setup(model: LocalModel) -> None:
    code = "import time; t = time.perf_counter(); import llguidance, llguidance.hf; print(time.perf_counter() - t)"  # noqa: E501
    imports = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout) for _ in range(5)]  # fmt: skip
    import llguidance
    import llguidance.hf

    start = time.perf_counter()
    tok = llguidance.hf.from_tokenizer(model.tokenizer, n_vocab=model.model.config.vocab_size)
    table = time.perf_counter() - start
    start = time.perf_counter()
    grammar = llguidance.LLMatcher.grammar_from_json_schema(Schema.of(VERDICT).json, defaults={"whitespace_flexible": False})  # fmt: skip
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    matcher = llguidance.LLMatcher(tok, grammar, log_level=0)
    matcher_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(100):
        matcher.compute_bitmask()
    mask_s = (time.perf_counter() - start) / 100
    print(
        f"import llguidance: median {1000 * statistics.median(imports):.0f} ms; token table "
        f"{1000 * table:.0f} ms; schema compile {1000 * compile_s:.2f} ms; matcher "
        f"{1000 * matcher_s:.2f} ms; one mask {1e6 * mask_s:.0f} us"
    )
    site = Path(llguidance.__file__).parent.parent
    du = subprocess.run(
        ["du", "-sk", *map(str, site.glob("llguidance*"))], capture_output=True, text=True
    )
    print("install size (du -sk):", " ".join(du.stdout.split()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    model = edge_model(cache=False, device="cpu")
    model.complete("Hi", max_tokens=2)  # first forward: bitsandbytes repacks its weights
    setup(model)
    cost(model, args.rounds)
    violations(model, args.n)
    model.close()


if __name__ == "__main__":
    main()
