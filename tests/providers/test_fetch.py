"""The public-URL fetcher's address rules, and its default resolver (the operating system's)."""

from __future__ import annotations

import httpx
import pytest

from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from providers.fetch import PublicFetcher, is_public_address, system_resolver
from providers.http import ErrorFamily


class FetchError(ProviderError): ...


class FetchUnavailable(FetchError, ProviderUnavailable): ...


class FetchRateLimited(FetchUnavailable, ProviderRateLimited): ...


class FetchAuthError(FetchError, ProviderAuthError): ...


class FetchRejected(FetchError, ProviderRejected): ...


FAMILY = ErrorFamily(FetchUnavailable, FetchRateLimited, FetchAuthError, FetchRejected)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("169.254.169.254", False),  # cloud metadata
        ("fd00:ec2::254", False),  # AWS metadata over IPv6
        ("0.0.0.0", False),
        ("::", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("224.0.0.1", False),
        ("ff02::1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::ffff:10.0.0.1", False),  # IPv4-mapped
        ("2002:a00:1::1", False),  # 6to4 of 10.0.0.1
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("not an address", False),
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_the_default_resolver_refuses_a_name_that_points_at_this_machine() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"secret")

    assert "127.0.0.1" in system_resolver("localhost", 443)
    fetcher = PublicFetcher(name="acme", errors=FAMILY, max_bytes=100, transport=httpx.MockTransport(handler))
    with pytest.raises(FetchRejected, match="not a public address"):
        fetcher.get("https://localhost/admin")
    assert seen == []
    fetcher.close()
