"""Shared building blocks of the config models: strict models and the one duration type."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, WithJsonSchema

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo in a journey file must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def parse_duration(value: Any) -> timedelta:
    """`30m`, `1h`, `7d` (1d = 24h) -> timedelta; anything else is an error naming the accepted forms."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(str(value)) if isinstance(value, str | int) else None
    if match is None:
        raise ValueError(f"bad duration {value!r}: use a whole number with s, m, h or d (e.g. 30m, 1h, 7d)")
    amount = int(match.group(1))
    if amount <= 0:
        raise ValueError(f"bad duration {value!r}: must be positive")
    return timedelta(seconds=amount * _UNIT_SECONDS[match.group(2)])


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit in ("d", "h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\d+[smhd]$", "examples": ["30m", "1h", "7d"]}),
]
