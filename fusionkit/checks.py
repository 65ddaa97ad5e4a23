"""Checking answers on the user's own tasks: a DataFrame in, graded replies out.

:func:`tasks_from_frame` turns a table with a prompt and an answer column into
:class:`~fusionkit.tasks.Task` items; :func:`check_answer` grades one reply with one of
:data:`CHECKS` or the user's own function. :func:`fusionkit.evaluation.evaluate` and
:func:`fusionkit.evaluation.calibrate` take the same ``check=`` argument.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import InvalidRequestError
from .tasks import Task, grade

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["CHECKS", "Checker", "check_answer", "check_checker", "tasks_from_frame"]

#: The named checkers. ``auto`` reads the reply like a person (the generated task sets);
#: ``exact`` compares the whole reply (trimmed, any case); ``numeric`` compares the
#: reply's final number with the answer's (relative tolerance 1e-6); ``contains`` looks
#: for the answer inside the reply (any case); ``regex`` searches the reply with the
#: answer as the pattern (any case).
CHECKS = ("auto", "exact", "numeric", "contains", "regex")

#: A checker: a name from :data:`CHECKS`, or ``check(reply, answer) -> bool``.
Checker = str | Callable[[str, str], bool]

_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+")


def check_checker(check: object) -> None:
    """Reject an unknown checker before any model is called.

    Raises:
        InvalidRequestError: Not a name from :data:`CHECKS` nor a function.
    """
    if callable(check) or check in CHECKS:
        return
    raise InvalidRequestError(
        f"check must be one of {', '.join(CHECKS)} or a function (reply, answer) -> bool; "
        f"got {check!r}."
    )


def _number(text: str) -> float | None:
    found = _NUMBER.findall(text)
    if not found:
        return None
    try:
        return float(found[-1].replace(",", ""))
    except ValueError:
        return None


def check_answer(task: Task, reply: str | None, check: Checker = "auto") -> tuple[str | None, bool]:
    """Grade one reply against the task's answer.

    Args:
        task: The task (its ``answer`` is the expected answer, or the pattern for regex).
        reply: The reply (None or empty counts as wrong).
        check: A name from :data:`CHECKS` or a function ``check(reply, answer) -> bool``
            (an exception inside it is reported, not swallowed).

    Returns:
        (what was compared, whether it is right).
    """
    if not reply:
        return None, False
    if callable(check):
        return reply.strip(), bool(check(reply, task.answer))
    if check == "auto":
        return grade(task, reply)
    if check == "exact":
        got = reply.strip()
        return got, got.casefold() == task.answer.strip().casefold()
    if check == "numeric":
        got_n, want = _number(reply), _number(task.answer)
        if got_n is None or want is None:
            return None, False
        return f"{got_n:g}", math.isclose(got_n, want, rel_tol=1e-6, abs_tol=1e-9)
    if check == "contains":
        return reply.strip(), task.answer.strip().casefold() in reply.casefold()
    if check == "regex":
        m = re.search(task.answer, reply, flags=re.IGNORECASE)
        return (m.group(0) if m else None), m is not None
    check_checker(check)
    raise AssertionError("unreachable")  # pragma: no cover


def tasks_from_frame(
    frame: pd.DataFrame | Any,
    *,
    prompt: str = "prompt",
    answer: str = "answer",
    id: str | None = None,  # noqa: A002 - the column's role
    kind: str = "custom",
) -> list[Task]:
    """Tasks from a table with a prompt column and an answer column.

    Args:
        frame: A pandas DataFrame (or anything ``pandas.DataFrame(...)`` accepts).
        prompt: The prompt column.
        answer: The expected-answer column (turned into text).
        id: A column of task ids (default: ``row-0``, ``row-1``, ...).
        kind: The tasks' kind (``"arithmetic"``/``"word"`` make ``check="auto"`` read
            numbers; anything else reads the final answer generally).

    Returns:
        One task per row, in order.

    Raises:
        InvalidRequestError: A missing column, an empty table, an empty prompt or answer.
    """
    import pandas as pd

    df = frame if isinstance(frame, pd.DataFrame) else pd.DataFrame(frame)
    for col in (prompt, answer, *((id,) if id else ())):
        if col not in df.columns:
            raise InvalidRequestError(
                f"the table has no {col!r} column (its columns: {list(df.columns)}); name "
                "the columns with prompt=..., answer=..."
            )
    if df.empty:
        raise InvalidRequestError("the table has no rows: give at least one task.")
    tasks = []
    for n, (_, row) in enumerate(df.iterrows()):
        text, want = row[prompt], row[answer]
        if not isinstance(text, str) or not text.strip():
            raise InvalidRequestError(f"row {n}: the prompt is empty or not text ({text!r}).")
        if want is None or (isinstance(want, float) and math.isnan(want)) or not str(want).strip():
            raise InvalidRequestError(f"row {n}: the answer is empty.")
        if isinstance(want, float) and want.is_integer():
            want = int(want)
        task_id = str(row[id]) if id else f"row-{n}"
        tasks.append(Task(task_id, kind, text, str(want).strip()))
    ids = [t.id for t in tasks]
    if len(set(ids)) != len(ids):
        raise InvalidRequestError(f"task ids must be unique; column {id!r} repeats some.")
    return tasks
