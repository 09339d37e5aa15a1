"""Operator decisions as Dagster jobs with config: the same `record_control` as `journeys pause|resume|
stop|approve|pick-winner` and the same `rewind` as `journeys rewind --to`, so the checks and the audit rows
(`recorded_via = 'dagster'`) are the CLI's."""

# No `from __future__ import annotations` here: Dagster resolves the config annotation at runtime.
from typing import Literal

from dagster import Config, Failure, JobDefinition, OpExecutionContext, job, op
from pydantic import Field

from journey_compiler.errors import JourneysError
from journey_compiler.runtime.controls import record_control
from journey_compiler.runtime.rewind import rewind
from journey_compiler.timeparse import parse_time
from orchestration.defs.ticks.assets import WAREHOUSE_POOL
from orchestration.lib.dbt_project import PreparedProject


class ControlConfig(Config):
    journey: str = Field(description="The journey's id.")
    action: Literal["pause", "resume", "stop", "approve", "pick_winner"]
    at: str = Field(default="now", description="When it takes effect, ISO 8601 (UTC unless offset) or 'now'.")
    value: str | None = Field(default=None, description="pick_winner: the winning variant.")


class RewindConfig(Config):
    to: str = Field(description="Take back every tick after this time, ISO 8601 (UTC unless offset).")
    keep_dispatched: bool = Field(
        default=False, description="Go on although messages of those ticks already went to a provider."
    )


def build_control_job(prepared: PreparedProject) -> JobDefinition:
    workspace, project = prepared.workspace, prepared.built.project

    @op(pool=WAREHOUSE_POOL)
    def record_journey_control(context: OpExecutionContext, config: ControlConfig) -> None:
        at = parse_time(config.at)
        try:
            record_control(workspace, project, config.journey, config.action, at, config.value, via="dagster")
        except JourneysError as problem:
            raise Failure(str(problem)) from None
        context.log.info(f"{config.action} {config.journey} at {at}; the next tick acts on it")

    @job(name="journey_control", description="Pause, resume, stop, approve or pick a winner, at a time.")
    def journey_control() -> None:
        record_journey_control()

    return journey_control


def build_rewind_job(prepared: PreparedProject) -> JobDefinition:
    workspace, built = prepared.workspace, prepared.built

    @op(pool=WAREHOUSE_POOL)
    def rewind_ticks(context: OpExecutionContext, config: RewindConfig) -> None:
        to = parse_time(config.to)
        try:
            done = rewind(workspace, built, to, keep_dispatched=config.keep_dispatched, via="dagster")
        except JourneysError as problem:
            raise Failure(str(problem)) from None
        context.log.info(done.line())

    @job(name="journey_rewind", description="Take back every tick after a time (journeys rewind --to).")
    def journey_rewind() -> None:
        rewind_ticks()

    return journey_rewind
