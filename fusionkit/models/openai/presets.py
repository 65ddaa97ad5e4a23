"""The provider presets: one table, read by the constructor, by ``fk.model`` specs and by docs.

Each :class:`Preset` row says everything fusionkit knows about one kind of
OpenAI-compatible server: its spec prefix, default base URL (and the environment
variable that overrides it), where its key comes from, the headers and body fields it
wants, how its calls are priced, and the advice its errors carry. :data:`PRESETS` is the
only list of them; :mod:`fusionkit.models.specs` builds its parsing, its "accepted forms"
error and its docs table from it.

This module imports nothing heavy (no httpx): resolving a spec reads it cheaply. It is
upstream of the model class (which reads a row), so building a model from a row is
:meth:`OpenAICompatModel.from_preset <fusionkit.models.openai.model.OpenAICompatModel.from_preset>`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

__all__ = ["PRESETS", "URL_PRESET", "Preset", "normalize_base_url"]


def _frozen(d: Mapping[Any, Any] | None = None) -> Mapping[Any, Any]:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True, slots=True)
class Preset:
    """Everything fusionkit knows about one kind of OpenAI-compatible server.

    Attributes:
        prefix: The spec prefix (``"openrouter"`` in ``"openrouter:vendor/model"``) and
            the provider label (part of the cache identity).
        base_url: The default API root.
        doc: One line for the docs table and the "accepted forms" error.
        example: An example model id for the docs.
        base_url_env: Environment variable that overrides ``base_url`` (e.g.
            ``OLLAMA_HOST``); ``host:port`` is enough, ``http://`` and ``/v1`` are added.
        key_env: Environment variable holding the API key.
        key_required: Whether a missing key is an error at construction (hosted APIs)
            or simply means no key is sent (local servers started without ``--api-key``).
        key_page: Where to get a key (quoted when it is missing).
        headers: Headers sent with every request (the user's ``headers=`` win).
        extra_body: Body fields sent with every request (the user's ``extra_body=`` win).
        max_tokens_field: The body field for the token limit.
        price_provider: genai-prices' id for this provider, or None to look it up by URL.
        free: A local server without per-token prices: the cost is 0.0.
        status_hints: Extra advice per HTTP status; ``{model}`` is filled in.
        connect_hint: Advice when the server cannot be reached.
    """

    prefix: str
    base_url: str
    doc: str
    example: str = "model"
    base_url_env: str | None = None
    key_env: str | None = None
    key_required: bool = False
    key_page: str | None = None
    headers: Mapping[str, str] = field(default_factory=_frozen)
    extra_body: Mapping[str, Any] = field(default_factory=_frozen)
    max_tokens_field: str = "max_tokens"
    price_provider: str | None = None
    free: bool = False
    status_hints: Mapping[int, str] = field(default_factory=_frozen)
    connect_hint: str = "Check that the server is running and base_url is right."

    @property
    def form(self) -> str:
        """The spec form, e.g. ``'openrouter:vendor/model'``."""
        return f"'{self.prefix}:{self.example}'"

    def resolve_base_url(self, base_url: str | None = None) -> str:
        """The base URL to use: the argument, else ``$base_url_env``, else the default."""
        if base_url is not None:
            return normalize_base_url(base_url)
        env = os.environ.get(self.base_url_env) if self.base_url_env else None
        if not env:
            return self.base_url
        # OLLAMA_HOST=0.0.0.0 (how Ollama is told to listen everywhere) means its port.
        return normalize_base_url(env, default_port=urlsplit(self.base_url).port)


def normalize_base_url(url: str, *, default_port: int | None = None) -> str:
    """``host[:port]`` → ``http://host:port/v1``; a URL with a path is kept as given.

    Args:
        url: What the user or an environment variable gave.
        default_port: Added when ``url`` names no port (for bare host names).
    """
    if not isinstance(url, str):
        return url  # the constructor names the bad type
    url = url.strip()
    if "://" not in url:
        url = f"http://{url}"
    scheme, _, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    if default_port is not None and not host.rsplit("]", 1)[-1].count(":"):
        host = f"{host}:{default_port}"
    if not path.strip("/"):
        return f"{scheme}://{host}/v1"
    return f"{scheme}://{host}{slash}{path}"


_LOCAL_COST = "cost 0.0 unless prices= is given"

#: The presets, by spec prefix. The only list of them.
PRESETS: Mapping[str, Preset] = MappingProxyType(
    {
        p.prefix: p
        for p in (
            Preset(
                prefix="openrouter",
                base_url="https://openrouter.ai/api/v1",
                doc="OpenRouter (key from $OPENROUTER_API_KEY; cost from usage.cost)",
                example="vendor/model",
                key_env="OPENROUTER_API_KEY",
                key_required=True,
                key_page="https://openrouter.ai/keys",
                headers=_frozen(
                    {"HTTP-Referer": "https://pypi.org/project/fusionkit/", "X-Title": "fusionkit"}
                ),
                # Asks for usage.cost; OpenRouter now always sends it, and ignores this.
                extra_body=_frozen({"usage": {"include": True}}),
                price_provider="openrouter",
                status_hints=_frozen(
                    {
                        402: "Add credits at https://openrouter.ai/settings/credits.",
                        404: "Check the model id at https://openrouter.ai/models.",
                    }
                ),
            ),
            Preset(
                prefix="openai",
                base_url="https://api.openai.com/v1",
                doc="OpenAI (key from $OPENAI_API_KEY; sends max_completion_tokens)",
                example="model",
                key_env="OPENAI_API_KEY",
                key_required=True,
                key_page="https://platform.openai.com/api-keys",
                # Newer OpenAI models reject max_tokens.
                max_tokens_field="max_completion_tokens",
                price_provider="openai",
            ),
            Preset(
                prefix="ollama",
                base_url="http://localhost:11434/v1",
                doc=f"Ollama ($OLLAMA_HOST or localhost:11434; {_LOCAL_COST})",
                example="model",
                base_url_env="OLLAMA_HOST",
                free=True,
                status_hints=_frozen({404: "Pull the model first: `ollama pull {model}`."}),
                connect_hint="Is Ollama running? Start it with `ollama serve` (or set OLLAMA_HOST).",
            ),
            Preset(
                prefix="vllm",
                base_url="http://localhost:8000/v1",
                doc=f"vLLM ($VLLM_BASE_URL or localhost:8000; key from $VLLM_API_KEY if set; {_LOCAL_COST})",
                example="org/model",
                base_url_env="VLLM_BASE_URL",
                key_env="VLLM_API_KEY",
                free=True,
                status_hints=_frozen(
                    {404: "Use the model id `vllm serve` was started with (GET /v1/models)."}
                ),
                connect_hint="Is vLLM running? Start it with `vllm serve MODEL` (or set VLLM_BASE_URL).",
            ),
            Preset(
                prefix="llamacpp",
                base_url="http://localhost:8080/v1",
                doc=f"llama.cpp's llama-server ($LLAMACPP_BASE_URL or localhost:8080; key from $LLAMA_API_KEY if set; {_LOCAL_COST})",
                example="model",
                base_url_env="LLAMACPP_BASE_URL",
                key_env="LLAMA_API_KEY",
                free=True,
                connect_hint=(
                    "Is llama-server running? Start it with `llama-server -m model.gguf "
                    "--port 8080` (or set LLAMACPP_BASE_URL)."
                ),
            ),
        )
    }
)

#: A plain ``http(s)://host:port/v1#model`` spec: any OpenAI-compatible server.
URL_PRESET = Preset(
    prefix="openai-compatible",
    base_url="http://localhost:8000/v1",
    doc="any OpenAI-compatible server (LM Studio, TGI, a proxy; priced by URL when known)",
)
