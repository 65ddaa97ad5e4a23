"""The README's five-minute tour runs as written (with a fake edge model, no keys, offline).

The test reads README.md at test time: every ```python block of the section whose heading
is "A five-minute tour" runs, in order, in one namespace, from a temporary folder (the
tour writes ``votes.db``). ``fk.edge_model()`` (and the ``"edge"`` spec) give a
:class:`fusionkit.FakeModel` instead of the 135M model, no API key is set, and the
response cache is off. A remote member in the tour (``"openrouter:..."`` with no key)
must become a failed row of its fusion, not an exception.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import fusionkit as fk
from fusionkit.fusion import engine
from fusionkit.models import specs

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = "A five-minute tour"


def tour_blocks(text: str) -> list[str]:
    """The ```python blocks of the tour section, in order."""
    match = re.search(rf"^##\s+{re.escape(SECTION)}\s*$(.*?)(?=^##\s|\Z)", text, re.M | re.S)
    assert match, f"README.md has no '## {SECTION}' section"
    return re.findall(r"^```python\n(.*?)^```", match.group(1), re.M | re.S)


def test_the_tour_section_has_code() -> None:
    blocks = tour_blocks(README.read_text(encoding="utf-8"))
    assert blocks and any("fk.fuse(" in b for b in blocks)


def test_the_readme_tour_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("FUSIONKIT_CACHE", "0")
    for key in ("OPENROUTER_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)

    def fake_edge(*args: object, **kwargs: object) -> fk.FakeModel:
        return fk.FakeModel("edge", "42", repeat=True)

    real_spec = specs.model

    def spec(s: object, **kwargs: object) -> Any:
        return fake_edge() if s == "edge" else real_spec(s, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fk, "edge_model", fake_edge)
    monkeypatch.setattr(specs, "model", spec)

    results: list[fk.FusionResult] = []
    real_afuse = engine.afuse

    async def recording_afuse(*args: Any, **kwargs: Any) -> fk.FusionResult:
        result = await real_afuse(*args, **kwargs)
        results.append(result)
        return result

    monkeypatch.setattr(engine, "afuse", recording_afuse)
    monkeypatch.setattr(fk, "fuse", engine.sync_twin(recording_afuse))

    namespace: dict[str, Any] = {"__name__": "readme_tour"}
    for i, block in enumerate(tour_blocks(README.read_text(encoding="utf-8"))):
        code = compile(block, f"README.md tour block {i + 1}", "exec")
        exec(code, namespace)  # noqa: S102 - the README's own code, which is the point

    assert results, "the tour ran no fusion"
    remote = [
        c for r in results for c in r.candidates if c.model.startswith(("openrouter:", "openai:"))
    ]
    # The tour shows a remote member; without its key it is a failed row, not a crash.
    assert remote, "the tour no longer shows a remote pool member"
    assert all(c.error_type == "ConfigurationError" for c in remote)
    assert all("API_KEY" in (c.error or "") for c in remote)
    owner = next(r for r in results if any(c in r.candidates for c in remote))
    assert owner.succeeded, "the local members of that fusion still answered"
