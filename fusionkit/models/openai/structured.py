"""Structured output over HTTP: ``response_format`` levels and the step-down between them.

Servers differ in what they accept, so a schema'd request is sent at one of three levels:

1. ``json_schema`` — ``response_format={"type": "json_schema", "json_schema": {"name",
   "schema", "strict": true}}``: the server constrains decoding to the schema (OpenAI,
   OpenRouter, vLLM, llama.cpp, recent Ollama).
2. ``json_object`` — ``{"type": "json_object"}`` with the schema in the system prompt: the
   server guarantees JSON, the prompt asks for the shape.
3. ``prompt`` — no ``response_format``; the schema in the system prompt only.

A model starts at level 1. When a server rejects a level (a 400/422 whose message names
``response_format``, ``json_schema`` or ``json_object``), the model steps down one level,
remembers it for the rest of its life, and sends the request again. At levels 2 and 3 an
answer that does not satisfy the schema is re-asked once, quoting the problem, before the
base class raises :class:`~fusionkit.errors.StructuredOutputError`.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from ...errors import APIStatusError, ModelError
from ...schema import Schema
from ...types import Message, Request

__all__ = ["LEVELS", "reask", "rejects_format", "response_format", "with_schema_prompt"]

#: The levels, strongest first.
LEVELS = ("json_schema", "json_object", "prompt")

_REJECTION = re.compile(r"response_format|json_schema|json_object|structured output", re.I)


def response_format(schema: Schema, level: int) -> dict[str, Any] | None:
    """The ``response_format`` body field for ``schema`` at ``level`` (None at ``prompt``)."""
    if LEVELS[level] == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": schema.name, "schema": dict(schema.json), "strict": True},
        }
    if LEVELS[level] == "json_object":
        return {"type": "json_object"}
    return None


def rejects_format(error: ModelError) -> bool:
    """True when ``error`` is a server refusing ``response_format`` (400/422 naming it)."""
    if not isinstance(error, APIStatusError) or error.status_code not in (400, 422):
        return False
    return bool(_REJECTION.search(f"{error.provider_message or ''} {error}"))


def _instructions(schema: Schema) -> str:
    return (
        "Reply with only a JSON object (no prose, no code fence) that satisfies this "
        f"JSON Schema:\n{json.dumps(dict(schema.json), ensure_ascii=False)}"
    )


def with_schema_prompt(request: Request, schema: Schema) -> Request:
    """``request`` with the schema spelled out in its system prompt (levels 2 and 3)."""
    text = _instructions(schema)
    messages = list(request.messages)
    if messages and messages[0].role == "system":
        messages[0] = Message("system", f"{messages[0].content}\n\n{text}")
    else:
        messages.insert(0, Message("system", text))
    return dataclasses.replace(request, messages=tuple(messages))


def reask(request: Request, reply: str, problem: str) -> Request:
    """``request`` followed by the bad reply and a note naming what was wrong with it."""
    note = (
        f"That reply cannot be used: {problem}. Answer again with only the JSON object, "
        "satisfying the schema exactly."
    )
    messages = (*request.messages, Message("assistant", reply), Message("user", note))
    return dataclasses.replace(request, messages=messages)
