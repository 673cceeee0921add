"""Redaction of captured content, before anything is written (docs/security.md).

The hook is ``str -> str``, applied to every string *inside* the captured request (message texts,
roles, parameters) and to the answer, so the stored request stays valid JSON whatever the hook does.
The default replaces e-mail addresses and strings that look like credentials; an operator's own hook
(``TIERMIX_CAPTURE_REDACT=module:function``) replaces the default. A hook that raises makes the call
not captured (counted), never stored unredacted.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

Redactor = Callable[[str], str]

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# Credential shapes: provider and platform key prefixes, bearer tokens, key=value assignments, and JWTs.
SECRET = re.compile(
    r"(?:"
    r"\bsk-(?:ant-|proj-|live-|test-)?[A-Za-z0-9_-]{16,}"  # OpenAI, Anthropic, Stripe-style
    r"|\btmx_[A-Za-z0-9]+_[A-Za-z0-9_-]{16,}"  # tiermix API keys
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"  # AWS access key ids
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}"  # GitHub tokens
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}"  # Slack tokens
    r"|\bAIza[0-9A-Za-z_-]{35}"  # Google API keys
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # JWTs
    r"|(?i:\bbearer\s+)[A-Za-z0-9._~+/-]{16,}=*"
    r"|(?i:\b(?:api[_-]?key|secret|token|password|passwd)\b\s*[:=]\s*)[^\s,;]{6,}"
    r")"
)
EMAIL_MARK = "[redacted:email]"
SECRET_MARK = "[redacted:secret]"


def default_redact(text: str) -> str:
    return EMAIL.sub(EMAIL_MARK, SECRET.sub(SECRET_MARK, text))


def load_redactor(spec: str) -> Redactor:
    """The hook named ``module:function``, or the default for an empty spec; a bad name fails at start."""
    if not spec:
        return default_redact
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"TIERMIX_CAPTURE_REDACT={spec!r}: expected module:function")
    hook = getattr(importlib.import_module(module_name), attr, None)
    if not callable(hook):
        raise ValueError(f"TIERMIX_CAPTURE_REDACT={spec!r}: {attr!r} is not a callable of {module_name}")
    return hook


def redact_value(value: Any, hook: Redactor) -> Any:
    """``value`` (parsed JSON) with ``hook`` applied to every string in it; raises what the hook raises."""
    if isinstance(value, str):
        out = hook(value)
        if not isinstance(out, str):
            raise TypeError(f"redaction hook returned {type(out).__name__}, not str")
        return out
    if isinstance(value, list):
        return [redact_value(item, hook) for item in value]
    if isinstance(value, dict):
        return {key: redact_value(item, hook) for key, item in value.items()}
    return value
