"""Every content spelling the peers send becomes one replayable request (ingest/content.py), and
redaction (ingest/redact.py) runs on every string inside it before anything is stored."""

from __future__ import annotations

import json

import pytest

from tiermix_server.ingest.content import replay_content
from tiermix_server.ingest.redact import EMAIL_MARK, SECRET_MARK, default_redact, load_redactor, redact_value

WANT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
USER_PARTS = [{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]
ANSWER_PARTS = [{"role": "assistant", "parts": [{"type": "text", "content": "Hello"}]}]


@pytest.mark.parametrize(
    "attrs",
    [
        {  # GenAI semantic conventions (parts), system instructions apart
            "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be brief."}]),
            "gen_ai.input.messages": json.dumps(USER_PARTS),
            "gen_ai.output.messages": json.dumps(ANSWER_PARTS),
        },
        {  # the tiermix SDK: the client's messages argument and the answer text
            "gen_ai.input.messages": json.dumps(WANT),
            "gen_ai.output.messages": "Hello",
        },
        {  # OpenLLMetry's indexed attributes
            "gen_ai.prompt.1.role": "user", "gen_ai.prompt.1.content": "hi",
            "gen_ai.prompt.0.role": "system", "gen_ai.prompt.0.content": "Be brief.",
            "gen_ai.completion.0.content": "Hello",
        },
        {  # OpenInference, the answer as parts (its Anthropic spans)
            "llm.input_messages.0.message.role": "system",
            "llm.input_messages.0.message.content": "Be brief.",
            "llm.input_messages.1.message.role": "user", "llm.input_messages.1.message.content": "hi",
            "llm.output_messages.0.message.contents.0.message_content.text": "Hel",
            "llm.output_messages.0.message.contents.1.message_content.text": "lo",
        },
    ],
    ids=["semconv", "tiermix-sdk", "openllmetry", "openinference"],
)  # fmt: skip
def test_each_spelling_gives_the_same_request_and_answer(attrs: dict[str, str]) -> None:
    request, answer = replay_content({**attrs, "gen_ai.request.temperature": 0.3})
    assert request == {"messages": WANT, "params": {"temperature": 0.3}}
    assert answer == "Hello"


def test_a_single_string_prompt_is_one_user_message() -> None:
    request, answer = replay_content({"gen_ai.prompt": "hi", "gen_ai.completion": "Hello"})
    assert request == {"messages": [{"role": "user", "content": "hi"}], "params": {}}
    assert answer == "Hello"


def test_json_clipped_by_the_sender_is_not_a_request() -> None:
    clipped = json.dumps(WANT)[:30]
    assert replay_content({"gen_ai.input.messages": clipped, "gen_ai.output.messages": "Hello"})[0] is None
    assert replay_content({"gen_ai.request.max_tokens": 64})[0] is None  # parameters alone


def test_default_redaction_hides_emails_and_key_like_strings() -> None:
    text = (
        "mail bob.smith+x@mail.example.co.uk, key sk-proj-abcdefghijklmnopqrstuvwx, "
        "aws AKIAABCDEFGHIJKLMNOP, "
        "Authorization: Bearer abcdefghijklmnopqrstuvwxyz123456, password=hunter22 and 42 apples"
    )
    out = default_redact(text)
    assert "bob.smith" not in out and out.count(EMAIL_MARK) == 1
    assert (
        "sk-proj" not in out
        and "AKIA" not in out
        and "hunter22" not in out
        and "abcdefghijklmnopqrstuvwxyz" not in out
    )
    assert out.count(SECRET_MARK) == 4 and out.endswith("and 42 apples")


def test_redaction_runs_inside_the_request_and_keeps_it_json() -> None:
    request = {
        "messages": [{"role": "user", "content": "reach me at a@b.io"}],
        "params": {"stop": ["a@b.io"]},
    }
    out = redact_value(request, default_redact)
    assert out == {
        "messages": [{"role": "user", "content": f"reach me at {EMAIL_MARK}"}],
        "params": {"stop": [EMAIL_MARK]},
    }
    assert json.loads(json.dumps(out)) == out


def test_an_operators_hook_is_loaded_by_name_and_a_bad_name_fails_at_start() -> None:
    assert load_redactor("") is default_redact
    assert load_redactor("tests.integration.replay.hooks:digits")("call 555 1234") == "call # #"
    with pytest.raises(ValueError, match="module:function"):
        load_redactor("nonsense")
    with pytest.raises((ImportError, ValueError)):
        load_redactor("no_such_module_here:redact")
