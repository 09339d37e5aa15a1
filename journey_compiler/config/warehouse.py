"""`warehouse.yaml`: where the sources are and the typed names filters may use."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from journey_compiler.config.base import StrictModel

ColumnType = Literal["text", "double", "bigint", "integer", "boolean", "date", "timestamp"]

_QUALIFIED = r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _names(what: str, names: object) -> None:
    """Attribute, property and column names become SQL identifiers and JSON paths: plain names only."""
    bad = [n for n in names if not _NAME.match(str(n))]  # type: ignore[attr-defined]
    if bad:
        raise ValueError(
            f"{what} names must be plain identifiers ([A-Za-z_][A-Za-z0-9_]*): {', '.join(map(repr, bad))}"
        )


class Sources(StrictModel):
    """Qualified `schema.table` names of the raw inputs (spec section 1)."""

    profiles: str = Field("raw.profiles", pattern=_QUALIFIED)
    events: str = Field("raw.events", pattern=_QUALIFIED)
    profile_tags: str = Field("raw.profile_tags", pattern=_QUALIFIED)
    relations: str = Field("raw.relations", pattern=_QUALIFIED)
    trading_calendar: str = Field("raw.trading_calendar", pattern=_QUALIFIED)


class DetailTable(StrictModel):
    """A fact table (orders...) that detail metrics and segment rules may aggregate."""

    table: str = Field(pattern=_QUALIFIED)
    profile: str = Field("profile_id", pattern=_NAME.pattern)
    time: str = Field(pattern=_NAME.pattern)
    columns: dict[str, ColumnType]

    @field_validator("columns")
    @classmethod
    def _plain_columns(cls, value: dict[str, ColumnType]) -> dict[str, ColumnType]:
        _names("column", value)
        return value


class WarehouseConfig(StrictModel):
    sources: Sources = Sources()
    attributes: dict[str, ColumnType] = {}
    events: dict[str, dict[str, ColumnType]] = {}
    details: dict[str, DetailTable] = {}

    @field_validator("events", mode="before")
    @classmethod
    def _empty_properties(cls, value: object) -> object:
        # `activate:` with nothing after it means "no properties", not an error.
        if isinstance(value, dict):
            return {name: props or {} for name, props in value.items()}
        return value

    @field_validator("attributes")
    @classmethod
    def _plain_attributes(cls, value: dict[str, ColumnType]) -> dict[str, ColumnType]:
        _names("attribute", value)
        return value

    @field_validator("events")
    @classmethod
    def _plain_properties(cls, value: dict[str, dict[str, ColumnType]]) -> dict[str, dict[str, ColumnType]]:
        for properties in value.values():
            _names("event property", properties)
        return value
