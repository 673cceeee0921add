"""Model, provider and usage are read from every supported response shape, objects and dicts."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion
from openai.types.responses import Response

from tests.fakes import providers
from tiermix.extract import Extracted, extract, sane
from tiermix.extract.stream import StreamAccumulator


def test_openai_chat_completion_object_gives_usage_with_cache_and_reasoning() -> None:
    obj = ChatCompletion.model_validate(providers.chat_completion("gpt-4o-mini-2024-07-18"))
    assert extract(obj) == Extracted("openai", "chat", "gpt-4o-mini-2024-07-18", 12, 7, 4, 1, 2, "stop")


def test_openai_chat_completion_dict_gives_the_same_as_the_object() -> None:
    data = providers.chat_completion("gpt-4o")
    assert extract(data) == extract(ChatCompletion.model_validate(data))


def test_responses_api_object_gives_usage_and_status() -> None:
    obj = Response.model_validate(providers.responses_object("gpt-5"))
    assert extract(obj) == Extracted("openai", "chat", "gpt-5", 12, 7, 4, 1, 2, "completed")


def test_incomplete_responses_api_answer_reports_why() -> None:
    data = {
        **providers.responses_object("gpt-5"),
        "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"},
    }
    found = extract(data)
    assert found is not None and found.finish_reason == "max_output_tokens"


def test_embeddings_are_an_embeddings_operation_with_input_tokens_only() -> None:
    obj = CreateEmbeddingResponse.model_validate(
        {
            "object": "list",
            "model": "text-embedding-3-small",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.0]}],
            "usage": {"prompt_tokens": 5, "total_tokens": 5},
        }
    )
    assert extract(obj) == Extracted("openai", "embeddings", "text-embedding-3-small", 5)


def test_anthropic_message_input_includes_cache_reads_and_writes() -> None:
    import anthropic.types

    obj = anthropic.types.Message.model_validate(providers.anthropic_message("claude-haiku-4-5"))
    # 10 uncached + 5 cache read + 3 cache write, per OTel semantics
    assert extract(obj) == Extracted("anthropic", "chat", "claude-haiku-4-5", 18, 9, 5, 3, None, "end_turn")


def test_bedrock_converse_reports_the_model_the_prompt_router_invoked() -> None:
    result = {
        "output": {"message": {"role": "assistant", "content": [{"text": "hi"}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 100, "outputTokens": 20, "totalTokens": 120, "cacheReadInputTokens": 30},
        "metrics": {"latencyMs": 300},
        "trace": {
            "promptRouter": {
                "invokedModelId": "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
                "us.anthropic.claude-3-5-haiku-20241022-v1:0"
            }
        },
    }
    assert extract(result) == Extracted(
        "aws.bedrock",
        "chat",
        "us.anthropic.claude-3-5-haiku-20241022-v1:0",
        130,
        20,
        30,
        None,
        None,
        "end_turn",
    )


def test_bedrock_converse_without_router_has_no_served_model_but_keeps_usage() -> None:
    found = extract({"stopReason": "max_tokens", "usage": {"inputTokens": 3, "outputTokens": 4}})
    assert found == Extracted("aws.bedrock", "chat", None, 3, 4, None, None, None, "max_tokens")


class ModelResponse:
    """Stand-in with LiteLLM's shape: module name decides, as with the real class."""

    def __init__(self, data: dict[str, Any], provider: str) -> None:
        self.__dict__.update(data)
        self._hidden_params = {"custom_llm_provider": provider}


ModelResponse.__module__ = "litellm.types.utils"


def test_litellm_response_names_the_provider_that_served() -> None:
    data = providers.chat_completion("claude-3-5-haiku")
    data["usage"] = {
        "prompt_tokens": 12,
        "completion_tokens": 7,
        "cache_creation_input_tokens": 6,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 2},
    }
    found = extract(ModelResponse(data, "bedrock"))
    assert found == Extracted("aws.bedrock", "chat", "claude-3-5-haiku", 12, 7, 4, 6, 2, "stop")


