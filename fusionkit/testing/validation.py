"""The fake server's checks of a chat-completion request: its body and its response_format.

Three verdicts, each the text of an error response: a body that is not a chat request
(400), a ``response_format`` the model refuses as a real server would (400), and a scripted
reply that breaks an accepted ``response_format`` (500: a real server constrains decoding,
so such a reply is a mistake in the test).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["BadRequestBody", "mismatch", "parse_chat_request", "refusal"]


class BadRequestBody(ValueError):
    """The request body is not a chat-completion request; the message is the 400's text."""


def parse_chat_request(raw: bytes) -> tuple[dict[str, Any], str]:
    """The parsed JSON body of a chat-completion request and its model id.

    Raises:
        BadRequestBody: The body is not JSON, has no ``model``, or its model is not a string.
    """
    try:
        body = json.loads(raw)
        model = body["model"]
        if not isinstance(model, str):
            raise TypeError("model must be a string")
    except (ValueError, KeyError, TypeError) as exc:
        raise BadRequestBody(f"Invalid request body: {exc}") from exc
    return body, model


def refusal(response_format: Any, accepted: str) -> str | None:
    """Why a server accepting up to ``accepted`` refuses this response_format (400)."""
    if response_format is None:
        return None
    kind = response_format.get("type") if isinstance(response_format, Mapping) else None
    if kind not in ("json_schema", "json_object", "text"):
        return f"Invalid 'response_format': unknown type {kind!r}."
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        if not isinstance(spec, Mapping) or not spec.get("name") or "schema" not in spec:
            return "Invalid 'response_format.json_schema': 'name' and 'schema' are required."
    if kind != "text" and (
        accepted == "none" or (accepted == "json_object" and kind == "json_schema")
    ):
        return f"Invalid parameter: 'response_format' of type '{kind}' is not supported with this model."
    return None


def mismatch(response_format: Any, text: str) -> str | None:
    """Why the scripted reply breaks an accepted response_format (a mistake in the test)."""
    kind = response_format.get("type") if isinstance(response_format, Mapping) else None
    if kind not in ("json_schema", "json_object"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        return f"FakeOpenAIServer: the scripted reply {text[:80]!r} is not a JSON object, but response_format is {kind}."
    if kind == "json_schema":
        import jsonschema

        schema = response_format["json_schema"]["schema"]
        error = jsonschema.exceptions.best_match(
            jsonschema.Draft202012Validator(schema).iter_errors(value)
        )
        if error is not None:
            return f"FakeOpenAIServer: the scripted reply does not satisfy the json_schema: {error.message}."
    return None
