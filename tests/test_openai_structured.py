"""Structured output over real HTTP (issue 8): response_format, its step-down, the re-ask.

FakeOpenAIServer honours response_format and can refuse json_schema (``structured=
"json_object"``) or any response_format (``structured="none"``) as real servers do.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from conftest import Sleeps

from fusionkit.errors import BadRequestError, StructuredOutputError
from fusionkit.models.openai import OpenAICompatModel
from fusionkit.testing import FakeOpenAIServer, Fault

CITY = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["city", "population"],
    "additionalProperties": False,
}
GOOD = '{"city": "Paris", "population": 2100000}'


def make(srv: FakeOpenAIServer, model: str, **kw: Any) -> OpenAICompatModel:
    kw.setdefault("cache", False)
    return OpenAICompatModel(model, base_url=srv.base_url, sleep=Sleeps(), **kw)


def system_text(body: dict[str, Any]) -> str:
    first = body["messages"][0]
    return first["content"] if first["role"] == "system" else ""


def test_json_schema_is_sent_and_the_answer_parsed(srv: FakeOpenAIServer) -> None:
    srv.configure("strict", reply=GOOD)
    model = make(srv, "strict")
    c = model.complete("Biggest city in France?", schema=CITY)
    assert c.parsed == {"city": "Paris", "population": 2100000}
    fmt = srv.requests[-1]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"] == CITY and fmt["json_schema"]["name"]
    assert model.response_format_level == "json_schema" and srv.attempts("strict") == 1
    assert "response_format" not in make(srv, "strict").complete("plain").text


def test_the_server_checks_what_it_was_asked_for(srv: FakeOpenAIServer) -> None:
    body = {
        "model": "checker",
        "messages": [{"role": "user", "content": "x"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "c", "schema": CITY}},
    }
    srv.configure("checker", reply='{"city": "Paris"}')  # population missing
    r = httpx.post(f"{srv.base_url}/chat/completions", json=body)
    assert r.status_code == 500 and "population" in r.json()["error"]["message"]
    srv.configure("checker", reply=GOOD, structured="none")
    r = httpx.post(f"{srv.base_url}/chat/completions", json=body)
    assert r.status_code == 400 and "response_format" in r.json()["error"]["message"]


def test_refused_json_schema_steps_down_to_json_object_once(srv: FakeOpenAIServer) -> None:
    srv.configure("no-schema", reply=GOOD, structured="json_object")
    model = make(srv, "no-schema")
    assert model.complete("city?", schema=CITY).parsed["city"] == "Paris"
    first, second = srv.requests
    assert first["response_format"]["type"] == "json_schema"
    assert second["response_format"] == {"type": "json_object"}
    assert '"population"' in system_text(second)  # the schema went into the prompt
    assert model.response_format_level == "json_object"
    model.complete("again?", schema=CITY)
    assert srv.attempts("no-schema") == 3  # remembered: one request for the second call


def test_refusing_both_steps_down_to_the_prompt(srv: FakeOpenAIServer) -> None:
    srv.configure("plain-only", reply=GOOD, structured="none")
    model = make(srv, "plain-only", max_retries=0)
    stream = model.stream("city?", schema=CITY)
    assert json.loads("".join(stream)) == stream.completion.parsed
    kinds = [b.get("response_format", {}).get("type") for b in srv.requests]
    assert kinds == ["json_schema", "json_object", None]
    assert model.response_format_level == "prompt"
    model.complete("again", schema=CITY, system="Be terse.")
    last = srv.requests[-1]
    assert "response_format" not in last and system_text(last).startswith("Be terse.")


def test_prompt_level_reasks_once_with_the_problem(srv: FakeOpenAIServer) -> None:
    replies = iter(["Sure! The city is Paris.", GOOD])
    srv.configure("chatty", reply=lambda body: next(replies), structured="none")
    model = make(srv, "chatty", prices=(1.0, 1.0))
    c = model.complete("city?", schema=CITY)
    assert c.parsed["population"] == 2100000
    reask = srv.requests[-1]["messages"]
    assert reask[-2] == {"role": "assistant", "content": "Sure! The city is Paris."}
    assert reask[-1]["role"] == "user" and "no JSON object was found" in reask[-1]["content"]
    single = srv.requests[-2]  # the first answer's request: usage adds both calls
    assert c.usage.prompt_tokens > sum(len(m["content"].split()) for m in single["messages"])


def test_json_object_level_reasks_then_gives_up(srv: FakeOpenAIServer) -> None:
    srv.configure("wrong-shape", reply='{"town": "Paris"}', structured="json_object")
    model = make(srv, "wrong-shape")
    with pytest.raises(StructuredOutputError, match="does not match the schema") as info:
        model.complete("city?", schema=CITY)
    assert info.value.model == "wrong-shape" and "town" in info.value.reply
    assert srv.attempts("wrong-shape") == 3  # refused json_schema, json_object, one re-ask


def test_strict_level_is_validated_without_reask() -> None:
    calls: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(json.loads(request.content))
        content = '{"city": 7}'  # a server that ignores its own strict mode
        message = {"role": "assistant", "content": content}
        return httpx.Response(200, json={"choices": [{"message": message}]})

    model = OpenAICompatModel(
        "lax", base_url="http://x.test/v1", transport=httpx.MockTransport(handler), cache=False
    )
    with pytest.raises(StructuredOutputError):
        model.complete("city?", schema=CITY)
    assert len(calls) == 1


def test_other_400s_do_not_step_down(srv: FakeOpenAIServer) -> None:
    srv.configure("bad", reply=GOOD)
    srv.queue_faults("bad", [Fault.status(400, message="max_tokens is too large")])
    model = make(srv, "bad")
    with pytest.raises(BadRequestError, match="max_tokens"):
        model.complete("city?", schema=CITY)
    assert model.response_format_level == "json_schema" and srv.attempts("bad") == 1


def test_prompt_levels_show_an_example_of_the_shape() -> None:
    from fusionkit.models.openai.structured import skeleton, with_schema_prompt
    from fusionkit.schema import Schema
    from fusionkit.types import build_request

    nested = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "kind": {"enum": ["a", "b"]},
            "score": {"type": ["number", "null"]},
            "inner": {"properties": {"ok": {"type": "boolean"}}},
        },
    }
    assert skeleton(nested) == {
        "name": "...",
        "tags": ["..."],
        "kind": "a",
        "score": 0.0,
        "inner": {"ok": False},
    }
    request = build_request("city?", system="Be terse.")
    shaped = with_schema_prompt(request, Schema.of(CITY))
    system, user = shaped.messages
    assert system.content.startswith("Be terse.") and '"additionalProperties"' in system.content
    assert user.content == 'city?\nAnswer in JSON like {"city": "...", "population": 0}.'


@pytest.mark.slow
def test_embedded_model_behind_a_server_without_response_format(
    edge_home: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real path: the default 135M model, served without any response_format support."""
    import fusionkit as fk

    monkeypatch.setenv("FUSIONKIT_HOME", str(edge_home))
    edge = fk.model("edge", cache=False, device="cpu", progress=False)
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
        "required": ["city", "country"],
    }

    def reply(body: dict[str, Any]) -> str:
        return edge.complete(body["messages"], max_tokens=body["max_tokens"], cache=False).text

    with FakeOpenAIServer() as srv:
        srv.configure("smol", reply=reply, structured="none")
        model = OpenAICompatModel("smol", base_url=srv.base_url, cache=False, read_timeout=300)
        parsed = []
        for q in ("What is the capital of France?", "Which city is Italy's capital?"):
            try:
                parsed.append(model.complete(q, schema=schema, max_tokens=48).parsed)
            except StructuredOutputError:
                pass
        assert model.response_format_level == "prompt"
        # Greedy answers on this machine: both are JSON of the right shape (the facts are
        # the model's). Without the reminder in the user turn neither was. One is enough
        # here: another machine's kernels may tip a greedy answer into a repetition loop.
        assert parsed, "the 135M model gave no usable JSON at the prompt level"
        edge.close()
