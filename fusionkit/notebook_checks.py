"""Hygiene checks for executed notebooks that are shared without a live kernel.

An executed notebook committed to the repository is read on GitHub, on nbviewer and as
exported HTML. Each check here guards one way that goes wrong:

``invalid``
    The file is not a valid nbformat v4 notebook (nbformat's own schema validation).
``widget-state``
    ``metadata.widgets`` is present but does not hold
    ``application/vnd.jupyter.widget-state+json`` with a ``state`` key. GitHub refuses to
    render such a notebook at all ("the 'state' key is missing from 'metadata.widgets'"),
    and nbconvert fails on it. :func:`fix` repairs or strips it.
``traceback``
    An output is an error, or a stream shows a Python traceback: the notebook was
    committed after a failure.
``secret``
    A cell's source, an output or the notebook metadata (widget state can hold a text
    box's value) contains something that looks like an API key: ``sk-or-v1-...``,
    ``sk-...`` of realistic length, ``Bearer <token>``, or the exact value of
    ``OPENROUTER_API_KEY`` / ``OPENAI_API_KEY`` when set. Messages never repeat the key.
``not-executed``
    A non-empty code cell has no execution count: it was never run.
``no-outputs``
    (only with ``require_outputs=True``) No code cell has any output: the notebook was
    committed without being executed.

Use it from Python (:func:`check_notebook`, :func:`check_notebooks`, :func:`fix`) or from
the shell::

    python -m fusionkit.notebook_checks notebooks/*.ipynb            # exit 1 on problems
    python -m fusionkit.notebook_checks --fix notebooks/*.ipynb      # repair widget metadata
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import MissingDependencyError

__all__ = [
    "INVALID",
    "NOT_EXECUTED",
    "NO_OUTPUTS",
    "SECRET",
    "SECRET_ENV_VARS",
    "TRACEBACK",
    "WIDGET_STATE",
    "WIDGET_STATE_MIMETYPE",
    "Problem",
    "check_notebook",
    "check_notebooks",
    "find_secrets",
    "strip_widget_state",
    "fix",
    "fix_widget_metadata",
    "main",
]

INVALID = "invalid"
WIDGET_STATE = "widget-state"
TRACEBACK = "traceback"
SECRET = "secret"
NOT_EXECUTED = "not-executed"
NO_OUTPUTS = "no-outputs"

WIDGET_STATE_MIMETYPE = "application/vnd.jupyter.widget-state+json"
#: Environment variables whose exact values must never appear in a notebook.
SECRET_ENV_VARS: tuple[str, ...] = ("OPENROUTER_API_KEY", "OPENAI_API_KEY")

# (label, pattern, extra test). OpenRouter first so it wins over the generic sk- rule.
_SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str], Callable[[str], bool]], ...] = (
    ("an OpenRouter API key", re.compile(r"sk-or-v\d+-[A-Za-z0-9]{20,}"), lambda s: True),
    # Real sk- keys are 20+ random characters; requiring a digit keeps long hyphenated
    # words ("sk-some-long-identifier-name") from being flagged.
    (
        "an API key (sk-...)",
        re.compile(r"(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{20,}"),
        lambda s: any(c.isdigit() for c in s),
    ),
    (
        "a Bearer token",
        re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]{16,}"),
        lambda s: any(c.isdigit() for c in s),
    ),
)
_MIN_ENV_SECRET = 8  # shorter values ("x", "test") would match everywhere and mean nothing
_TRACEBACK_MARK = "Traceback (most recent call last)"
_BINARY_MIME_PREFIXES = ("image/", "audio/", "video/", "application/pdf")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a notebook.

    Attributes:
        notebook: The notebook's path (or ``"<notebook>"`` for an in-memory one).
        cell: Index of the cell in ``nb.cells``, or None for the notebook as a whole.
        kind: One of :data:`INVALID`, :data:`WIDGET_STATE`, :data:`TRACEBACK`,
            :data:`SECRET`, :data:`NOT_EXECUTED`, :data:`NO_OUTPUTS`.
        message: What is wrong and what to do; never contains a secret.
    """

    notebook: str
    cell: int | None
    kind: str
    message: str

    def __str__(self) -> str:
        where = self.notebook if self.cell is None else f"{self.notebook} [cell {self.cell}]"
        return f"{where}: {self.kind}: {self.message}"


