"""Bradley–Terry ratings with bootstrap confidence intervals, from pairwise battles.

The model (as Chatbot Arena uses it): model *i* beats model *j* with probability
``σ(θᵢ − θⱼ)``. A tie counts as half a win for each side, and ``"bothbad"`` counts as a
tie. Ratings are shown on the Elo scale, ``anchor + scale · θ / ln 10`` — so a gap of
``scale`` (400) points means 10:1 odds — **anchored so that the mean rating of the rated
models is** ``anchor`` (1000). The mean anchor does not depend on which model happens to
come first, and stays put when a model is added with few battles.

The maximum-likelihood fit is ours, with numpy: **Newton's method on the log-likelihood
with a tiny L2 (Gaussian) prior** ``λ/2 · Σθ²`` (``l2=1e-3`` by default, a prior
standard deviation of about 5,500 rating points). Why Newton: the problem is small
(one parameter per model) and smooth, so a handful of Newton steps reach machine
precision where MM/Zermelo iterations can need thousands when ratings are far apart.
Why the prior: an undefeated model has no finite MLE (the likelihood keeps rising as its
rating grows), and a disconnected comparison graph leaves the gap between its parts
undetermined; the prior makes the optimum unique and finite in both cases, and it moves
well-determined ratings by a negligible amount. It also centres the ratings: at the
optimum ``λ · Σθ = 0``, because the log-likelihood's gradient sums to zero. Each Newton
step backtracks until the objective rises, so the iteration is monotone.

Battles are aggregated into cells (side A, side B, outcome) first; a bootstrap round
resamples the battles with replacement, which is the same as drawing the cell counts
from a multinomial — so 1,000 rounds cost 1,000 multinomial draws and a batched Newton
solve, not 1,000 passes over the battles. 95 % intervals are the 2.5 % and 97.5 %
percentiles over rounds; rank = 1 + the number of models whose lower bound is above this
model's upper bound (FastChat's definition).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidRequestError
from .store import normalize_winner

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MIN_BATTLES",
    "BattleData",
    "fit_bradley_terry",
    "ratings",
    "reliability_notes",
    "win_rate_matrix",
]

#: Fewer battles than this per model and its rating is flagged as unreliable.
MIN_BATTLES = 10
#: An interval narrower than this (rating points) came from resamples that never varied.
_ZERO_WIDTH = 1e-6

#: Score of side A for each outcome: a win, a loss, and a tie (or both bad) as half.
_SCORE_A = {"a": 1.0, "b": 0.0, "tie": 0.5, "bothbad": 0.5}
# Keep each bootstrap batch's (rounds × n × n) arrays to about this many floats.
_BATCH_FLOATS = 4_000_000


class BattleData:
    """Validated battles, encoded as model indices and side-A scores.

    Args:
        battles: A DataFrame with columns ``model_a, model_b, winner`` (as
            :meth:`VoteStore.battles` returns), or an iterable of ``(a, b, winner)``
            tuples or of objects with those attributes (such as ``Battle``).

    Attributes:
        models: Model names, sorted.
        a: Index of side A's model, per battle.
        b: Index of side B's model, per battle.
        score: Side A's score per battle: 1, 0 or 0.5.
    """

    def __init__(self, battles: Any) -> None:
        rows = _rows(battles)
        if not rows:
            raise InvalidRequestError(
                "no battles to rate; record some with store.battle(...) or pass "
                "(model_a, model_b, winner) tuples."
            )
        names: set[str] = set()
        for i, (a, b, _) in enumerate(rows):
            for side, name in (("model_a", a), ("model_b", b)):
                if not isinstance(name, str) or not name.strip():
                    raise InvalidRequestError(
                        f"battle {i}: {side} must be a non-empty string, got {name!r}."
                    )
            if a == b:
                raise InvalidRequestError(
                    f"battle {i}: a model cannot battle itself ({a!r} vs {b!r})."
                )
            names.update((a, b))
        self.models: list[str] = sorted(names)
        index = {m: k for k, m in enumerate(self.models)}
        scores: dict[object, float] = {}
        score = np.empty(len(rows))
        for i, (_, _, w) in enumerate(rows):
            if w not in scores:  # normalise each distinct spelling once
                try:
                    scores[w] = _SCORE_A[normalize_winner(w)]
                except InvalidRequestError as exc:
                    raise InvalidRequestError(f"battle {i}: {exc}") from None
            score[i] = scores[w]
        self.a = np.fromiter((index[r[0]] for r in rows), dtype=np.intp, count=len(rows))
        self.b = np.fromiter((index[r[1]] for r in rows), dtype=np.intp, count=len(rows))
        self.score = score

    def __len__(self) -> int:
        return len(self.score)

    def cells(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Aggregate into unique (a, b, score) cells.

        Returns:
            ``(a, b, score, count)`` arrays, one entry per distinct cell.
        """
        code = np.rint(self.score * 2).astype(np.intp)  # 0, 1 (tie), 2
        n = len(self.models)
        key = (self.a * n + self.b) * 3 + code
        uniq, counts = np.unique(key, return_counts=True)
        pair, code_u = np.divmod(uniq, 3)
        a_u, b_u = np.divmod(pair, n)
        return a_u, b_u, code_u / 2.0, counts.astype(float)

    def battles_per_model(self) -> np.ndarray:
        """How many battles each model took part in."""
        n = len(self.models)
        return np.bincount(self.a, minlength=n) + np.bincount(self.b, minlength=n)


