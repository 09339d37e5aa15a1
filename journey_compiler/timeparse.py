"""Command-line times: ISO 8601; a time without an offset is UTC (the warehouse's clock)."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_time(text: str) -> datetime:
    """'2026-06-01T10:00', '2026-06-01 10:00:00+08:00' or 'now' -> naive UTC."""
    if text == "now":
        return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"bad time {text!r}: use ISO 8601, e.g. 2026-06-01T10:00 (UTC) or ...+08:00"
        ) from None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
