"""What a fusion mode is: one object that collects candidates, decides, and describes itself.

The engine, :func:`~fusionkit.fusion.prepare.prepare_setup`, the console, the CLI, the tables
and the result all read a mode from the registry (:mod:`fusionkit.fusion.modes`) instead
of testing its name. A mode owns:

- its **name**, **aliases** and whether it **needs a judge**;
- **options** of its own (``fuse(..., mode_options={...})``), checked by
  :meth:`Mode.check_options` before any model is called;
- **collecting candidates** (:meth:`Mode.collect`): by default the pool answers once
  (stage 1); a debate then runs its rounds; a cascade may ask one model first and
  decide whether to run the pool at all;
- **deciding** (:meth:`Mode.decide`): turning the successful candidates into one answer
  and a :class:`~fusionkit.fusion.result.Judgment`;
- **describing itself**: the verdict line of the tables (:meth:`Mode.verdict_parts`) and
  the console's stage line (:meth:`Mode.stage_text`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ...errors import InvalidRequestError
from ..events import FusionEvent
from ..judging import judge_fields
from ..pool import stage1_collect
from ..records import Candidate, DebateRound, Judgment

if TYPE_CHECKING:  # pragma: no cover
    from ..result import FusionResult
    from ..state import Run

__all__ = ["Collected", "Mode"]


@dataclass(frozen=True, slots=True)
class Collected:
    """What :meth:`Mode.collect` hands to :meth:`Mode.decide`.

    Attributes:
        candidates: One per pool member, in pool order (failed ones included).
        rounds: A debate transcript (round 0 = the initial answers); empty otherwise.
        pool_end_s: When the pool's first answers were all in (seconds since the start);
            the time after it, up to the end of collecting, is reported as debate time.
    """

    candidates: list[Candidate]
    rounds: tuple[DebateRound, ...] = ()
    pool_end_s: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


class Mode:
    """A fusion mode. Subclass it, set the class attributes, implement :meth:`decide`.

    Attributes:
        name: The canonical name (``"best-of"``).
        aliases: Other spellings accepted by ``fuse(mode=...)``.
        needs_judge: ``fuse`` refuses to run without a judge (see :meth:`missing_judge`).
        stage: The name of the deciding stage in events (``"judge"`` or ``"vote"``).
        summary: One line for help texts.
        single_shortcut: With one successful candidate, return it without deciding.
    """

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    needs_judge: ClassVar[bool] = True
    stage: ClassVar[str] = "judge"
    summary: ClassVar[str] = ""
    single_shortcut: ClassVar[bool] = True
    #: Option name -> one-line description; :meth:`check_options` accepts these only.
    option_help: ClassVar[Mapping[str, str]] = {}

    def __repr__(self) -> str:
        return f"<fusion mode {self.name!r}>"

    # -- options ----------------------------------------------------------------------------

    def check_options(self, options: Mapping[str, Any]) -> Mapping[str, Any]:
        """Validate this mode's options (``fuse(..., mode_options=...)``).

        Returns:
            The options to keep in the plan.

        Raises:
            InvalidRequestError: An option this mode does not take, or a bad value.
        """
        unknown = sorted(set(options) - set(self.option_help))
        if unknown:
            takes = ", ".join(self.option_help) or "none"
            raise InvalidRequestError(
                f"mode {self.name!r} does not take the option(s) {', '.join(unknown)} "
                f"(its options: {takes})."
            )
        return dict(options)

    def missing_judge(self, options: Mapping[str, Any]) -> str | None:
        """Whether this mode, with these options, needs a judge, and what to do instead.

        The engine's one missing-judge check (:func:`~fusionkit.fusion.prepare.prepare_setup`,
        which the CLI's dry run also runs) reads this before any model is called, and
        refuses with ``"mode '<name>' needs a judge: pass judge=<a model or spec>, or
        <this>."``. Override it when the options decide (a cascade escalating to best-of).

        Args:
            options: This mode's options, as :meth:`check_options` returned them.

        Returns:
            None when the mode runs without a judge; else the alternative to passing one.
        """
        return "use mode='vote', which needs none" if self.needs_judge else None

    # -- running ----------------------------------------------------------------------------

    async def collect(self, run: Run) -> Collected:
        """Gather the candidates (default: the pool answers once, in parallel)."""
        candidates = await stage1_collect(run)
        return Collected(candidates, pool_end_s=run.rec.now())

    async def decide(self, run: Run, ok: list[Candidate]) -> tuple[str, Judgment]:
        """Turn the successful candidates (at least one) into ``(answer, judgment)``."""
        raise NotImplementedError

    async def fuse_candidates(self, run: Run, candidates: list[Candidate]) -> tuple[str, Judgment]:
        """Stage 2 around :meth:`decide`: its events and the one-candidate shortcut."""
        ok = [c for c in candidates if c.ok]
        await run.rec.emit("stage_start", stage=self.stage)
        try:
            if self.single_shortcut and len(ok) == 1:
                return ok[0].text, Judgment(
                    method="single",
                    winner=ok[0].label,
                    rationale="Only one candidate answered; "
                    "nothing to compare, so the judge was not called.",
                    **judge_fields(run),
                )
            return await self.decide(run, ok)
        finally:
            await run.rec.emit("stage_finish", stage=self.stage)

    # -- describing -------------------------------------------------------------------------

    def verdict_parts(self, result: FusionResult) -> list[str]:
        """The mode's words in the verdict line (after ``"n/m members answered"``)."""
        winner = result.winner
        if winner is None:
            return []
        return [f"winner: Response {winner.label} ({winner.model})"]

    def stage_text(self, event: FusionEvent) -> str:
        """The console's stage line for an event ("" when the event changes nothing)."""
        kind = event.kind
        if kind == "fusion_start":
            return f"Running ({self.name})…"
        if kind == "stage_start" and event.stage == "pool":
            return "Stage 1: the pool is answering…"
        if kind == "round_start":
            return f"Debate round {event.round}…"
        if kind == "round_finish":
            return f"Debate round {event.round}: {event.detail or 'done'}."
        if kind == "stage_start" and event.stage == "judge":
            return "Stage 2: the judge is fusing…"
        if kind == "fusion_finish":
            return "Finished."
        return ""
