"""Where an alert channel may connect: no way into the collector's own network through a rule.

A tenant admin writes rules, and a rule's channel is a URL or an SMTP host the collector connects to, so
an unchecked channel would let a tenant probe or call anything the collector can reach: the cloud
metadata service (169.254.169.254), the collector's own admin API on 127.0.0.1, Redis on localhost.

The policy, decided per rule:
- never, for any rule: link-local (169.254.0.0/16, fe80::/10 — metadata services), multicast,
  unspecified and reserved addresses;
- for a rule scoped to a tenant (``filters.tenant``: every rule a tenant-bound key may write), also
  loopback, private (RFC 1918, fc00::/7), carrier-grade NAT and every other non-global address;
- unless the operator allows it: ``TIERMIX_CHANNEL_ALLOW`` lists networks (``10.1.2.0/24``) and host
  names (``hooks.internal``) any rule may reach.
Resolve, then connect: the host is resolved once, *every* address it resolves to must pass, and the
connection goes to the address that was checked (the URL's host travels as ``Host`` and TLS SNI), so a
DNS answer that changes between the check and the connect (rebinding) cannot take it elsewhere.
Redirects are never followed. Numeric spellings (``0x7f000001``, ``2130706433``) resolve like any host
and are judged by the address they resolve to.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

_CGNAT = ipaddress.ip_network("100.64.0.0/10")


class DestinationRefused(Exception):
    """The channel's destination is not allowed by the policy (never retried)."""


class Unresolvable(DestinationRefused):
    """The host does not resolve (now): nothing to connect to, and nothing to judge yet."""


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, slots=True)
class DestinationPolicy:
    private_allowed: bool
    allowed_networks: tuple[Network, ...] = ()
    allowed_hosts: frozenset[str] = frozenset()
    resolver: Resolver = field(default=system_resolver, compare=False)

    def refusal(self, address: Address) -> str | None:
        """Why ``address`` may not be reached (None: it may)."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.allowed_networks):
            return None
        if address.is_link_local or address.is_multicast or address.is_unspecified or address.is_reserved:
            return "a link-local, multicast or reserved address"
        if self.private_allowed:
            return None
        if address.is_loopback:
            return "a loopback address"
        if address.is_private or address in _CGNAT or not address.is_global:
            return "a private or internal address"
        return None

    def resolve(self, host: str, port: int) -> str:
        """The address to connect to for ``host``; raises ``DestinationRefused``."""
        name = host.strip("[]").lower()
        if name in self.allowed_hosts:
            addresses = self.resolver(name, port)
            if not addresses:
                raise Unresolvable(f"{host} does not resolve")
            return addresses[0]
        try:
            addresses = self.resolver(name, port)
        except OSError as exc:
            raise Unresolvable(f"{host} does not resolve: {exc}") from None
        if not addresses:
            raise Unresolvable(f"{host} does not resolve")
        for text in addresses:
            reason = self.refusal(ipaddress.ip_address(text.split("%", 1)[0]))
            if reason is not None:
                raise DestinationRefused(f"{host} resolves to {reason}, which alert channels may not reach")
        return addresses[0]

    async def resolve_async(self, host: str, port: int) -> str:
        return await asyncio.to_thread(self.resolve, host, port)


def policy_for(tenant: str | None, allow: str, resolver: Resolver = system_resolver) -> DestinationPolicy:
    """The policy of a rule scoped to ``tenant`` (None: a global, operator's rule)."""
    networks, hosts = parse_allow(allow)
    return DestinationPolicy(tenant is None, networks, hosts, resolver)


def parse_allow(allow: str | Iterable[str]) -> tuple[tuple[Network, ...], frozenset[str]]:
    """``TIERMIX_CHANNEL_ALLOW``: networks and host names, comma-separated."""
    parts = allow.split(",") if isinstance(allow, str) else list(allow)
    networks: list[Network] = []
    hosts: set[str] = set()
    for part in (p.strip() for p in parts):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            hosts.add(part.lower())
    return tuple(networks), frozenset(hosts)


def endpoint(channel: Any) -> tuple[str, int]:
    """(host, port) a channel connects to: its SMTP server, or its URL's host and port."""
    if getattr(channel, "type", "") == "email":
        return str(channel.smtp_host), int(channel.smtp_port)
    return url_endpoint(str(channel.url))


def url_endpoint(url: str) -> tuple[str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def url_for_address(url: str, address: str) -> tuple[str, str]:
    """``url`` with its host replaced by ``address``, and the ``Host`` header the server expects."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    literal = f"[{address}]" if ":" in address else address
    netloc = literal + (f":{parts.port}" if parts.port else "")
    host_header = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), host_header
