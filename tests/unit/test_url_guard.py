"""SSRF guard for webhook endpoint URLs."""

import socket

import pytest

from app.errors import InvalidRequest
from app.url_guard import check_webhook_url, resolve_and_check


def resolver(*addresses):
    """A fake ``socket.getaddrinfo`` returning ``addresses`` for any host."""

    def resolve(host, port, *args, **kwargs):
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (address, port, 0, 0) if ":" in address else (address, port),
            )
            for address in addresses
        ]

    return resolve


def unresolvable(host, port, *args, **kwargs):
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def must_not_resolve(*args, **kwargs):
    raise AssertionError("literal addresses must not go through the resolver")


def rejected(url, *, allow_private=False, resolve=must_not_resolve):
    with pytest.raises(InvalidRequest) as info:
        check_webhook_url(url, allow_private=allow_private, resolve=resolve)
    assert info.value.param == "url"
    return info.value.message


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "10.0.0.1",
        "10.255.255.255",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "100.64.0.1",
        "224.0.0.1",
        "240.0.0.1",
        "[::1]",
        "[fe80::1]",
        "[fc00::1]",
        "[fd12:3456::1]",
        "[::]",
        "[ff02::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:169.254.169.254]",
        "[2002:a00:1::1]",
        "[64:ff9b::a00:1]",
    ],
)
def test_non_public_literal_addresses_are_rejected(host):
    assert "not a public address" in rejected(f"https://{host}/hooks")


def test_metadata_address_rejected_even_when_private_allowed():
    rejected("http://169.254.169.254/latest/meta-data", allow_private=True)
    rejected("https://[fe80::1]/", allow_private=True)


def test_hostname_resolving_to_private_address_is_rejected_without_saying_where_it_points():
    # Issue 7, finding 8: the answer must not map internal DNS for whoever registers a URL.
    message = rejected("https://hooks.example.com/x", resolve=resolver("10.0.0.5"))
    assert "hooks.example.com is not publicly reachable" in message
    assert "10.0.0.5" not in message
    message = rejected("https://db.internal.example/x", resolve=resolver("93.184.216.34", "fd00::7"))
    assert "fd00" not in message and "93.184" not in message


def test_any_private_address_among_several_is_rejected():
    rejected("https://hooks.example.com/x", resolve=resolver("93.184.216.34", "192.168.0.7"))
    rejected("https://hooks.example.com/x", resolve=resolver("2606:2800:220:1::1", "::1"))


def test_public_address_is_accepted():
    check_webhook_url(
        "https://hooks.example.com/x",
        allow_private=False,
        resolve=resolver("93.184.216.34"),
    )
    check_webhook_url("https://93.184.216.34/x", allow_private=False, resolve=must_not_resolve)


def test_resolve_and_check_returns_vetted_addresses():
    resolve = resolver("93.184.216.34", "2606:2800:220:1::1", "93.184.216.34")
    assert resolve_and_check("https://hooks.example.com", allow_private=False, resolve=resolve) == [
        "93.184.216.34",
        "2606:2800:220:1::1",
    ]


def test_unresolvable_host_is_rejected():
    assert "could not be resolved" in rejected("https://nope.invalid/", resolve=unresolvable)
    assert "could not be resolved" in rejected("https://empty.example/", resolve=resolver())


@pytest.mark.parametrize("url", ["http://hooks.example.com/x", "ftp://hooks.example.com/x"])
def test_only_https_in_production(url):
    assert "https" in rejected(url, resolve=resolver("93.184.216.34"))


@pytest.mark.parametrize("url", ["https:///path", "https://", "not a url", "https://h:99999/"])
def test_malformed_urls_are_rejected(url):
    rejected(url, resolve=resolver("93.184.216.34"))


def test_allow_private_permits_local_http():
    check_webhook_url("http://127.0.0.1:8000/hooks", allow_private=True, resolve=must_not_resolve)
    check_webhook_url("http://[::1]:8000/hooks", allow_private=True, resolve=must_not_resolve)
    check_webhook_url("http://localhost:8000/", allow_private=True, resolve=resolver("127.0.0.1"))
    check_webhook_url("http://127.9.9.9:8000/", allow_private=True, resolve=must_not_resolve)
    check_webhook_url("http://[::ffff:127.0.0.1]:8000/", allow_private=True, resolve=must_not_resolve)
    rejected("ftp://127.0.0.1/", allow_private=True)


@pytest.mark.parametrize(
    "host",
    ["10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1", "[fd12:3456::1]", "[fc00::1]"],
)
def test_allow_private_permits_loopback_only_not_private_networks(host):
    # Issue 7, finding 15: development mode needs the developer's own machine, not the LAN.
    assert "not a public address" in rejected(f"https://{host}/hooks", allow_private=True)
    assert "not a public address" in rejected(f"http://{host}:8000/hooks", allow_private=True)


def test_allow_private_rejects_a_name_resolving_to_a_private_network():
    rejected("http://printer.lan/", allow_private=True, resolve=resolver("127.0.0.1", "192.168.1.20"))
    check_webhook_url("http://localhost/", allow_private=True, resolve=resolver("127.0.0.1", "::1"))


def test_the_resolver_is_looked_up_at_call_time(monkeypatch):
    # Delivery tests replace socket.getaddrinfo; the guard must see the same answers.
    monkeypatch.setattr(socket, "getaddrinfo", resolver("192.168.7.7"))
    with pytest.raises(InvalidRequest):
        resolve_and_check("http://hooks.merchant.test/", allow_private=True)
