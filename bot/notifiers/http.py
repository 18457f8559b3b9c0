"""What the HTTP channels share: one httpx client each, a send pace, and HTTP outcomes mapped to
retry-later (429, 5xx, network) or never (left to each channel: it knows its error codes)."""
from __future__ import annotations

import asyncio
import time

import httpx

from checker import redact
from checker.notify import RetryableError


class Pace:
    """At most `per_second` sends per second across all recipients of a channel (its rate limit)."""

    def __init__(self, per_second: float):
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.lock = asyncio.Lock()
        self.last = 0.0

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self.lock:
            delay = self.last + self.interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.last = time.monotonic()


class HttpChannel:
    """An httpx.AsyncClient made on first use (in the loop that sends), a pace, and error mapping."""

    def __init__(self, timeout: float, per_second: float):
        self.timeout = timeout
        self.pace = Pace(per_second)
        self._client: httpx.AsyncClient | None = None
        self._loop = None

    @property
    def client(self) -> httpx.AsyncClient:
        """The client of the running loop (a client is bound to the loop it was made in)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client, self._loop = httpx.AsyncClient(timeout=self.timeout, trust_env=False), loop
        return self._client

    async def close(self) -> None:
        if self._client is not None and self._loop is asyncio.get_running_loop():
            await self._client.aclose()
        self._client = None

    async def request(self, method: str, url: str, **kw) -> httpx.Response:
        """One request; a network failure, 429 or 5xx raise RetryableError (429's Retry-After kept)."""
        await self.pace.wait()
        try:
            response = await self.client.request(method, url, **kw)
        except httpx.HTTPError as exc:
            raise RetryableError(f"网络错误：{type(exc).__name__}", outage=True) from exc
        if response.status_code == 429:
            raise RetryableError("HTTP 429 请求过于频繁", retry_after=retry_after(response))
        if response.status_code >= 500:
            raise RetryableError(f"HTTP {response.status_code} 服务端错误", outage=True)
        return response


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def json_of(response: httpx.Response) -> dict:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


TOKEN_MARGIN = 300           # fetch a new token this many seconds before the old one expires


class CachedToken:
    """An API access token, cached until shortly before it expires; reset() after an auth error.
    A channel's subclass says how to fetch one: `_fetch()` returns (token, seconds it lives)."""

    def __init__(self, http: HttpChannel):
        self.http = http
        self.value: str | None = None
        self.expires = 0.0
        self.fetched = 0

    def reset(self) -> None:
        self.value, self.expires = None, 0.0

    async def get(self) -> str:
        if self.value and time.monotonic() < self.expires:
            return self.value
        value, expire_in = await self._fetch()
        self.fetched += 1
        self.value = value
        redact.register(value)                      # an access token is a secret too (WeCom's rides in the URL)
        self.expires = time.monotonic() + max(expire_in - TOKEN_MARGIN, expire_in / 2)
        return value

    async def _fetch(self) -> tuple[str, float]:
        raise NotImplementedError
