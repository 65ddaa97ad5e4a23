"""Who votes, and the checks both voting widgets share.

People vote as themselves: without ``voter=``, a widget votes as :func:`session_voter`
(``$FUSIONKIT_VOTER``, else the user name plus a tag fixed for this kernel session).
"""

from __future__ import annotations

import getpass
import os
import uuid
from typing import Any

from ..errors import InvalidRequestError
from ..render.html import escape
from ..votes.store import VoteStore

__all__ = ["session_voter"]


def _name_of(subject: Any) -> str:
    name = subject if isinstance(subject, str) else getattr(subject, "name", None)
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequestError(
            f"each subject must be a non-empty string (or have a .name), got {subject!r}."
        )
    return name


_SESSION_TAG = uuid.uuid4().hex[:6]


def session_voter() -> str:
    """The voter id of the person at this kernel: ``$FUSIONKIT_VOTER`` if set, else
    ``"<user>-<tag>"`` with a tag fixed for this process (one id per person and session).
    """
    explicit = os.environ.get("FUSIONKIT_VOTER", "").strip()
    if explicit:
        return explicit
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = "voter"
    return f"{user}-{_SESSION_TAG}"


def _voter(voter: object) -> str:
    if voter is None:
        return session_voter()
    if not isinstance(voter, str) or not voter.strip():
        raise InvalidRequestError(f"voter must be a non-empty string, got {voter!r}.")
    return voter


def _check_store(store: object, widget: str, other: object) -> VoteStore:
    if isinstance(store, VoteStore):
        return store
    if isinstance(other, VoteStore):
        raise InvalidRequestError(
            f"{widget} takes the VoteStore first, like VotePanel: "
            f"{widget}(store, ...), not {widget}(..., store)."
        )
    raise InvalidRequestError(
        f"{widget}'s first argument must be a VoteStore, got {type(store).__name__}."
    )


def _error_note(exc: BaseException) -> str:
    return (
        f'<span class="fk"><span class="bad">{escape(type(exc).__name__)}:</span> '
        f"{escape(str(exc))}</span>"
    )
