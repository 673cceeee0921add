"""Context nests and merges, follows asyncio tasks, is handed to threads with bind(), hashes users."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor

import tiermix
from tiermix._context import current_scope


def test_nested_contexts_merge_and_inner_values_win() -> None:
    with tiermix.context(tenant="acme", route="a", tags={"team": "cx", "tier_hint": "x"}):
        with tiermix.context(route="b", tags={"tier_hint": "y"}):
            scope = current_scope()
            assert (scope.tenant, scope.route) == ("acme", "b")
            assert dict(scope.tags) == {"team": "cx", "tier_hint": "y"}
        assert current_scope().route == "a"
    assert current_scope().tenant is None


def test_user_ids_are_hashed_before_they_are_stored() -> None:
    with tiermix.context(user="alice@example.com"):
        scope = current_scope()
    assert scope.user_hash == hashlib.sha256(b"alice@example.com").hexdigest()[:16]
    assert "alice" not in repr(scope)


async def test_each_asyncio_task_keeps_the_context_it_was_started_in() -> None:
    seen: dict[str, str | None] = {}

    async def work(name: str) -> None:
        with tiermix.context(tenant=name):
            await asyncio.sleep(0)
            seen[name] = current_scope().tenant

    with tiermix.context(route="shared"):
        await asyncio.gather(work("t1"), work("t2"), work("t3"))
        assert current_scope().tenant is None
    assert seen == {"t1": "t1", "t2": "t2", "t3": "t3"}


def test_bind_hands_the_context_to_a_thread_pool() -> None:
    def tenant() -> str | None:
        return current_scope().tenant

    with tiermix.context(tenant="acme"), ThreadPoolExecutor(2) as pool:
        plain = pool.submit(tenant).result()
        bound_fn = tiermix.bind(tenant)
        bound = [f.result() for f in [pool.submit(bound_fn) for _ in range(4)]]
    assert plain is None
    assert bound == ["acme"] * 4


def test_a_bound_function_can_run_in_two_threads_at_once() -> None:
    barrier = threading.Barrier(2)

    def wait_then_read() -> str | None:
        barrier.wait(5)
        return current_scope().route

    with tiermix.context(route="r"):
        fn = tiermix.bind(wait_then_read)
    results: list[str | None] = []
    threads = [threading.Thread(target=lambda: results.append(fn())) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert results == ["r", "r"]


def test_route_decision_is_attached_inside_its_block_only() -> None:
    with tiermix.route_decision("routellm-mf-v2", reason="score below 0.3", score=0.21):
        routing = current_scope().routing
    assert routing is not None
    assert (routing.router, routing.reason, routing.score) == ("routellm-mf-v2", "score below 0.3", 0.21)
    assert current_scope().routing is None
