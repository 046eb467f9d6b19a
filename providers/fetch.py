"""Fetching a URL that a creator or a vendor supplied, without letting it reach inside our network.

`PublicFetcher.get(url)` allows only https to public addresses. It resolves the host itself and
refuses loopback, private, link-local (and so the cloud metadata address 169.254.169.254),
multicast, reserved and unspecified addresses, and fd00:ec2::254; it then connects to the very
address it checked (the URL's host goes in the Host header and TLS SNI, and the certificate is
verified against it), so a DNS answer that changes between the check and the connection (DNS
rebinding) cannot send the request elsewhere. Redirects are followed by hand, at most
`max_redirects`, and every hop is checked again. The body is streamed and refused as soon as it
passes `max_bytes` (or when Content-Length says it will).

Errors are the caller's provider family: a refused URL or an oversized body is `rejected`
(never retried); timeouts, connection failures and 5xx are `unavailable` (a GET, so retried).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from typing import Final

import httpx

from providers.http import ErrorFamily, never_sent
from providers.retry import RetryPolicy, call_with_retry

__all__ = ["PublicFetcher", "Resolver", "is_public_address", "system_resolver"]

Resolver = Callable[[str, int], list[str]]
"""(host, port) -> the IP addresses it resolves to, as strings."""

_METADATA: Final = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the operating system resolves `host` to (every family)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def is_public_address(address: str) -> bool:
    """Whether an IP address is one the public internet routes to us as someone else's.

    False for loopback, private, shared (100.64/10), link-local, multicast, reserved, unspecified,
    the cloud metadata addresses, and IPv6 forms that embed such an IPv4 address.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and not is_public_address(str(embedded)):
            return False
    return not (
        ip in _METADATA
        or not ip.is_global
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


class PublicFetcher:
    """GETs https URLs on public addresses only, every redirect hop checked, the body size-capped."""

    def __init__(
        self,
        *,
        name: str,
        errors: ErrorFamily,
        max_bytes: int,
        max_redirects: int = 5,
        timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        resolve: Resolver = system_resolver,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.max_bytes = max_bytes
        self._errors = errors
        self._max_redirects = max_redirects
        self._retry = retry
        self._resolve = resolve
        self._sleep = sleep
        self._transport, self._timeout = transport, timeout
        self._opened: httpx.Client | None = None

    @property
    def _client(self) -> httpx.Client:
        if self._opened is None:  # on first use: most providers never download anything
            self._opened = httpx.Client(transport=self._transport, timeout=self._timeout, follow_redirects=False)
        return self._opened

    def close(self) -> None:
        """Close the connection pool."""
        if self._opened is not None:
            self._opened.close()

    def get(self, url: str, *, what: str = "the file") -> bytes:
        """The body at `url` (retried on timeouts and 5xx); `rejected` for a URL or a hop that is not allowed."""
        return call_with_retry(
            lambda: self._follow(url, what), self._retry, what=f"{self.name} download", sleep=self._sleep
        )

    def _follow(self, url: str, what: str) -> bytes:
        target = self._parse(url)
        for _ in range(self._max_redirects + 1):
            pinned, host_header, sni = self._pin(target)
            request = self._client.build_request(
                "GET", pinned, headers={"Host": host_header}, extensions={"sni_hostname": sni}
            )
            try:
                response = self._client.send(request, stream=True)
            except httpx.TransportError as error:  # timeouts included
                failed = "timed out" if isinstance(error, httpx.TimeoutException) else "failed"
                raise self._errors.unavailable(
                    f"{self.name}: downloading {what} {failed} ({type(error).__name__})",
                    maybe_delivered=not never_sent(error),
                ) from error
            try:
                status = response.status_code
                if status in _REDIRECTS and "location" in response.headers:
                    target = self._parse(str(target.join(response.headers["location"])))
                    continue
                if status >= 500:
                    raise self._errors.unavailable(f"{self.name}: the URL of {what} answered HTTP {status}")
                if status >= 300:
                    raise self._errors.rejected(f"{self.name}: the URL of {what} answered HTTP {status}")
                return self._read(response, what)
            finally:
                response.close()
        raise self._errors.rejected(f"{self.name}: the URL of {what} redirects more than {self._max_redirects} times")

    def _parse(self, url: str) -> httpx.URL:
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as error:
            raise self._errors.rejected(f"{self.name}: not a URL: {url[:80]!r}") from error
        if parsed.scheme != "https" or not parsed.host:
            raise self._errors.rejected(f"{self.name}: only https URLs may be fetched, not {url[:80]!r}")
        if parsed.userinfo:
            raise self._errors.rejected(f"{self.name}: a URL to fetch may not carry credentials")
        return parsed

    def _pin(self, url: httpx.URL) -> tuple[httpx.URL, str, str]:
        """(the URL with its host replaced by a checked public address, the Host header, the TLS SNI name)."""
        host, port = url.host, url.port or 443
        try:
            addresses = [host] if _is_ip(host) else self._resolve(host, port)
        except (OSError, UnicodeError) as error:
            raise self._errors.rejected(f"{self.name}: cannot resolve {host[:80]!r}") from error
        if not addresses:
            raise self._errors.rejected(f"{self.name}: {host[:80]!r} resolves to no address")
        refused = [address for address in addresses if not is_public_address(address)]
        if refused:  # one private answer is enough to refuse: the connection could go to any of them
            raise self._errors.rejected(
                f"{self.name}: {host[:80]!r} is not a public address ({refused[0]}): refused to fetch it"
            )
        host_header = host if url.port is None else f"{host}:{url.port}"
        if ":" in host and not host.startswith("["):
            host_header = f"[{host}]" if url.port is None else f"[{host}]:{url.port}"
        return url.copy_with(host=addresses[0]), host_header, host

    def _read(self, response: httpx.Response, what: str) -> bytes:
        too_large = self._errors.rejected(f"{self.name}: {what} is larger than {self.max_bytes:,} bytes")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise too_large
        body = bytearray()
        try:
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > self.max_bytes:
                    raise too_large
        except httpx.TransportError as error:
            raise self._errors.unavailable(
                f"{self.name}: downloading {what} failed ({type(error).__name__})"
            ) from error
        return bytes(body)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
