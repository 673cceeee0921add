"""The one module that caches: the API client per (URL, key), and query results for a short TTL.

Every page reads through ``load(query, ...)``: the query function's name and arguments, plus the API
URL and key, make the cache key, so two read keys bound to different tenants never share an answer.
Errors are not cached (Streamlit re-raises and forgets), so a page recovers as soon as the API does.
Writes (alert rules) go through ``client()`` directly and then ``forget()`` cached answers.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from tiermix_dashboard import analyses, bills, budgets, catalog, queries, replays, rightsizing
from tiermix_dashboard.api_client import ApiClient

# Where query functions live; ``load("name", ...)`` finds ``name`` in the first module that has it.
QUERY_MODULES = (queries, analyses, catalog, rightsizing, replays, budgets, bills)
FRAME_TTL_S = 60
PARALLEL_QUERIES = 8
_CONNECTION_KEY = "tiermix_connection"


@dataclass(frozen=True, slots=True)
class Connection:
    api_url: str
    api_key: str | None


def use_connection(connection: Connection) -> None:
    """Called by the entry script each run: the connection every page of this session reads through."""
    st.session_state[_CONNECTION_KEY] = connection


def connection() -> Connection:
    value: Connection = st.session_state[_CONNECTION_KEY]
    return value


@st.cache_resource(show_spinner=False)
def _client(api_url: str, api_key: str | None) -> ApiClient:
    return ApiClient(api_url, api_key)


def client() -> ApiClient:
    current = connection()
    return _client(current.api_url, current.api_key)


@st.cache_data(ttl=FRAME_TTL_S, show_spinner=False, max_entries=1024)
def _run(api_url: str, api_key: str | None, name: str, args: tuple[Any, ...], kwargs: tuple[Any, ...]) -> Any:
    return _query(name)(_client(api_url, api_key), *args, **dict(kwargs))


def _query(name: str) -> Any:
    for module in QUERY_MODULES:
        function = getattr(module, name, None)
        if callable(function) and not name.startswith("_"):
            return function
    raise AttributeError(f"no query named {name!r}")


def load(name: str, *args: Any, **kwargs: Any) -> Any:
    """``<name>(client, *args, **kwargs)`` from ``QUERY_MODULES``, cached for ``FRAME_TTL_S`` seconds."""
    _query(name)  # fail here, with the name, rather than inside the cached call
    current = connection()
    return _run(current.api_url, current.api_key, name, args, tuple(sorted(kwargs.items())))


def prefetch(*calls: tuple[Any, ...]) -> None:
    """Warm the cache for several ``(name, *args)`` / ``(name, *args, {kwargs})`` queries at once.

    A page asks the API a dozen independent questions; asked one after another their latencies add up,
    asked together the page waits for the slowest. Worker threads carry this run's script context, so
    they read the same session (connection) and fill the same cache; the first API error is re-raised.
    """
    context = get_script_run_ctx()

    def one(call: tuple[Any, ...]) -> None:
        add_script_run_ctx(threading.current_thread(), context)
        name, *args = call
        kwargs = args.pop() if args and isinstance(args[-1], dict) else {}
        load(name, *args, **kwargs)

    with ThreadPoolExecutor(max_workers=PARALLEL_QUERIES, thread_name_prefix="tiermix-prefetch") as pool:
        for future in [pool.submit(one, call) for call in calls]:
            future.result()


def forget() -> None:
    """Drop cached answers (after a write, or when the user asks for fresh numbers)."""
    _run.clear()
