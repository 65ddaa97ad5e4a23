"""FusionConsole: run a fusion from a notebook and watch every pool member live.

Controls: a prompt box, a pool multi-select, a judge picker, a mode toggle (best-of /
merge / debate / vote), debate rounds, and Run / Stop buttons. While a fusion runs, a
status table shows each member (waiting, running, done with its latency, failed with its
reason) and the judge, driven by the engine's ``on_event`` events. When it ends, three
tabs show the answer, the candidates table and a timeline.

The kernel never blocks: Run schedules :func:`fusionkit.fusion.engine.afuse` on
fusionkit's shared background loop (``asyncio.run_coroutine_threadsafe``) and returns at
once; the event callback and the completion callback (both on that loop's thread) update
the widgets. :meth:`FusionConsole.wait` blocks a script or a test until the run ends.

Like every fusionkit widget, its MIME bundle carries a ``text/html`` snapshot of the current
state beside the live view (:class:`~fusionkit.widgets._static.StaticSnapshot`), so an
executed notebook shows the last run on GitHub and nbviewer. All model and user text goes
through the autoescaping ``widget_console*.html`` templates; rendering never calls a model.

Layout: this module holds the ipywidgets layout and callbacks. The per-member status model
(:class:`MemberStatus`, how each event moves a row, the stage line, the timeline bars) is
pure bookkeeping and lives in :mod:`fusionkit.widgets._console_state`, so each reads in
one sitting; its names are re-exported here and importable from this module as before.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import CancelledError, Future
from typing import Any

import ipywidgets as widgets

from .._sync import background_loop, in_background_loop
from ..errors import InvalidRequestError, describe_error
from ..fusion.engine import afuse
from ..fusion.events import FusionEvent
from ..fusion.labels import by_label
from ..fusion.modes import DEFAULT_MODE, all_modes, get_mode
from ..fusion.prepare import resolve_model, resolve_models
from ..fusion.result import FusionResult
from ..models.base import Model
from ..render.html import render
from ._console_state import MemberStatus as MemberStatus
from ._console_state import Span as Span
from ._console_state import State as State
from ._console_state import _apply_judge as _apply_judge
from ._console_state import _apply_member as _apply_member
from ._console_state import _member_index as _member_index
from ._console_state import _settle as _settle
from ._console_state import _stage_text as _stage_text
from ._console_state import timeline_spans as timeline_spans
from ._static import StaticSnapshot

__all__ = ["FusionConsole", "MemberStatus", "timeline_spans"]

NO_JUDGE = "(no judge)"


def _unique_names(models: Sequence[Model]) -> list[str]:
    """Display names for the pickers; a repeated name gets ``#2``, ``#3``..."""
    seen: dict[str, int] = {}
    out = []
    for m in models:
        seen[m.name] = seen.get(m.name, 0) + 1
        out.append(m.name if seen[m.name] == 1 else f"{m.name} #{seen[m.name]}")
    return out


