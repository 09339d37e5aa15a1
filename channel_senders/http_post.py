"""The one HTTP mechanism behind webhooks and the SMS / WhatsApp / push APIs: a signed JSON POST.

Every attempt of a message carries the same `Idempotency-Key` (its `message_id`), so a provider that saw an
earlier attempt (a timeout after it accepted, a run that crashed before recording the outcome) can drop the
repeat. Status classes decide what the outbox does next: 2xx sent; 429, 5xx and network errors temporary
(with the provider's `Retry-After`, if it gave one); 401 and 403 refuse the channel's token (the channel is
deferred, see `CredentialsRefused`); any other answer permanent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from channel_senders.http_client import HttpAnswer, HttpError, HttpPool
from channel_senders.protocol import (
    CredentialsRefused,
    OutgoingMessage,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
)

Encode = Callable[[OutgoingMessage], Any]
"""The JSON document a provider expects for one message."""
Sign = Callable[[bytes], dict[str, str]]
"""Authentication headers from the exact body bytes (an HMAC needs them; a bearer token does not)."""


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
"""Made once: `json.dumps` with options builds a new encoder for every call."""


class JsonPostTransport:
    """POSTs `encode(message)` to one URL over a pool of `concurrency` keep-alive connections."""

    def __init__(self, url: str, encode: Encode, sign: Sign, *, concurrency: int, pipeline: int = 1) -> None:
        self._encode = encode
        self._sign = sign
        self._pool = HttpPool(url, size=concurrency, pipeline=pipeline)

    async def send(self, message: OutgoingMessage) -> SendResult:
        body = _JSON.encode(self._encode(message)).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.message_id,
            **self._sign(body),
        }
        try:
            answer = await self._pool.post(body, headers)
        except HttpError as error:
            raise TemporaryFailure(str(error), unreachable=True) from error
        return classify(answer)

    async def close(self) -> None:
        await self._pool.close()


def classify(answer: HttpAnswer) -> SendResult:
    code = answer.status
    if 200 <= code < 300:
        return SendResult("sent", f"HTTP {code}")
    text = answer.body[:200].decode(errors="replace").strip()
    reason = f"HTTP {code}: {text}" if text else f"HTTP {code}"
    if code == 429 or code >= 500:
        raise TemporaryFailure(reason, retry_after=retry_after(answer.headers.get("retry-after")))
    if code in (401, 403):
        raise CredentialsRefused(f"the provider refused the channel's credentials: {reason}")
    raise PermanentFailure(reason)


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` in seconds: either a number of seconds or an HTTP date (RFC 9110 section 10.2.3)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
