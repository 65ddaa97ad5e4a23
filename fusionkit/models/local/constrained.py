"""Schema-constrained decoding for the local backend, one grammar matcher per batch row.

A request with ``schema=`` is decoded under a grammar compiled from its JSON Schema by
llguidance (https://github.com/guidance-ai/llguidance): before each token, the row's
matcher computes which tokens may come next and every other token's logit becomes -inf,
so the row can only write text that parses and validates. When the object is complete the
grammar allows only the end-of-sequence token, so the row ends there.

Choices, and why:

* **llguidance** over xgrammar: both ship CPU wheels; llguidance is one abi3 wheel with no
  further dependencies (about 7.6 MB installed), builds its token table from the HF
  tokenizer in about a second (once per model) and computes a mask in tens of
  microseconds. See ``benchmarks/README.md`` for the measured numbers.
* **No free whitespace**: the JSON is written compactly (``", "`` and ``": "``
  separators, no other whitespace). A small model allowed free whitespace can spend its
  whole budget on newlines.
* **Finishing within budget**: a 135M model can run on inside a string (a list of
  numbers, a repeated phrase) until its token budget ends mid-object. In the last quarter
  of its budget (:func:`closing_reserve`) a row's allowed tokens that close a string,
  array or object get a large bonus, so the row closes what is open as soon as the
  grammar allows; and a schema'd row that loops has the token that would repeat the loop
  banned (:func:`~fusionkit.models.local.rows.loop_breaker_class`).
* **Our own mask application**: llguidance's torch helper compiles a kernel with
  ``torch.compile`` (a C compiler and seconds of start-up on a CPU); the bitmask is
  unpacked and applied with numpy instead (single-threaded: about 0.1 ms a row).

Rows without a schema in the same batch are untouched. The engine is imported on first use
(``pip install 'fusionkit[local]'`` brings it); a missing engine raises
:class:`~fusionkit.errors.MissingDependencyError`.
"""

from __future__ import annotations

import functools
import json
import threading
import warnings
from collections.abc import Sequence
from typing import Any

from ...errors import MissingDependencyError
from .loading import INSTALL_LOCAL

__all__ = [
    "GrammarBook",
    "closing_reserve",
    "constraint_processor_class",
    "import_llguidance",
]

# Compact, readable separators; no other whitespace (see the module docstring).
_JSON_OPTIONS = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}


def import_llguidance() -> Any:
    """Import llguidance, or raise MissingDependencyError naming the extra."""
    try:
        import llguidance
        import llguidance.hf
    except ImportError as exc:
        raise MissingDependencyError(
            "schema-constrained decoding on a local model needs llguidance, which is not "
            f"installed. Install the local extra: {INSTALL_LOCAL}"
        ) from exc
    return llguidance


class GrammarBook:
    """One model's grammar engine: its token table (built once) and compiled schemas.

    Thread-safe; the token table is built on the first schema'd request (about 0.3 s for
    a 49k-token vocabulary), so models that never see a schema never pay for it.

    Args:
        tokenizer: The model's Hugging Face (fast) tokenizer.
        vocab_size: The width of the model's logits (may exceed the tokenizer's vocabulary).
        eos_ids: The model's end-of-sequence ids; the grammar ends a row with the first.
    """

    def __init__(self, tokenizer: Any, vocab_size: int, eos_ids: Sequence[int]) -> None:
        self._hf_tokenizer = tokenizer
        self.vocab_size = int(vocab_size)
        self.eos_ids = sorted(eos_ids)
        self._lock = threading.Lock()
        self._tokenizer: Any = None
        self._grammars: dict[str, str | None] = {}
        self._closers: Any = None

    def _ll_tokenizer(self) -> Any:
        with self._lock:
            if self._tokenizer is None:
                ll = import_llguidance()
                vocab = max(self.vocab_size, len(self._hf_tokenizer))
                self._tokenizer = ll.hf.from_tokenizer(
                    self._hf_tokenizer, n_vocab=vocab, eos_token=self.eos_ids[0]
                )
            return self._tokenizer

    def grammar(self, schema: Any) -> str | None:
        """The compiled grammar of a :class:`~fusionkit.schema.Schema` (cached by its key).

        Returns None, with a warning (once per schema), when llguidance cannot compile the
        schema (a regex feature it lacks, say): that row then decodes unconstrained and the
        model boundary still validates its answer, as for a backend without grammars.
        """
        key = schema.key
        with self._lock:
            if key in self._grammars:
                return self._grammars[key]
        ll = import_llguidance()
        tokenizer = self._ll_tokenizer()
        grammar: str | None
        try:
            grammar = ll.LLMatcher.grammar_from_json_schema(
                json.dumps(schema.json), defaults=_JSON_OPTIONS
            )
            problem = ll.LLMatcher.validate_grammar(grammar, tokenizer)
        except (ValueError, RuntimeError) as exc:
            problem = str(exc)
        if problem and not problem.startswith("WARNING"):
            warnings.warn(
                f"the local backend cannot constrain decoding to schema {schema.name!r} "
                f"({problem.strip()}); that schema's answers are decoded unconstrained and "
                "validated afterwards.",
                stacklevel=2,
            )
            grammar = None
        with self._lock:
            self._grammars[key] = grammar
        return grammar

    def closers(self) -> Any:
        """A bool array over the vocabulary: the tokens that hold ``"``, ``]`` or ``}``."""
        with self._lock:
            if self._closers is None:
                import numpy as np

                tok = self._hf_tokenizer
                size = max(self.vocab_size, len(tok))
                names = tok.convert_ids_to_tokens(list(range(len(tok))))
                flags = [bool(n) and any(c in n for c in '"]}') for n in names]
                self._closers = np.zeros(size, dtype=bool)
                self._closers[: len(flags)] = flags
            return self._closers

    def matcher(self, schema: Any) -> Any:
        """A fresh matcher (one per row) for ``schema``; None without a schema or grammar."""
        if schema is None:
            return None
        grammar = self.grammar(schema)
        if grammar is None:
            return None
        return import_llguidance().LLMatcher(self._ll_tokenizer(), grammar, log_level=0)


