"""One Jinja2 environment with autoescape on, for every HTML fusionkit renders.

Model output is untrusted: every value reaching a template is escaped unless a template
explicitly marks already-rendered fusionkit HTML as safe (``|safe`` is used only on HTML
that this module itself produced). Templates live in ``templates/`` beside this file; each
layer uses its own template names (``fusion_*.html``, ``panel_*.html``, ``votes_*.html``,
``widget_*.html``). The shared stylesheet is inlined into every fragment so that a
fragment renders the same in Jupyter, on GitHub/nbviewer and in exported HTML — no
external resources.
"""

from __future__ import annotations

import functools
from typing import Any

from markupsafe import Markup, escape

__all__ = ["STYLE", "escape", "fmt_cost", "fmt_seconds", "render", "safe"]

#: Scoped CSS (all rules under .fk) shared by every fragment.
STYLE = """
<style>
.fk{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
  font-size:13px;line-height:1.45;color:#1f2328;max-width:1100px}
.fk h3{font-size:16px;margin:6px 0 8px}.fk h4{font-size:14px;margin:10px 0 6px}
.fk table{border-collapse:collapse;margin:6px 0;width:100%}
.fk.fk th,.fk.fk td{border:1px solid #d0d7de;padding:5px 8px;text-align:left;vertical-align:top}
.fk.fk th{background:#f6f8fa;font-weight:600}
.fk .muted{color:#59636e}.fk .small{font-size:12px}
.fk .ok{color:#1a7f37;font-weight:600}.fk .bad{color:#cf222e;font-weight:600}
.fk .badge{display:inline-block;padding:1px 7px;border-radius:10px;font-size:12px;
  font-weight:600;border:1px solid #d0d7de;background:#f6f8fa}
.fk .ship{background:#dafbe1;border-color:#4ac26b;color:#116329}
.fk .skip{background:#ffebe9;border-color:#ff8182;color:#a40e26}
.fk .answer{white-space:pre-wrap;background:#f6f8fa;border-left:4px solid #0969da;
  padding:8px 10px;margin:6px 0}
.fk .text{white-space:pre-wrap;max-height:22em;overflow:auto}
.fk .err{background:#fff8f8}
.fk .winner{background:#f0fff4}
.fk details>summary{cursor:pointer;color:#0969da}
</style>
"""


@functools.lru_cache(maxsize=1)
def _env() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("fusionkit.render", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cost"] = fmt_cost
    env.filters["seconds"] = fmt_seconds
    env.globals["STYLE"] = Markup(STYLE)
    return env


def render(template: str, **context: Any) -> str:
    """Render a template from ``templates/`` with autoescape on.

    Args:
        template: File name inside ``fusionkit/render/templates``.
        **context: Template variables; strings are escaped on output.

    Returns:
        The HTML fragment as a str.
    """
    return _env().get_template(template).render(**context)


def safe(html: str) -> Markup:
    """Mark HTML that fusionkit itself rendered (never model text) as safe to embed."""
    return Markup(html)


def fmt_cost(value: float | None) -> str:
    """Format a USD cost: ``$0.000123``, ``$0`` for free, ``unknown`` for None."""
    if value is None:
        return "unknown"
    if value == 0:
        return "$0"
    if value < 0.01:
        return f"${value:.6f}"
    return f"${value:.4f}"


def fmt_seconds(value: float | None) -> str:
    """Format seconds: ``850 ms`` or ``2.31 s``; an em dash for None."""
    if value is None:
        return "—"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.2f} s"
