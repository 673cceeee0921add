"""HTTP access to the tiermix query API, and nothing else (no Streamlit, no pandas).

Every failure becomes one of a few ``ApiError`` subclasses carrying a sentence a FinOps user can act
on, so pages show a clear message instead of a traceback: the API is down (``ApiUnreachable``), wants
a key (``ApiUnauthorized``), refuses the key (``ApiForbidden``), lacks an endpoint (``ApiNotFound``,
e.g. a collector older than the dashboard), rejected the input (``ApiBadRequest``) or failed
(``ApiServerError``). Error bodies are ``{"error": {"code", "message"}}`` (docs/api.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

Params = Mapping[str, str | int | float | None]

# The collector's server (uvicorn) closes a connection after 5 s idle, and httpx would reuse one for up
# to 5 s: a request sent as the server closes meets a reset before the server has read it. Connections
# are given up sooner, and a request that changes nothing if sent twice is sent once more on a new
# connection when an established one fails under it (a POST is not: it may have been acted on).
KEEPALIVE_EXPIRY_S = 2.0
RESENDABLE_METHODS = frozenset({"GET", "PUT", "DELETE"})
STALE_CONNECTION_ERRORS = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


class ApiError(Exception):
    """Base of every error this client raises."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class ApiUnreachable(ApiError):
    """No answer from the API (connection refused, DNS, timeout)."""


class ApiUnauthorized(ApiError):
    """401: the API needs a read key, or the key given is unknown."""


class ApiForbidden(ApiError):
    """403: the key is valid but lacks the scope for this request."""


class ApiNotFound(ApiError):
    """404: the endpoint or the object does not exist on this API."""


class ApiBadRequest(ApiError):
    """Another 4xx: the API rejected the request's input."""


class ApiServerError(ApiError):
    """5xx, or an answer that is not the JSON the API promises."""


class ApiClient:
    """A thin synchronous client; one instance per (API URL, key), reused across reruns."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 15.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Accept": "application/json", "User-Agent": "tiermix-dashboard"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=timeout_s,
            transport=transport,
            limits=httpx.Limits(
                max_connections=100, max_keepalive_connections=20, keepalive_expiry=KEEPALIVE_EXPIRY_S
            ),
        )

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, params: Params | None = None) -> Any:
        return self._request("GET", path, params=params)

    def post(self, path: str, body: Any) -> Any:
        return self._request("POST", path, json=body)

    def put(self, path: str, body: Any) -> Any:
        return self._request("PUT", path, json=body)

    def patch(self, path: str, body: Any) -> Any:
        return self._request("PATCH", path, json=body)

    def delete(self, path: str) -> Any:
        return self._request("DELETE", path)

    def _request(self, method: str, path: str, *, params: Params | None = None, json: Any = None) -> Any:
        clean = {key: value for key, value in (params or {}).items() if value not in (None, "")}
        try:
            try:
                response = self._http.request(method, path, params=clean, json=json)
            except STALE_CONNECTION_ERRORS:
                if method not in RESENDABLE_METHODS:
                    raise
                response = self._http.request(method, path, params=clean, json=json)
        except httpx.TimeoutException as exc:
            message = f"the tiermix API at {self.base_url} did not answer in time ({exc})"
            raise ApiUnreachable(message) from None
        except httpx.HTTPError as exc:
            raise ApiUnreachable(f"cannot reach the tiermix API at {self.base_url} ({exc})") from None
        if response.status_code >= 400:
            raise _error_for(response, method, path)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ApiServerError(
                f"{method} {path} answered {response.status_code} with a body that is not JSON",
                status=response.status_code,
            ) from None


def _error_for(response: httpx.Response, method: str, path: str) -> ApiError:
    status = response.status_code
    code, message = _error_body(response)
    detail = message or response.reason_phrase or "no detail"
    if status == 401:
        return ApiUnauthorized(f"the API needs a valid read key: {detail}", status=status, code=code)
    if status == 403:
        return ApiForbidden(f"this key may not read {path}: {detail}", status=status, code=code)
    if status == 404:
        message = f"{method} {path} is not available on this API: {detail}"
        return ApiNotFound(message, status=status, code=code)
    if status < 500:
        return ApiBadRequest(f"the API rejected {method} {path}: {detail}", status=status, code=code)
    return ApiServerError(f"the API failed on {method} {path} ({status}): {detail}", status=status, code=code)


def _error_body(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:300].strip()
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("code") or ""), str(error.get("message") or "")
    if isinstance(body, dict) and "detail" in body:
        return "", str(body["detail"])
    return "", ""
