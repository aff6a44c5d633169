"""SSRF protection for merchant webhook endpoint URLs.

A merchant chooses the URL we POST events to, so without checks they could make our servers
call internal services or the cloud metadata endpoint (169.254.169.254). Every address the
host resolves to must be publicly routable. Call ``check_webhook_url`` when an endpoint is
registered and ``resolve_and_check`` right before each delivery (DNS can change), then connect
to one of the vetted addresses it returns and never resolve the name again: a name that answers
a public address to the check and 127.0.0.1 to the connection (DNS rebinding) would otherwise
reach an internal service (``app.notifications.delivery`` pins the connection).

Rejections never say what a name resolves to, so the registration API cannot be used to map
internal DNS.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from app.errors import InvalidRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def check_webhook_url(
    url: str,
    *,
    allow_private: bool,
    resolve: Callable[..., list[Any]] | None = None,
) -> None:
    """Accept ``url`` as a webhook endpoint or raise ``InvalidRequest(param="url")``.

    Rules: the scheme is https (http only when ``allow_private``); there is a host; the host
    (a name or a literal IPv4/IPv6 address) resolves, and none of its addresses is loopback,
    private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16, fe80::/10),
    unspecified, multicast, reserved or otherwise not globally routable, including the same
    addresses embedded in IPv6 (IPv4-mapped ``::ffff:a.b.c.d``, 6to4, NAT64).
    ``allow_private`` (development, ``WEBHOOK_ALLOW_PRIVATE_URLS``) additionally permits ``http``
    and loopback addresses (127.0.0.0/8, ::1) only: a developer's own machine, never the
    private networks (10/8, 172.16/12, 192.168/16, fc00::/7) a server may sit in.

    ``resolve`` has the signature of ``socket.getaddrinfo`` (default: ``socket.getaddrinfo``
    looked up at call time, so a test can replace it).
    """
    resolve_and_check(url, allow_private=allow_private, resolve=resolve)


def resolve_and_check(
    url: str,
    *,
    allow_private: bool,
    resolve: Callable[..., list[Any]] | None = None,
) -> list[str]:
    """Apply the rules of ``check_webhook_url`` and return the vetted IP addresses of the host
    as strings, without duplicates, in resolver order. Raises ``InvalidRequest(param="url")``.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        raise _invalid("Not a valid URL.") from None
    allowed_schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in allowed_schemes:
        raise _invalid("Webhook endpoints must use https.")
    if not host:
        raise _invalid("The URL has no host.")

    default_port = 443 if parts.scheme == "https" else 80
    addresses = _addresses(host, port or default_port, resolve or socket.getaddrinfo)
    if any(_forbidden(address, allow_private) for address in addresses):
        # A literal address is the merchant's own input; what a name resolves to is ours.
        what = f"{host} is not a public address" if _is_literal(host) else f"{host} is not publicly reachable"
        raise _invalid(f"{what}; webhook endpoints must be reachable from the internet.")
    return list(dict.fromkeys(str(address) for address in addresses))


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _addresses(host: str, port: int, resolve: Callable[..., list[Any]]) -> list[IPAddress]:
    """The IP addresses of ``host``: itself when it is a literal, else what ``resolve`` says."""
    if _is_literal(host):
        return [ipaddress.ip_address(host)]
    try:
        results = resolve(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):  # socket.gaierror is an OSError
        raise _invalid(f"The host {host} could not be resolved.") from None
    if not results:
        raise _invalid(f"The host {host} could not be resolved.")
    # sockaddr[0] is the address; IPv6 ones may carry a zone ("fe80::1%eth0").
    return [ipaddress.ip_address(sockaddr[0].split("%")[0]) for *_, sockaddr in results]


def _forbidden(address: IPAddress, allow_private: bool) -> bool:
    """Whether we must not connect to ``address`` (or an IPv4 address embedded in it)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return _forbidden(embedded, allow_private)
        if address.is_site_local:
            return True
    if (
        address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or (address.is_reserved and not address.is_loopback)  # ::1 lies in reserved ::/8
    ):
        return True
    if address.is_global:
        return False
    return not (allow_private and address.is_loopback)


def _invalid(reason: str) -> InvalidRequest:
    return InvalidRequest(f"Invalid url: {reason}", param="url")
