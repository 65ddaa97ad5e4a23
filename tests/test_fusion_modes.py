"""The mode registry: one object per mode, read by prepare, the console, the CLI and tables."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar

import pytest

import fusionkit as fk
from fusionkit.asking import Reply, ask
from fusionkit.errors import InvalidRequestError
from fusionkit.fusion import modes as M
from fusionkit.fusion.display import verdict_line
from fusionkit.fusion.engine import fuse
from fusionkit.fusion.many import fuse_many
from fusionkit.fusion.modes.base import Collected, Mode
from fusionkit.fusion.pool import stage1_collect
from fusionkit.fusion.prepare import resolve_models
from fusionkit.fusion.records import Candidate, Judgment
from fusionkit.fusion.state import Run
from fusionkit.models.fake import FakeModel
from fusionkit.types import Message
from fusionkit.widgets.console import FusionConsole, _stage_text


class FirstOnly(Mode):
    """A test mode: asks only the first member (a stand-in for a cascade)."""

    name: ClassVar[str] = "first-only"
    aliases: ClassVar[tuple[str, ...]] = ("first",)
    needs_judge: ClassVar[bool] = False
    single_shortcut: ClassVar[bool] = False
    option_help: ClassVar[Mapping[str, str]] = {"note": "a word to put in the rationale"}

    def check_options(self, options: Mapping[str, Any]) -> Mapping[str, Any]:
        options = super().check_options(options)
        if not isinstance(options.get("note", ""), str):
            raise InvalidRequestError("note must be a string")
        return options

    async def collect(self, run: Run) -> Collected:
        first = run.plan.members[0]
        only = Run(
            type(run.plan)(**{**_fields(run.plan), "members": (first,)}),
            run.rec,
        )
        cands = await stage1_collect(only)
        return Collected(cands, pool_end_s=run.rec.now())

    async def decide(self, run: Run, ok: list[Candidate]) -> tuple[str, Judgment]:
        return ok[0].text, Judgment(
            method="first", winner=ok[0].label, rationale=run.plan.options.get("note", "")
        )

    def verdict_parts(self, result: fk.FusionResult) -> list[str]:
        return ["the first member spoke"]


def _fields(plan: object) -> dict[str, Any]:
    return {f: getattr(plan, f) for f in plan.__dataclass_fields__}  # type: ignore[attr-defined]


@pytest.fixture
def first_only() -> Mode:
    mode = M.register(FirstOnly())
    yield mode
    M._REGISTRY.pop(mode.name)
    for key in (mode.name, *mode.aliases):
        M._ALIASES.pop(key)


def test_builtin_modes_are_registered_with_their_aliases() -> None:
    names = [m.name for m in M.all_modes()]
    assert names == ["best-of", "merge", "debate", "vote", "cascade", "vote-weighted", "usc"]
    assert M.get_mode("Best_Of").name == "best-of"
    assert M.get_mode(" majority ").name == "vote"
    assert M.DEFAULT_MODE == "best-of"
    assert M.NEEDS_JUDGE == ("best-of", "merge", "debate", "usc")
    with pytest.raises(InvalidRequestError, match="unknown mode 'nope'; use one of best-of"):
        M.get_mode("nope")


def test_a_new_mode_is_one_class_and_one_register_call(first_only: Mode) -> None:
    a, b = FakeModel("a", "alpha says 1"), FakeModel("b", "beta says 2")
    r = fuse("q?", [a, b], mode="first", mode_options={"note": "why not"})
    assert r.mode == "first-only" and r.judgment.rationale == "why not"
    assert len(r.candidates) == 1 and b.calls == []
    assert verdict_line(r) == "1/1 members answered · the first member spoke"
    frame = fuse_many(["q1", "q2"], [a], mode="first-only", progress=False)
    assert list(frame["method"]) == ["first", "first"]


def test_mode_options_are_checked_by_the_mode_before_any_call(first_only: Mode) -> None:
    a = FakeModel("a", "x")
    with pytest.raises(InvalidRequestError, match="does not take the option"):
        fuse("q?", [a], mode="first", mode_options={"colour": "red"})
    with pytest.raises(InvalidRequestError, match="note must be a string"):
        fuse("q?", [a], mode="first", mode_options={"note": 3})
    with pytest.raises(InvalidRequestError, match="mode 'best-of' does not take"):
        fuse("q?", [a], judge=a, mode_options={"note": "x"})
    assert a.calls == []


def test_registering_a_taken_name_fails() -> None:
    class Clash(FirstOnly):
        name: ClassVar[str] = "clash"
        aliases: ClassVar[tuple[str, ...]] = ("majority",)

    with pytest.raises(ValueError, match="already taken by mode 'vote'"):
        M.register(Clash())


def test_the_console_accepts_aliases_and_lists_registered_modes(first_only: Mode) -> None:
    c = FusionConsole([FakeModel("a", "1")], mode="majority")
    assert c.mode_toggle.value == "vote"
    assert "first-only" in c.mode_toggle.options


def test_stage_text_comes_from_the_mode() -> None:
    from fusionkit.fusion.events import FusionEvent

    e = FusionEvent("stage_start", 0.0, stage="vote")
    assert _stage_text(e, "vote") == "Stage 2: counting votes…"
    e = FusionEvent("stage_start", 0.0, stage="judge")
    assert _stage_text(e, "merge") == "Stage 2: the judge is fusing…"
    assert _stage_text(FusionEvent("fusion_start", 0.0), None) == "Running…"


def test_cli_help_lists_every_mode() -> None:
    from fusionkit.cli import _parser

    text = (
        _parser().format_help()
        + _parser()
        ._subparsers._group_actions[0]
        .choices[  # type: ignore[union-attr]
            "fuse"
        ]
        .format_help()
    )
    for m in M.all_modes():
        assert m.name in text


def test_resolve_models_makes_one_instance_per_spec() -> None:
    a = FakeModel("a", "x")
    got = resolve_models(["fake:echo", a, "fake:echo", a])
    assert got[0] is got[2] and got[1] is got[3] is a


def test_fuse_many_validates_shared_arguments_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from fusionkit.fusion import many

    calls = []
    real = many.prepare_setup
    monkeypatch.setattr(many, "prepare_setup", lambda *a, **k: calls.append(1) or real(*a, **k))
    frame = fuse_many(["1?", "", "3?"], [FakeModel("a", "7")], mode="vote", progress=False)
    assert calls == [1]
    assert list(frame["error_type"].fillna("")) == ["", "InvalidRequestError", ""]


def test_ask_reasks_once_then_reports_both_problems() -> None:
    replies = iter([Reply("nope"), Reply("still nope")])
    seen: list[list[Message]] = []

    async def call(msgs: list[Message], attempt: int) -> Reply:
        seen.append(msgs)
        return next(replies)

    out = asyncio.run(
        ask(
            call,
            [Message("user", "say 1")],
            lambda r: (None, f"bad {r.text!r}"),
            lambda msgs, r, p: [*msgs, Message("assistant", r.text), Message("user", p)],
        )
    )
    assert out.value is None and out.attempts == 2 and not out.errored
    assert out.problem == "unreadable twice: bad 'nope'; then bad 'still nope'"
    assert len(seen[1]) == 3


def test_ask_does_not_reask_a_failed_call() -> None:
    n = 0

    async def call(msgs: list[Message], attempt: int) -> Reply:
        nonlocal n
        n += 1
        return Reply(error="ServerError: down")

    out = asyncio.run(ask(call, [], lambda r: (r.text, None), lambda m, r, p: m, who="the judge"))
    assert n == 1 and out.errored and out.problem == "the judge failed: ServerError: down"
