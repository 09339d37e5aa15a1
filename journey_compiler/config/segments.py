"""`segments/*.yaml` and `metrics/*.yaml`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from journey_compiler.config.base import Duration, StrictModel
from journey_compiler.config.rules import DetailCondition, EventCondition, Rule

_ID = r"^[a-z][a-z0-9_]*$"


class Segment(StrictModel):
    id: str = Field(pattern=_ID)
    name: str | None = None
    rule: Rule


class SegmentsFile(StrictModel):
    segments: list[Segment]


class Metric(StrictModel):
    """`event` (count/unique profiles), `detail` (count/sum of a column) or `composite` (arithmetic)."""

    id: str = Field(pattern=_ID)
    name: str | None = None
    event: EventCondition | None = None
    measure: Literal["count", "profiles"] = "count"
    detail: DetailCondition | None = None
    composite: str | None = None
    window: Duration | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Metric:
        kinds = [k for k in ("event", "detail", "composite") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("a metric needs exactly one of `event`, `detail`, `composite`")
        if self.composite is None and self.window is None:
            raise ValueError("an event or detail metric needs a `window` (e.g. 7d)")
        return self


class MetricsFile(StrictModel):
    metrics: list[Metric]
