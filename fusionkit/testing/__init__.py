"""Test helpers that ship with fusionkit: a real OpenAI-compatible server for tests.

:class:`FakeOpenAIServer` needs ``uvicorn`` (the ``dev`` extra); it is imported only when
a server is started.
"""

from .server import FakeOpenAIServer, Fault

__all__ = ["FakeOpenAIServer", "Fault"]