# Large enough to beat any logit gap, finite so the grammar's -inf still wins.
_CLOSING_BONUS = 1e4


def closing_reserve(budget: int) -> int:
    """How many tokens before its budget a schema'd row starts closing what is open.

    A quarter of the budget, at least 16 tokens (a few fields after a closed string), at
    most half of it.
    """
    return min(max(16, budget // 4), budget // 2)


@functools.cache
def constraint_processor_class() -> type:
    """The per-row grammar mask, a LogitsProcessor built on first use (torch loads lazily)."""
    import numpy as np
    import torch
    from transformers import LogitsProcessor

    class RowGrammarMask(LogitsProcessor):  # type: ignore[misc]
        """Masks each schema'd row's logits to the tokens its grammar allows next.

        Rows whose matcher is None are left alone. A row whose grammar is complete may only
        end (end-of-sequence); a row whose matcher fell into an error state (it was cut by
        its token budget and then fed padding) is left alone: its answer ends there.

        Closing pressure: in the last part of its budget (:func:`closing_reserve`), a row's
        allowed tokens that close a string, array or object get a large bonus, so a small
        model that runs on inside a string (a list of numbers, a repeated phrase) closes it
        as soon as its grammar allows and still finishes a valid object within budget.

        Args:
            matchers: One llguidance matcher per row, or None for an unconstrained row.
            eos_id: The end-of-sequence id the grammar ends rows with.
            budgets: Each row's ``max_tokens``.
            prompt_len: The padded prompt width (generated ids start there).
            closers: A bool array over the vocabulary: tokens holding ``"``, ``]`` or ``}``.
        """

        def __init__(
            self,
            matchers: Sequence[Any],
            eos_id: int,
            budgets: Sequence[int],
            prompt_len: int,
            closers: Any,
        ) -> None:
            self.matchers = list(matchers)
            self.rows = [i for i, m in enumerate(self.matchers) if m is not None]
            self.eos_id = eos_id
            # The generated step from which each row gets the closing bonus.
            self.closing_from = [budget - closing_reserve(budget) for budget in budgets]
            self.prompt_len = prompt_len
            self.closers = closers
            self.started = False
            self.live = [m is not None for m in self.matchers]

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            if not self.rows:
                return scores
            if self.started:
                last = input_ids[:, -1].tolist()
                for i in self.rows:
                    if self.live[i]:
                        matcher = self.matchers[i]
                        if matcher.is_stopped() or not matcher.consume_token(last[i]):
                            self.live[i] = False  # ended (or cut and padded): nothing to mask
            self.started = True
            live = [i for i in self.rows if self.live[i] and not self.matchers[i].is_error()]
            if not live:
                return scores
            vocab = scores.shape[1]
            step = input_ids.shape[1] - self.prompt_len
            # numpy, one row at a time: single-threaded, so no thread wake-ups per op (on a
            # busy CPU those cost milliseconds per 49k-wide torch op). generate() hands over
            # a fresh float copy of the logits each step, so rows are changed in place.
            on_cpu = scores.device.type == "cpu"
            for i in live:
                raw = np.frombuffer(self.matchers[i].compute_bitmask(), dtype=np.uint8)
                allowed = np.unpackbits(raw, bitorder="little")[:vocab].astype(bool)
                if allowed.shape[0] < vocab:  # tokens past the grammar's vocabulary: banned
                    allowed = np.pad(allowed, (0, vocab - allowed.shape[0]))
                push = None
                if step >= self.closing_from[i]:
                    push = self.closers[:vocab] & allowed
                    push = push if push.any() else None
                if not allowed.any():  # a matcher in error allows nothing: end the row
                    scores[i] = float("-inf")
                    scores[i, self.eos_id] = 0.0
                elif on_cpu:
                    row = scores[i].numpy()
                    row[~allowed] = -np.inf
                    if push is not None:
                        row[push] += _CLOSING_BONUS
                else:
                    mask = torch.from_numpy(allowed).to(scores.device)
                    scores[i].masked_fill_(~mask, float("-inf"))
                    if push is not None:
                        scores[i] += torch.from_numpy(push).to(scores.device) * _CLOSING_BONUS
            return scores

        def complete(self, row: int) -> bool:
            """Whether row ``row``'s grammar accepted a complete object."""
            matcher = self.matchers[row]
            return matcher is not None and (matcher.is_accepting() or matcher.is_stopped())

    return RowGrammarMask