def _nbformat() -> Any:
    try:
        import nbformat
    except ImportError as exc:  # pragma: no cover - nbformat ships with the dev extra
        raise MissingDependencyError(
            "Notebook checks need nbformat: pip install 'fusionkit[dev]' (or pip install nbformat)."
        ) from exc
    return nbformat


def _mask(secret: str) -> str:
    # Enough to find it in the file, not enough to use it.
    return f"{secret[:6]}… ({len(secret)} chars)"


def find_secrets(text: str, *, extra: Iterable[str] = ()) -> list[tuple[str, str]]:
    """Find things in ``text`` that look like API keys.

    Args:
        text: Any text.
        extra: Exact secret values to look for too (e.g. from the environment); values
            shorter than 8 characters are ignored.

    Returns:
        ``(label, masked preview)`` pairs, one per distinct match. The preview shows only
        the first characters and the length, never the whole key.
    """
    found: list[tuple[str, str]] = []
    seen: list[tuple[int, int]] = []
    for value in extra:
        if len(value) >= _MIN_ENV_SECRET:
            start = text.find(value)
            if start >= 0:
                found.append(("the value of an API-key environment variable", _mask(value)))
                seen.append((start, start + len(value)))
    for label, pattern, plausible in _SECRET_PATTERNS:
        for match in pattern.finditer(text):
            span = match.span()
            if any(a <= span[0] < b or span[0] <= a < span[1] for a, b in seen):
                continue  # already reported by a more specific rule
            if plausible(match.group()):
                found.append((label, _mask(match.group())))
                seen.append(span)
    return found


def _env_secrets(names: Sequence[str] = SECRET_ENV_VARS) -> list[str]:
    return [v for n in names if (v := os.environ.get(n, "").strip())]


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return json.dumps(value, ensure_ascii=False)


def _output_texts(output: Mapping[str, Any]) -> Iterator[str]:
    kind = output.get("output_type")
    if kind == "stream":
        yield _text(output.get("text", ""))
    elif kind == "error":
        yield _text(output.get("ename", "")) + ": " + _text(output.get("evalue", ""))
        yield _text(output.get("traceback", []))
    for mime, value in (output.get("data") or {}).items():
        if not mime.startswith(_BINARY_MIME_PREFIXES) or mime == "image/svg+xml":
            yield _text(value)
    if output.get("metadata"):
        yield _text(output["metadata"])


def _widget_problem(metadata: Mapping[str, Any]) -> str | None:
    if "widgets" not in metadata:
        return None
    widgets = metadata["widgets"]
    if not isinstance(widgets, Mapping):
        return f"metadata.widgets is a {type(widgets).__name__}, not a mapping"
    entry = widgets.get(WIDGET_STATE_MIMETYPE)
    if entry is None:
        return f"metadata.widgets has no {WIDGET_STATE_MIMETYPE!r} entry"
    if not isinstance(entry, Mapping) or "state" not in entry:
        return f"metadata.widgets[{WIDGET_STATE_MIMETYPE!r}] has no 'state' key"
    if not isinstance(entry["state"], Mapping):
        return f"metadata.widgets[{WIDGET_STATE_MIMETYPE!r}]['state'] is not a mapping"
    return None


