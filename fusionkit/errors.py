"""The fusionkit error tree.

Every error fusionkit raises on purpose derives from :class:`FusionkitError`, and every
message says what went wrong *and what to do about it*. Provider errors quote the
provider's own text (with any secret scrubbed out).

::

    FusionkitError
    ├── ConfigurationError            missing API key, bad model spec, missing extra
    │   ├── MissingDependencyError    a pip extra is not installed (names the command)
    │   └── UnsupportedHardwareError  4-bit/8-bit not possible here (names the way on)
    ├── InvalidRequestError           empty prompt, unknown role, max_tokens <= 0, ...
    │                                 (also a ValueError)
    ├── ModelError                    one model call failed; .model names the member
    │   ├── APIStatusError            the server answered with an HTTP error; .status_code
    │   │   ├── BadRequestError          400/422 and other 4xx
    │   │   ├── AuthenticationError      401 (and 403)
    │   │   ├── PaymentRequiredError     402
    │   │   ├── ModelNotFoundError       404
    │   │   ├── RateLimitError           429; .retry_after
    │   │   └── ServerError              5xx
    │   ├── ModelTimeoutError         connect/read/total timeout
    │   ├── ModelConnectionError      could not reach the server
    │   └── ResponseFormatError       a body that is not the expected JSON / stream
    │       └── StructuredOutputError a reply that does not satisfy the requested schema
    ├── FusionError                   every pool member failed; .failures lists each cause
    └── StoreError                    a SQLite store (votes, cache) cannot be used
        └── CorruptStoreError         the file is damaged or is not the expected store
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "CorruptStoreError",
    "FusionError",
    "FusionkitError",
    "InvalidRequestError",
    "MissingDependencyError",
    "ModelConnectionError",
    "ModelError",
    "ModelNotFoundError",
    "ModelTimeoutError",
    "PaymentRequiredError",
    "RateLimitError",
    "ResponseFormatError",
    "ServerError",
    "StoreError",
    "StructuredOutputError",
    "UnsupportedHardwareError",
    "error_for_status",
]


class FusionkitError(Exception):
    """Root of every error fusionkit raises on purpose."""


class ConfigurationError(FusionkitError):
    """Something about the set-up is wrong: a missing key, a bad spec, a missing extra."""


class MissingDependencyError(ConfigurationError, ImportError):
    """An optional dependency is missing; the message names the install command."""


class UnsupportedHardwareError(ConfigurationError):
    """The requested quantization cannot run on this machine."""


class InvalidRequestError(FusionkitError, ValueError):
    """The request itself is invalid (empty prompt, unknown role, bad parameter)."""


class ModelError(FusionkitError):
    """A call to one model failed.

    Attributes:
        model: The display name of the model that failed (never a secret).
        provider_message: The provider's own error text, scrubbed of secrets.
    """

    def __init__(
        self, message: str, *, model: str | None = None, provider_message: str | None = None
    ):
        super().__init__(message)
        self.model = model
        self.provider_message = provider_message


class APIStatusError(ModelError):
    """The server answered with an HTTP error status."""

    status_code: int = 0

    def __init__(
        self,
        message: str,
        *,
        model: str | None = None,
        provider_message: str | None = None,
        status_code: int | None = None,
    ):
        super().__init__(message, model=model, provider_message=provider_message)
        if status_code is not None:
            self.status_code = status_code


class BadRequestError(APIStatusError):
    """400, 422 and other client errors without a more specific class."""

    status_code = 400
    advice = "Check the request parameters (model name, max_tokens, message roles)."


class AuthenticationError(APIStatusError):
    """401/403: the API key is missing, wrong or not allowed."""

    status_code = 401
    advice = "Check the API key: set it in the environment variable for this provider."


class PaymentRequiredError(APIStatusError):
    """402: the account has no credit left for this request."""

    status_code = 402
    advice = "Add credit to the provider account, or lower max_tokens, or use a free model."


class ModelNotFoundError(APIStatusError):
    """404: the server does not know this model (or this endpoint)."""

    status_code = 404
    advice = "Check the model name and the base URL; list the server's models with GET /models."


class RateLimitError(APIStatusError):
    """429: too many requests; retried automatically, raised when retries run out."""

    status_code = 429
    advice = "Slow down: lower the concurrency, or raise max_retries, or wait and re-run."

    def __init__(self, *args: object, retry_after: float | None = None, **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(APIStatusError):
    """5xx: the server failed; retried automatically, raised when retries run out."""

    status_code = 500
    advice = "The provider failed on its side; retry later or use another model."


class ModelTimeoutError(ModelError):
    """The model did not answer within the connect/read/total timeout."""


class ModelConnectionError(ModelError):
    """The server could not be reached."""


class ResponseFormatError(ModelError):
    """The server answered, but not with the expected JSON or event stream."""


class StructuredOutputError(ResponseFormatError):
    """The model answered, but its reply does not satisfy the requested JSON Schema.

    Attributes:
        reply: The model's reply text, as received.
        problem: What is wrong with it (the first schema violation, or no JSON at all).
        completion: The whole :class:`~fusionkit.types.Completion` of the failed reply
            (usage, latency, cost — it was paid for), when the model layer has it.
    """

    def __init__(
        self,
        message: str,
        *,
        reply: str = "",
        problem: str = "",
        model: str | None = None,
    ):
        super().__init__(message, model=model)
        self.reply = reply
        self.problem = problem
        self.completion: Any = None


class FusionError(FusionkitError):
    """Every pool member failed; ``failures`` maps each member to its error."""

    def __init__(self, message: str, *, failures: Mapping[str, BaseException] | None = None):
        super().__init__(message)
        self.failures: dict[str, BaseException] = dict(failures or {})


class StoreError(FusionkitError):
    """A SQLite store (votes or cache) cannot be used."""


class CorruptStoreError(StoreError):
    """The file is damaged, or it is a SQLite file of some other kind."""


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: AuthenticationError,
    404: ModelNotFoundError,
    422: BadRequestError,
    429: RateLimitError,
}


def error_for_status(
    status_code: int,
    *,
    model: str,
    provider_message: str,
    hint: str | None = None,
    retry_after: float | None = None,
) -> APIStatusError:
    """Build the typed error for an HTTP status.

    Args:
        status_code: The HTTP status the server returned.
        model: Display name of the model (never a secret).
        provider_message: The provider's own error text, already scrubbed of secrets.
        hint: Extra advice, e.g. which environment variable holds the key.
        retry_after: Seconds the server asked us to wait (429 only).

    Returns:
        An instance of the most specific :class:`APIStatusError` subclass.
    """
    if status_code >= 500:
        cls: type[APIStatusError] = ServerError
    else:
        cls = _STATUS_CLASSES.get(status_code, BadRequestError)
    advice = getattr(cls, "advice", "")
    if hint:
        advice = f"{advice} {hint}".strip()
    quoted = provider_message.strip() or "(empty body)"
    if len(quoted) > 500:
        quoted = quoted[:500] + "…"
    message = f"{model}: HTTP {status_code} — the provider said: {quoted!r}. {advice}"
    if cls is RateLimitError:
        return RateLimitError(
            message,
            model=model,
            provider_message=quoted,
            status_code=status_code,
            retry_after=retry_after,
        )
    return cls(message, model=model, provider_message=quoted, status_code=status_code)


def describe_error(exc: BaseException) -> str:
    """The one way fusionkit writes an error for a person: ``"Type: message"``.

    Args:
        exc: Any exception.

    Returns:
        ``"ModelTimeoutError: no answer within 5 s"``, or just the type name when the
        exception has no message.
    """
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
