"""Structured output: a JSON Schema a model must answer in, and bounded JSON decoding.

:class:`Schema` wraps a JSON Schema (a dict, or a pydantic model class) with everything the
model layer needs: a name for ``response_format``, a canonical key for the response cache,
:meth:`Schema.validate` (jsonschema, Draft 2020-12) and :meth:`Schema.parse`, which reads a
model's reply. Backends constrain generation as well as they can (a grammar locally,
``response_format`` over HTTP); :class:`~fusionkit.models.base.Model` validates every answer
afterwards, so a caller never sees a half-parsed object.

:func:`loads_bounded` is the one JSON decoder for outside data (server bodies, model
replies). Python's ``json`` recurses once per nesting level, so ``{"a":`` repeated a few
thousand times raises :class:`RecursionError`; a linear pre-scan rejects such input with a
typed :class:`~fusionkit.errors.ResponseFormatError` before ``json`` sees it. NaN and
infinities are rejected too: JSON has none, and they would leak into tables as ``nan``.

Why the *last* object in a reply: a judge that quotes a candidate (small models do) writes
the quoted object first and its own answer last, so reading the last complete top-level
object means a candidate cannot choose the verdict by embedding one.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidRequestError, ResponseFormatError, StructuredOutputError

__all__ = ["MAX_DEPTH", "Schema", "SchemaLike", "find_json_objects", "loads_bounded"]

#: Deepest nesting accepted in outside JSON. Real schemas and API bodies stay far below.
MAX_DEPTH = 64
#: Largest JSON text decoded (characters); the HTTP layer caps bodies before this.
MAX_CHARS = 16 * 1024 * 1024

SchemaLike = Any  # a JSON Schema dict, a pydantic BaseModel subclass, or a Schema
_NAME_RE = re.compile(r"[^A-Za-z0-9_-]+")
_FENCE_RE = re.compile(r"^\s*```[A-Za-z]*\s*\n?(.*?)\n?```\s*$", re.DOTALL)


def _jsonschema() -> Any:
    """Import jsonschema without its optional IRI-format grammar.

    ``jsonschema._format`` imports ``rfc3987_syntax`` when it is installed (Jupyter brings
    it), which compiles a grammar for 2.5–3 s at import — on the event loop, in the first
    schema'd call. fusionkit never checks ``format``, so that import is refused for the
    duration of jsonschema's own import (jsonschema treats it as not installed) and allowed
    again afterwards for anyone else.
    """
    if "jsonschema" in sys.modules:
        return sys.modules["jsonschema"]
    blocked = "rfc3987_syntax" not in sys.modules
    if blocked:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]
    try:
        import jsonschema
    finally:
        if blocked and sys.modules.get("rfc3987_syntax", 0) is None:
            del sys.modules["rfc3987_syntax"]
    return jsonschema


@functools.lru_cache(maxsize=256)
def _validator(key: str) -> Any:
    js = _jsonschema()
    return js.Draft202012Validator(json.loads(key))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _null_constant(name: str) -> None:
    return None


def _nesting_depth(text: str) -> int:
    """Deepest bracket nesting of a JSON text (strings skipped), in one linear pass."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif ch in "}]":
            depth -= 1
    return deepest


