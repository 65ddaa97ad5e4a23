"""``merge``: the judge analyses the candidates (structured), then writes one synthesis."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from ...asking import Reply
from .. import judge as J
from .. import verdicts as V
from ..judging import ask_judge, fallback, judge_fields
from ..labels import by_label
from ..records import Candidate, Judgment, MergeAnalysis
from .base import Mode

if TYPE_CHECKING:  # pragma: no cover
    from ..result import FusionResult
    from ..state import Run

__all__ = ["Merge"]


def _read_analysis(reply: Reply) -> tuple[MergeAnalysis | None, str | None]:
    # the schema'd object when the backend decoded one, else the text, leniently
    if isinstance(reply.parsed, Mapping):
        return V.read_analysis(reply.parsed)
    return V.parse_analysis(reply.text)


class Merge(Mode):
    """Analysis (consensus, contradictions, insights, blind spots), then a synthesis."""

    name: ClassVar[str] = "merge"
    summary: ClassVar[str] = "the judge analyses the answers and writes a new one"

    async def decide(self, run: Run, ok: list[Candidate]) -> tuple[str, Judgment]:
        prompt = run.plan.prompt
        items = [(c.label, c.text) for c in by_label(ok)]
        # Delimiters carry a nonce no candidate can predict or write (as best-of's do).
        nonce = J.prompt_nonce(prompt, items)
        a = await ask_judge(
            run,
            "analysis",
            J.analysis_messages(prompt, items, nonce),
            _read_analysis,
            J.ANALYSIS_SHAPE,
            schema=J.ANALYSIS_SCHEMA,
        )
        if a.errored:
            return await fallback(run, ok, f"merge analysis failed: {a.problem}")
        s = await ask_judge(
            run,
            "synthesis",
            J.synthesis_messages(prompt, items, a.value, nonce),
            lambda reply: J.parse_synthesis(reply.text),
            J.SYNTHESIS_SHAPE,
            # Free text: a small model may echo the prompt's delimiters and carry on as if
            # writing another block, or loop. Stop at a closing delimiter and clean what
            # comes back (parse_synthesis); the length is capped by judge_max_tokens.
            stop=(J.DELIMITER,),
        )
        note = (
            None
            if a.value is not None
            else f"analysis unreadable ({a.problem}); the synthesis was written from the "
            "responses alone"
        )
        if s.value is None:
            return await fallback(
                run,
                ok,
                f"merge synthesis unusable: {s.problem}",
                base={"analysis": a.value, "note": note},
            )
        n = len(a.value.consensus) if a.value else 0
        rationale = (
            f"Synthesis of {len(ok)} responses after a structured analysis ({n} consensus points)."
            if a.value
            else f"Synthesis of {len(ok)} responses."
        )
        return s.value, Judgment(
            method="merge",
            rationale=rationale,
            raw=s.raw,
            attempts=a.attempts + s.attempts,
            analysis=a.value,
            note=note,
            **judge_fields(run),
        )

    def verdict_parts(self, result: FusionResult) -> list[str]:
        if result.judgment.method == "merge":
            return ["judge wrote a synthesis"]
        return super().verdict_parts(result)
