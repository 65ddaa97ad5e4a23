"""Structured output over HTTP: ``response_format`` levels and the step-down between them.

Servers differ in what they accept, so a schema'd request is sent at one of three levels:

1. ``json_schema`` — ``response_format={"type": "json_schema", "json_schema": {"name",
   "schema", "strict": true}}``: the server constrains decoding to the schema (OpenAI,
   OpenRouter, vLLM, llama.cpp, recent Ollama).
2. ``json_object`` — ``{"type": "json_object"}`` with the schema in the prompt: the
   server guarantees JSON, the prompt asks for the shape.
3. ``prompt`` — no ``response_format``; the schema in the prompt only.

"In the prompt" means the JSON Schema and an example of its shape in the system prompt,
and a one-line reminder with the example at the end of the last user message: the
embedded 135M model ignores a system prompt alone.

A model starts at level 1. When a server rejects a level (a 400/422 whose message names
``response_format``, ``json_schema`` or ``json_object``), the model steps down one level,
remembers it for the rest of its life, and sends the request again. At levels 2 and 3 an
answer that does not satisfy the schema is re-asked once, quoting the problem, before the
base class raises :class:`~fusionkit.errors.StructuredOutputError`. A streamed answer
steps down the same way but is not re-asked (its text has already been shown).
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from ...errors import APIStatusError, ModelError
from ...schema import Schema
from ...types import Message, Request

__all__ = [
    "LEVELS",
    "reask",
    "rejects_format",
    "response_format",
    "skeleton",
    "with_schema_prompt",
]

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


_PLACEHOLDERS: dict[str, Any] = {
    "string": "...",
    "integer": 0,
    "number": 0.0,
    "boolean": False,
    "array": [],
    "object": {},
    "null": None,
}


def skeleton(schema: Any) -> Any:
    """A sample value of the schema's shape: small models copy an example far better
    than they follow a JSON Schema (the embedded 135M model never does the latter)."""
    if not isinstance(schema, dict):
        return None
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    properties = schema.get("properties")
    if kind == "object" or isinstance(properties, dict):
        props = properties if isinstance(properties, dict) else {}
        return {name: skeleton(sub) for name, sub in props.items()}
    if kind == "array":
        item = skeleton(schema.get("items"))
        return [] if item is None else [item]
    return _PLACEHOLDERS.get(kind) if isinstance(kind, str) else None


def _instructions(schema: Schema) -> str:
    example = json.dumps(skeleton(dict(schema.json)), ensure_ascii=False)
    return (
        f"Reply with only a JSON object shaped like {example} (no prose, no code fence), "
        "filled in with your answer. It must satisfy this JSON Schema:\n"
        f"{json.dumps(dict(schema.json), ensure_ascii=False)}"
    )


def with_schema_prompt(request: Request, schema: Schema) -> Request:
    """``request`` with the schema in its system prompt and a reminder in the last user turn.

    Used at levels 2 and 3. The reminder with a filled-in-shape example is what makes the
    embedded 135M model answer in JSON at all (3 of 3 test questions with it, 0 of 3
    with the system prompt alone); larger models follow either.
    """
    text = _instructions(schema)
    example = json.dumps(skeleton(dict(schema.json)), ensure_ascii=False)
    messages = list(request.messages)
    if messages and messages[0].role == "system":
        messages[0] = Message("system", f"{messages[0].content}\n\n{text}")
    else:
        messages.insert(0, Message("system", text))
    last = max(i for i, m in enumerate(messages) if m.role == "user")
    reminder = f"{messages[last].content}\nAnswer in JSON like {example}."
    messages[last] = Message("user", reminder)
    return dataclasses.replace(request, messages=tuple(messages))


def reask(request: Request, reply: str, problem: str, schema: Schema) -> Request:
    """``request`` followed by the bad reply and a note naming what was wrong with it."""
    example = json.dumps(skeleton(dict(schema.json)), ensure_ascii=False)
    note = (
        f"That reply cannot be used: {problem}. Answer again with only the JSON object, "
        f"shaped like {example} and satisfying the schema exactly."
    )
    messages = (*request.messages, Message("assistant", reply), Message("user", note))
    return dataclasses.replace(request, messages=messages)
