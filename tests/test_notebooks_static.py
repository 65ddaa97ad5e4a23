"""Committed notebooks are shared static-first: no saved widget state.

With saved state, nbconvert (and GitHub/nbviewer) renders each widget through its live
view, which needs CDN JavaScript and shows nothing offline; without it, every fusionkit
widget falls back to its text/html snapshot. `make notebooks` re-executes and strips.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fusionkit.notebook_checks import strip_widget_state

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_notebook_has_no_widget_state(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert "widgets" not in nb["metadata"], (
        f"{path.name} carries saved widget state; run "
        "`python -m fusionkit.notebook_checks --fix --static notebooks/*.ipynb`"
    )


def test_widget_outputs_carry_a_static_snapshot() -> None:
    """Every widget view output in the notebooks has a text/html snapshot beside it.

    Current form: the view, then a separate ``text/html`` output tagged
    ``data-fk-snapshot`` (kept current by display updates). Notebooks executed before
    that change carry the snapshot inside the view's bundle; both read without a kernel.
    """
    views = 0
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            outputs = cell.get("outputs", [])
            for i, out in enumerate(outputs):
                data = out.get("data", {})
                if "application/vnd.jupyter.widget-view+json" not in data:
                    continue
                views += 1
                after = outputs[i + 1].get("data", {}) if i + 1 < len(outputs) else {}
                beside = "data-fk-snapshot" in "".join(after.get("text/html", ""))
                inside = bool("".join(data.get("text/html", "")).strip())
                assert beside or inside, f"{path.name}: a widget output has no snapshot"
    if NOTEBOOKS:
        assert views > 0, "the notebooks show no widget at all"


def test_strip_widget_state() -> None:
    nb = {"metadata": {"widgets": {"x": 1}, "kernelspec": {}}}
    assert strip_widget_state(nb) and "widgets" not in nb["metadata"]
    assert strip_widget_state(nb) == []
