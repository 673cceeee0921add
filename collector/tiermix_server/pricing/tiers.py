"""The tier map: which tier (small < mid < frontier by default) a served model belongs to.

Rules (glob or regex on the lower-cased model and provider) are tried highest priority first; user rules
from the metadata DB come before the shipped defaults (``default_tiers.toml``) at equal priority. A model
no rule matches falls into a tier by its price band: the blended USD per 1M tokens (3:1 input:output)
against each tier's band maximum. A model with neither a rule nor a price is ``unknown`` rather than a
guess. ``TierMap.decide`` is pure; the enricher caches its answers per (provider, model).
"""

from __future__ import annotations

import fnmatch
import functools
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources

from tiermix_server.errors import BadRequest
from tiermix_server.meta.stores import RuleRow, TierRow

UNKNOWN_TIER = "unknown"
DEFAULT_PRIORITY = 100


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    band_max_usd_per_mtok: float | None  # None: open-ended (the top tier)
    description: str = ""


@dataclass(frozen=True, slots=True)
class Rule:
    model_pattern: str
    tier: str
    provider_pattern: str = "*"
    syntax: str = "glob"
    priority: int = DEFAULT_PRIORITY
    origin: str = "default"  # "default" or "user:<id>"
    _model_re: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _provider_re: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_model_re", _compile(self.model_pattern, self.syntax))
        any_provider = self.provider_pattern in ("", "*")
        provider_re = re.compile("") if any_provider else _compile(self.provider_pattern, self.syntax)
        object.__setattr__(self, "_provider_re", provider_re)

    def matches(self, model: str, provider: str) -> bool:
        return self._model_re.search(model) is not None and self._provider_re.search(provider) is not None

    @property
    def source(self) -> str:
        return f"rule:{self.model_pattern}"


def _compile(pattern: str, syntax: str) -> re.Pattern[str]:
    if syntax == "glob":
        return re.compile(fnmatch.translate(pattern.lower()))
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise BadRequest(f"bad regular expression {pattern!r}: {exc}") from None


@dataclass(frozen=True, slots=True)
class Decision:
    tier: str
    source: str  # rule:<pattern> | band:<usd_per_mtok> | unknown
    detail: str  # a sentence for `tiermix tiers explain`


class TierMap:
    """An ordered tier list plus rules, ready to decide."""

    def __init__(self, tiers: list[Tier], rules: Iterable[Rule]) -> None:
        if len(tiers) < 2:
            raise BadRequest("a tier list needs at least two tiers")
        self.tiers = tiers
        self.names = tuple(tier.name for tier in tiers)
        # Stable sort: user rules were given first, so they win ties with the defaults.
        self.rules = sorted(rules, key=lambda rule: -rule.priority)

    @property
    def top(self) -> str:
        """The most expensive tier: what "frontier share" counts, whatever it is named."""
        return self.names[-1]

    @property
    def bottom(self) -> str:
        """The cheapest tier: where a cascade starts."""
        return self.names[0]

    def rank(self, tier: str) -> int:
        return self.names.index(tier) if tier in self.names else -1

    def decide(self, model: str, provider: str, blended_usd_per_mtok: Callable[[], float | None]) -> Decision:
        name, vendor = model.strip().lower(), provider.strip().lower()
        for rule in self.rules:
            if rule.matches(name, vendor):
                return Decision(
                    rule.tier,
                    rule.source,
                    f"{rule.origin} rule {rule.model_pattern!r} ({rule.syntax}, "
                    f"provider {rule.provider_pattern!r}, priority {rule.priority}) → {rule.tier}",
                )
        blended = blended_usd_per_mtok()
        if blended is None:
            return Decision(UNKNOWN_TIER, "unknown", "no rule matches and no price is known: tier unknown")
        tier = self.band_tier(blended)
        return Decision(
            tier,
            f"band:{blended:.4g}",
            f"no rule matches; blended price ${blended:.4g}/1M tokens is in the {tier} band",
        )

    def band_tier(self, blended_usd_per_mtok: float) -> str:
        for tier in self.tiers:
            if tier.band_max_usd_per_mtok is None or blended_usd_per_mtok < tier.band_max_usd_per_mtok:
                return tier.name
        return self.top


@functools.lru_cache(maxsize=1)
def default_map_data() -> tuple[tuple[Tier, ...], tuple[Rule, ...]]:
    """The shipped tier list and rules from ``default_tiers.toml``."""
    text = (resources.files("tiermix_server.pricing") / "default_tiers.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    tiers = tuple(
        Tier(item["name"], item.get("band_max_usd_per_mtok"), item.get("description", ""))
        for item in data["tiers"]
    )
    rules = []
    for group in data["rules"]:
        for pattern in group["models"]:
            rules.append(
                Rule(
                    pattern,
                    group["tier"],
                    group.get("provider", "*"),
                    group.get("syntax", "glob"),
                    int(group.get("priority", DEFAULT_PRIORITY)),
                )
            )
    return tiers, tuple(rules)


def build_tier_map(user_tiers: list[TierRow], user_rules: list[RuleRow]) -> TierMap:
    """The effective map: the DB's tier list if set (else the default), user rules, then default rules."""
    default_tiers, default_rules = default_map_data()
    tiers = (
        [Tier(row.name, row.band_max_usd_per_mtok, row.description) for row in user_tiers]
        if user_tiers
        else list(default_tiers)
    )
    known = {tier.name for tier in tiers}
    rules = [
        Rule(row.model_pattern, row.tier, row.provider_pattern, row.syntax, row.priority, f"user:{row.id}")
        for row in user_rules
        if row.tier in known
    ]
    rules.extend(rule for rule in default_rules if rule.tier in known)
    return TierMap(tiers, rules)
