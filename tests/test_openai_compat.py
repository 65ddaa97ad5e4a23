"""OpenAICompatModel against a real OpenAI-compatible server (FakeOpenAIServer) and MockTransport.

Retry waits go through an injected recording sleep, so the suite is fast; one test waits
for real to show that Retry-After is honoured.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import pickle
import socket
import time
import traceback
from pathlib import Path

import httpx
import pytest
from conftest import Sleeps

from fusionkit.cache import ResponseCache
from fusionkit.errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    InvalidRequestError,
    ModelConnectionError,
    ModelNotFoundError,
    ModelTimeoutError,
    PaymentRequiredError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
)
from fusionkit.models.openai import (
    MAX_RETRY_AFTER_S,
    PRESETS,
    OpenAICompatModel,
    backoff_delay,
    parse_retry_after,
)
from fusionkit.testing import FakeOpenAIServer, Fault
from fusionkit.types import Completion

TEST_KEY = "sk-or-v1-" + "0123456789abcdef" * 4
openrouter = functools.partial(OpenAICompatModel.from_preset, PRESETS["openrouter"])
openai = functools.partial(OpenAICompatModel.from_preset, PRESETS["openai"])
ollama = functools.partial(OpenAICompatModel.from_preset, PRESETS["ollama"])


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make(srv: FakeOpenAIServer, model: str, sleeps: Sleeps | None = None, **kw: object):
    kw.setdefault("cache", False)
    return OpenAICompatModel(model, base_url=srv.base_url, sleep=sleeps or Sleeps(), **kw)


async def stream_all(model: OpenAICompatModel, prompt: str) -> list[str | Completion]:
    """The text chunks, then the final Completion."""
    stream = model.astream(prompt)
    items: list[str | Completion] = [item async for item in stream]
    assert stream.completion is not None
    return [*items, stream.completion]


def sync_stream(model: OpenAICompatModel, prompt: str, **kw: object) -> list[str | Completion]:
    stream = model.stream(prompt, **kw)
    items: list[str | Completion] = list(stream)
    assert stream.completion is not None
    return [*items, stream.completion]


# -- the test server itself -------------------------------------------------------------------


def test_server_lists_models_and_echoes_unconfigured(srv: FakeOpenAIServer) -> None:
    srv.configure("listed", reply="x")
    r = httpx.get(f"{srv.base_url}/models")
    assert "listed" in [m["id"] for m in r.json()["data"]]
    body = {"model": "never-configured", "messages": [{"role": "user", "content": "echo me"}]}
    r = httpx.post(f"{srv.base_url}/chat/completions", json=body)
    assert r.json()["choices"][0]["message"]["content"] == "echo me"
    assert srv.requests[-1] == body and srv.authorization_seen[-1] is False


def test_server_404_mode_and_random_faults_are_seeded() -> None:
    with FakeOpenAIServer(unknown_models="404") as srv:
        body = {"model": "nope", "messages": [{"role": "user", "content": "hi"}]}
        r = httpx.post(f"{srv.base_url}/chat/completions", json=body)
        assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"

        def statuses(seed: int) -> list[int]:
            srv.configure("flaky", reply="ok", fault_rate=0.5, seed=seed)
            with httpx.Client() as c:
                return [
                    c.post(
                        f"{srv.base_url}/chat/completions", json={**body, "model": "flaky"}
                    ).status_code
                    for _ in range(30)
                ]

        first, again = statuses(7), statuses(7)
        assert first == again
        assert 5 < sum(s != 200 for s in first) < 25
        assert set(first) <= {200, 429, 500, 502, 503}


def test_server_stops_cleanly() -> None:
    srv = FakeOpenAIServer().start()
    port = srv.port
    assert httpx.get(f"{srv.base_url}/models").status_code == 200
    thread = srv._thread
    srv.stop()
    srv.stop()  # twice is fine
    assert thread is not None and not thread.is_alive()
    with socket.socket() as s, pytest.raises(OSError):
        s.settimeout(1)
        s.connect(("127.0.0.1", port))


# -- success paths -----------------------------------------------------------------------------


def test_complete_over_http(srv: FakeOpenAIServer) -> None:
    srv.configure("ok-model", reply="Paris is the capital", usage_cost=0.0042)
    model = make(srv, "ok-model", api_key="sk-local-123456")
    c = model.complete("Capital of France?", max_tokens=50)
    assert c.text == "Paris is the capital"
    assert c.usage.prompt_tokens == 3 and c.usage.completion_tokens == 4
    assert c.cost_usd == pytest.approx(0.0042)  # usage.cost wins over any price table
    assert c.finish_reason == "stop" and c.model == "ok-model"
    assert c.ttft_s is not None and 0 < c.ttft_s <= c.latency_s
    body = srv.requests[-1]
    assert body["model"] == "ok-model" and body["max_tokens"] == 50
    assert body["temperature"] == 0.0
    assert body["messages"] == [{"role": "user", "content": "Capital of France?"}]
    assert not {"top_p", "seed", "stop", "stream"} & set(body)
    assert srv.authorization_seen[-1] is True
    model.complete("again", top_p=0.5, seed=3, stop=["\n"])
    assert {"top_p": 0.5, "seed": 3, "stop": ["\n"]}.items() <= srv.requests[-1].items()


def test_cost_from_price_table_or_unknown(srv: FakeOpenAIServer) -> None:
    srv.configure("priced", reply="one two")
    c = make(srv, "priced", prices={"priced": (1.0, 2.0)}).complete("a b c")
    assert c.cost_usd == pytest.approx((3 * 1.0 + 2 * 2.0) / 1e6)
    assert make(srv, "priced", prices=(10.0, 10.0)).complete("a").cost_usd == pytest.approx(3e-5)
    assert make(srv, "priced").complete("a b c").cost_usd is None


def test_stream_chunks_usage_and_cost(srv: FakeOpenAIServer) -> None:
    srv.configure("streamer", reply="one two three four", usage_cost=0.01, delay_s=0.04)
    items = asyncio.run(stream_all(make(srv, "streamer"), "count"))
    chunks, final = items[:-1], items[-1]
    assert chunks == ["one", " two", " three", " four"]
    assert isinstance(final, Completion)
    assert final.text == "one two three four" and final.finish_reason == "stop"
    assert final.usage.completion_tokens == 4 and final.usage.prompt_tokens == 1
    assert final.cost_usd == pytest.approx(0.01)
    assert final.ttft_s is not None and final.ttft_s < final.latency_s
    assert srv.requests[-1]["stream"] is True
    assert srv.requests[-1]["stream_options"] == {"include_usage": True}


def test_stream_is_retried_until_accepted(srv: FakeOpenAIServer, sleeps: Sleeps) -> None:
    srv.configure("stream-retry", reply="ok then")
    srv.queue_faults("stream-retry", [Fault.status(502), Fault.status(429, retry_after="0.25")])
    items = asyncio.run(stream_all(make(srv, "stream-retry", sleeps), "go"))
    assert items[-1].text == "ok then" and srv.attempts("stream-retry") == 3
    assert sleeps.waits[1] == 0.25


def test_finished_loops_leave_the_client_map(srv: FakeOpenAIServer) -> None:
    srv.configure("loops", reply="ok")
    model = make(srv, "loops")
    for _ in range(3):
        asyncio.run(model.acomplete("hi"))
    assert len(model._clients) == 1  # only the last loop's client is left


def test_sync_stream_and_max_tokens(srv: FakeOpenAIServer) -> None:
    srv.configure("long", reply="a b c d e f")
    items = sync_stream(make(srv, "long"), "go", max_tokens=3)
    assert items[-1].text == "a b c" and items[-1].finish_reason == "length"


def test_sync_complete_inside_running_loop(srv: FakeOpenAIServer) -> None:
    srv.configure("loopy", reply="fine")
    model = make(srv, "loopy")

    async def notebook_cell() -> tuple[str, str]:
        sync_text = model.complete("hi").text  # as a notebook cell would, loop running
        async_text = (await model.acomplete("hi")).text
        return sync_text, async_text

    assert asyncio.run(notebook_cell()) == ("fine", "fine")
    assert len(model._clients) >= 2  # the background loop's client and this loop's
    model.close()


def test_cache_round_trip_through_server(srv: FakeOpenAIServer, tmp_path: Path) -> None:
    srv.configure("cached", reply="stored answer")
    cache = ResponseCache(tmp_path / "c.db")
    model = make(srv, "cached", cache=cache)
    first = model.complete("q")
    second = model.complete("q")
    assert (first.cached, second.cached) == (False, True)
    assert second.text == first.text == "stored answer"
    assert srv.attempts("cached") == 1
    model.complete("q", temperature=0.7)  # not deterministic: never cached
    assert srv.attempts("cached") == 2 and len(cache) == 1


def test_concurrency_limit_is_respected(srv: FakeOpenAIServer) -> None:
    srv.configure("busy", reply="ok", delay_s=0.15)
    srv.configure("free", reply="ok", delay_s=0.15)

    async def burst(model: OpenAICompatModel) -> None:
        await asyncio.gather(*(model.acomplete(f"q{i}") for i in range(12)))
        await model.aclose()

    asyncio.run(burst(make(srv, "busy", max_concurrency=3)))
    asyncio.run(burst(make(srv, "free", max_concurrency=None)))
    assert srv.max_in_flight("busy") == 3
    assert srv.max_in_flight("free") > 3


# -- retries -----------------------------------------------------------------------------------


def test_500_then_success_takes_two_attempts(srv: FakeOpenAIServer, sleeps: Sleeps) -> None:
    srv.configure("flaky", reply="ok")
    srv.queue_faults("flaky", [Fault.status(500)])
    assert make(srv, "flaky", sleeps).complete("hi").text == "ok"
    assert srv.attempts("flaky") == 2
    assert len(sleeps.waits) == 1 and 0.375 <= sleeps.waits[0] <= 0.5  # 0.5 s minus jitter


def test_429_retry_after_seconds_is_used(srv: FakeOpenAIServer, sleeps: Sleeps) -> None:
    srv.configure("limited", reply="ok")
    srv.queue_faults("limited", [Fault.status(429, retry_after="1.5")])
    assert make(srv, "limited", sleeps).complete("hi").text == "ok"
    assert sleeps.waits == [1.5] and srv.attempts("limited") == 2


def test_429_retry_after_http_date_is_used(srv: FakeOpenAIServer, sleeps: Sleeps) -> None:
    srv.configure("dated", reply="ok")
    srv.queue_faults("dated", [Fault.status(429, retry_after_date_in=3)])
    assert make(srv, "dated", sleeps).complete("hi").text == "ok"
    # An HTTP date has whole seconds: "3 s from now" reads as between 2 and 3 s.
    assert len(sleeps.waits) == 1 and 1.5 <= sleeps.waits[0] <= 3.0


def test_retry_after_is_honoured_in_real_time(srv: FakeOpenAIServer) -> None:
    srv.configure("patient", reply="ok")
    srv.queue_faults("patient", [Fault.status(429, retry_after="1")])
    model = OpenAICompatModel("patient", base_url=srv.base_url, cache=False)  # real sleep
    t0 = time.perf_counter()
    c = model.complete("hi")
    assert time.perf_counter() - t0 >= 0.95
    assert c.latency_s >= 0.95  # latency counts the whole call, the wait included
    assert srv.attempts("patient") == 2


def test_long_retry_after_is_raised_not_waited(srv: FakeOpenAIServer, sleeps: Sleeps) -> None:
    srv.configure("quota", reply="ok")
    srv.queue_faults("quota", [Fault.status(429, retry_after=str(MAX_RETRY_AFTER_S * 60))])
    with pytest.raises(RateLimitError) as info:
        make(srv, "quota", sleeps).complete("hi")
    assert info.value.retry_after == MAX_RETRY_AFTER_S * 60
    assert srv.attempts("quota") == 1 and sleeps.waits == []


def test_retries_run_out(srv: FakeOpenAIServer, sleeps: Sleeps) -> None:
    srv.configure("down", reply=Fault.status(503))
    with pytest.raises(ServerError) as info:
        make(srv, "down", sleeps).complete("hi")
    assert info.value.status_code == 503 and "overloaded" in str(info.value)
    assert srv.attempts("down") == 3 and len(sleeps.waits) == 2
    assert 0.75 <= sleeps.waits[1] <= 1.0  # 0.5 s × 2
    with pytest.raises(ServerError):
        make(srv, "down", max_retries=0).complete("hi")
    assert srv.attempts("down") == 4


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (402, PaymentRequiredError),
        (403, AuthenticationError),
        (404, ModelNotFoundError),
    ],
)
def test_client_errors_raise_at_once(
    srv: FakeOpenAIServer, sleeps: Sleeps, status: int, error: type[APIStatusError]
) -> None:
    name = f"err-{status}"
    srv.configure(name, reply="ok")
    srv.queue_faults(name, [Fault.status(status, message=f"provider says {status}")])
    with pytest.raises(error) as info:
        make(srv, name, sleeps).complete("hi")
    assert info.value.status_code == status
    assert f"provider says {status}" in str(info.value)
    assert info.value.model == name
    assert srv.attempts(name) == 1 and sleeps.waits == []


def test_401_hint_names_the_key_variable(
    srv: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", TEST_KEY)
    srv.configure("auth", reply=Fault.status(401))
    with pytest.raises(AuthenticationError, match=r"\$OPENROUTER_API_KEY"):
        openrouter("auth", base_url=srv.base_url, cache=False).complete("hi")


# -- bad bodies, cut streams, timeouts, connection failures ----------------------------------


@pytest.mark.parametrize(
    ("fault", "quoted"),
    [
        (Fault.malformed_json(), '{"id": "chatcmpl-x"'),
        (Fault.html(), "<!DOCTYPE html>"),
        (Fault.missing_choices(), '"object": "chat.completion"'),
    ],
)
def test_bad_bodies_are_format_errors(
    srv: FakeOpenAIServer, sleeps: Sleeps, fault: Fault, quoted: str
) -> None:
    srv.configure("garbled", reply="ok")
    srv.queue_faults("garbled", [fault])
    with pytest.raises(ResponseFormatError) as info:
        make(srv, "garbled", sleeps).complete("hi")
    assert quoted in str(info.value) and "base_url" in str(info.value)
    assert srv.attempts("garbled") == 1


def test_cut_stream_is_an_error_and_not_cached(srv: FakeOpenAIServer, tmp_path: Path) -> None:
    srv.configure("cutter", reply="one two three four five")
    cache = ResponseCache(tmp_path / "c.db")
    model = make(srv, "cutter", cache=cache)
    srv.queue_faults("cutter", [Fault.cut(2)])
    got: list[str | Completion] = []

    async def consume() -> None:
        stream = model.astream("go")
        async for item in stream:
            got.append(item)
        assert stream.completion is None

    with pytest.raises(ModelConnectionError, match="cut mid-stream after 2 chunks"):
        asyncio.run(consume())
    assert got == ["one", " two"]  # the chunks seen, and no final Completion
    srv.queue_faults("cutter", [Fault.cut(1, abrupt=False)])
    with pytest.raises(ResponseFormatError, match=r"stream was cut.*without \[DONE\]"):
        list(model.stream("go"))
    assert len(cache) == 0
    srv.queue_faults("cutter", [Fault.cut(1)])
    with pytest.raises(ModelConnectionError):  # a cut non-streaming body too
        make(srv, "cutter", max_retries=0).complete("go")


def test_slow_first_byte_times_out(srv: FakeOpenAIServer, sleeps: Sleeps) -> None:
    srv.configure("sluggish", reply="ok")
    srv.queue_faults("sluggish", [Fault.delay(1.0), Fault.delay(1.0)])
    model = make(srv, "sluggish", sleeps, read_timeout=0.2, max_retries=1)
    with pytest.raises(ModelTimeoutError, match="read_timeout") as info:
        model.complete("hi")
    assert srv.attempts("sluggish") == 2 and len(sleeps.waits) == 1
    assert info.value.__context__ is None and info.value.__cause__ is None
    assert model.complete("hi").text == "ok"  # faults consumed: normal again


def test_unreachable_server_is_a_connection_error(sleeps: Sleeps) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        model = OpenAICompatModel(
            "m", base_url=f"http://127.0.0.1:{port}/v1", sleep=sleeps, cache=False
        )
        with pytest.raises(ModelConnectionError, match="could not talk to") as info:
            model.complete("hi")
    assert len(sleeps.waits) == 2  # retried max_retries times
    assert info.value.__context__ is None


# -- secrets -------------------------------------------------------------------------------------


def test_key_never_leaks(
    srv: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", TEST_KEY)
    caplog.set_level(logging.DEBUG)
    cache = ResponseCache(tmp_path / "c.db")
    srv.configure("secretive", reply="fine")
    model = openrouter("secretive", base_url=srv.base_url, cache=cache, sleep=Sleeps())
    assert TEST_KEY not in repr(model) and TEST_KEY not in model.identity
    assert TEST_KEY not in repr(vars(model)) and TEST_KEY not in str(model.__dict__)
    with pytest.raises(TypeError):
        pickle.dumps(model)  # pickling would write the key to disk

    srv.queue_faults("secretive", [Fault.status(401, echo_authorization=True)])
    with pytest.raises(AuthenticationError) as info:
        model.complete("hi")
    exc = info.value
    texts = [
        str(exc),
        repr(exc),
        "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        str(exc.provider_message),
    ]
    assert "You sent: [REDACTED]" in str(exc)  # the echo was there, and scrubbed
    srv.queue_faults("secretive", [Fault.status(500, echo_authorization=True)])
    assert model.complete("hi").text == "fine"  # the retry log line quotes the 500 body
    assert any("Retry 1 of 2" in r.getMessage() for r in caplog.records)
    texts += [r.getMessage() for r in caplog.records] + [caplog.text]
    texts += [json.dumps(row) for row in cache.rows()]
    assert len(cache.rows()) == 1
    for text in texts:
        assert TEST_KEY not in text
        assert TEST_KEY[:20] not in text  # nor a telling piece of it
    assert srv.authorization_seen[-1] is True  # the key was sent, just never shown


# -- presets -------------------------------------------------------------------------------------


def test_presets_need_their_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="OPENROUTER_API_KEY.*openrouter.ai/keys"):
        openrouter("openai/gpt-4o-mini")
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        openai("gpt-4o-mini")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-openai-000000")
    m = openai("gpt-4o-mini")
    assert m.base_url == "https://api.openai.com/v1" and m.provider == "openai"
    assert openai("gpt-4o-mini", api_key="sk-explicit-000000").provider == "openai"


def test_ollama_preset_needs_no_key(srv: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    assert ollama("llama3.2").base_url == "http://localhost:11434/v1"
    monkeypatch.setenv("OLLAMA_HOST", "0.0.0.0")  # how Ollama is told to listen everywhere
    assert ollama("llama3.2").base_url == "http://0.0.0.0:11434/v1"
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{srv.port}")
    srv.configure("llama3.2", reply="local answer")
    model = ollama("llama3.2", cache=False)
    assert model.base_url == srv.base_url
    c = model.complete("hi")
    assert c.text == "local answer" and c.cost_usd == 0.0
    assert srv.authorization_seen[-1] is False
    srv.queue_faults("llama3.2", [Fault.status(404)])
    with pytest.raises(ModelNotFoundError, match="ollama pull llama3.2"):
        model.complete("hi")


def test_bad_configuration_is_reported() -> None:
    with pytest.raises(InvalidRequestError, match="base_url"):
        OpenAICompatModel("m", base_url="localhost:8000/v1")
    with pytest.raises(InvalidRequestError, match="max_retries"):
        OpenAICompatModel("m", base_url="http://x/v1", max_retries=-1)
    with pytest.raises(ConfigurationError, match="MY_KEY"):
        OpenAICompatModel("m", base_url="http://x/v1", api_key_env="MY_KEY")
    m = OpenAICompatModel("m", base_url="http://user:pw-secret-1234@host:8000/v1/")
    assert "pw-secret-1234" not in repr(m) + m.identity
    assert m.identity == "openai-compatible:http://host:8000/v1:m"


# -- MockTransport unit tests ------------------------------------------------------------------


def mock_model(handler, **kw: object) -> OpenAICompatModel:
    kw.setdefault("cache", False)
    kw.setdefault("sleep", Sleeps())
    return OpenAICompatModel(
        "mock", base_url="https://api.example.test/v1", transport=httpx.MockTransport(handler), **kw
    )


def ok_body(text: str = "hi", **usage: object) -> dict[str, object]:
    return {
        "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, **usage},
    }


def test_mock_headers_and_body(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ok_body())

    monkeypatch.setenv("OPENROUTER_API_KEY", TEST_KEY)
    model = openrouter("vendor/m", transport=httpx.MockTransport(handler), cache=False)
    model.complete("hello", system="be brief")
    req = seen[0]
    assert str(req.url) == "https://openrouter.ai/api/v1/chat/completions"
    assert req.headers["authorization"] == f"Bearer {TEST_KEY}"
    assert req.headers["x-title"] == "fusionkit" and "http-referer" in req.headers
    body = json.loads(req.content)
    assert body["messages"][0] == {"role": "system", "content": "be brief"}
    assert body["usage"] == {"include": True}
    openai_model = openai("o4-mini", api_key="sk-x-000000", transport=httpx.MockTransport(handler))
    openai_model.complete("hi", cache=False)
    assert json.loads(seen[-1].content)["max_completion_tokens"] == 256


def test_mock_error_inside_a_200_body() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"error": {"message": "No credits", "code": 402}})

    with pytest.raises(PaymentRequiredError, match="No credits"):
        mock_model(handler).complete("hi")
    paid = openrouter("m", api_key=TEST_KEY, transport=httpx.MockTransport(handler), cache=False)
    with pytest.raises(PaymentRequiredError, match="openrouter.ai/settings/credits"):
        paid.complete("hi")


def test_mock_sse_with_comments_and_error_event() -> None:
    def sse(*events: str) -> httpx.Response:
        body = "".join(f"{e}\n\n" for e in events).encode()
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    chunk = json.dumps({"choices": [{"delta": {"content": "Hel"}, "finish_reason": None}]})
    chunk2 = json.dumps({"choices": [{"delta": {"content": "lo"}, "finish_reason": "stop"}]})
    responses = iter(
        [
            # keep-alive comments, a multi-line-free event stream with no usage chunk
            sse(": OPENROUTER PROCESSING", f"data: {chunk}", f"data:{chunk2}", "data: [DONE]"),
            sse(f"data: {chunk}", 'data: {"error": {"message": "overloaded", "code": 503}}'),
            sse("data: not json"),
        ]
    )
    model = mock_model(lambda r: next(responses))
    items = sync_stream(model, "x")
    assert items[:-1] == ["Hel", "lo"] and items[-1].text == "Hello"
    assert items[-1].cost_usd is None  # no usage reported: cost unknown, not zero
    assert items[-1].usage.prompt_tokens is None and not items[-1].usage.known
    with pytest.raises(ServerError, match="overloaded"):
        list(model.stream("x"))
    with pytest.raises(ResponseFormatError, match="stream event is not valid JSON"):
        list(model.stream("x"))


def test_mock_server_that_ignores_stream() -> None:
    model = mock_model(lambda r: httpx.Response(200, json=ok_body("whole")))
    items = sync_stream(model, "x")
    assert items[0] == "whole" and items[-1].text == "whole"


def test_mock_connect_error_has_no_chain(sleeps: Sleeps) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("boom sk-chain-secret-99999", request=request)

    model = mock_model(handler, sleep=sleeps, api_key="sk-chain-secret-99999")
    with pytest.raises(ModelConnectionError) as info:
        model.complete("hi")
    assert "sk-chain-secret-99999" not in str(info.value)
    assert info.value.__context__ is None and info.value.__cause__ is None
    assert len(sleeps.waits) == 2


def test_aclose_then_reuse() -> None:
    model = mock_model(lambda r: httpx.Response(200, json=ok_body()))

    async def go() -> None:
        await model.acomplete("a")
        client = model._clients.client_for(asyncio.get_running_loop())
        await model.aclose()
        assert client is not None and client.is_closed and not len(model._clients)
        await model.acomplete("b")  # a fresh client

    asyncio.run(go())


def test_parse_retry_after_and_backoff() -> None:
    assert parse_retry_after(httpx.Headers({"retry-after": "2"})) == 2.0
    assert parse_retry_after(httpx.Headers({"retry-after-ms": "250"})) == 0.25
    assert parse_retry_after(httpx.Headers({"retry-after": "-5"})) == 0.0
    assert parse_retry_after(httpx.Headers({"retry-after": "soon"})) is None
    assert parse_retry_after(httpx.Headers({"retry-after": "nan"})) is None
    assert parse_retry_after(httpx.Headers({"retry-after-ms": "inf", "retry-after": "1"})) == 1.0
    assert parse_retry_after(httpx.Headers({})) is None
    date = "Wed, 21 Oct 2015 07:28:10 GMT"
    now = 1445412480.0  # 07:28:00 that day
    assert parse_retry_after(httpx.Headers({"retry-after": date}), now=now) == 10.0
    assert backoff_delay(0, rand=lambda: 0.0) == 0.5
    assert backoff_delay(2, rand=lambda: 0.0) == 2.0
    assert backoff_delay(10, rand=lambda: 0.0) == 8.0
    assert backoff_delay(10, rand=lambda: 1.0) == 6.0


def test_logprobs_are_asked_for_and_read(srv: FakeOpenAIServer) -> None:
    srv.configure("probs", reply="one two three")
    model = make(srv, "probs")
    c = model.complete("go", logprobs=True)
    assert srv.requests[-1]["logprobs"] is True
    assert c.logprobs == (-0.25, -0.25, -0.25) and c.mean_logprob == -0.25
    stream = model.stream("go", logprobs=True)
    assert "".join(stream) == "one two three"
    assert stream.completion is not None and stream.completion.logprobs == (-0.25,) * 3
    assert model.complete("go").logprobs is None and "logprobs" not in srv.requests[-1]


def test_sse_parser_handles_any_line_ending_and_any_chunking() -> None:
    from fusionkit.models.openai.sse import sse_data

    text = ': keep-alive\r\ndata: {"a":\r\ndata: 1}\r\n\r\nevent: x\rdata: é\r\rdata: last'
    raw = text.encode()

    async def collect(size: int) -> list[str]:
        async def chunks():
            for i in range(0, len(raw), size):
                yield raw[i : i + size]

        return [d async for d in sse_data(chunks())]

    for size in (1, 2, 3, 7, len(raw)):  # splits mid-CRLF and mid-character too
        assert asyncio.run(collect(size)) == ['{"a":\n1}', "é", "last"], size


def test_a_reply_function_that_returns_a_delay_is_answered_with_the_echo(
    srv: FakeOpenAIServer,
) -> None:
    # A reply function may return a Fault for one request; a delay then answers like
    # reply=Fault.delay(...): with the last user message, not the function's repr.
    srv.configure("slowish", reply=lambda body: Fault.delay(0.01))
    assert make(srv, "slowish").complete("say this back", max_tokens=20).text == "say this back"
