"""``/api/v1/capture/policies`` and ``/api/v1/replays``: content capture and shadow replay (docs/replay.md).

Everything here needs an **admin** key: captured content and replay answers are the most sensitive
data tiermix holds, so a read key sees none of it (a run's summary included: it is reached through
the same routes). A tenant-bound admin key sees and starts only its own tenant's policies and runs
(another tenant's run is 404, as if it did not exist), and its candidate base URLs must pass the
destination policy of tenant-scoped alert channels (no loopback, private or link-local addresses unless
the operator allows them: ``TIERMIX_CHANNEL_ALLOW``).
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute

from tiermix_server.alerts.destinations import DestinationRefused, policy_for, url_endpoint
from tiermix_server.api.endpoint import Call, endpoint
from tiermix_server.errors import BadRequest, Forbidden, StorageUnavailable
from tiermix_server.meta import capture_policies
from tiermix_server.replay import store
from tiermix_server.replay.service import models_of
from tiermix_server.replay.spec import parse_spec

MAX_SAMPLES_PAGE = 500


def replay_routes() -> list[BaseRoute]:
    return [
        endpoint("GET", "/api/v1/capture/policies", list_policies, scope="admin"),
        endpoint("PUT", "/api/v1/capture/policies", put_policy, scope="admin"),
        endpoint("DELETE", "/api/v1/capture/policies", delete_policy, scope="admin"),
        endpoint("GET", "/api/v1/replays", list_replays, scope="admin"),
        endpoint("POST", "/api/v1/replays", create_replay, scope="admin", status=201),
        endpoint("GET", "/api/v1/replays/{run_id:int}", get_replay, scope="admin"),
        endpoint("GET", "/api/v1/replays/{run_id:int}/samples", replay_samples, scope="admin"),
        endpoint("POST", "/api/v1/replays/{run_id:int}/cancel", cancel_replay, scope="admin"),
        endpoint("POST", "/api/v1/replays/{run_id:int}/resume", resume_replay, scope="admin"),
    ]


def _tenant(call: Call, asked: Any) -> str:
    """The tenant a change is for: a tenant-bound key's own; an all-tenants key must name one."""
    bound = call.principal.tenant
    if asked is not None and (not isinstance(asked, str) or "\x00" in asked or len(asked) > 200):
        raise BadRequest("tenant must be a string of at most 200 characters (no NUL)")
    if bound is not None:
        if asked not in (None, bound):
            raise Forbidden(f"this API key is bound to tenant {bound!r}")
        return bound
    if not asked:
        raise BadRequest("tenant is required with an all-tenants key")
    return asked


# ---- capture policies ---------------------------------------------------------------------------------


def list_policies(call: Call) -> Any:
    policies = capture_policies.list_policies(call.meta, call.principal.tenant)
    gate = call.runtime.capture
    used = {p.tenant: gate.used_bytes(p.tenant) for p in policies} if gate is not None else {}
    return {
        "policies": [{"tenant": p.tenant, "route": p.route, "sample_rate": p.sample_rate} for p in policies],
        "bytes_used": used,
        "max_bytes_per_tenant": call.runtime.settings.capture_max_bytes,
        "ttl_days": call.runtime.settings.capture_ttl_days,
    }


def put_policy(call: Call) -> Any:
    """``{"tenant": "acme", "route": "support.answer", "sample_rate": 0.02}``; route ``*``: every route."""
    body = call.json()
    unknown = set(body) - {"tenant", "route", "sample_rate"}
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
    policy = capture_policies.set_policy(
        call.meta, _tenant(call, body.get("tenant")), body.get("route") or "", body.get("sample_rate")
    )
    _reload(call)
    return {"tenant": policy.tenant, "route": policy.route, "sample_rate": policy.sample_rate}


def delete_policy(call: Call) -> Any:
    tenant = _tenant(call, call.query.get("tenant"))
    route = call.query.get("route")
    if not route:
        raise BadRequest("route is required ('*' for the tenant-wide policy)")
    capture_policies.delete_policy(call.meta, tenant, route)
    _reload(call)
    return {"deleted": {"tenant": tenant, "route": route}}


def _reload(call: Call) -> None:
    gate = call.runtime.capture
    if gate is not None:  # at once in this process; other collectors within POLICY_REFRESH_S
        gate.set_policies(capture_policies.policy_map(call.meta))


