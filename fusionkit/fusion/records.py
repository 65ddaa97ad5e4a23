"""The records a fusion is made of: frozen data, no model calls, no rendering.

:class:`Candidate` (one member's answer or failure), :class:`JudgeCall`,
:class:`MergeAnalysis`, :class:`Judgment` (how the answer was chosen), :class:`DebateTurn`
and :class:`DebateRound`, :class:`Timings`. :class:`~.result.FusionResult` holds them;
the modes build them. Kept apart from :mod:`.result` so that the modes (which build
records) and the display (which the result calls) never import each other in a circle.

Dict-valued fields (``scores``, ``votes``, ...) are plain dicts: the records are frozen,
their mappings are not deep-frozen (they stay picklable and copyable).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..types import Usage

__all__ = [
    "Candidate",
    "DebateRound",
    "DebateTurn",
    "JudgeCall",
    "Judgment",
    "MergeAnalysis",
    "Timings",
]


@dataclass(frozen=True, slots=True)
class Candidate:
    """One pool member's answer (or its failure).

    Attributes:
        label: Anonymous label the judge saw (``"A"``, ``"B"``, ...).
        model: The member's display name.
        index: Position in the ``pool`` list the caller gave.
        text: The answer text; the final revision in debate mode; ``""`` when failed.
        usage: Tokens in and out (summed over every debate round).
        latency_s: The model's own latency for its answer (summed over debate rounds);
            for a failure, how long the engine waited.
        cost_usd: Cost (summed over debate rounds); None when unknown. Failed calls cost
            0, except timeouts: the provider may still bill those, so they are unknown.
        error: ``"ErrorType: message"`` when the member failed, else None.
        seed: The sampling seed this member was given.
        temperature: The sampling temperature this member was given.
        start_s: When its stage-1 call began, seconds since the fusion started.
        end_s: When its stage-1 call ended.
        cached: True when its stage-1 answer came from the response cache.
        finish_reason: ``"stop"``, ``"length"``, ... as the backend reported.
        mean_logprob: The answer's mean token log-probability, when it was asked for
            (vote modes) and the backend reported it; else None.
    """

    label: str
    model: str
    index: int
    text: str = ""
    usage: Usage = field(default_factory=Usage)
    latency_s: float | None = None
    cost_usd: float | None = 0.0
    error: str | None = None
    seed: int | None = None
    temperature: float = 0.0
    start_s: float = 0.0
    end_s: float = 0.0
    cached: bool = False
    finish_reason: str | None = None
    mean_logprob: float | None = None

    @property
    def ok(self) -> bool:
        """True when the member answered."""
        return self.error is None

    @property
    def error_type(self) -> str | None:
        """The exception type name of the failure (``"ModelTimeoutError"``), or None."""
        if self.error is None:
            return None
        return self.error.split(":", 1)[0]


@dataclass(frozen=True, slots=True)
class JudgeCall:
    """One call to the judge model.

    Attributes:
        step: ``"score"``, ``"score-swapped"``, ``"analysis"``, ``"synthesis"``,
            ``"tie-break"``, each with ``"-retry"`` appended for the format re-ask.
        model: The judge's display name.
        text: The judge's raw reply (``""`` when the call failed).
        usage: Tokens in and out.
        latency_s: The judge's latency (or the engine's wait, on failure).
        cost_usd: Cost, None when unknown.
        error: ``"ErrorType: message"`` when the call failed.
        start_s: Seconds since the fusion started.
        end_s: Seconds since the fusion started.
        prompt: The messages sent, as ``(role, content)`` pairs (for audit).
        structured: True when the reply matched the requested JSON Schema, False when it
            did not (it was then read leniently), None when no schema was asked for.
        cached: True when the reply came from the response cache (``latency_s`` is then
            the original call's, ``end_s - start_s`` the lookup's).
    """

    step: str
    model: str
    text: str = ""
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    cost_usd: float | None = 0.0
    error: str | None = None
    start_s: float = 0.0
    end_s: float = 0.0
    prompt: tuple[tuple[str, str], ...] = ()
    structured: bool | None = None
    cached: bool = False

    @property
    def ok(self) -> bool:
        """True when the judge answered (readable or not)."""
        return self.error is None


@dataclass(frozen=True, slots=True)
class MergeAnalysis:
    """The judge's structured analysis in ``merge`` mode (step 1 of 2)."""

    consensus: tuple[str, ...] = ()
    contradictions: tuple[str, ...] = ()
    unique_insights: tuple[str, ...] = ()
    blind_spots: tuple[str, ...] = ()

    def sections(self) -> list[tuple[str, tuple[str, ...]]]:
        """``[(title, items), ...]`` in display order."""
        return [
            ("Consensus", self.consensus),
            ("Contradictions", self.contradictions),
            ("Unique insights", self.unique_insights),
            ("Blind spots", self.blind_spots),
        ]

    def __bool__(self) -> bool:
        return any(items for _, items in self.sections())


