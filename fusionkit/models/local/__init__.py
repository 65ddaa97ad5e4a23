"""The local backend: a transformers model in this process, 4-bit by default.

==================  ===========================================================================
module              job
==================  ===========================================================================
``model``           :class:`LocalModel`: argument checks, serving, accounting
``loading``         imports, device/dtype, the bitsandbytes probe, ``from_pretrained``
``stored``          warm start: the packed 4-bit weights kept on disk
``files``           writing a model folder once, atomically, under a lock
``progress``        the one "loading … done in N s" line
``quantization``    the quantization default and its one validator
``prompts``         messages to prompt ids (chat template or plain transcript)
``batching``        the micro-batcher (which requests share a ``generate``)
``rows``            per-row stopping (budget, stop strings, loops) and streaming
``sampling``        per-row seeded sampling inside a greedy ``generate``
``constrained``     per-row JSON-Schema grammars (llguidance)
``embedded``        the embedded default edge model (SmolLM2-135M-Instruct) and ``edge_model``
==================  ===========================================================================

Importing this package imports no torch: every module loads it on first use.
"""

from __future__ import annotations

from .loading import INSTALL_LOCAL
from .model import LocalModel
from .quantization import DEFAULT_QUANTIZATION, Quantization, parse_quantization

__all__ = [
    "DEFAULT_QUANTIZATION",
    "INSTALL_LOCAL",
    "LocalModel",
    "Quantization",
    "parse_quantization",
]
