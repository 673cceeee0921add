"""The ordered tier list in force (bottom … top), as the server's tier map has it.

Tier names are configuration (``PUT /api/v1/admin/tiers``), so the dashboard has no tier literal: each
page run reads the list through the API (``catalog.tier_names``, cached like every query) and keeps it
in the session; charts order and colour tiers by their rank in it.
"""

from __future__ import annotations

from collections.abc import Sequence

_SESSION_KEY = "tiermix_tiers"
# Cheapest → dearest; a list with more tiers interpolates along these, the top is always red.
_LADDER = ("#2e9e5b", "#e0a526", "#d1495b")
UNKNOWN_COLOUR = "#8a8f98"


def remember(names: Sequence[str]) -> None:
    import streamlit as st

    st.session_state[_SESSION_KEY] = tuple(names)


def in_force() -> tuple[str, ...]:
    """The list for this session, empty outside a page run (unit tests pass theirs explicitly)."""
    try:
        import streamlit as st
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        if get_script_run_ctx(suppress_warning=True) is None:
            return ()
        names: tuple[str, ...] = st.session_state.get(_SESSION_KEY, ())
        return names
    except Exception:  # no Streamlit runtime
        return ()


def top(names: Sequence[str] | None = None) -> str | None:
    names = in_force() if names is None else names
    return names[-1] if names else None


def colours(names: Sequence[str]) -> dict[str, str]:
    """A colour per tier by rank: bottom green, top red, the ones between along the ladder."""
    count = len(names)
    if count == 0:
        return {}
    picked = {}
    for rank, name in enumerate(names):
        position = 0 if count == 1 else round(rank * (len(_LADDER) - 1) / (count - 1))
        picked[name] = _LADDER[position]
    return picked
