"""Bradley–Terry ratings: checked against an independent scipy fit, and on known patterns."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fusionkit.errors import InvalidRequestError
from fusionkit.votes.ratings import fit_bradley_terry, ratings, win_rate_matrix
from fusionkit.votes.store import VoteStore

SCALE = 400.0 / math.log(10.0)


def simulate(
    strengths: dict[str, float], n: int, *, seed: int, tie_band: float = 0.06
) -> list[tuple[str, str, str]]:
    """Battles drawn from a BT model with a band of ties and some "both bad" verdicts."""
    rng = np.random.default_rng(seed)
    names = list(strengths)
    rows = []
    for _ in range(n):
        i, j = rng.choice(len(names), 2, replace=False)
        a, b = names[i], names[j]
        p = 1.0 / (1.0 + math.exp(-(strengths[a] - strengths[b])))
        u = rng.random()
        if abs(u - p) < tie_band:
            winner = "tie" if rng.random() < 0.7 else "bothbad"
        else:
            winner = "a" if u < p else "b"
        rows.append((a, b, winner))
    return rows


def scipy_ratings(rows: list[tuple[str, str, str]]) -> dict[str, float]:
    """Unpenalised BT maximum likelihood, battle by battle, with scipy (independent code)."""
    from scipy.optimize import minimize

    names = sorted({r[0] for r in rows} | {r[1] for r in rows})
    idx = {m: k for k, m in enumerate(names)}
    ia = np.array([idx[r[0]] for r in rows])
    ib = np.array([idx[r[1]] for r in rows])
    s = np.array([{"a": 1.0, "b": 0.0}.get(r[2], 0.5) for r in rows])

    def nll(free: np.ndarray) -> tuple[float, np.ndarray]:
        theta = np.concatenate([[0.0], free])  # the first model pinned at 0
        d = theta[ia] - theta[ib]
        p = 1.0 / (1.0 + np.exp(-d))
        value = -np.sum(s * np.log(p) + (1 - s) * np.log1p(-p))
        g = np.zeros(len(names))
        np.add.at(g, ia, -(s - p))
        np.add.at(g, ib, s - p)
        return value, g[1:]

    res = minimize(nll, np.zeros(len(names) - 1), jac=True, method="BFGS", options={"gtol": 1e-10})
    theta = np.concatenate([[0.0], res.x])
    elo = 1000.0 + SCALE * (theta - theta.mean())
    return dict(zip(names, elo, strict=True))


STRENGTHS = {"alpha": 1.2, "bravo": 0.6, "charlie": 0.0, "delta": -0.5, "echo": -1.3}


def test_ratings_agree_with_an_independent_scipy_fit() -> None:
    rows = simulate(STRENGTHS, 3000, seed=7)
    ours = ratings(rows, rounds=0).set_index("model")["rating"]
    ref = scipy_ratings(rows)
    for model, value in ref.items():
        assert ours[model] == pytest.approx(value, abs=1.0), model
    # And the mean is the anchor.
    assert ours.mean() == pytest.approx(1000.0, abs=1e-6)


def test_known_dominance_gives_the_expected_order_and_ranks() -> None:
    # alpha beats everyone, bravo beats all but alpha, ... (mostly, not always).
    order = ["alpha", "bravo", "charlie", "delta"]
    rows = []
    for i, hi in enumerate(order):
        for lo in order[i + 1 :]:
            rows += [(hi, lo, "a")] * 40 + [(lo, hi, "b")] * 40 + [(hi, lo, "b")] * 10
    df = ratings(rows, rounds=300, seed=1)
    assert df["model"].tolist() == order
    assert df["rank"].tolist() == [1, 2, 3, 4]
    assert (df["lower"] <= df["rating"]).all() and (df["rating"] <= df["upper"]).all()
    assert df["battles"].tolist() == [270] * 4


def test_rank_counts_only_models_clearly_above() -> None:
    # Two models that cannot be told apart share rank 1; a clearly worse one is rank 3.
    rows = [("x", "y", "a"), ("x", "y", "b")] * 50
    rows += [("x", "z", "a")] * 45 + [("x", "z", "b")] * 5
    rows += [("y", "z", "a")] * 45 + [("y", "z", "b")] * 5
    df = ratings(rows, rounds=300, seed=2).set_index("model")
    assert df.loc["x", "rank"] == 1 and df.loc["y", "rank"] == 1
    assert df.loc["z", "rank"] == 3


def test_intervals_narrow_as_battles_grow() -> None:
    small = ratings(simulate(STRENGTHS, 200, seed=3), rounds=300, seed=0)
    large = ratings(simulate(STRENGTHS, 4000, seed=3), rounds=300, seed=0)
    width_small = (small["upper"] - small["lower"]).mean()
    width_large = (large["upper"] - large["lower"]).mean()
    # Width shrinks like 1/sqrt(n): 20x the battles, about 4.5x narrower.
    assert width_large < width_small / 3


def test_ties_count_as_half_a_win_each_way() -> None:
    # Only ties: everybody equal.
    even = ratings([("a", "b", "tie"), ("b", "c", "bothbad"), ("c", "a", "tie")] * 5, rounds=0)
    assert np.allclose(even["rating"], 1000.0)
    # A tie weighs exactly as one win plus one loss at half weight: doubling every battle
    # and splitting each tie into a win each way gives the same ratings.
    rows = simulate(STRENGTHS, 600, seed=11, tie_band=0.15)
    assert sum(r[2] in ("tie", "bothbad") for r in rows) > 50
    split = []
    for a, b, w in rows:
        split += [(a, b, w), (a, b, w)] if w in ("a", "b") else [(a, b, "a"), (a, b, "b")]
    with_ties = ratings(rows, rounds=0, l2=1e-9).set_index("model")["rating"]
    as_halves = ratings(split, rounds=0, l2=1e-9).set_index("model")["rating"]
    pd.testing.assert_series_equal(with_ties, as_halves.loc[with_ties.index], atol=1e-3)
    # "bothbad" is a tie.
    a = ratings([("x", "y", "a"), ("x", "y", "tie")] * 3, rounds=0)
    b = ratings([("x", "y", "a"), ("x", "y", "bothbad")] * 3, rounds=0)
    pd.testing.assert_frame_equal(a, b)


def test_an_undefeated_model_stays_finite() -> None:
    rows = [("champ", "other", "a")] * 30 + [("other", "third", "tie")] * 10
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or divide warnings either
        df = ratings(rows, rounds=200, seed=0)
    values = df[["rating", "lower", "upper"]].to_numpy()
    assert np.isfinite(values).all()
    assert df["model"].iloc[0] == "champ"
    assert df["rating"].iloc[0] < 1000 + 4000  # large, but bounded by the prior
    models, theta = fit_bradley_terry(rows)
    assert np.isfinite(theta).all() and abs(theta.sum()) < 1e-8


def test_store_frame_and_tuples_give_the_same_ratings(tmp_path: Path) -> None:
    rows = simulate(STRENGTHS, 150, seed=5)
    store = VoteStore(tmp_path / "v.db")
    for a, b, w in rows:
        store.battle(a, b, w, voter="v1")
    from_store = ratings(store.battles(), rounds=100, seed=4)
    from_tuples = ratings(rows, rounds=100, seed=4)
    pd.testing.assert_frame_equal(from_store, from_tuples)
    assert from_store["battles"].sum() == 2 * len(rows)


def test_bootstrap_is_seeded() -> None:
    rows = simulate(STRENGTHS, 300, seed=9)
    one = ratings(rows, rounds=200, seed=1)
    again = ratings(rows, rounds=200, seed=1)
    other = ratings(rows, rounds=200, seed=2)
    pd.testing.assert_frame_equal(one, again)
    assert not np.allclose(one["lower"], other["lower"])
    pd.testing.assert_series_equal(one["rating"], other["rating"])


@pytest.mark.parametrize(
    ("rows", "needle"),
    [
        ([], "no battles"),
        ([("a", "b", "draw")], "'a', 'b', 'tie', 'bothbad'"),
        ([("a", "a", "a")], "cannot battle itself"),
        ([("a", "", "a")], "model_b must be a non-empty string"),
        ([("a", "b")], "tuple"),
        (pd.DataFrame({"model_a": ["a"], "winner": ["a"]}), "model_b"),
        ("a,b,a", "DataFrame"),
    ],
)
def test_bad_battles_are_refused(rows: object, needle: str) -> None:
    with pytest.raises(InvalidRequestError, match=needle):
        ratings(rows, rounds=0)


def test_bad_parameters_are_refused() -> None:
    rows = [("a", "b", "a")]
    with pytest.raises(InvalidRequestError, match="rounds"):
        ratings(rows, rounds=-1)
    with pytest.raises(InvalidRequestError, match="l2"):
        ratings(rows, l2=0)
    with pytest.raises(InvalidRequestError, match="level"):
        ratings(rows, level=1.5)


def test_disconnected_models_warn() -> None:
    with pytest.warns(RuntimeWarning, match="never met"):
        ratings([("a", "b", "a"), ("c", "d", "a")], rounds=0)


def test_win_rate_matrix() -> None:
    rows = [("a", "b", "a")] * 3 + [("b", "a", "a")] + [("a", "c", "tie")] * 2
    m = win_rate_matrix(rows)
    assert m.loc["a", "b"] == pytest.approx(0.75)
    assert m.loc["b", "a"] == pytest.approx(0.25)
    assert m.loc["a", "c"] == pytest.approx(0.5)
    assert math.isnan(m.loc["b", "c"]) and math.isnan(m.loc["a", "a"])
    assert m.index.tolist()[0] == "a"  # best overall first


def test_plot_ratings_draws_one_point_per_model() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fusionkit.render.rating_plots import plot_ratings

    df = ratings(simulate(STRENGTHS, 300, seed=1), rounds=100)
    ax = plot_ratings(df)
    try:
        labels = [t.get_text() for t in ax.get_yticklabels()]
        assert labels[-1].startswith("alpha")  # best on top
        assert len(labels) == len(STRENGTHS)
        with pytest.raises(InvalidRequestError, match="lacks columns"):
            plot_ratings(df.drop(columns=["lower"]))
    finally:
        plt.close(ax.figure)


def _plot(df: pd.DataFrame) -> tuple[list[str], str, list[str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fusionkit.render.rating_plots import plot_ratings

    ax = plot_ratings(df)
    try:
        ax.figure.canvas.draw()  # a negative xerr would only raise when drawn
        labels = [t.get_text() for t in ax.get_yticklabels()]
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        notes = [t.get_text() for t in ax.texts]
        return labels, " ".join(notes), legend
    finally:
        plt.close(ax.figure)


def test_plot_ratings_of_one_battle_flags_it_instead_of_raising() -> None:
    # The README's tour: one battle. Its bootstrap bounds equal the point up to 1e-11.
    df = ratings([("model-a", "model-b", "a")])
    assert (df["upper"] - df["lower"]).abs().max() < 1e-6
    labels, note, legend = _plot(df)
    assert "Too little evidence" in note and "model-a (1 battle; zero-width interval)" in note
    assert any("unreliable" in t for t in legend)
    assert all("n=1" in label for label in labels)


def test_plot_ratings_when_one_side_won_every_battle() -> None:
    df = ratings([("strong", "weak", "a")] * 30, rounds=200)
    labels, note, _ = _plot(df)
    assert "zero-width interval" in note and "30 battles" not in note
    assert labels[-1].startswith("strong")


def test_plot_ratings_labels_say_ties_and_counts_and_have_a_legend() -> None:
    from fusionkit.votes.ratings import reliability_notes

    df = ratings(simulate(STRENGTHS, 300, seed=1), rounds=100)
    labels, note, legend = _plot(df)
    assert note == ""  # enough battles, real intervals: nothing flagged
    assert reliability_notes(df) == [""] * len(df) and set(df["note"]) == {""}
    assert all(" · n=" in label for label in labels)
    if len(set(df["rank"])) < len(df):  # shared ranks say so
        assert any("tied" in label for label in labels)
    assert legend[0].startswith("rating, 95% interval") and any("anchor" in t for t in legend)


def test_ratings_frame_flags_thin_evidence_in_its_note_column() -> None:
    df = ratings([("model-a", "model-b", "a")])  # the README's tour
    assert df["note"].tolist() == ["1 battle; zero-width interval"] * 2
    assert ratings([("x", "y", "a")] * 12 + [("y", "x", "a")] * 3, rounds=200)["note"].tolist() == [
        "",
        "",
    ]
    assert ratings([("x", "y", "a")] * 3, rounds=0)["note"].tolist() == ["3 battles"] * 2
