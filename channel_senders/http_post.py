"""The one HTTP mechanism behind webhooks and the SMS / WhatsApp / push APIs: a signed JSON POST.

Every attempt of a message carries the same `Idempotency-Key` (its `message_id`), so a provider that saw an
earlier attempt (a timeout after it accepted, a run that crashed before recording the outcome) can drop the
repeat. Status classes decide what the outbox does next: 2xx sent; 429, 5xx and network errors temporary;
any other answer permanent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from channel_senders.protocol import OutgoingMessage, PermanentFailure, SendResult, TemporaryFailure

Encode = Callable[[OutgoingMessage], Any]
"""The JSON document a provider expects for one message."""
Sign = Callable[[bytes], dict[str, str]]
"""Authentication headers from the exact body bytes (an HMAC needs them; a bearer token does not)."""

_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class JsonPostTransport:
    """POSTs `encode(message)` to one URL over one pooled client, reused for the whole dispatch."""

    def __init__(self, url: str, encode: Encode, sign: Sign) -> None:
        self._url = url
        self._encode = encode
        self._sign = sign
        self._client = httpx.Client(timeout=_TIMEOUT)

    def send(self, message: OutgoingMessage) -> SendResult:
        body = json.dumps(self._encode(message), ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.message_id,
            **self._sign(body),
        }
        try:
            response = self._client.post(self._url, content=body, headers=headers)
        except httpx.TransportError as error:
            raise TemporaryFailure(f"{type(error).__name__} posting to {self._url}: {error}") from error
        return classify(response)

    def close(self) -> None:
        self._client.close()


def classify(response: httpx.Response) -> SendResult:
    code = response.status_code
    if 200 <= code < 300:
        return SendResult("sent", f"HTTP {code}")
    text = response.text[:200].strip()
    reason = f"HTTP {code}: {text}" if text else f"HTTP {code}"
    if code == 429 or code >= 500:
        raise TemporaryFailure(reason)
    raise PermanentFailure(reason)
