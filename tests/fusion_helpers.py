"""Helpers shared by the fusion tests: judges that read the prompt they are given."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from fusionkit.types import Request

BLOCK = re.compile(
    r"<<<RESPONSE ([A-Z]{1,2})(?: #\w+)?>>>\n(.*?)\n<<<END OF RESPONSE \1(?: #\w+)?>>>", re.S
)


def user_text(request: Request) -> str:
    return "\n".join(m.content for m in request.messages if m.role == "user")


def blocks(request: Request) -> dict[str, str]:
    """Label -> text of every candidate block in the judge prompt (first user message)."""
    first_user = next(m.content for m in request.messages if m.role == "user")
    return {m.group(1): m.group(2) for m in BLOCK.finditer(first_user)}


def picks(needle: str, *, rationale: str = "it is correct") -> Callable[[Request], str]:
    """A best-of judge reply in the verdict schema: the block containing ``needle`` gets 9
    and wins, others 2."""

    def reply(request: Request) -> str:
        found = blocks(request)
        winner = next(label for label, text in found.items() if needle in text)
        scores = {label: (9 if label == winner else 2) for label in found}
        return json.dumps({"reason": rationale, "scores": scores, "winner": winner})

    return reply
