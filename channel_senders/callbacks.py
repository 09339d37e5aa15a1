"""Provider status callbacks -> `message_events` rows: the body shapes we accept, one adapter per shape.

Every callback is signed: the HMAC-SHA256 of the exact body bytes under the channel's
`callback_secret_env`, as `X-Journeys-Signature: sha256=<hex>` (WhatsApp Cloud's own
`X-Hub-Signature-256` carries the same scheme, keyed with the app secret, and is accepted for it).

Shapes:
- `journeys` (every channel): `{"message_id": ..., "status": ..., "at": ISO-8601, "detail": optional}`,
  or a list of such objects.
- `whatsapp_cloud`: Meta's status webhook, `entry[].changes[].value.statuses[]`, each with `status`
  (`delivered`, `read`, `failed`; `sent` is skipped: the dispatcher recorded it), a Unix `timestamp`, and our
  message id in `biz_opaque_callback_data` (the sender puts it there, WhatsApp echoes it back); `errors[0]`
  becomes the detail of a `failed`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

PROVIDER_STATUSES = frozenset({"delivered", "read", "clicked", "failed", "bounced", "unsubscribed"})


class MalformedCallback(ValueError):
    """The body is not a callback we understand; `str(error)` says what is wrong with it."""


@dataclass(frozen=True)
class Callback:
    message_id: str
    status: str
    at: datetime
    """Naive UTC, like every time in the warehouse."""
    detail: str


def _time(value: Any, where: str) -> datetime:
    try:
        if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
            return datetime.fromtimestamp(int(value), UTC).replace(tzinfo=None)
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (TypeError, ValueError, OverflowError) as error:
        raise MalformedCallback(f"{where}: not an ISO-8601 time: {value!r}") from error
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def _journeys(body: Any) -> list[Callback]:
    items = body if isinstance(body, list) else [body]
    found = []
    for i, item in enumerate(items):
        where = f"callback {i}"
        if not isinstance(item, dict):
            raise MalformedCallback(f"{where}: expected an object")
        missing = [key for key in ("message_id", "status", "at") if not item.get(key)]
        if missing:
            raise MalformedCallback(f"{where}: missing {', '.join(missing)}")
        status = str(item["status"])
        if status not in PROVIDER_STATUSES:
            raise MalformedCallback(f"{where}: status {status!r} is not one of {sorted(PROVIDER_STATUSES)}")
        detail = str(item.get("detail") or "provider callback")
        found.append(Callback(str(item["message_id"]), status, _time(item["at"], where), detail))
    return found


_WHATSAPP_STATUSES = {"delivered": "delivered", "read": "read", "failed": "failed"}


def _whatsapp(body: Any) -> list[Callback]:
    if not isinstance(body, dict) or not isinstance(body.get("entry"), list):
        raise MalformedCallback("not a WhatsApp Cloud webhook: no `entry` list")
    found = []
    for entry in body["entry"]:
        for change in entry.get("changes") or []:
            for i, status in enumerate((change.get("value") or {}).get("statuses") or []):
                where = f"statuses[{i}]"
                kind = status.get("status")
                if kind == "sent":
                    continue
                if kind not in _WHATSAPP_STATUSES:
                    raise MalformedCallback(f"{where}: unknown status {kind!r}")
                message_id = status.get("biz_opaque_callback_data")
                if not message_id:
                    raise MalformedCallback(f"{where}: no biz_opaque_callback_data (our message id)")
                errors = status.get("errors") or [{}]
                detail = errors[0].get("title") or errors[0].get("message") or "whatsapp status webhook"
                found.append(Callback(str(message_id), kind, _time(status.get("timestamp"), where), detail))
    return found


ADAPTERS: dict[str, Callable[[Any], list[Callback]]] = {"journeys": _journeys, "whatsapp_cloud": _whatsapp}


def parse_callbacks(shape: str, raw: bytes) -> list[Callback]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedCallback(f"not JSON: {error}") from error
    return ADAPTERS[shape](body)


def shape_for(kind: str) -> str:
    """The body shape a channel's provider sends; ours unless an adapter knows the provider's own."""
    return kind if kind in ADAPTERS else "journeys"