class FusionConsole(StaticSnapshot, widgets.VBox):
    """A notebook console for fusion: controls, live per-member status, result tabs.

    Args:
        models: The models that can join the pool (Model objects or spec strings).
        judge: The judge preselected in the picker (a Model or spec; it is added to the
            picker when it is not among ``models``). None preselects "(no judge)".
        pool: Names of the models preselected in the pool (default: all of them).
        mode: Preselected mode: ``"best-of"``, ``"merge"``, ``"debate"`` or ``"vote"``.
        rounds: Preselected debate rounds (1–10).
        prompt: Initial prompt text.
        max_tokens: Token limit of each member's answer.
        timeout: Seconds each member (and the judge) may take; None waits.
        title: The console's heading.

    Example:
        >>> console = FusionConsole([edge, remote], judge=remote, mode="merge")
        >>> console  # in a notebook: type a prompt, press Run
    """

    def __init__(
        self,
        models: Sequence[Model | str],
        *,
        judge: Model | str | None = None,
        pool: Sequence[str] | None = None,
        mode: str = DEFAULT_MODE,
        rounds: int = 2,
        prompt: str = "",
        max_tokens: int = 512,
        timeout: float | None = None,
        title: str = "Fusion console",
    ) -> None:
        resolved = resolve_models(list(models), "models")
        if not resolved:
            raise InvalidRequestError("FusionConsole needs at least one model for the pool.")
        mode = get_mode(mode).name  # aliases accepted, as fuse() accepts them
        if isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= 10:
            raise InvalidRequestError(f"rounds must be an integer from 1 to 10, got {rounds!r}.")
        self._models: dict[str, Model] = dict(zip(_unique_names(resolved), resolved, strict=True))
        judges: dict[str, Model | None] = {NO_JUDGE: None, **self._models}
        judge_key = NO_JUDGE
        if judge is not None:
            jm = resolve_model(judge, "judge")
            judge_key = next((k for k, m in self._models.items() if m is jm), "")
            if not judge_key:
                judge_key = jm.name if jm.name not in judges else f"{jm.name} (judge)"
                judges[judge_key] = jm
        self._judges = judges
        names = list(self._models)
        chosen = list(pool) if pool is not None else names
        unknown = [n for n in chosen if n not in self._models]
        if unknown:
            raise InvalidRequestError(f"pool names {unknown} are not among the models {names}.")
        self.max_tokens = max_tokens
        self.timeout = timeout
        self.title = title

        self.prompt_box = widgets.Textarea(
            value=prompt,
            placeholder="Ask the pool something…",
            layout=widgets.Layout(width="100%", height="5em"),
        )
        self.pool_select = widgets.SelectMultiple(
            options=names,
            value=tuple(chosen),
            rows=min(max(len(names), 2), 6),
            description="Pool",
        )
        self.judge_picker = widgets.Dropdown(
            options=list(judges), value=judge_key, description="Judge"
        )
        self.mode_toggle = widgets.ToggleButtons(options=[m.name for m in all_modes()], value=mode)
        self.rounds_box = widgets.BoundedIntText(
            value=rounds,
            min=1,
            max=10,
            description="Rounds",
            disabled=mode != "debate",
            layout=widgets.Layout(width="10em"),
        )
        self.run_button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.stop_button = widgets.Button(description="Stop", icon="stop", disabled=True)
        self.status_html = widgets.HTML()
        self.answer_html = widgets.HTML()
        self.candidates_html = widgets.HTML()
        self.timeline_html = widgets.HTML()
        self.tabs = widgets.Tab(
            children=[self.answer_html, self.candidates_html, self.timeline_html]
        )
        for i, t in enumerate(("Answer", "Candidates", "Timeline")):
            self.tabs.set_title(i, t)

        self._lock = threading.RLock()
        self._rows: list[MemberStatus] = []
        self._judge_row: MemberStatus | None = None
        self._stage = "Ready: type a prompt and press Run."
        self._message = ""
        self._result: FusionResult | None = None
        self._error: BaseException | None = None
        self._future: Future[FusionResult] | None = None
        self._done = threading.Event()
        self._done.set()
        self._run_args: dict[str, Any] = {}

        self.mode_toggle.observe(self._on_mode, names="value")
        self.run_button.on_click(self._on_run)
        self.stop_button.on_click(lambda _b: self.stop())
        super().__init__(
            children=[
                widgets.HTML(render("widget_console_title.html", title=title)),
                self.prompt_box,
                widgets.HBox(
                    [self.pool_select, widgets.VBox([self.judge_picker, self.rounds_box])]
                ),
                self.mode_toggle,
                widgets.HBox([self.run_button, self.stop_button]),
                self.status_html,
                self.tabs,
            ]
        )
        self._refresh_status()
        self._refresh_result()

    def __repr__(self) -> str:
        # Never serialise the traits (anywidget's advice): a short, safe description.
        return (
            f"FusionConsole(models={list(self._models)}, mode={self.mode_toggle.value!r}, "
            f"running={self.running})"
        )

    # -- public state ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while a fusion is in flight."""
        return not self._done.is_set()

    @property
    def result(self) -> FusionResult | None:
        """The last run's result (None before a run, while running, or after a failure)."""
        with self._lock:
            return self._result

    @property
    def error(self) -> BaseException | None:
        """The last run's exception (validation error, every member failed, ...), or None."""
        with self._lock:
            return self._error

    def status(self) -> tuple[MemberStatus, ...]:
        """The live status rows: pool members in pool order, then the judge (if any)."""
        with self._lock:
            rows = list(self._rows)
            if self._judge_row is not None:
                rows.append(self._judge_row)
            return tuple(rows)

    def wait(self, timeout: float | None = None) -> FusionResult | None:
        """Block until the current run ends (for scripts and tests; never needed in Jupyter).

        Args:
            timeout: Seconds to wait; None waits for ever.

        Returns:
            The result, or None when the run failed (see :attr:`error`).

        Raises:
            TimeoutError: The run did not end within ``timeout``.
            RuntimeError: Called from fusionkit's own event loop (it would deadlock).
        """
        if in_background_loop():
            raise RuntimeError("FusionConsole.wait() cannot run on fusionkit's own loop.")
        if not self._done.wait(timeout):
            raise TimeoutError(f"the fusion did not finish within {timeout:g} s.")
        self.refresh_snapshot()  # from the waiting cell too (the loop thread's may race)
        return self.result

    # -- actions -----------------------------------------------------------------------------

    def run(self) -> Future[FusionResult] | None:
        """Start a fusion with the current controls (what the Run button does).

        Returns:
            The concurrent Future of the run, or None when one is already running.
        """
        with self._lock:
            if self.running:
                return None
            names = list(self.pool_select.value)
            pool = [self._models[n] for n in names]
            judge = self._judges[self.judge_picker.value]
            mode = self.mode_toggle.value
            self._run_args = {
                "prompt": self.prompt_box.value,
                "pool": names,
                "judge": judge.name if judge is not None else None,
                "mode": mode,
                "rounds": self.rounds_box.value if mode == "debate" else None,
            }
            self._rows = [MemberStatus(name=m.name) for m in pool]
            self._judge_row = MemberStatus(name=judge.name, role="judge") if judge else None
            self._result, self._error, self._message = None, None, ""
            self._stage = "Starting…"
            self._done.clear()
        self._set_busy(True)
        self._refresh_status()
        self._refresh_result()
        coro = afuse(
            self.prompt_box.value,
            pool,
            judge=judge,
            mode=mode,
            rounds=self.rounds_box.value,
            max_tokens=self.max_tokens,
            timeout=self.timeout,
            on_event=self._on_event,
            progress=False,  # the console is the progress display
        )
        future = asyncio.run_coroutine_threadsafe(coro, background_loop())
        self._future = future
        future.add_done_callback(self._on_done)
        return future

    def stop(self) -> None:
        """Cancel the run in flight (members still answering are abandoned)."""
        future = self._future
        if future is not None and not future.done():
            future.cancel()

    # -- callbacks (the fusion's loop thread) ------------------------------------------------------

    def _on_run(self, _button: Any = None) -> None:
        self.run()

    def _on_mode(self, change: Mapping[str, Any]) -> None:
        self.rounds_box.disabled = change["new"] != "debate"

    def _on_event(self, event: FusionEvent) -> None:
        with self._lock:
            kind = event.kind
            if kind.startswith("member_"):
                i = _member_index(self._rows, event)
                if i is not None:
                    self._rows[i] = _apply_member(self._rows[i], event)
            elif kind.startswith("judge_") and self._judge_row is not None:
                self._judge_row = _apply_judge(self._judge_row, event)
            stage = _stage_text(event, self._run_args.get("mode"))
            if stage:
                self._stage = stage
        self._refresh_status()

    def _on_done(self, future: Future[FusionResult]) -> None:
        try:
            result = future.result()
        except CancelledError:
            result, error = None, None
            message = "Stopped: the run was cancelled."
        except Exception as exc:  # noqa: BLE001 - shown in the console, kept in .error
            result, error = None, exc
            message = describe_error(exc)
        else:
            error, message = None, ""
        with self._lock:
            self._result, self._error, self._message = result, error, message
            self._stage = "Finished." if result is not None else "Not finished."
            self._rows, self._judge_row = _settle(self._rows, self._judge_row, result)
        try:
            self._refresh_status()
            self._refresh_result()
        finally:
            self._set_busy(False)
            self._done.set()
            self.refresh_snapshot()  # the shared notebook shows this run, not "Ready"

    # -- rendering ----------------------------------------------------------------------------------

    def _set_busy(self, busy: bool) -> None:
        self.run_button.disabled = busy
        self.stop_button.disabled = not busy

    def _status_context(self) -> dict[str, Any]:
        with self._lock:
            return {
                "rows": self.status(),
                "stage": self._stage,
                "message": self._message,
                "running": self.running,
            }

    def _result_context(self) -> dict[str, Any]:
        with self._lock:
            result = self._result
        ctx: dict[str, Any] = {"result": result, "spans": [], "total": 0.0}
        if result is not None:
            spans = timeline_spans(result)
            ctx["spans"] = spans
            ctx["total"] = max([result.timings.total_s, *(s.end_s for s in spans)] or [0.0])
            ctx["cands"] = by_label(result.candidates)
        return ctx

    def _refresh_status(self) -> None:
        self.status_html.value = render("widget_console_status.html", **self._status_context())

    def _refresh_result(self) -> None:
        ctx = self._result_context()
        self.answer_html.value = render("widget_console_answer.html", **ctx)
        self.candidates_html.value = render("widget_console_candidates.html", **ctx)
        self.timeline_html.value = render("widget_console_timeline.html", **ctx)

    def _static_html(self) -> str:
        with self._lock:
            args = dict(self._run_args) or {
                "prompt": self.prompt_box.value,
                "pool": list(self.pool_select.value),
                "judge": self._judges[self.judge_picker.value].name
                if self._judges[self.judge_picker.value] is not None
                else None,
                "mode": self.mode_toggle.value,
                "rounds": self.rounds_box.value if self.mode_toggle.value == "debate" else None,
            }
            return render(
                "widget_console.html",
                title=self.title,
                args=args,
                **self._status_context(),
                **self._result_context(),
            )
