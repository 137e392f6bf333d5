"""Where alert webhooks may go: never to this host, its network or the cloud's metadata service (SSRF), unless
the operator names the target in `api.webhook_allow_hosts`.

A URL is checked when a rule is created (422) and again at each delivery: the host is resolved once, every
address it resolves to must be public (not loopback, private, link-local — 169.254.0.0/16 holds cloud metadata
— multicast, reserved or unspecified), and the POST connects to that resolved address (with the original Host
header and TLS server name), so a DNS answer that changes between check and connect (rebinding) cannot move
the request. Redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from marketpulse.errors import MarketPulseError

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookTargetError(MarketPulseError):
    """A webhook URL points where webhooks may not go (or does not resolve); the message says why."""

    http_status = 422


@dataclass(frozen=True)
class ResolvedTarget:
    """A checked webhook: the URL to connect to (host replaced by the checked address) and the original host."""

    connect_url: str
    #: The Host header (and TLS server name, without the port) of the original URL.
    host_header: str
    host: str
    address: str


def _forbidden(address: IpAddress) -> str | None:
    """Why webhooks may not go to this address, or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for reason, hit in (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local (cloud metadata lives there)", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if hit:
            return reason
    return None


def _allowed(host: str, address: IpAddress, allow: Sequence[str]) -> bool:
    """The operator's allowlist: host names (exact, case-insensitive), addresses and networks (CIDR)."""
    for entry in allow:
        if entry.lower() == host.lower():
            return True
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue  # a host name that is not this one
    return False


def resolve_target(url: str, allow: Sequence[str]) -> ResolvedTarget:
    """Check `url` and pin it to one checked address; raises WebhookTargetError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookTargetError(f"webhook URL must be http(s)://host/...: {url!r}")
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebhookTargetError(f"webhook host {host!r} does not resolve: {exc}") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]  # "%": IPv6 zone
    for address in addresses:
        reason = _forbidden(address)
        if reason and not _allowed(host, address, allow):
            raise WebhookTargetError(
                f"webhook host {host!r} resolves to {address}, a {reason} address: refused (an operator may "
                "allow it with api.webhook_allow_hosts)"
            )
    chosen = addresses[0]
    literal = f"[{chosen}]" if chosen.version == 6 else str(chosen)
    netloc = f"{literal}:{port}"
    connect_url = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    return ResolvedTarget(connect_url, parts.netloc.rsplit("@", 1)[-1], host, str(chosen))
