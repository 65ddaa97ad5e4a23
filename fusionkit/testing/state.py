"""The fake server's book: what the test scripted and what the server saw.

One lock guards it all, since the test thread configures and reads while the server's
thread answers. :meth:`ServerState.admit` is the one step a request takes through it:
record the request, count it in flight, and pick its model's configuration and fault.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Iterable
from typing import Any

from .script import Fault, ModelConfig

__all__ = ["ServerState"]


class ServerState:
    """Model configurations, queued faults, recorded requests and counters, behind one lock.

    Args:
        unknown_models: ``"echo"`` or ``"404"``: how a model never configured answers.

    Attributes:
        requests: Every chat-completion request body received (parsed JSON), in order.
        authorization_seen: For each entry of ``requests``, whether an Authorization
            header was present (its value is never stored).
    """

    def __init__(self, unknown_models: str = "echo") -> None:
        if unknown_models not in ("echo", "404"):
            raise ValueError("unknown_models must be 'echo' or '404'.")
        self.unknown_models = unknown_models
        self.requests: list[dict[str, Any]] = []
        self.authorization_seen: list[bool] = []
        self._lock = threading.Lock()
        self._models: dict[str, ModelConfig] = {}
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._attempts: dict[str, int] = defaultdict(int)
        # Keyed by model, and by None for all models together.
        self._in_flight: dict[str | None, int] = defaultdict(int)
        self._max_in_flight: dict[str | None, int] = defaultdict(int)

    def set_model(self, model: str, cfg: ModelConfig) -> None:
        """Make ``cfg`` how ``model`` answers (replacing any earlier configuration)."""
        with self._lock:
            self._models[model] = cfg

    def model_names(self) -> list[str]:
        """The configured model ids, sorted."""
        with self._lock:
            return sorted(self._models)

    def queue_faults(self, model: str, faults: Iterable[Fault]) -> None:
        """Queue faults for ``model``: each request consumes one."""
        with self._lock:
            self._faults[model].extend(faults)

    def attempts(self, model: str | None = None) -> int:
        """How many chat-completion requests arrived for ``model`` (None: all models)."""
        with self._lock:
            if model is None:
                return sum(self._attempts.values())
            return self._attempts.get(model, 0)

    def max_in_flight(self, model: str | None = None) -> int:
        """The most requests that were being served at once, for ``model`` or in total."""
        with self._lock:
            return self._max_in_flight.get(model, 0)

    def reset(self) -> None:
        """Forget recorded requests, counters and queued faults (configurations stay)."""
        with self._lock:
            self.requests.clear()
            self.authorization_seen.clear()
            self._faults.clear()
            self._attempts.clear()
            self._max_in_flight.clear()

    def admit(
        self, model: str, body: dict[str, Any], authorization: str
    ) -> tuple[ModelConfig | None, Fault | None]:
        """Record a request and count it in flight; call :meth:`release` when it is answered.

        Returns:
            The model's configuration (None: never configured) and the fault it gets: the
            next queued one, else one drawn at the model's ``fault_rate``, else None.
        """
        with self._lock:
            self.requests.append(body)
            self.authorization_seen.append(bool(authorization))
            self._attempts[model] += 1
            for key in (model, None):
                self._in_flight[key] += 1
                self._max_in_flight[key] = max(self._max_in_flight[key], self._in_flight[key])
            cfg = self._models.get(model)
            queued = self._faults.get(model)
            fault = queued.popleft() if queued else None
            if fault is None and cfg is not None and cfg.fault_rate > 0:
                if cfg.rng.random() < cfg.fault_rate:
                    fault = cfg.rng.choice(cfg.random_faults)
        return cfg, fault

    def release(self, model: str) -> None:
        """The request admitted for ``model`` is answered (or failed)."""
        with self._lock:
            for key in (model, None):
                self._in_flight[key] -= 1