def loads_bounded(
    text: str | bytes,
    *,
    max_depth: int = MAX_DEPTH,
    what: str = "JSON",
    non_finite_as_null: bool = False,
) -> Any:
    """Decode JSON from outside the program without any way to crash or hang.

    Args:
        text: The JSON text (bytes are decoded as UTF-8 with replacement).
        max_depth: Deepest nesting accepted.
        what: What the text is, for the error message ("the server's body", ...).
        non_finite_as_null: Read bare ``NaN``/``Infinity``/``-Infinity`` (which Python-style
            servers write, though JSON has none) as null instead of rejecting the text.

    Returns:
        The decoded value.

    Raises:
        ResponseFormatError: Not JSON, nested deeper than ``max_depth``, larger than 16 MiB,
            NaN/Infinity (unless ``non_finite_as_null``), or an integer too long to convert.
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    if len(text) > MAX_CHARS:
        raise ResponseFormatError(
            f"{what} is {len(text):,} characters, over the {MAX_CHARS:,} this decoder accepts."
        )
    # The linear scan runs in Python; skip it when there are too few brackets to nest deeply.
    depth = 0
    if text.count("{") + text.count("[") > max_depth:
        depth = _nesting_depth(text)
    if depth > max_depth:
        raise ResponseFormatError(
            f"{what} is nested {depth} levels deep (more than {max_depth}); refusing to decode it."
        )
    constant = _null_constant if non_finite_as_null else _reject_constant
    try:
        return json.loads(text, parse_constant=constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise ResponseFormatError(f"{what} is not valid JSON: {exc}") from None


def _object_spans(text: str) -> list[tuple[int, int, int]]:
    """``(start, end, depth)`` of every outermost balanced ``{...}`` in ``text``, in order.

    One linear pass with a stack of open brackets, so an unclosed prefix (``{"a":`` a
    thousand times) does not hide a complete object after it.
    """
    stack: list[list[int]] = []  # [position, deepest nesting inside, is an object]
    spans: list[tuple[int, int, int]] = []
    in_string = escaped = False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            if stack:  # quotes in prose outside any bracket are not JSON strings
                in_string = True
        elif ch in "{[":
            stack.append([i, 1, ch == "{"])
        elif ch in "}]" and stack:
            pos, deepest, is_object = stack.pop()
            if stack:
                stack[-1][1] = max(stack[-1][1], deepest + 1)
            if is_object:
                while spans and spans[-1][0] > pos:  # children of this object
                    spans.pop()
                spans.append((pos, i + 1, deepest))
    return spans


def find_json_objects(text: str, *, max_depth: int = MAX_DEPTH) -> list[dict[str, Any]]:
    """Every complete top-level JSON object in free text, in order (bounded, never raises).

    Args:
        text: A model's reply, possibly with prose, code fences or several objects.
        max_depth: Objects nested deeper than this are skipped.

    Returns:
        The decoded objects (dicts), first to last.
    """
    found: list[dict[str, Any]] = []
    if len(text) > MAX_CHARS:
        return found
    for start, end, depth in _object_spans(text):
        if depth > max_depth:
            continue
        try:
            value = json.loads(text[start:end], parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


def _quote(reply: str, limit: int = 300) -> str:
    reply = reply.strip()
    return repr(reply if len(reply) <= limit else reply[:limit] + "…")


@dataclass(frozen=True, slots=True)
class Schema:
    """A JSON Schema that a model's answer must satisfy.

    Build one with :meth:`of`. ``parsed`` values are plain JSON data (dicts, lists, ...), so
    they cache and serialise; with a pydantic model use ``Model.model_validate(parsed)``.

    Attributes:
        name: A name for ``response_format`` (letters, digits, ``_`` and ``-``).
        json: The JSON Schema.
        key: Canonical JSON of the schema (part of the response cache key).
    """

    name: str
    json: Mapping[str, Any] = field(repr=False)
    key: str = field(repr=False, compare=True)

    @classmethod
    def of(cls, value: SchemaLike, *, name: str | None = None) -> Schema:
        """Make a Schema from a JSON Schema dict, a pydantic model class or a Schema.

        ``json`` keeps the caller's property order (a grammar generates properties in that
        order, so put reasons before scores); ``key`` is canonical (sorted) for the cache.

        Raises:
            InvalidRequestError: Not a schema, or an invalid JSON Schema.
        """
        if isinstance(value, Schema):
            return value
        raw: Any = value
        if isinstance(value, type) and hasattr(value, "model_json_schema"):
            raw = value.model_json_schema()
            name = name or value.__name__
        if not isinstance(raw, Mapping):
            raise InvalidRequestError(
                "schema must be a JSON Schema dict, a pydantic model class or a fusionkit "
                f"Schema, not {type(value).__name__}."
            )
        try:
            jsonschema = _jsonschema()
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise InvalidRequestError(f"structured output needs jsonschema: {exc}") from exc
        try:
            jsonschema.Draft202012Validator.check_schema(raw)
            key = json.dumps(raw, sort_keys=True, ensure_ascii=False, allow_nan=False)
            # A copy in the caller's key order: property order is generation order for a
            # grammar (reason before score before verdict), so only the cache key is sorted.
            ordered = json.loads(json.dumps(raw, ensure_ascii=False, allow_nan=False))
        except (jsonschema.SchemaError, TypeError, ValueError) as exc:
            msg = getattr(exc, "message", str(exc))
            raise InvalidRequestError(f"schema is not a valid JSON Schema: {msg}") from None
        title = name or (raw.get("title") if isinstance(raw.get("title"), str) else None)
        clean = _NAME_RE.sub("_", title or "response").strip("_")[:64] or "response"
        return cls(name=clean, json=ordered, key=key)

    def problem(self, obj: Any) -> str | None:
        """What is wrong with ``obj`` against this schema (None when it is valid)."""
        jsonschema = _jsonschema()
        validator = _validator(self.key)
        error = jsonschema.exceptions.best_match(validator.iter_errors(obj))
        if error is None:
            return None
        where = "/".join(str(p) for p in error.absolute_path)
        return f"{error.message}" + (f" (at {where})" if where else "")

    def validate(self, obj: Any, *, reply: str | None = None) -> Any:
        """Return ``obj`` when it satisfies the schema.

        Raises:
            StructuredOutputError: It does not; the message names the first problem.
        """
        problem = self.problem(obj)
        if problem is not None:
            raise StructuredOutputError(
                f"the reply does not match the schema {self.name!r}: {problem}. "
                f"Reply: {_quote(reply if reply is not None else json.dumps(obj, default=str))}",
                reply=reply or "",
                problem=problem,
            )
        return obj

    def parse(self, text: str) -> Any:
        """Read a model's reply: the whole text as JSON, else its last complete object.

        Raises:
            StructuredOutputError: No JSON in the reply, or it does not match the schema.
        """
        body = text.strip()
        fence = _FENCE_RE.match(body)
        if fence:
            body = fence.group(1).strip()
        try:
            value = loads_bounded(body, what="the reply")
        except ResponseFormatError:
            objects = find_json_objects(body)
            if not objects:
                problem = "no JSON object was found"
                raise StructuredOutputError(
                    f"the reply does not match the schema {self.name!r}: {problem}. "
                    f"Reply: {_quote(text)}",
                    reply=text,
                    problem=problem,
                ) from None
            value = objects[-1]
        return self.validate(value, reply=text)
