"""OpenAICompatModel against hostile or broken servers (issue 9): each test failed before.

Bodies nested 100,000 deep, lone UTF-16 surrogates, oversized bodies, bodies that drip
one byte at a time, nonsense usage, credentials in the URL, redirects, 408/409, bad
constructor arguments, SSL set-up on the event loop, and clients left open at exit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import threading
import time

import httpx
import pytest
from conftest import Sleeps

from fusionkit.errors import (
    APIStatusError,
    BadRequestError,
    InvalidRequestError,
    ModelTimeoutError,
    ResponseFormatError,
)
from fusionkit.models.openai import OpenAICompatModel
from fusionkit.testing import FakeOpenAIServer, Fault


def mock_model(handler, **kw: object) -> OpenAICompatModel:
    kw.setdefault("cache", False)
    kw.setdefault("sleep", Sleeps())
    kw.setdefault("base_url", "https://api.example.test/v1")
    return OpenAICompatModel("mock", transport=httpx.MockTransport(handler), **kw)


def sse(*events: str) -> httpx.Response:
    body = "".join(f"data: {e}\n\n" for e in events).encode()
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)


def delta(text: str, finish: str | None = None) -> str:
    # json.dumps writes a lone surrogate as its \\uXXXX escape, as a server would.
    return json.dumps({"choices": [{"delta": {"content": text}, "finish_reason": finish}]})


def ok_body(text: str = "hi", **usage: object) -> dict[str, object]:
    return {
        "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, **usage},
    }


# -- bounded decoding ---------------------------------------------------------------------------

DEEP = b"[" * 100_000 + b"]" * 100_000


def test_deeply_nested_bodies_are_format_errors_not_recursion_errors() -> None:
    model = mock_model(lambda r: httpx.Response(200, content=DEEP))
    with pytest.raises(ResponseFormatError, match="nested"):
        model.complete("hi")
    streamed = mock_model(lambda r: sse(DEEP.decode()))
    with pytest.raises(ResponseFormatError, match="nested"):
        list(streamed.stream("hi"))
    # An error body too: the status is still reported, quoting the raw text.
    failing = mock_model(lambda r: httpx.Response(400, content=DEEP))
    with pytest.raises(BadRequestError) as info:
        failing.complete("hi")
    assert info.value.status_code == 400


# -- lone surrogates ----------------------------------------------------------------------------


def test_surrogate_pair_split_across_events_is_joined() -> None:
    model = mock_model(lambda r: sse(delta("\ud83d"), delta("\ude00 ok", "stop"), "[DONE]"))
    stream = model.stream("hi")
    text = "".join(stream)
    assert text == "\U0001f600 ok" and stream.completion.text == "\U0001f600 ok"


def test_lone_surrogates_become_replacement_characters() -> None:
    model = mock_model(lambda r: sse(delta("a\ud83d"), delta("b\ude00", "stop"), "[DONE]"))
    stream = model.stream("hi")
    chunks = list(stream)
    for chunk in [*chunks, stream.completion.text]:
        chunk.encode("utf-8")  # never UnicodeEncodeError
    assert stream.completion.text == "a\ufffdb\ufffd"
    escaped = json.dumps(ok_body("x\udc00y")).encode()  # "\\udc00" on the wire
    plain = mock_model(lambda r: httpx.Response(200, content=escaped))
    assert plain.complete("hi").text == "x\ufffdy"


# -- size limit and overall deadline --------------------------------------------------------------


def test_oversized_body_names_the_limit_and_how_to_raise_it() -> None:
    big = ok_body("x" * (9 * 1024 * 1024))
    model = mock_model(lambda r: httpx.Response(200, json=big))
    with pytest.raises(ResponseFormatError, match=r"max_response_bytes=8,388,608.*raise it"):
        model.complete("hi")
    roomy = mock_model(lambda r: httpx.Response(200, json=big), max_response_bytes=16 * 2**20)
    assert len(roomy.complete("hi").text) == 9 * 1024 * 1024
    streamed = mock_model(
        lambda r: sse(*[delta("y" * 1000)] * 50, "[DONE]"), max_response_bytes=10_000
    )
    with pytest.raises(ResponseFormatError, match="max_response_bytes=10,000"):
        list(streamed.stream("hi"))


@pytest.mark.parametrize("streaming", [False, True])
def test_dripping_body_ends_at_the_total_timeout(srv: FakeOpenAIServer, streaming: bool) -> None:
    srv.configure("drip", reply="a long answer that arrives one byte at a time")
    srv.queue_faults("drip", [Fault.drip(0.3)])
    model = OpenAICompatModel(
        "drip", base_url=srv.base_url, cache=False, read_timeout=1, total_timeout=1.5
    )
    t0 = time.perf_counter()
    with pytest.raises(ModelTimeoutError, match="total_timeout=1.5"):
        if streaming:
            list(model.stream("hi"))
        else:
            model.complete("hi")
    assert time.perf_counter() - t0 < 3.0
    model.close()


def test_retry_waits_never_pass_the_deadline(srv: FakeOpenAIServer) -> None:
    srv.configure("slow-limit", reply="ok")
    srv.queue_faults("slow-limit", [Fault.status(429, retry_after="5")])
    sleeps = Sleeps()
    model = OpenAICompatModel(
        "slow-limit", base_url=srv.base_url, cache=False, total_timeout=2, sleep=sleeps
    )
    with pytest.raises(APIStatusError) as info:
        model.complete("hi")
    assert info.value.status_code == 429 and sleeps.waits == []  # raised, not waited


# -- usage and cost ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("usage", "prompt", "completion"),
    [
        ({"prompt_tokens": -5, "completion_tokens": 3}, None, 3),
        ({"prompt_tokens": 2.5, "completion_tokens": "7"}, None, None),
        ({"prompt_tokens": True, "completion_tokens": 4}, None, 4),
    ],
)
def test_untrustworthy_token_counts_are_unknown(
    usage: dict[str, object], prompt: int | None, completion: int | None
) -> None:
    body = {"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}], "usage": usage}
    model = mock_model(lambda r: httpx.Response(200, json=body), prices=(1.0, 1.0))
    c = model.complete("hi")
    assert (c.usage.prompt_tokens, c.usage.completion_tokens) == (prompt, completion)
    assert c.cost_usd is None  # never a cost from counts that cannot be true


@pytest.mark.parametrize("cost", ["-0.5", '"0.1"', "1e999", "NaN", "-Infinity"])
def test_untrustworthy_reported_cost_is_unknown(cost: str) -> None:
    # 1e999 overflows to inf; NaN and Infinity are not JSON but Python servers write them.
    text = json.dumps(ok_body(cost=0)).replace('"cost": 0', f'"cost": {cost}')
    model = mock_model(lambda r: httpx.Response(200, content=text.encode()))
    c = model.complete("hi")
    assert c.text == "hi" and c.cost_usd is None


def test_nan_token_counts_are_unknown_and_strings_are_untouched() -> None:
    body = ok_body("NaN and Infinity are words here")
    text = json.dumps(body).replace('"prompt_tokens": 1', '"prompt_tokens": NaN')
    model = mock_model(lambda r: httpx.Response(200, content=text.encode()), prices=(1.0, 1.0))
    c = model.complete("hi")
    assert c.text == "NaN and Infinity are words here"
    assert c.usage.prompt_tokens is None and c.cost_usd is None


def test_stream_without_usage_has_unknown_usage_and_cost() -> None:
    model = mock_model(lambda r: sse(delta("hi", "stop"), "[DONE]"), prices=(1.0, 1.0))
    stream = model.stream("hi")
    list(stream)
    assert not stream.completion.usage.known and stream.completion.cost_usd is None


# -- credentials in the URL, redirects, 408/409 -----------------------------------------------------


def test_url_credentials_become_basic_auth_and_never_reach_httpx_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ok_body())

    caplog.set_level(logging.DEBUG)
    model = mock_model(handler, base_url="https://alice:pw-very-secret-42@proxy.test/v1")
    model.complete("hi")
    url = seen[0].url
    assert url.userinfo == b"" and str(url) == "https://proxy.test/v1/chat/completions"
    assert seen[0].headers["authorization"] == "Basic YWxpY2U6cHctdmVyeS1zZWNyZXQtNDI="
    assert "pw-very-secret-42" not in caplog.text + repr(model) + model.identity
    with pytest.raises(InvalidRequestError, match="only one Authorization"):
        mock_model(handler, base_url="https://u:p@proxy.test/v1", api_key="sk-other-1234")


def test_redirects_are_not_followed_and_name_the_location() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(308, headers={"location": "https://new.example.test/v1/chat"})

    with pytest.raises(
        APIStatusError, match="redirected to 'https://new.example.test/v1/chat'"
    ) as info:
        mock_model(handler).complete("hi")
    assert info.value.status_code == 308 and len(calls) == 1


@pytest.mark.parametrize(("status", "words"), [(408, "Request Timeout"), (409, "Conflict")])
def test_408_and_409_have_their_own_messages(status: int, words: str) -> None:
    sleeps = Sleeps()
    model = mock_model(
        lambda r: httpx.Response(status, json={"error": {"message": "x"}}), sleep=sleeps
    )
    with pytest.raises(APIStatusError, match=words) as info:
        model.complete("hi")
    assert info.value.status_code == status and len(sleeps.waits) == 2  # retried first
    assert "Check the request parameters" not in str(info.value)


# -- constructor arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"connect_timeout": "5"}, "connect_timeout"),
        ({"read_timeout": 0}, "read_timeout"),
        ({"total_timeout": float("nan")}, "total_timeout"),
        ({"max_concurrency": -1}, "max_concurrency"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"max_response_bytes": 0}, "max_response_bytes"),
        ({"headers": ["x"]}, "headers"),
        ({"headers": {"X-N": 1}}, "headers"),
        ({"base_url": "http://[::1/v1"}, "base_url"),
        ({"base_url": "http://[zz]:80/v1"}, "base_url"),
        ({"base_url": "http://host:99999/v1"}, "base_url"),
        ({"base_url": "http:///v1"}, "base_url"),
        ({"extra_body": "x"}, "extra_body"),
    ],
)
def test_bad_arguments_are_named_at_construction(kwargs: dict[str, object], named: str) -> None:
    kwargs.setdefault("base_url", "http://localhost:8000/v1")
    with pytest.raises(InvalidRequestError, match=named):
        OpenAICompatModel("m", **kwargs)  # type: ignore[arg-type]


def test_ipv6_base_url_is_fine() -> None:
    assert (
        OpenAICompatModel("m", base_url="http://[::1]:8000/v1/").base_url == "http://[::1]:8000/v1"
    )


# -- the event loop and interpreter exit ----------------------------------------------------------------


def test_client_is_created_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    created_on: list[threading.Thread] = []
    real_init = httpx.AsyncClient.__init__

    def spy(self: httpx.AsyncClient, *args: object, **kwargs: object) -> None:
        created_on.append(threading.current_thread())
        real_init(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(httpx.AsyncClient, "__init__", spy)
    model = mock_model(lambda r: httpx.Response(200, json=ok_body()))

    async def first_calls() -> threading.Thread:
        await asyncio.gather(*(model.acomplete(f"q{i}") for i in range(5)))
        await model.aclose()
        return threading.current_thread()

    loop_thread = asyncio.run(first_calls())
    assert len(created_on) == 1  # five first calls at once share one creation
    assert created_on[0] is not loop_thread


EXIT_SCRIPT = """
import gc, time
from fusionkit.models.openai import OpenAICompatModel
from fusionkit.testing import FakeOpenAIServer

srv = FakeOpenAIServer().start()
dropped = OpenAICompatModel("d", base_url=srv.base_url, cache=False)
dropped.complete("x")
del dropped  # a notebook cell run again: the old model is dropped without close()
gc.collect()
time.sleep(0.2)
model = OpenAICompatModel("m", base_url=srv.base_url, cache=False)
print(model.complete("hello there").text)
print(model.complete("and again").text)
# no model.close(): the interpreter exits with the client open
"""


def test_models_never_closed_leave_no_resource_warnings() -> None:
    out = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "always::ResourceWarning", "-c", EXIT_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["hello there", "and again"]
    # The transports and sockets are this backend's; an "unclosed event loop" warning
    # would be fusionkit._sync's background loop, not an HTTP client.
    assert "unclosed transport" not in out.stderr, out.stderr
    assert "unclosed <socket" not in out.stderr, out.stderr