def _rows(battles: Any) -> list[tuple[Any, Any, Any]]:
    if isinstance(battles, BattleData):  # pragma: no cover - convenience
        raise InvalidRequestError("pass the battles themselves, not a BattleData.")
    columns = getattr(battles, "columns", None)
    if columns is not None:  # a DataFrame
        missing = {"model_a", "model_b", "winner"} - set(columns)
        if missing:
            raise InvalidRequestError(
                f"the battles DataFrame lacks columns {sorted(missing)}; it needs "
                "model_a, model_b and winner (as VoteStore.battles() returns)."
            )
        return list(
            zip(
                battles["model_a"].tolist(),
                battles["model_b"].tolist(),
                battles["winner"].tolist(),
                strict=True,
            )
        )
    if isinstance(battles, (str, bytes)) or not isinstance(battles, Iterable):
        raise InvalidRequestError(
            "battles must be a DataFrame from VoteStore.battles() or a list of "
            f"(model_a, model_b, winner) tuples, not {type(battles).__name__}."
        )
    rows: list[tuple[Any, Any, Any]] = []
    for i, item in enumerate(battles):
        if hasattr(item, "model_a") and hasattr(item, "winner"):
            rows.append((item.model_a, item.model_b, item.winner))
        elif isinstance(item, (tuple, list)) and len(item) >= 3:
            rows.append((item[0], item[1], item[2]))
        else:
            raise InvalidRequestError(
                f"battle {i} must be a (model_a, model_b, winner) tuple, got {item!r}."
            )
    return rows


