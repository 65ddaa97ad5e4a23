"""Every sync call has an async twin with the same parameters (as simonw/llm keeps them)."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import pytest

import fusionkit as fk
from fusionkit.panel.review import Panel

PAIRS: list[tuple[Callable[..., object], Callable[..., object]]] = [
    (fk.Model.complete, fk.Model.acomplete),
    (fk.Model.stream, fk.Model.astream),
    (fk.fuse, fk.afuse),
    (fk.fuse_many, fk.afuse_many),
    (fk.compare, fk.acompare),
    (Panel.review, Panel.areview),
    (fk.evaluate, fk.aevaluate),
]


@pytest.mark.parametrize(("sync", "async_"), PAIRS, ids=[s.__qualname__ for s, _ in PAIRS])
def test_sync_and_async_twins_take_the_same_parameters(
    sync: Callable[..., object], async_: Callable[..., object]
) -> None:
    s, a = inspect.signature(sync), inspect.signature(async_)
    assert [(p.name, p.kind, p.default) for p in s.parameters.values()] == [
        (p.name, p.kind, p.default) for p in a.parameters.values()
    ]
    assert inspect.iscoroutinefunction(async_) or inspect.isasyncgenfunction(async_)
    assert not inspect.iscoroutinefunction(sync)