def check_notebook(
    notebook: str | os.PathLike[str] | Mapping[str, Any],
    *,
    require_outputs: bool = False,
    secrets: Iterable[str] | None = None,
) -> list[Problem]:
    """Run every hygiene check on one notebook.

    Args:
        notebook: A path to an ``.ipynb`` file, or an already-read notebook
            (an ``nbformat.NotebookNode`` or a plain dict).
        require_outputs: Also require that at least one code cell has outputs, i.e. the
            notebook was executed before it was saved.
        secrets: Exact secret values to look for; by default the values of
            :data:`SECRET_ENV_VARS` that are set in the environment.

    Returns:
        The problems found, in cell order (notebook-level problems first); empty when
        the notebook is clean.
    """
    nbformat = _nbformat()
    name = "<notebook>"
    if isinstance(notebook, Mapping):
        nb = nbformat.from_dict(notebook)
    else:
        name = str(notebook)
        try:
            nb = nbformat.read(os.fspath(notebook), as_version=4)
        except Exception as exc:  # NotJSONError, OSError, schema-version errors...
            return [Problem(name, None, INVALID, f"cannot be read as a notebook: {exc}")]
    extra = list(_env_secrets() if secrets is None else secrets)
    problems: list[Problem] = []

    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        problems.append(
            Problem(name, None, INVALID, f"fails nbformat validation: {first_line[:300]}")
        )

    metadata = nb.get("metadata", {})
    widget = _widget_problem(metadata)
    if widget:
        problems.append(
            Problem(
                name,
                None,
                WIDGET_STATE,
                f"{widget}; GitHub will refuse to render this notebook. Run "
                "`python -m fusionkit.notebook_checks --fix` on it (or save the widget "
                "state from Jupyter: Widgets > Save Notebook Widget State).",
            )
        )
    for label, preview in find_secrets(_text(metadata), extra=extra):
        problems.append(
            Problem(name, None, SECRET, f"notebook metadata contains {label}: {preview}")
        )

    executed_any = False
    for index, cell in enumerate(nb.get("cells", [])):
        problems.extend(_check_cell(name, index, cell, extra))
        if cell.get("cell_type") == "code" and cell.get("outputs"):
            executed_any = True

    if require_outputs and not executed_any:
        problems.append(
            Problem(
                name,
                None,
                NO_OUTPUTS,
                "no code cell has any output; execute the notebook before committing it "
                "(e.g. `jupyter nbconvert --to notebook --execute --inplace`).",
            )
        )
    return problems


def _check_cell(name: str, index: int, cell: Mapping[str, Any], extra: list[str]) -> list[Problem]:
    problems: list[Problem] = []
    source = _text(cell.get("source", ""))
    for label, preview in find_secrets(source, extra=extra):
        problems.append(
            Problem(
                name,
                index,
                SECRET,
                f"source contains {label}: {preview}; read it from the environment instead",
            )
        )
    for label, preview in find_secrets(_text(cell.get("metadata", {})), extra=extra):
        problems.append(Problem(name, index, SECRET, f"cell metadata contains {label}: {preview}"))
    if cell.get("cell_type") != "code":
        return problems
    if source.strip() and cell.get("execution_count") is None:
        problems.append(
            Problem(name, index, NOT_EXECUTED, "code cell was never executed (no execution_count)")
        )
    for out_index, output in enumerate(cell.get("outputs", [])):
        kind = output.get("output_type")
        if kind == "error":
            problems.append(
                Problem(
                    name,
                    index,
                    TRACEBACK,
                    f"output {out_index} is an error: {output.get('ename', '?')}: "
                    f"{_first_line(_text(output.get('evalue', '')))}",
                )
            )
        elif kind == "stream":
            text = _text(output.get("text", ""))
            stderr = output.get("name") == "stderr"
            if (stderr and "Traceback" in text) or _TRACEBACK_MARK in text:
                problems.append(
                    Problem(
                        name,
                        index,
                        TRACEBACK,
                        f"output {out_index} ({output.get('name', 'stream')}) shows a traceback",
                    )
                )
        for text in _output_texts(output):
            for label, preview in find_secrets(text, extra=extra):
                problems.append(
                    Problem(name, index, SECRET, f"output {out_index} contains {label}: {preview}")
                )
    return problems


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= 200 else line[:200] + "…"


def check_notebooks(
    paths: Iterable[str | os.PathLike[str]],
    *,
    require_outputs: bool = False,
    secrets: Iterable[str] | None = None,
) -> list[Problem]:
    """Run :func:`check_notebook` over several files and concatenate the problems."""
    extra = None if secrets is None else list(secrets)
    problems: list[Problem] = []
    for path in paths:
        problems.extend(check_notebook(path, require_outputs=require_outputs, secrets=extra))
    return problems