def _win_matrix(
    n: int, a: np.ndarray, b: np.ndarray, score: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """W[r, i, j] = (half-)wins of i over j in round r; counts has shape (rounds, cells)."""
    rounds = counts.shape[0]
    flat = np.zeros((n * n, rounds))
    targets = np.concatenate([a * n + b, b * n + a])
    weights = np.concatenate([score, 1.0 - score])
    contrib = np.concatenate([counts.T * score[:, None], counts.T * (1.0 - score)[:, None]])
    keep = np.flatnonzero(weights > 0)
    # Sum the contributions per target cell: sort, then reduceat (much faster than add.at).
    order = keep[np.argsort(targets[keep], kind="stable")]
    sorted_targets = targets[order]
    starts = np.flatnonzero(np.r_[True, sorted_targets[1:] != sorted_targets[:-1]])
    flat[sorted_targets[starts]] = np.add.reduceat(contrib[order], starts, axis=0)
    return flat.T.reshape(rounds, n, n)


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


def _objective(theta: np.ndarray, wins: np.ndarray, l2: float) -> np.ndarray:
    diff = theta[:, :, None] - theta[:, None, :]
    return (wins * _log_sigmoid(diff)).sum(axis=(1, 2)) - 0.5 * l2 * (theta**2).sum(axis=1)


def _newton(
    wins: np.ndarray, l2: float, theta0: np.ndarray, *, tol: float = 1e-10, max_iter: int = 100
) -> np.ndarray:
    """Maximise the penalised BT log-likelihood for a batch of win matrices at once."""
    rounds, n, _ = wins.shape
    games = wins + wins.transpose(0, 2, 1)
    theta = np.array(theta0, dtype=float, copy=True)
    eye = np.eye(n)
    current = _objective(theta, wins, l2)
    active = np.ones(rounds, dtype=bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        th, w, g_ = theta[idx], wins[idx], games[idx]
        p = 1.0 / (1.0 + np.exp(-(th[:, :, None] - th[:, None, :])))
        grad = w.sum(axis=2) - (g_ * p).sum(axis=2) - l2 * th
        q = g_ * p * (1.0 - p)
        # Negative Hessian: a graph Laplacian weighted by p(1-p), plus the prior.
        neg_hess = -q + eye * (q.sum(axis=2) + l2)[:, :, None]
        step = np.linalg.solve(neg_hess, grad[:, :, None])[:, :, 0]
        # Backtrack per round until the objective does not fall (monotone ascent).
        t = np.ones(idx.size)
        base = current[idx]
        for _ in range(40):
            cand = th + t[:, None] * step
            value = _objective(cand, w, l2)
            bad = value < base - 1e-12 * (1.0 + np.abs(base))
            if not bad.any():
                break
            t[bad] *= 0.5
        theta[idx] = cand
        current[idx] = value
        done = np.abs(step).max(axis=1) < tol
        active[idx[done]] = False
    return theta


def fit_bradley_terry(battles: Any, *, l2: float = 1e-3) -> tuple[list[str], np.ndarray]:
    """Fit Bradley–Terry strengths by penalised maximum likelihood.

    Args:
        battles: As for :func:`ratings`.
        l2: Strength of the Gaussian prior on the natural-scale strengths (> 0).

    Returns:
        ``(models, theta)``: sorted model names and their strengths on the natural
        (log-odds) scale, summing to zero.
    """
    if not l2 > 0:
        raise InvalidRequestError(f"l2 must be > 0 (it keeps ratings finite), got {l2!r}.")
    data = BattleData(battles)
    n = len(data.models)
    a, b, score, counts = data.cells()
    wins = _win_matrix(n, a, b, score, counts[None, :])
    theta = _newton(wins, l2, np.zeros((1, n)))[0]
    return data.models, theta


def _components(n: int, a: np.ndarray, b: np.ndarray) -> int:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j in set(zip(a.tolist(), b.tolist(), strict=True)):
        parent[find(i)] = find(j)
    return len({find(i) for i in range(n)})


def ratings(
    battles: Any,
    *,
    rounds: int = 1000,
    seed: int = 0,
    anchor: float = 1000.0,
    scale: float = 400.0,
    level: float = 0.95,
    l2: float = 1e-3,
) -> pd.DataFrame:
    """Bradley–Terry ratings on the Elo scale, with bootstrap confidence intervals.

    Args:
        battles: A DataFrame from :meth:`VoteStore.battles` (columns ``model_a, model_b,
            winner``), or a list of ``(model_a, model_b, winner)`` tuples, where winner is
            ``"a"``, ``"b"``, ``"tie"`` or ``"bothbad"`` (both count as a tie).
        rounds: Bootstrap rounds (battles resampled with replacement); 0 skips the
            intervals (lower/upper are NaN, rank follows the point ratings).
        seed: Seed of the bootstrap's random generator (same seed, same intervals).
        anchor: The mean rating of the rated models.
        scale: Rating points for a factor of 10 in the odds of winning.
        level: Confidence level of the intervals.
        l2: Strength of the tiny Gaussian prior that keeps ratings finite (> 0).

    Returns:
        A DataFrame sorted by rating (best first) with columns ``model, rating, lower,
        upper, rank, battles, note``. ``rating`` is the maximum-likelihood estimate on
        all battles; ``lower``/``upper`` the bootstrap percentile interval; ``note`` says
        why a rating is not to be trusted (fewer than :data:`MIN_BATTLES` battles, or a
        zero-width interval) and is empty otherwise (:func:`reliability_notes`).

    Raises:
        InvalidRequestError: No battles, an unknown winner, a model against itself, or a
            bad parameter.
    """
    import pandas as pd

    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 0:
        raise InvalidRequestError(f"rounds must be an integer >= 0, got {rounds!r}.")
    if not 0 < level < 1:
        raise InvalidRequestError(f"level must be between 0 and 1, got {level!r}.")
    if not scale > 0:
        raise InvalidRequestError(f"scale must be > 0, got {scale!r}.")
    if not l2 > 0:
        raise InvalidRequestError(f"l2 must be > 0 (it keeps ratings finite), got {l2!r}.")
    data = BattleData(battles)
    n = len(data.models)
    if _components(n, data.a, data.b) > 1:
        warnings.warn(
            "the battles split the models into groups that never met; ratings are only "
            "comparable within a group (each group is centred on the anchor).",
            RuntimeWarning,
            stacklevel=2,
        )
    a, b, score, counts = data.cells()
    to_points = scale / math.log(10.0)
    theta = _newton(_win_matrix(n, a, b, score, counts[None, :]), l2, np.zeros((1, n)))[0]
    rating = anchor + to_points * theta

    lower = np.full(n, np.nan)
    upper = np.full(n, np.nan)
    if rounds:
        rng = np.random.default_rng(seed)
        total = int(counts.sum())
        probs = counts / counts.sum()
        batch = max(1, _BATCH_FLOATS // max(1, n * n))
        samples = []
        for start in range(0, rounds, batch):
            size = min(batch, rounds - start)
            drawn = rng.multinomial(total, probs, size=size).astype(float)
            wins = _win_matrix(n, a, b, score, drawn)
            th = _newton(wins, l2, np.broadcast_to(theta, (size, n)))
            # A model absent from a resample has no rating in that round.
            played = (wins + wins.transpose(0, 2, 1)).sum(axis=2) > 0
            samples.append(np.where(played, anchor + to_points * th, np.nan))
        boot = np.concatenate(samples)
        tail = (1.0 - level) / 2.0 * 100.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN column: stays NaN
            lower, upper = np.nanpercentile(boot, [tail, 100.0 - tail], axis=0)
        rank = 1 + (lower[None, :] > upper[:, None]).sum(axis=1)
    else:
        rank = 1 + (rating[None, :] > rating[:, None]).sum(axis=1)

    frame = pd.DataFrame(
        {
            "model": data.models,
            "rating": rating,
            "lower": lower,
            "upper": upper,
            "rank": rank.astype(int),
            "battles": data.battles_per_model().astype(int),
        }
    )
    frame = frame.sort_values(["rating", "model"], ascending=[False, True], ignore_index=True)
    frame["note"] = reliability_notes(frame)  # without rounds the bounds are NaN: no width
    frame.attrs.update(
        {
            "method": "Bradley-Terry MLE (Newton, L2 prior), ties as half wins",
            "rounds": rounds,
            "seed": seed,
            "anchor": anchor,
            "scale": scale,
            "level": level,
            "l2": l2,
            "n_battles": len(data),
        }
    )
    return frame


def reliability_notes(frame: pd.DataFrame, *, min_battles: int = MIN_BATTLES) -> list[str]:
    """Why each rating cannot be trusted (``""`` when it can), in the frame's row order.

    One battle puts the winner near 1500 and the loser near 500 with a bootstrap
    interval of width zero (every resample is that battle): numbers that say nothing.

    Args:
        frame: A frame with ``lower, upper`` and optionally ``battles`` columns.
        min_battles: Fewer battles than this is flagged.

    Returns:
        Per row ``"1 battle"``, ``"zero-width interval"`` (joined by ``"; "`` when both),
        or ``""``.
    """
    notes: list[str] = []
    counts = frame["battles"].tolist() if "battles" in frame.columns else [None] * len(frame)
    for n, lo, hi in zip(counts, frame["lower"], frame["upper"], strict=True):
        why = []
        if n is not None and int(n) < min_battles:
            why.append(f"{int(n)} battle" + ("" if int(n) == 1 else "s"))
        lo, hi = float(lo), float(hi)
        if math.isfinite(lo) and math.isfinite(hi) and hi - lo < _ZERO_WIDTH:
            why.append("zero-width interval")
        notes.append("; ".join(why))
    return notes


def win_rate_matrix(battles: Any) -> pd.DataFrame:
    """Pairwise win rates: row model's share of points against the column model.

    A win scores 1, a tie or "both bad" 0.5. Cells with no battles, and the diagonal, are
    NaN. Models are ordered by their overall share of points, best first.

    Args:
        battles: As for :func:`ratings`.

    Returns:
        A square DataFrame indexed by model (rows) and opponent (columns).
    """
    import pandas as pd

    data = BattleData(battles)
    n = len(data.models)
    a, b, score, counts = data.cells()
    wins = _win_matrix(n, a, b, score, counts[None, :])[0]
    games = wins + wins.T
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(games > 0, wins / games, np.nan)
        overall = wins.sum(axis=1) / games.sum(axis=1)
    order = sorted(range(n), key=lambda i: (-overall[i], data.models[i]))
    names = [data.models[i] for i in order]
    frame = pd.DataFrame(rate[np.ix_(order, order)], index=names, columns=names)
    frame.index.name = "model"
    frame.columns.name = "opponent"
    return frame
