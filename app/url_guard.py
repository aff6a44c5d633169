"""SSRF protection for merchant webhook endpoint URLs.

A merchant chooses the URL we POST events to, so without checks they could make our servers
call internal services or the cloud metadata endpoint (169.254.169.254). Every address the
host resolves to must be publicly routable. Call ``check_webhook_url`` when an endpoint is
registered and ``resolve_and_check`` right before each delivery (DNS can change), then connect
to one of the vetted addresses it returns.
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
    resolve: Callable[..., list[Any]] = socket.getaddrinfo,
) -> None:
    """Accept ``url`` as a webhook endpoint or raise ``InvalidRequest(param="url")``.

    Rules: the scheme is https (http only when ``allow_private``); there is a host; the host
    (a name or a literal IPv4/IPv6 address) resolves, and none of its addresses is loopback,
    private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16, fe80::/10),
    unspecified, multicast, reserved or otherwise not globally routable, including the same
    addresses embedded in IPv6 (IPv4-mapped ``::ffff:a.b.c.d``, 6to4, NAT64).
    ``allow_private`` (development) additionally permits loopback and private addresses.

    ``resolve`` has the signature of ``socket.getaddrinfo`` (injected in tests).
    """
    resolve_and_check(url, allow_private=allow_private, resolve=resolve)


def resolve_and_check(
    url: str,
    *,
    allow_private: bool,
    resolve: Callable[..., list[Any]] = socket.getaddrinfo,
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

    addresses = _addresses(host, port or (443 if parts.scheme == "https" else 80), resolve)
    for address in addresses:
        if _forbidden(address, allow_private):
            raise _invalid(
                f"The host {host} resolves to {address}, which is not a public address; "
                "webhook endpoints must be reachable from the internet."
            )
    return list(dict.fromkeys(str(address) for address in addresses))


def _addresses(host: str, port: int, resolve: Callable[..., list[Any]]) -> list[IPAddress]:
    """The IP addresses of ``host``: itself when it is a literal, else what ``resolve`` says."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
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
    return not (allow_private and (address.is_loopback or address.is_private))


def _invalid(reason: str) -> InvalidRequest:
    return InvalidRequest(f"Invalid url: {reason}", param="url")
