"""Arena: two anonymous answers side by side, a vote, then the models are named.

Battles go to a :class:`~fusionkit.votes.store.VoteStore` (first argument, as in
VotePanel). Clicks vote as the Arena's voter (default: ``session_voter()``); a script
records under its own name with ``vote(..., voter=...)``. A
repeated click on a decided battle is a quiet no-op. Rendering never calls a model: with
Model objects, answers are generated on fusionkit's background event loop and the vote
buttons stay disabled until both are in. A ``text/html`` snapshot beside the view
follows every battle (:mod:`fusionkit.widgets._static`).
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any

import ipywidgets as widgets

from .._sync import background_loop
from ..errors import FusionkitError, InvalidRequestError
from ..models.base import Model
from ..render.html import escape, render
from ..votes.store import WINNERS, Battle, VoteStore, normalize_winner
from ._static import StaticSnapshot
from ._voters import _check_store, _error_note, _voter

__all__ = ["Arena", "ArenaBattle"]

_WINNER_LABELS = {"a": "A is better", "b": "B is better", "tie": "Tie", "bothbad": "Both bad"}


@dataclass(frozen=True, slots=True)
class ArenaBattle:
    """The state of one Arena battle.

    Attributes:
        number: 1 for the first battle of the session, then 2, 3, ...
        prompt: The prompt both models answered.
        model_a: The model behind answer A (hidden until the battle is decided).
        model_b: The model behind answer B.
        text_a: Answer A (None while pending or failed).
        text_b: Answer B.
        error_a: Why model A failed, or None.
        error_b: Why model B failed, or None.
        pending: True while answers are being generated.
        winner: The vote (``"a"``, ``"b"``, ``"tie"``, ``"bothbad"``) or None.
        revealed: True once the models may be named (after a vote, or a failure).
    """

    number: int
    prompt: str
    model_a: str
    model_b: str
    text_a: str | None = None
    text_b: str | None = None
    error_a: str | None = None
    error_b: str | None = None
    pending: bool = False
    winner: str | None = None
    revealed: bool = False


class Arena(StaticSnapshot, widgets.VBox):
    """Two anonymous answers side by side; vote A / B / tie / both bad; models revealed.

    Args:
        store: Where battles go (:meth:`VoteStore.battle`); first, as in VotePanel.
        models_or_answers: Precomputed answers ``{prompt: {model_name: answer}}``, or a
            sequence of at least two Model objects (answered on the background loop).
        prompts: The prompts, in order (cycled); default: the mapping's prompts.
        voter: Who votes by clicking; default :func:`session_voter`. A script voting
            under its own name passes ``voter=`` to :meth:`vote`.
        seed: Seeds the choice of pair and A/B order (same seed, same battles).
        max_tokens: Answer length bound when Model objects answer.
        title: Heading.

    Raises:
        InvalidRequestError: Fewer than two models for a prompt, no prompts, bad voter,
            or the arguments in the wrong order.
    """

    def __init__(
        self,
        store: VoteStore,
        models_or_answers: Mapping[str, Mapping[str, str]] | Sequence[Model],
        prompts: Sequence[str] | None = None,
        *,
        voter: str | None = None,
        seed: int = 0,
        max_tokens: int = 256,
        title: str = "Arena",
    ) -> None:
        self.store = _check_store(store, "Arena", models_or_answers)
        self.voter = _voter(voter)
        self._title = title
        self._max_tokens = max_tokens
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._models: dict[str, Model] = {}
        self._answers: dict[tuple[str, str], str] = {}
        self._names_for: dict[str, list[str]] = {}
        self._setup_source(models_or_answers, prompts)
        self.history: list[Battle] = []  # this session's decided battles
        self._ready = threading.Event()
        self._future: Future[Any] | None = None
        self.battle_state: ArenaBattle

        self._header = widgets.HTML()
        self._prompt = widgets.HTML()
        half = widgets.Layout(width="50%")
        self._box_a, self._box_b = widgets.HTML(layout=half), widgets.HTML(layout=half)
        self.vote_buttons = {w: widgets.Button(description=_WINNER_LABELS[w]) for w in WINNERS}
        for w, button in self.vote_buttons.items():
            button.on_click(lambda _b, w=w: self._click(w))
        self.next_button = widgets.Button(description="Next battle", icon="forward")
        self.next_button.on_click(lambda _b: self.next_battle())
        self._result = widgets.HTML()
        self._note = widgets.HTML()
        super().__init__(
            children=[
                self._header,
                self._prompt,
                widgets.HBox([self._box_a, self._box_b]),
                widgets.HBox([*self.vote_buttons.values(), self.next_button]),
                self._result,
                self._note,
            ]
        )
        self._start(1)

    def __repr__(self) -> str:
        return f"Arena({len(self._names_for)} prompts, voter={self.voter!r})"

    # -- sources ------------------------------------------------------------------------------

    def _setup_source(self, source: Any, prompts: Sequence[str] | None) -> None:
        if isinstance(source, Mapping):
            for prompt, answers in source.items():
                if not isinstance(answers, Mapping):
                    raise InvalidRequestError(
                        f"answers for prompt {prompt!r} must be a {{model_name: answer}} dict."
                    )
                for name, text in answers.items():
                    if not isinstance(text, str):
                        raise InvalidRequestError(
                            f"the answer of {name!r} to {prompt!r} must be text, not "
                            f"{type(text).__name__}."
                        )
                    self._answers[(prompt, name)] = text
                self._names_for[prompt] = sorted(answers)
            chosen = list(source) if prompts is None else list(prompts)
        else:
            models = list(source)
            if not all(isinstance(m, Model) for m in models):
                raise InvalidRequestError(
                    "Arena takes Model objects or a {prompt: {model_name: answer}} mapping."
                )
            self._models = {m.name: m for m in models}
            if len(self._models) != len(models):
                raise InvalidRequestError("the Arena's models need distinct names.")
            if not prompts:
                raise InvalidRequestError("with Model objects, give the Arena some prompts.")
            chosen = list(prompts)
            self._names_for = {p: sorted(self._models) for p in chosen}
        if not chosen:
            raise InvalidRequestError("the Arena needs at least one prompt.")
        for prompt in chosen:
            if len(self._names_for.get(prompt, ())) < 2:
                raise InvalidRequestError(
                    f"prompt {prompt!r} needs answers from at least two models for a battle."
                )
        self.prompts: list[str] = chosen

    # -- battles -------------------------------------------------------------------------------

    def _start(self, number: int) -> None:
        prompt = self.prompts[(number - 1) % len(self.prompts)]
        name_a, name_b = self._rng.sample(self._names_for[prompt], 2)  # random pair and order
        state = ArenaBattle(number, prompt, name_a, name_b)
        missing = [n for n in (name_a, name_b) if (prompt, n) not in self._answers]
        with self._lock:
            self._ready = threading.Event()
            if missing:
                self.battle_state = replace(state, pending=True)
            else:
                self.battle_state = self._filled(state)
                self._ready.set()
        self._update()
        if missing:
            self._generate(number, prompt, missing)

    def _filled(self, state: ArenaBattle, errors: Mapping[str, str] | None = None) -> ArenaBattle:
        errors = errors or {}
        return replace(
            state,
            text_a=self._answers.get((state.prompt, state.model_a)),
            text_b=self._answers.get((state.prompt, state.model_b)),
            error_a=errors.get(state.model_a),
            error_b=errors.get(state.model_b),
            pending=False,
            revealed=bool(errors),  # a failed battle cannot be voted on: name the models
        )

    def _generate(self, number: int, prompt: str, names: list[str]) -> None:
        async def answer_all() -> list[Any]:
            calls = (self._models[n].acomplete(prompt, max_tokens=self._max_tokens) for n in names)
            return await asyncio.gather(*calls, return_exceptions=True)

        future = asyncio.run_coroutine_threadsafe(answer_all(), background_loop())
        self._future = future
        future.add_done_callback(lambda f: self._generated(number, prompt, names, f))

    def _generated(self, number: int, prompt: str, names: list[str], future: Future[Any]) -> None:
        errors: dict[str, str] = {}
        try:
            results = future.result()
        except BaseException as exc:  # noqa: BLE001 - cancelled or failed: shown, not raised
            results = [exc] * len(names)
        with self._lock:
            for name, result in zip(names, results, strict=True):
                if isinstance(result, BaseException):
                    errors[name] = f"{type(result).__name__}: {result}"
                else:  # only successes are kept; a failure is retried next time round
                    self._answers[(prompt, name)] = result.text
            if self.battle_state.number != number:
                return  # the user moved on; the answers stay cached for later
            self.battle_state = self._filled(self.battle_state, errors)
            ready = self._ready
        self._update()
        ready.set()

    def wait(self, timeout: float | None = 60.0) -> bool:
        """Block until the current battle's answers are in (for scripts and tests).

        Returns:
            True when they are, False on timeout.
        """
        return self._ready.wait(timeout)

    def vote(self, winner: str, *, voter: str | None = None) -> Battle:
        """Vote on the current battle (what a click does), record it, reveal the models.

        Args:
            winner: ``"a"``, ``"b"``, ``"tie"`` or ``"bothbad"``.
            voter: Record the battle under this name (a script's own name); default: the
                Arena's voter.

        Raises:
            InvalidRequestError: Unknown winner, answers still pending, or already decided.
        """
        winner = normalize_winner(winner)
        who = self.voter if voter is None else _voter(voter)
        with self._lock:
            state = self.battle_state
            if state.pending:
                raise InvalidRequestError("the answers are still being generated; wait, then vote.")
            if state.winner is not None or state.revealed:
                raise InvalidRequestError("this battle is decided; press 'Next battle'.")
            record = self.store.battle(
                state.model_a, state.model_b, winner, voter=who, prompt=state.prompt
            )
            self.battle_state = replace(state, winner=winner, revealed=True)
            self.history.append(record)
        self._update()
        return record

    def _click(self, winner: str) -> None:
        with self._lock:
            state = self.battle_state
        if state.winner is not None or state.revealed:
            # A repeated (double) click: the vote is in; say so quietly, keep the reveal.
            self._note.value = (
                '<span class="muted" style="color:#59636e">Already recorded for this '
                "battle; press Next battle for a new one.</span>"
            )
            return
        try:
            self.vote(winner)
        except FusionkitError as exc:
            self._note.value = _error_note(exc)

    def next_battle(self) -> ArenaBattle:
        """Move to the next battle (the next prompt, a fresh random pair)."""
        self._start(self.battle_state.number + 1)
        return self.battle_state

    # -- display ---------------------------------------------------------------------------------

    def _update(self) -> None:
        with self._lock:
            s = self.battle_state
        names = (s.model_a, s.model_b) if s.revealed else (None, None)
        for box, side, name, text, error in (
            (self._box_a, "A", names[0], s.text_a, s.error_a),
            (self._box_b, "B", names[1], s.text_b, s.error_b),
        ):
            box.value = render(
                "widget_arena_answer.html",
                side=side,
                name=name,
                text=text,
                error=error,
                pending=s.pending,
            )
        self._header.value = (
            f"<b>{escape(self._title)}</b> · battle {s.number} · voting as "
            f"<code>{escape(self.voter)}</code>"
        )
        self._note.value = ""
        self._prompt.value = f'<div class="fk"><div class="answer">{escape(s.prompt)}</div></div>'
        decided = s.winner is not None or s.revealed
        for w, button in self.vote_buttons.items():
            button.disabled = s.pending or decided
            button.button_style = "success" if w == s.winner else ""
        self.next_button.disabled = not decided
        self.next_button.button_style = "primary" if decided else ""
        if s.winner is not None:
            self._result.value = (
                f"<b>{escape(_WINNER_LABELS[s.winner])}</b> · A was {escape(s.model_a)}, "
                f"B was {escape(s.model_b)}"
            )
        elif s.revealed:
            self._result.value = "<span>An answer failed; no vote. Press Next battle.</span>"
        else:
            self._result.value = ""
        self.refresh_snapshot()

    def _static_html(self) -> str:
        with self._lock:
            state, log = self.battle_state, list(self.history)
        return render(
            "widget_arena.html",
            title=self._title,
            number=state.number,
            voter=self.voter,
            battle=state,
            log=log,
            total=self.store.battle_count(),
            static=True,
        )