def fix_widget_metadata(nb: Any) -> list[str]:
    """Repair broken ``metadata.widgets`` in place, or remove it when nothing is worth saving.

    Widget models found at the wrong level are wrapped under ``state`` (with
    ``version_major``/``version_minor``); metadata that holds no widget state at all is
    removed — the static outputs (text/html beside each widget view) still render.

    Args:
        nb: A notebook (``nbformat.NotebookNode`` or dict), modified in place.

    Returns:
        What was changed, one line each; empty when the metadata was already fine.
    """
    metadata = nb.setdefault("metadata", {})
    if "widgets" not in metadata or _widget_problem(metadata) is None:
        return []
    widgets = metadata["widgets"]
    entry: Any = widgets.get(WIDGET_STATE_MIMETYPE) if isinstance(widgets, Mapping) else None
    if entry is None and isinstance(widgets, Mapping):
        if isinstance(widgets.get("state"), Mapping):
            entry = widgets  # the state entry without its mimetype key
        elif _looks_like_models(widgets):
            entry = dict(widgets)  # models put straight under metadata.widgets
    if isinstance(entry, Mapping):
        state = entry.get("state")
        if isinstance(state, Mapping):
            models = dict(state)
        else:
            models = {k: v for k, v in entry.items() if _is_model(v)}
        if models:
            metadata["widgets"] = {
                WIDGET_STATE_MIMETYPE: {
                    "state": models,
                    "version_major": entry.get("version_major", 2),
                    "version_minor": entry.get("version_minor", 0),
                }
            }
            return [f"wrapped {len(models)} widget model(s) under metadata.widgets state"]
    del metadata["widgets"]
    return ["removed metadata.widgets (it held no usable widget state)"]


def _is_model(value: Any) -> bool:
    return isinstance(value, Mapping) and ("model_name" in value or "state" in value)


def _looks_like_models(mapping: Mapping[str, Any]) -> bool:
    return bool(mapping) and all(_is_model(v) for v in mapping.values())


def strip_widget_state(nb: Any) -> list[str]:
    """Remove saved widget state so every widget shows its static ``text/html`` snapshot.

    nbconvert (and so GitHub and nbviewer) renders a widget output through its live view
    whenever the notebook carries that widget's saved state — which needs JavaScript from
    a CDN and shows nothing offline — and falls back to the output's ``text/html`` when
    the state is absent. fusionkit widgets put a snapshot of their state in that
    ``text/html``, so a notebook shared without widget state reads everywhere. Re-running
    the notebook in Jupyter recreates the live widgets.

    Args:
        nb: A notebook (``nbformat.NotebookNode`` or dict), modified in place.

    Returns:
        What was changed; empty when there was no widget state.
    """
    metadata = nb.get("metadata", {})
    if "widgets" not in metadata:
        return []
    del metadata["widgets"]
    return ["removed metadata.widgets (widgets now render their static text/html snapshot)"]


def fix(path: str | os.PathLike[str], *, static: bool = False) -> list[str]:
    """Repair a notebook file's widget metadata (see :func:`fix_widget_metadata`).

    The file is rewritten atomically, and only when something changed.

    Args:
        path: The ``.ipynb`` file.
        static: Also strip saved widget state (see :func:`strip_widget_state`).

    Returns:
        What was changed; empty when the file was left untouched.
    """
    nbformat = _nbformat()
    target = Path(path)
    nb = nbformat.read(os.fspath(target), as_version=4)
    changes = strip_widget_state(nb) if static else []
    changes += fix_widget_metadata(nb)
    if changes:
        from .render.report import write_atomically

        write_atomically(target, lambda handle: nbformat.write(nb, handle))
    return changes


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: check notebooks, print problems, exit 1 if there are any.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        The process exit status: 0 clean, 1 problems found.
    """
    parser = argparse.ArgumentParser(
        prog="python -m fusionkit.notebook_checks",
        description="Check executed notebooks before sharing them (GitHub, nbviewer, HTML).",
    )
    parser.add_argument("notebooks", nargs="+", type=Path, help=".ipynb files")
    parser.add_argument(
        "--fix", action="store_true", help="repair or strip broken widget metadata first"
    )
    parser.add_argument(
        "--static",
        action="store_true",
        help="with --fix: strip saved widget state so widgets show their text/html snapshot",
    )
    parser.add_argument(
        "--require-outputs",
        action="store_true",
        help="fail a notebook in which no code cell has outputs",
    )
    args = parser.parse_args(argv)
    if args.fix:
        for path in args.notebooks:
            try:
                for change in fix(path, static=args.static):
                    print(f"{path}: fixed: {change}")
            except Exception as exc:  # an unreadable file is reported by the checks below
                print(f"{path}: could not fix: {exc}", file=sys.stderr)
    problems = check_notebooks(args.notebooks, require_outputs=args.require_outputs)
    for problem in problems:
        print(problem)
    count = len(args.notebooks)
    if problems:
        print(f"{len(problems)} problem(s) in {count} notebook(s).", file=sys.stderr)
        return 1
    print(f"{count} notebook(s) clean.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
