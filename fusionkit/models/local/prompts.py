"""Turning a request's messages into prompt ids: the chat template, or a plain transcript."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...types import Request

__all__ = ["fold_system", "plain_prompt", "prompt_ids"]


def plain_prompt(messages: Sequence[dict[str, str]]) -> str:
    """A readable prompt for tokenizers without a chat template."""
    parts = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
    return "\n\n".join(parts) + "\n\nAssistant:"


def fold_system(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Merge system messages into the first user message (for templates that reject them)."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if system:
        for m in rest:
            if m["role"] == "user":
                m["content"] = f"{system}\n\n{m['content']}"
                break
    return rest


def prompt_ids(tokenizer: Any, request: Request) -> list[int]:
    """The prompt ids of a request: its chat template if the tokenizer has one, else plain."""
    tok = tokenizer
    messages = [m.to_dict() for m in request.messages]
    if getattr(tok, "chat_template", None):
        try:
            text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception:  # noqa: BLE001 - e.g. a template that rejects the system role
            text = tok.apply_chat_template(
                fold_system(messages), tokenize=False, add_generation_prompt=True
            )
        # The template already holds the special tokens it wants (BOS, turn markers).
        return list(tok(text, add_special_tokens=False)["input_ids"])
    return list(tok(plain_prompt(messages), add_special_tokens=True)["input_ids"])