@dataclass(frozen=True, slots=True)
class Judgment:
    """How the answer was chosen.

    Attributes:
        method: ``"judge"`` (best-of and debate), ``"merge"``, ``"vote"``, ``"single"``
            (only one candidate answered: nothing to judge) or ``"fallback"``.
        winner: Label of the chosen candidate (None for a merge synthesis).
        scores: Label -> score 0-10 as the judge gave them (the mean of both passes when
            the swap check disagreed).
        rationale: The judge's reason, or the engine's for vote and fallback.
        raw: The judge's last raw reply (``""`` when no judge was called).
        fallback: True when the deterministic fallback chose the answer.
        fallback_reason: Why the fallback was needed.
        judge: The judge's display name, if a judge was used.
        judge_in_pool: True when the judge is also a pool member (self-preference risk).
        attempts: How many judge calls this judgment took (re-asks included).
        swap_agreement: With ``swap_check=True``: did both orders pick the same winner?
        swap_winner: The winner of the reversed-order pass.
        swap_scores: The scores of the reversed-order pass.
        analysis: The structured analysis (merge mode).
        votes: Normalised answer -> count (vote mode, and vote fallbacks).
        answers: Label -> extracted answer (vote and debate).
        tie_break: ``"confidence"`` (the members' token log-probabilities), ``"judge"``
            or ``"earliest"`` when a vote tie was broken, else None.
        note: Anything else the reader should know.
    """

    method: str
    winner: str | None = None
    scores: dict[str, float] = field(default_factory=dict)
    rationale: str = ""
    raw: str = ""
    fallback: bool = False
    fallback_reason: str | None = None
    judge: str | None = None
    judge_in_pool: bool = False
    attempts: int = 0
    swap_agreement: bool | None = None
    swap_winner: str | None = None
    swap_scores: dict[str, float] | None = None
    analysis: MergeAnalysis | None = None
    votes: dict[str, int] | None = None
    answers: dict[str, str | None] | None = None
    tie_break: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class DebateTurn:
    """One member's answer in one debate round (round 0 is the initial answer)."""

    label: str
    model: str
    text: str
    answer: str | None = None
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    cost_usd: float | None = 0.0
    error: str | None = None
    start_s: float = 0.0
    end_s: float = 0.0
    revised: bool = False


@dataclass(frozen=True, slots=True)
class DebateRound:
    """One debate round: every live member's turn and whether the answers agreed.

    Attributes:
        index: 0 for the initial answers (stage 1), then 1, 2, ...
        turns: One turn per member that answered in stage 1, in label order.
        agreed: True when every extracted answer was the same (the debate stops).
        answers: Label -> extracted answer after this round.
    """

    index: int
    turns: tuple[DebateTurn, ...]
    agreed: bool = False
    answers: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Timings:
    """Where the time went, in seconds.

    Attributes:
        pool_wall_s: Wall time of stage 1 (all members in parallel).
        slowest_member_s: The longest single member call, as the engine measured it.
        debate_s: Wall time of the debate rounds (0 outside debate mode).
        judge_s: Wall time of stage 2 (every judge call, re-asks included).
        total_s: The whole fusion, validation to result.
    """

    pool_wall_s: float
    slowest_member_s: float
    debate_s: float
    judge_s: float
    total_s: float

    @property
    def overhead_ratio(self) -> float | None:
        """Pool wall time / slowest member: 1.0 is perfect parallelism, n is sequential.

        Counts cache lookups as members; :attr:`FusionResult.overhead_ratio` counts only
        fresh calls (what the display shows)."""
        if self.slowest_member_s <= 0:
            return None
        return self.pool_wall_s / self.slowest_member_s

    @property
    def engine_s(self) -> float:
        """Time spent outside model calls' stages (validation, prompt building, parsing)."""
        return max(0.0, self.total_s - self.pool_wall_s - self.debate_s - self.judge_s)