# ---- replay runs --------------------------------------------------------------------------------------


def _service(call: Call) -> Any:
    service = call.runtime.replays
    if service is None:
        raise StorageUnavailable("replay runs are not available on this server")
    return service


def run_json(run: store.RunRow) -> dict[str, Any]:
    spec = {key: value for key, value in run.spec.items() if key != "extra"}
    return {
        "id": run.id,
        "tenant": run.tenant,
        "route": run.route,
        "status": run.status,
        "progress": {
            "planned": run.planned,
            "judged": run.judged,
            "servable": run.servable,
            "errors": run.errors,
            "retries": run.retries,
            "done": run.judged + run.errors,
            "spent_usd": run.spent_usd,
        },
        "error": run.error or None,
        "spec": spec,
        "result": run.result or None,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


def list_replays(call: Call) -> Any:
    tenant = call.principal.tenant or call.query.get("tenant") or None
    runs = store.list_runs(call.meta, tenant, call.query.get("route") or None)
    return {"replays": [run_json(run) for run in runs]}


def create_replay(call: Call) -> Any:
    """The body of ``replay/spec.py`` (route, candidate, judges, sample, max_cost_usd, …), plus an
    optional ``api_key`` for candidates and judges on a ``base_url`` of their own (never stored)."""
    body = call.json()
    api_key = body.pop("api_key", None)
    if api_key is not None and (not isinstance(api_key, str) or not api_key or len(api_key) > 1000):
        raise BadRequest("api_key must be a non-empty string")
    tenant = _tenant(call, body.pop("tenant", None))
    spec = parse_spec(body, tenant)
    _check_destinations(call, spec)
    _check_python_judges(call, spec)
    return run_json(_service(call).submit(spec, api_key))


def _check_destinations(call: Call, spec: Any) -> None:
    settings = call.runtime.settings
    policy = policy_for(call.principal.tenant, settings.channel_allow)
    for ref in models_of(spec):
        if ref.base_url:
            try:
                policy.resolve(*url_endpoint(ref.base_url))
            except DestinationRefused as exc:
                raise BadRequest(f"{ref.label} base_url is not allowed: {exc}") from exc


def _check_python_judges(call: Call, spec: Any) -> None:
    from tiermix_server.replay.judges import load_python_judge

    for judge in spec.judges:
        if judge.kind == "python":
            load_python_judge(judge.function, call.runtime.settings.python_judge_modules)


def get_replay(call: Call) -> Any:
    return run_json(store.get_run(call.meta, call.path_id("run_id"), call.principal.tenant))


def replay_samples(call: Call) -> Any:
    """Per-sample verdicts with both answers and the request: ``limit`` (≤ 500), ``offset``,
    ``verdict`` (1 servable, 0 not, -1 no verdict)."""
    from tiermix_server.api.params import integer

    run = store.get_run(call.meta, call.path_id("run_id"), call.principal.tenant)
    limit = integer(call.query, "limit", 100, 1, MAX_SAMPLES_PAGE)
    offset = integer(call.query, "offset", 0, 0, 10**6)
    verdict_text = call.query.get("verdict")
    verdict = None
    if verdict_text is not None:
        if verdict_text not in ("1", "0", "-1"):
            raise BadRequest("verdict must be 1, 0 or -1")
        verdict = int(verdict_text)
    samples = store.read_samples(call.runtime.clickhouse, run.id, limit, offset, verdict)
    return {"run_id": run.id, "samples": samples, "limit": limit, "offset": offset}


def cancel_replay(call: Call) -> Any:
    return run_json(_service(call).cancel(call.path_id("run_id"), call.principal.tenant))


def resume_replay(call: Call) -> Any:
    """``{"api_key": "…"}`` when the run was started with one; ``{"max_cost_usd": 20}`` to change its cap."""
    body = call.json()
    api_key = body.get("api_key")
    if api_key is not None and (not isinstance(api_key, str) or not api_key):
        raise BadRequest("api_key must be a non-empty string")
    cap = body.get("max_cost_usd")
    if cap is not None and (
        isinstance(cap, bool) or not isinstance(cap, int | float) or not 0 < cap <= 10_000
    ):
        raise BadRequest("max_cost_usd must be a number in (0, 10000]")
    run = _service(call).resume(call.path_id("run_id"), call.principal.tenant, api_key, cap)
    return run_json(run)
