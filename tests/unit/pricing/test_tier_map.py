"""Tier-map acceptance: the shipped rules put each family's models where intended, and models no rule
knows land in a sensible tier by their genai-prices price band."""

from __future__ import annotations

import pytest

from tiermix_server.meta.stores import RuleRow, TierRow
from tiermix_server.pricing.prices import PriceBook
from tiermix_server.pricing.tiers import build_tier_map, default_map_data

DEFAULT_MAP = build_tier_map([], [])
BOOK = PriceBook([])

# (provider, served model name as instrumentations report it, intended tier)
INTENDED = [
    # OpenAI
    ("openai", "gpt-4o-mini-2024-07-18", "small"),
    ("openai", "gpt-4.1-nano", "small"),
    ("openai", "gpt-4.1-mini", "small"),
    ("openai", "gpt-5-mini", "small"),
    ("openai", "gpt-5-nano", "small"),
    ("openai", "gpt-3.5-turbo-0125", "small"),
    ("openai", "text-embedding-3-small", "small"),
    ("openai", "gpt-4o-2024-08-06", "mid"),
    ("openai", "gpt-4.1", "mid"),
    ("openai", "o3-mini", "mid"),
    ("openai", "o4-mini-2025-04-16", "mid"),
    ("openai", "o1-mini", "mid"),
    ("openai", "gpt-5", "frontier"),
    ("openai", "gpt-5.1", "frontier"),
    ("openai", "o1", "frontier"),
    ("openai", "o1-2024-12-17", "frontier"),
    ("openai", "o3", "frontier"),
    ("openai", "o3-pro", "frontier"),
    ("openai", "gpt-4.5-preview", "frontier"),
    ("openai", "gpt-4-turbo", "frontier"),
    ("openai", "gpt-4", "frontier"),
    ("openai", "gpt-4-0613", "frontier"),
    ("azure.ai.openai", "gpt-4o-mini", "small"),
    ("openrouter", "openai/gpt-4o", "mid"),
    # Anthropic (direct, Bedrock and Vertex spellings)
    ("anthropic", "claude-3-5-haiku-20241022", "small"),
    ("anthropic", "claude-haiku-4-5", "small"),
    ("anthropic", "claude-3-haiku-20240307", "small"),
    ("anthropic", "claude-sonnet-4-5", "mid"),
    ("anthropic", "claude-3-7-sonnet-latest", "mid"),
    ("anthropic", "claude-opus-4-1", "frontier"),
    ("anthropic", "claude-3-opus-20240229", "frontier"),
    ("anthropic", "claude-opus-4-5", "frontier"),
    ("aws.bedrock", "us.anthropic.claude-3-5-sonnet-20240620-v1:0", "mid"),
    ("aws.bedrock", "anthropic.claude-3-haiku-20240307-v1:0", "small"),
    ("gcp.vertex_ai", "claude-opus-4@20250514", "frontier"),
    ("anthropic", "claude-instant-1.2", "mid"),
    # Google
    ("gcp.gemini", "gemini-2.0-flash", "small"),
    ("gcp.gemini", "gemini-2.5-flash-lite", "small"),
    ("gcp.gemini", "gemini-1.5-flash-002", "small"),
    ("gcp.gemini", "gemini-2.5-pro", "frontier"),
    ("gcp.vertex_ai", "gemini-1.5-pro-002", "frontier"),
    ("gcp.gemini", "gemini-pro", "mid"),
    ("gcp.gemini", "gemma-3-27b-it", "small"),
    ("gcp.gemini", "models/gemini-2.0-flash-001", "small"),
    # Mistral
    ("mistral_ai", "mistral-small-latest", "small"),
    ("mistral_ai", "ministral-8b-latest", "small"),
    ("mistral_ai", "open-mistral-7b", "small"),
    ("mistral_ai", "open-mixtral-8x7b", "small"),
    ("mistral_ai", "codestral-latest", "small"),
    ("mistral_ai", "mistral-medium-latest", "mid"),
    ("mistral_ai", "mistral-large-latest", "mid"),
    ("mistral_ai", "open-mixtral-8x22b", "mid"),
    ("mistral_ai", "pixtral-large-latest", "mid"),
    # Meta Llama (Groq, Together, Bedrock spellings)
    ("groq", "llama-3.1-8b-instant", "small"),
    ("groq", "llama-3.2-3b-preview", "small"),
    ("together", "meta-llama/Llama-3.2-1B-Instruct", "small"),
    ("groq", "llama-3.3-70b-versatile", "mid"),
    ("together", "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo", "mid"),
    ("aws.bedrock", "meta.llama3-1-405b-instruct-v1:0", "frontier"),
    ("together", "meta-llama/Meta-Llama-3.1-405B-Instruct-Turbo", "frontier"),
    ("groq", "meta-llama/llama-4-scout-17b-16e-instruct", "small"),
    ("aws.bedrock", "meta.llama4-maverick-17b-instruct-v1:0", "mid"),
    # DeepSeek
    ("deepseek", "deepseek-chat", "mid"),
    ("deepseek", "deepseek-reasoner", "mid"),
    ("together", "deepseek-ai/DeepSeek-V3", "mid"),
    ("groq", "deepseek-r1-distill-llama-70b", "mid"),
    ("together", "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "small"),
    ("deepseek", "deepseek-v4-pro", "frontier"),
    ("deepseek", "deepseek-v4-flash", "small"),
    # Qwen
    ("together", "Qwen/Qwen2.5-7B-Instruct-Turbo", "small"),
    ("together", "qwen/qwen3-14b", "small"),
    ("together", "Qwen/Qwen2.5-72B-Instruct-Turbo", "mid"),
    ("together", "Qwen/Qwen3-235B-A22B", "mid"),
    ("alibaba", "qwen-turbo", "small"),
    ("alibaba", "qwen-plus", "mid"),
    ("alibaba", "qwen-max", "frontier"),
    ("groq", "qwen-qwq-32b", "mid"),
    # Amazon Nova
    ("aws.bedrock", "amazon.nova-micro-v1:0", "small"),
    ("aws.bedrock", "amazon.nova-lite-v1:0", "small"),
    ("aws.bedrock", "amazon.nova-pro-v1:0", "mid"),
    ("aws.bedrock", "us.amazon.nova-premier-v1:0", "frontier"),
    # Cohere
    ("cohere", "command-r7b-12-2024", "small"),
    ("cohere", "command-r", "small"),
    ("cohere", "command-r-08-2024", "small"),
    ("cohere", "command-light", "small"),
    ("cohere", "command-r-plus-08-2024", "mid"),
    ("cohere", "command-a-03-2025", "mid"),
    ("cohere", "command", "mid"),
    # xAI
    ("x_ai", "grok-3-mini", "small"),
    ("x_ai", "grok-4-fast-reasoning", "small"),
    ("x_ai", "grok-code-fast-1", "small"),
    ("x_ai", "grok-2-1212", "mid"),
    ("x_ai", "grok-3", "mid"),
    ("x_ai", "grok-4", "frontier"),
    ("x_ai", "grok-4-0709", "frontier"),
    # usual open-weight small models (self-hosted)
    ("ollama", "phi-3-mini-4k-instruct", "small"),
    ("vllm", "microsoft/Phi-4", "small"),
    ("ollama", "gemma2:9b", "small"),
    ("vllm", "mistralai/Mistral-7B-Instruct-v0.3", "small"),
    ("vllm", "ibm-granite/granite-3.1-8b-instruct", "small"),
    ("ollama", "qwen2.5:0.5b", "small"),
    ("vllm", "allenai/OLMo-2-1124-13B-Instruct", "small"),
    ("vllm", "HuggingFaceTB/SmolLM2-1.7B-Instruct", "small"),
    ("ollama", "tinyllama", "small"),
    ("ollama", "llama3.2:3b", "small"),
    ("vllm", "openai/gpt-oss-20b", "small"),
    ("vllm", "openai/gpt-oss-120b", "mid"),
]


@pytest.mark.parametrize(("provider", "model", "tier"), INTENDED)
def test_every_default_map_model_resolves_to_its_intended_tier(provider: str, model: str, tier: str) -> None:
    decision = DEFAULT_MAP.decide(model, provider, lambda: None)
    assert (decision.tier, decision.source.startswith("rule:")) == (tier, True), decision.detail


def test_the_table_covers_every_family_the_issue_names() -> None:
    text = " ".join(model.lower() for _, model, _ in INTENDED)
    for family in (
        "gpt",
        "claude",
        "gemini",
        "mistral",
        "llama",
        "deepseek",
        "qwen",
        "nova",
        "command",
        "grok",
    ):
        assert family in text


# (provider, model no default rule knows, tier by genai-prices price band, blended $/1M for the reader)
UNKNOWN = [
    ("moonshotai", "moonshot-v1-8k", "small"),  # 0.65
    ("novita", "zai-org/glm-4.7-flash", "small"),  # 0.15
    ("novita", "minimax/minimax-m3.1-flash", "small"),  # 0.26
    ("novita", "xiaomimimo/mimo-v2.6-flash", "small"),  # 0.18
    ("mistral_ai", "mistral-saba", "small"),  # 0.30
    ("novita", "tencent/hy3", "small"),  # 0.25
    ("novita", "inclusionai/ling-3.0-flash", "small"),  # 0.09
    ("aws.bedrock", "nvidia.nemotron-nano-9b-v2:0", "small"),  # 0.10
    ("novita", "baidu/ernie-4.5-21B-a3b", "small"),  # 0.12
    ("together", "zero-one-ai/Yi-6B", "small"),  # 0.20
    ("moonshotai", "kimi-k2.5", "mid"),  # 1.2
    ("novita", "zai-org/glm-5", "mid"),  # 1.55
    ("meta", "muse-spark-1.3", "mid"),  # 2.0
    ("aws.bedrock", "writer.palmyra-x5-v1:0", "mid"),  # 1.95
    ("perplexity", "sonar-reasoning-pro", "mid"),  # 3.5
    ("openai", "codex-mini", "mid"),  # 2.6
    ("moonshotai", "moonshot-v1-128k", "mid"),  # 2.75
    ("perplexity", "sonar-pro", "frontier"),  # 6
    ("fireworks", "kimi-k3", "frontier"),  # 6
    ("meta", "muse-wonder-1.0", "frontier"),  # 8
    ("openai", "gpt-rosalind-research", "frontier"),  # 10
]


@pytest.mark.parametrize(("provider", "model", "tier"), UNKNOWN)
def test_a_model_no_rule_knows_lands_in_a_tier_by_its_price_band(
    provider: str, model: str, tier: str
) -> None:
    from datetime import datetime, timezone

    def blended() -> float | None:
        return BOOK.quote(
            datetime(2026, 11, 1, tzinfo=timezone.utc), "", provider, model
        ).blended_usd_per_mtok

    decision = DEFAULT_MAP.decide(model, provider, blended)
    assert decision.source.startswith("band:"), decision.detail
    assert decision.tier == tier, decision.detail


def test_a_model_with_neither_rule_nor_price_is_unknown_not_guessed() -> None:
    decision = DEFAULT_MAP.decide("house-special", "vllm", lambda: None)
    assert (decision.tier, decision.source) == ("unknown", "unknown")


def test_a_user_rule_wins_over_the_defaults_and_explains_itself() -> None:
    tier_map = build_tier_map([], [RuleRow(7, "*gpt-4o*", "*", "glob", "frontier", 1000, "")])
    decision = tier_map.decide("gpt-4o-mini", "openai", lambda: None)
    assert decision.tier == "frontier"
    assert "user:7" in decision.detail


def test_a_custom_tier_list_drops_rules_for_tiers_it_lacks_and_bands_by_its_own_bounds() -> None:
    tiers = [TierRow("cheap", 0, 3.0, ""), TierRow("dear", 1, None, "")]
    tier_map = build_tier_map(tiers, [RuleRow(1, "*house*", "*", "glob", "cheap", 1000, "")])
    assert tier_map.names == ("cheap", "dear")
    assert all(rule.tier in ("cheap", "dear") for rule in tier_map.rules)
    assert tier_map.decide("house-7b", "", lambda: None).tier == "cheap"
    assert tier_map.decide("gpt-4o", "openai", lambda: 4.375).tier == "dear"


def test_a_regex_rule_on_the_provider_only_matches_that_provider() -> None:
    tier_map = build_tier_map([], [RuleRow(1, "^custom-", "^vllm$", "regex", "mid", 1000, "")])
    assert tier_map.decide("custom-x", "vllm", lambda: None).tier == "mid"
    assert tier_map.decide("custom-x", "ollama", lambda: None).tier == "unknown"


def test_every_shipped_rule_names_a_shipped_tier() -> None:
    tiers, rules = default_map_data()
    names = {tier.name for tier in tiers}
    assert [tier.name for tier in tiers] == ["small", "mid", "frontier"]
    assert {rule.tier for rule in rules} <= names
