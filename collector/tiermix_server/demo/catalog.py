"""The simulated world: models, routes and tenants of a plausible multi-tenant LLM application.

Model names are real, priced ones (``genai-prices`` knows them), so costs in the demo are real list
prices. ``Model.tier`` is the tier the demo *intends*; what is stored is decided by the collector's tier
map, exactly as for real traffic (the demo never sends ``tiermix.tier``).
"""

from __future__ import annotations

from dataclasses import dataclass

SMALL, MID, FRONTIER = "small", "mid", "frontier"


@dataclass(frozen=True, slots=True)
class Model:
    name: str
    provider: str  # OTel ``gen_ai.provider.name``
    tier: str
    base_ms: float  # latency before the first output token
    ms_per_output_token: float
    reasoning: bool = False  # emits reasoning tokens (counted inside output tokens, OTel semantics)


@dataclass(frozen=True, slots=True)
class Step:
    """One rung of a route's cascade ladder: a tier, its models (primary first, then failovers)."""

    tier: str
    models: tuple[Model, ...]
    fail_base: float  # probability that verification rejects an answer of an easy request
    fail_slope: float  # added failure probability per unit of difficulty score


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    ladder: tuple[Step, ...]
    # Router cutoffs on the difficulty score: a request starts at the rung given by how many cutoffs its
    # score reaches (score < cutoffs[0] -> rung 0).
    cutoffs: tuple[float, ...]
    difficulty: tuple[float, float]  # Beta(alpha, beta) of the difficulty score
    input_tokens: tuple[float, float]  # lognormal (median, sigma)
    output_tokens: tuple[float, float]
    cached_share: float  # share of input tokens served from the prompt cache (shared system prompt)
    operation: str = "chat"


GPT_41_MINI = Model("gpt-4.1-mini", "openai", SMALL, 220, 7)
GPT_5_MINI = Model("gpt-5-mini", "openai", SMALL, 260, 7)  # the model that appears (scenario)
HAIKU = Model("claude-haiku-4-5", "anthropic", SMALL, 240, 8)
FLASH = Model("gemini-2.0-flash", "gcp.gemini", SMALL, 180, 5)
GPT_41 = Model("gpt-4.1", "openai", MID, 420, 14)
SONNET = Model("claude-sonnet-4-5", "anthropic", MID, 480, 16)
OPUS = Model("claude-opus-4-1", "anthropic", FRONTIER, 900, 30)
O3 = Model("o3", "openai", FRONTIER, 1400, 22, reasoning=True)

MODELS: tuple[Model, ...] = (GPT_41_MINI, GPT_5_MINI, HAIKU, FLASH, GPT_41, SONNET, OPUS, O3)

ROUTES: dict[str, Route] = {
    route.name: route
    for route in (
        Route(
            "support.answer",
            (
                Step(SMALL, (GPT_41_MINI, HAIKU), 0.04, 0.40),
                Step(MID, (SONNET, GPT_41), 0.02, 0.20),
                Step(FRONTIER, (OPUS,), 0.0, 0.0),
            ),
            cutoffs=(0.55, 0.85),
            difficulty=(2.0, 5.0),
            input_tokens=(1800, 0.45),
            output_tokens=(220, 0.6),
            cached_share=0.6,
        ),
        Route(
            "extract.invoice",
            (
                Step(SMALL, (FLASH, GPT_41_MINI), 0.03, 0.25),
                Step(MID, (GPT_41,), 0.01, 0.10),
                Step(FRONTIER, (OPUS,), 0.0, 0.0),
            ),
            cutoffs=(0.7, 0.95),
            difficulty=(2.0, 6.0),
            input_tokens=(3500, 0.5),
            output_tokens=(380, 0.4),
            cached_share=0.3,
        ),
        Route(
            "code.review",
            (
                Step(SMALL, (GPT_41_MINI,), 0.08, 0.55),
                Step(MID, (GPT_41, SONNET), 0.03, 0.30),
                Step(FRONTIER, (O3, OPUS), 0.0, 0.0),
            ),
            cutoffs=(0.45, 0.8),
            difficulty=(2.5, 4.0),
            input_tokens=(6000, 0.6),
            output_tokens=(800, 0.5),
            cached_share=0.2,
        ),
        Route(
            "search.summarize",
            (Step(SMALL, (HAIKU, FLASH), 0.02, 0.10), Step(MID, (SONNET,), 0.0, 0.0)),
            cutoffs=(0.9,),
            difficulty=(1.5, 6.0),
            input_tokens=(2500, 0.4),
            output_tokens=(150, 0.5),
            cached_share=0.1,
        ),
        Route(
            "agent.plan",
            (Step(MID, (SONNET, GPT_41), 0.05, 0.35), Step(FRONTIER, (OPUS, O3), 0.0, 0.0)),
            cutoffs=(0.7,),
            difficulty=(2.0, 3.0),
            input_tokens=(4000, 0.5),
            output_tokens=(1000, 0.5),
            cached_share=0.4,
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Tenant:
    name: str
    weight: float  # share of all traffic
    routes: tuple[tuple[str, float], ...]  # route name, weight within the tenant
    users: int  # distinct end users


TENANTS: tuple[Tenant, ...] = (
    Tenant(
        "acme",
        0.40,
        (("support.answer", 0.5), ("extract.invoice", 0.2), ("search.summarize", 0.2), ("agent.plan", 0.1)),
        400,
    ),
    Tenant(
        "globex",
        0.25,
        (("support.answer", 0.4), ("code.review", 0.3), ("search.summarize", 0.2), ("agent.plan", 0.1)),
        150,
    ),
    Tenant("initech", 0.20, (("code.review", 0.6), ("search.summarize", 0.3), ("agent.plan", 0.1)), 80),
    Tenant("umbrella", 0.10, (("extract.invoice", 0.7), ("support.answer", 0.3)), 60),
    Tenant("hooli", 0.05, (("support.answer", 0.6), ("search.summarize", 0.4)), 30),
)

ENVIRONMENT = "production"
SERVICE = "tiermix-demo"
