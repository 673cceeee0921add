"""API-key authentication and tenant scoping for every route except ``/healthz`` (docs/security.md).

``authenticate(request, needed)`` returns the caller's ``Principal`` or raises ``Unauthorized`` (no,
unknown or revoked key) / ``Forbidden`` (key lacks the scope). Authentication is a property of the
deployment, decided on every request (``auth_required``): it is off only on a loopback listener (or one
started with ``--insecure``) whose metadata DB has never held a key. From the first key on it stays on —
revoking every key locks the API, it never opens it — and the CLI on the host can always mint a key
(``tiermix keys create`` writes the metadata DB directly). Nothing positive is cached: each call looks
its key up (one indexed read), so a key revoked by the CLI in another process is refused on the very
next request.

Scopes: ``admin`` may do anything; ``read`` reads ``/api/v1/*``; ``ingest`` writes ``/v1/traces``. A key
bound to a tenant confines its caller to that tenant: ``ingest_tenant`` stamps it on every span whatever
the span claims, and ``read_tenant`` turns any tenant filter into that tenant.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any, Literal

from tiermix_server.errors import Forbidden, Unauthorized

Scope = Literal["ingest", "read", "admin"]
SCOPES: tuple[Scope, ...] = ("ingest", "read", "admin")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's scope, its tenant (``None``: all tenants) and key id (``None``: auth off)."""

    scope: str
    tenant: str | None
    key_id: str | None


OPEN_PRINCIPAL = Principal("admin", None, None)
# The senders this process started itself (runtime.process_ingest_key): ingest only, every tenant.
PROCESS_PRINCIPAL = Principal("ingest", None, "process")


def _is_process_key(request: Any, key: str) -> bool:
    expected = getattr(request.app.state.runtime, "process_ingest_key", "")
    return bool(expected) and hmac.compare_digest(key.encode(), expected.encode())


def presented_key(headers: Any) -> str | None:
    """The key from ``Authorization: Bearer <key>`` or ``x-api-key``; ``None`` when neither is sent."""
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = headers.get("x-api-key")
    if key and key.strip():
        return key.strip()
    if authorization:  # e.g. Basic credentials from a proxy, and no x-api-key beside them
        raise Unauthorized("send the API key as 'Authorization: Bearer <key>' or 'x-api-key: <key>'")
    return None


MINT_HINT = "create one on the server's host with `tiermix keys create --all-tenants --scope admin`"


def auth_required(request: Any, meta: Any) -> bool:
    """Whether this deployment authenticates (see the module docstring); checked on every request."""
    from tiermix_server.meta.keys import keys_ever_created

    settings = request.app.state.runtime.settings
    if not (settings.listens_on_loopback or settings.insecure):
        return True
    return keys_ever_created(meta)


def authenticate(request: Any, needed: str) -> Principal:
    """The principal behind ``request`` if it may do ``needed`` (``ingest``, ``read`` or ``admin``)."""
    from tiermix_server.meta.keys import any_active_key, verify_key

    if needed not in SCOPES:
        raise ValueError(f"unknown scope {needed!r}")
    meta = request.app.state.runtime.metadata()
    try:
        key = presented_key(request.headers)
        if key is not None and needed == "ingest" and _is_process_key(request, key):
            return PROCESS_PRINCIPAL
    except Unauthorized:
        if not auth_required(request, meta):
            return OPEN_PRINCIPAL  # auth is off: a proxy's own Authorization header is no concern of ours
        raise
    if key is None:
        if not auth_required(request, meta):
            return OPEN_PRINCIPAL
        if not any_active_key(meta):
            raise Unauthorized(f"this server requires an API key and none is active: {MINT_HINT}")
        raise Unauthorized("an API key is required (Authorization: Bearer <key> or x-api-key)")
    info = verify_key(meta, key)
    if info is None:
        if not auth_required(request, meta):
            return OPEN_PRINCIPAL  # auth is off: a stale key from a previous setup is not an error
        raise Unauthorized("unknown or revoked API key")
    principal = Principal(info.scope, info.tenant, info.prefix)
    if principal.scope != "admin" and principal.scope != needed:
        raise Forbidden(f"this API key has scope {principal.scope!r}; this needs {needed!r}")
    return principal


def ingest_tenant(principal: Principal, claimed: str) -> str:
    """The tenant a span is stored under: a tenant-bound key's tenant, whatever the span claims."""
    return principal.tenant if principal.tenant is not None else claimed


def read_tenant(principal: Principal, requested: str | None) -> str | None:
    """The tenant filter a query must use: a tenant-bound key only ever sees its own tenant.

    Asking a tenant-bound key for another tenant is refused (403) instead of silently answering for the
    key's own tenant, so a dashboard never labels one tenant's numbers with another's name.
    """
    if principal.tenant is None:
        return requested or None
    if requested and requested != principal.tenant:
        raise Forbidden(f"this API key is bound to tenant {principal.tenant!r}")
    return principal.tenant
