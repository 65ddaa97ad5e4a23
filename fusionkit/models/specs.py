"""Model specs: one string names any model fusionkit can talk to.

=================================  ==========================================================
spec                               model
=================================  ==========================================================
``edge``                           the embedded default edge model, 4-bit (or
                                   ``$FUSIONKIT_EDGE_MODEL``)
``local:/path/or/hf-id``           :class:`~fusionkit.models.local.LocalModel` in 4-bit;
                                   add ``?quantization=none|8bit|4bit``
``openrouter:vendor/model``        OpenRouter (key from ``OPENROUTER_API_KEY``)
``openai:model``                   OpenAI (key from ``OPENAI_API_KEY``)
``ollama:model``                   Ollama (``$OLLAMA_HOST`` or http://localhost:11434)
``http(s)://host:port/v1#model``   any OpenAI-compatible server (vLLM, llama.cpp's server)
``fake:name``                      :class:`~fusionkit.models.fake.FakeModel` echoing the prompt
=================================  ==========================================================

Backends are imported only when their spec is used, so resolving ``fake:`` or
``openrouter:`` never imports torch.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from ..errors import ConfigurationError
from .base import Model

__all__ = ["SPEC_FORMS", "model"]

SPEC_FORMS = (
    "'edge'",
    "'local:/path/or/hf-id[?quantization=4bit|8bit|none]'",
    "'openrouter:vendor/model'",
    "'openai:model'",
    "'ollama:model'",
    "'http://host:port/v1#model' (any OpenAI-compatible server: vLLM, llama.cpp, ...)",
    "'fake:name'",
)


def _bad(spec: object, why: str) -> ConfigurationError:
    forms = "\n  ".join(SPEC_FORMS)
    return ConfigurationError(f"unknown model spec {spec!r}: {why}. Accepted forms:\n  {forms}")


def model(spec: str | Model, **kwargs: object) -> Model:
    """Build a model from a spec string (a Model instance is returned unchanged).

    Args:
        spec: A spec such as ``"edge"``, ``"openrouter:anthropic/claude-3.7-sonnet"``,
            ``"ollama:llama3.2"``, ``"http://127.0.0.1:8000/v1#my-model"``, ``"fake:echo"``.
        **kwargs: Passed to the backend's constructor (timeouts, prices, ...).

    Returns:
        The model.

    Raises:
        ConfigurationError: Unknown spec (the message lists the accepted forms), or a
            missing API key for a remote provider (the message names the variable).
    """
    if isinstance(spec, Model):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise _bad(spec, "expected a non-empty string")
    spec = spec.strip()
    if spec == "edge":
        from .local.embedded import edge_model

        return edge_model(**kwargs)  # type: ignore[arg-type]
    if spec.startswith(("http://", "https://")):
        base_url, sep, name = spec.partition("#")
        if not sep or not name:
            raise _bad(spec, "an OpenAI-compatible URL needs the model name after '#'")
        from .openai_compat import OpenAICompatModel

        return OpenAICompatModel(name, base_url=base_url, **kwargs)  # type: ignore[arg-type]
    prefix, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise _bad(spec, "expected 'provider:name'")
    if prefix == "fake":
        from .fake import FakeModel

        return FakeModel(rest, **kwargs)  # type: ignore[arg-type]
    if prefix in ("openrouter", "openai", "ollama"):
        from . import openai_compat

        factory = getattr(openai_compat, prefix)
        return factory(rest, **kwargs)  # type: ignore[no-any-return]
    if prefix == "local":
        path, _, query = rest.partition("?")
        options = {k: v[-1] for k, v in parse_qs(query).items()}
        unknown = set(options) - {"quantization"}
        if unknown:
            raise _bad(spec, f"unknown option(s) {sorted(unknown)}; only 'quantization' is known")
        from .local import DEFAULT_QUANTIZATION, LocalModel, parse_quantization

        quant = parse_quantization(options.get("quantization", DEFAULT_QUANTIZATION))
        return LocalModel(path, quantization=quant, **kwargs)  # type: ignore[arg-type]
    raise _bad(spec, f"unknown provider {prefix!r}")
