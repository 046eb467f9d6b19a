"""python-telegram-bot's request interface over aiohttp, for the outbox sender's hot path.

PTB talks HTTP through a `BaseRequest` whose subclasses implement one method (`do_request`); PTB
keeps mapping statuses and bodies to its errors (RetryAfter, Forbidden, BadRequest...). Its default,
httpx, topped out near 650 sendMessage calls a second on this 2-core machine, too close to a
300/s broadcast: the event loop lagged, sends reached Telegram bunched and drew 429s. The same sends
over aiohttp cost a fraction of that. Only the sender uses it (text messages; no file uploads).
"""

from __future__ import annotations

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

__all__ = ["AiohttpRequest"]

Timeout = float | None


class AiohttpRequest(BaseRequest):
    """A pooled aiohttp session behind python-telegram-bot's Bot."""

    def __init__(
        self,
        *,
        connection_pool_size: int = 64,
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
        pool_timeout: float = 5.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The read timeout used when a call gives none."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (idempotent)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self._pool_size))

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """One HTTP request; aiohttp's failures become PTB's TimedOut / NetworkError here."""
        await self.initialize()  # a session belongs to a running loop: opened at first use if not before
        assert self._session is not None
        if request_data is not None and request_data.contains_files:
            raise NetworkError("AiohttpRequest sends text only: file uploads go through the adapter's bot")
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=_given(pool_timeout, self._pool_timeout) + _given(connect_timeout, self._connect_timeout),
            sock_connect=_given(connect_timeout, self._connect_timeout),
            sock_read=_given(read_timeout, self._read_timeout),
        )
        try:
            async with self._session.request(
                method,
                url,
                data=request_data.json_parameters if request_data else None,
                headers={"User-Agent": self.USER_AGENT},
                timeout=timeout,
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:  # before ClientError: aiohttp's ServerTimeoutError is both
            raise TimedOut from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error


def _given(value: object, default: float) -> float:
    return float(value) if isinstance(value, int | float) else default