def test_unknown_objects_give_nothing() -> None:
    assert extract("just text") is None
    assert extract({"hello": "world"}) is None
    assert extract(None) is None


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "usage",
                        "model",
                        "object",
                        "type",
                        "choices",
                        "stopReason",
                        "prompt_tokens",
                        "input_tokens",
                        "message",
                        "delta",
                        "response",
                    ]
                ),
                inner,
                max_size=5,
            )
        ),
        max_leaves=15,
    )
)
def test_extraction_of_arbitrary_data_never_raises_or_invents_negative_usage(data: Any) -> None:
    found = sane(extract(data))  # raises nothing, whatever the shape; sane() as the encoder applies it
    acc = StreamAccumulator()
    acc.feed(data)
    streamed = acc.result()
    for result in (found, streamed):
        if result is None:
            continue
        for tokens in (
            result.input_tokens,
            result.output_tokens,
            result.cache_read_tokens,
            result.cache_write_tokens,
            result.reasoning_tokens,
        ):
            assert tokens is None or (isinstance(tokens, int) and tokens >= 0), result


def test_openai_chat_stream_takes_usage_from_the_final_chunk_and_ttft_from_the_first_token() -> None:
    import json

    fake = providers.FakeProviders()
    acc = StreamAccumulator()
    for _, data in fake._chat_events("gpt-4o", include_usage=True)[:-1]:
        acc.feed(json.loads(data))
    assert acc.result() == Extracted("openai", "chat", "gpt-4o", 12, 7, 4, 1, 2, "stop")
    assert acc.first_token_ns is not None


def test_anthropic_stream_combines_message_start_and_the_cumulative_message_delta() -> None:
    import json

    acc = StreamAccumulator()
    for _, data in providers.FakeProviders()._anthropic_events("claude-x"):
        acc.feed(json.loads(data))
    assert acc.result() == Extracted("anthropic", "chat", "claude-x", 18, 9, 5, 3, None, "end_turn")


def test_chunks_of_a_plain_shape_are_summed() -> None:
    acc = StreamAccumulator()
    acc.feed({"stopReason": "end_turn", "usage": {"inputTokens": 2, "outputTokens": 1}})
    acc.feed({"stopReason": "end_turn", "usage": {"inputTokens": 0, "outputTokens": 4}})
    assert acc.result().output_tokens == 5


def test_bedrock_converse_stream_metadata_gives_usage() -> None:
    acc = StreamAccumulator()
    for event in (
        {"messageStart": {"role": "assistant"}},
        {"contentBlockDelta": {"delta": {"text": "h"}}},
        {"messageStop": {"stopReason": "end_turn"}},
        {"metadata": {"usage": {"inputTokens": 7, "outputTokens": 3}}},
    ):
        acc.feed(event)
    assert acc.result() == Extracted("aws.bedrock", "chat", None, 7, 3, None, None, None, "end_turn")


def test_answer_text_for_content_capture_comes_from_each_shape() -> None:
    import anthropic.types

    from tiermix.extract import output_text

    assert output_text(ChatCompletion.model_validate(providers.chat_completion("m"))) == providers.ANSWER
    assert output_text(Response.model_validate(providers.responses_object("m"))) == providers.ANSWER
    message = anthropic.types.Message.model_validate(providers.anthropic_message("m"))
    assert output_text(message) == providers.ANSWER
    assert output_text(object()) is None


def test_fast_paths_for_client_classes_agree_with_the_generic_dict_readers() -> None:
    import anthropic.types

    for data, cls in (
        (providers.anthropic_message("claude-x"), anthropic.types.Message),
        (providers.responses_object("gpt-5"), Response),
        (providers.chat_completion("gpt-4o"), ChatCompletion),
    ):
        assert extract(cls.model_validate(data)) == extract(data)
