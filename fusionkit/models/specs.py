"""Model specs: one string names any model fusionkit can talk to.

The HTTP forms come from :data:`fusionkit.models.openai.presets.PRESETS` (one row per
provider); this module adds the local, fake and plain-URL forms. :data:`SPEC_FORMS`, the
"accepted forms" error and the table below are all built from those rows.

Backends are imported only when their spec is used, so resolving ``fake:`` or
``openrouter:`` never imports torch.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from ..errors import ConfigurationError
from .base import Model
from .openai.presets import PRESETS, URL_PRESET

__all__ = ["SPEC_FORMS", "model", "spec_form", "spec_table"]

# (form, what it builds) of the forms that are not HTTP presets.
_EDGE = ("'edge'", "the embedded default edge model, 4-bit (or $FUSIONKIT_EDGE_MODEL)")
_LOCAL = (
    "'local:/path/or/hf-id[?quantization=4bit|8bit|none]'",
    "a LocalModel (transformers), 4-bit by default",
)
_URL = ("'http(s)://host:port/v1#model'", URL_PRESET.doc)
_FAKE = ("'fake:name'", "a FakeModel echoing the prompt (tests, demos)")

_ROWS: tuple[tuple[str, str], ...] = (
    _EDGE,
    _LOCAL,
    *((p.form, p.doc) for p in PRESETS.values()),
    _URL,
    _FAKE,
)

#: Every accepted spec form, with what it builds.
SPEC_FORMS: tuple[str, ...] = tuple(f"{form} — {doc}" for form, doc in _ROWS)


def spec_table() -> str:
    """The accepted forms as a reStructuredText table (for docs)."""
    width = max(len(form) for form, _ in _ROWS) + 2
    rule = "=" * width + "  " + "=" * max(len(doc) for _, doc in _ROWS)
    lines = [rule, f"{'spec':<{width}}  model", rule]
    lines += [f"{'``' + form.strip(chr(39)) + '``':<{width}}  {doc}" for form, doc in _ROWS]
    return "\n".join([*lines, rule])


__doc__ = f"{__doc__}\n{spec_table()}\n"


def _bad(spec: object, why: str) -> ConfigurationError:
    forms = "\n  ".join(SPEC_FORMS)
    return ConfigurationError(f"unknown model spec {spec!r}: {why}. Accepted forms:\n  {forms}")


def spec_form(spec: str) -> str:
    """Which form a spec string has, read without building or loading anything.

    The one reading of a spec's shape: :func:`model` dispatches on it, and the CLI checks
    every spec with it before any model loads.

    Returns:
        ``"edge"``, ``"url"``, ``"fake"``, ``"preset"`` or ``"local"``.

    Raises:
        ConfigurationError: Not a known form (the message lists the accepted forms).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise _bad(spec, "expected a non-empty string")
    spec = spec.strip()
    if spec == "edge":
        return "edge"
    if spec.startswith(("http://", "https://")):
        if not spec.partition("#")[2]:
            raise _bad(spec, "an OpenAI-compatible URL needs the model name after '#'")
        return "url"
    prefix, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise _bad(spec, "expected 'provider:name'")
    if prefix == "fake":
        return "fake"
    if prefix in PRESETS:
        return "preset"
    if prefix == "local":
        return "local"
    raise _bad(spec, f"unknown provider {prefix!r}")


def model(spec: str | Model, **kwargs: object) -> Model:
    """Build a model from a spec string (a Model instance is returned unchanged).

    Args:
        spec: A spec such as ``"edge"``, ``"openrouter:anthropic/claude-3.7-sonnet"``,
            ``"ollama:llama3.2"``, ``"vllm:org/model"``,
            ``"http://127.0.0.1:8000/v1#my-model"``, ``"fake:echo"``.
        **kwargs: Passed to the backend's constructor (timeouts, prices, ...).

    Returns:
        The model.

    Raises:
        ConfigurationError: Unknown spec (the message lists the accepted forms), or a
            missing API key for a remote provider (the message names the variable).
        InvalidRequestError: A bad constructor argument (named), e.g. a malformed URL.
    """
    if isinstance(spec, Model):
        return spec
    form = spec_form(spec)
    spec = spec.strip()
    if form == "edge":
        from .local.embedded import edge_model

        return edge_model(**kwargs)  # type: ignore[arg-type]
    if form == "url":
        base_url, _, name = spec.partition("#")
        from .openai.model import OpenAICompatModel

        return OpenAICompatModel.from_preset(URL_PRESET, name, base_url=base_url, **kwargs)
    prefix, _, rest = spec.partition(":")
    if form == "fake":
        from .fake import FakeModel

        return FakeModel(rest, **kwargs)  # type: ignore[arg-type]
    if form == "preset":
        from .openai.model import OpenAICompatModel

        return OpenAICompatModel.from_preset(PRESETS[prefix], rest, **kwargs)
    path, _, query = rest.partition("?")
    options = {k: v[-1] for k, v in parse_qs(query).items()}
    unknown = set(options) - {"quantization"}
    if unknown:
        raise _bad(spec, f"unknown option(s) {sorted(unknown)}; only 'quantization' is known")
    from .local import DEFAULT_QUANTIZATION, LocalModel, parse_quantization

    quant = parse_quantization(options.get("quantization", DEFAULT_QUANTIZATION))
    return LocalModel(path, quantization=quant, **kwargs)  # type: ignore[arg-type]
