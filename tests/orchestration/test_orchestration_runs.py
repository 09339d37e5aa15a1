"""The jobs run in process on a real DuckDB file: dbt ticks, metrics, and sends to a real SMTP server."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from xml.etree import ElementTree

import duckdb
import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    Definitions,
    ExecuteInProcessResult,
    RunRequest,
    build_run_status_sensor_context,
)

from channel_senders.loopback import LocalSmtpServer
from journey_compiler.runtime.workspace import Workspace
from orchestration.lib.translator import DESCRIPTION_WIDTH

pytestmark = pytest.mark.slow

TICK_AT = "2026-06-02T00:00:00"


def tick_config(tick_at: str) -> dict[str, Any]:
    return {"ops": {"journey_models": {"config": {"tick_at": tick_at}}}}


def sql(workspace: Workspace, query: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(workspace.warehouse), read_only=True) as con:
        return con.execute(query).fetchall()


def materialized(result: ExecuteInProcessResult) -> set[str]:
    return {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}


@pytest.fixture(scope="module")
def instance() -> Iterator[DagsterInstance]:
    with DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.fixture(scope="module")
def first_tick(defs: Definitions, instance: DagsterInstance) -> ExecuteInProcessResult:
    return defs.resolve_job_def("tick").execute_in_process(run_config=tick_config(TICK_AT), instance=instance)


def test_tick_advances_journeys_and_queues_sends(
    first_tick: ExecuteInProcessResult, workspace: Workspace
) -> None:
    assert first_tick.success
    assert "journeys_internal/jrn_welcome_series" in materialized(first_tick)
    assert "journeys/journey_node_daily" not in materialized(first_tick), (
        "metric tables wait for the metrics job"
    )
    # the log is append-only: the tick's start row and its finished row
    ticks = sql(workspace, "select tick_at, count(*), count(finished_at) from journeys.tick_log group by 1")
    assert ticks == [(datetime.fromisoformat(TICK_AT), 2, 1)]
    (in_journey,) = sql(
        workspace, "select count(*) from journeys.journey_state where journey_id = 'welcome_series'"
    )
    assert in_journey[0] > 0
    (queued,) = sql(workspace, "select count(*) from journeys.send_queue where template = 'welcome_email'")
    assert queued[0] > 0


def test_a_tick_runs_the_checks_of_what_it_wrote(first_tick: ExecuteInProcessResult) -> None:
    """dbt build with the tick's own checks (tag tick_check) and the data-quality warning, not the tests
    that read every row of a history."""
    checks = {
        e.event_specific_data.asset_check_key.name: e.event_specific_data.passed
        for e in first_tick.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    assert checks.pop("raw_rows_usable") in (True, False)
    assert checks and set(checks) == {name for name in checks if name.startswith("journey_history_keys_jrn_")}
    assert "journey_history_keys_jrn_welcome_series_" in checks and all(checks.values())


def test_a_journey_materialization_tells_that_ticks_story(
    first_tick: ExecuteInProcessResult, workspace: Workspace
) -> None:
    """The definitions were loaded before any tick (no counts then); the materialization has this tick's."""
    (event,) = [
        e.materialization
        for e in first_tick.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "journeys_internal/jrn_welcome_series"
    ]
    (entered,) = sql(
        workspace, "select count(*) from journeys.journey_state where journey_id = 'welcome_series'"
    )
    assert event.metadata["journey/entered"].value == entered[0] > 0
    assert event.metadata["journey/counts_as_of"].value == "as of the tick at 2026-06-02 00:00 UTC"
    assert event.metadata["journey/yaml"].value.endswith("journeys/welcome_series.yaml")
    story = event.metadata["journey/story"].value
    assert "| welcome |" in story
    # the picture is inline, scaled down to the description's width (Dagster shows images at their size)
    inline = re.search(r"\]\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", story)
    assert inline is not None
    svg = ElementTree.fromstring(base64.b64decode(inline.group(1)))
    drawn = float(svg.get("viewBox", "").split()[2])
    assert float(svg.get("width", "0")) == min(drawn, DESCRIPTION_WIDTH)
    assert "welcome" in "".join(svg.itertext())


def test_an_overtaken_scheduled_tick_is_skipped_not_failed(
    first_tick: ExecuteInProcessResult, defs: Definitions, instance: DagsterInstance, workspace: Workspace
) -> None:
    """A queued scheduled run whose time lies before a tick already applied must not fail the schedule."""
    history = "select count(*) from journeys_internal.jrn_welcome_series"
    before = sql(workspace, history)
    earlier = defs.resolve_job_def("tick").execute_in_process(
        run_config=tick_config("2026-06-01T12:00:00"), instance=instance
    )
    assert earlier.success
    assert materialized(earlier) == set()
    assert sql(workspace, history) == before
    assert sql(workspace, "select count(*) from journeys.tick_log where tick_at = '2026-06-01 12:00:00'") == [
        (0,)
    ]


def test_same_tick_again_changes_nothing(
    first_tick: ExecuteInProcessResult, defs: Definitions, instance: DagsterInstance, workspace: Workspace
) -> None:
    history = "select count(*) from journeys_internal.jrn_welcome_series"
    before = sql(workspace, history)
    again = defs.resolve_job_def("tick").execute_in_process(
        run_config=tick_config(TICK_AT), instance=instance
    )
    assert again.success
    assert materialized(again) == set()
    assert sql(workspace, history) == before
    assert sql(workspace, "select count(*), count(finished_at) from journeys.tick_log") == [(2, 1)]


def test_send_after_tick_delivers_the_queued_emails(
    first_tick: ExecuteInProcessResult,
    defs: Definitions,
    instance: DagsterInstance,
    workspace: Workspace,
    smtp: LocalSmtpServer,
) -> None:
    sensor = defs.resolve_sensor_def("send_after_tick")
    context = build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=first_tick.get_run_success_event(),
        dagster_instance=instance,
        dagster_run=first_tick.dagster_run,
    )
    request = sensor(context)
    assert isinstance(request, RunRequest)
    send = defs.resolve_job_def("send").execute_in_process(run_config=request.run_config, instance=instance)
    assert send.success
    assert materialized(send) == {"control/message_events"}
    (check,) = [c for c in send.get_asset_check_evaluations() if c.check_name == "outbox_health"]
    assert check.metadata["callbacks_waiting"].value == 0, "no receiver left callbacks in the spool"
    sent = sql(
        workspace,
        "select q.recipient_id from journeys.message_events e join journeys.send_queue q using (message_id) "
        "where e.status = 'sent' and q.channel = 'email'",
    )
    assert len(sent) > 0
    assert len(smtp.received) == len(sent)
    stamped = sql(workspace, "select distinct status_at from journeys.message_events")
    assert stamped == [(datetime.fromisoformat(TICK_AT),)], "the send ran as of the tick's time"


def test_metrics_job_refreshes_the_metric_marts(
    first_tick: ExecuteInProcessResult, defs: Definitions, instance: DagsterInstance, workspace: Workspace
) -> None:
    result = defs.resolve_job_def("metrics").execute_in_process(instance=instance)
    assert result.success
    assert "journeys/journey_node_daily" in materialized(result)
    assert not {"staging/stg_raw__events", "journeys_internal/jrn_welcome_series"} & materialized(result)
    (rows,) = sql(
        workspace, "select count(*) from journeys.journey_node_daily where journey_id = 'welcome_series'"
    )
    assert rows[0] > 0


def test_part_of_a_tick_is_refused(defs: Definitions, instance: DagsterInstance) -> None:
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        run_config=tick_config("2026-06-03T00:00:00"),
        asset_selection=[AssetKey(["journeys_internal", "jrn_welcome_series"])],
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = str(failure.step_failure_data.error)
    assert "a tick runs every model tagged 'tick'" in message
    assert "staging/stg_raw__events" in message


def test_control_job_records_a_pause_and_refuses_a_resume_of_a_running_journey(
    defs: Definitions, instance: DagsterInstance, workspace: Workspace
) -> None:
    def control(action: str) -> ExecuteInProcessResult:
        config = {"journey": "welcome_series", "action": action, "at": "2030-01-01T00:00:00"}
        return defs.resolve_job_def("journey_control").execute_in_process(
            run_config={"ops": {"record_journey_control": {"config": config}}},
            instance=instance,
            raise_on_error=False,
        )

    refused = control("resume")
    assert not refused.success
    (failure,) = [e for e in refused.all_events if e.is_step_failure]
    assert "is not paused" in str(failure.step_failure_data.error)
    assert control("pause").success
    rows = sql(workspace, "select action, recorded_via from journeys.journey_controls where action = 'pause'")
    assert rows == [("pause", "dagster")]


def test_rewind_job_takes_back_the_ticks_and_records_that_dagster_did(
    defs: Definitions, instance: DagsterInstance, workspace: Workspace
) -> None:
    """Last in the module: it takes back the first tick (keeping any message a sender already handled; the
    refusal itself is the CLI's, tests/operate/test_rewind.py)."""
    config = {"to": "2026-06-01T00:00:00", "keep_dispatched": True}
    result = defs.resolve_job_def("journey_rewind").execute_in_process(
        run_config={"ops": {"rewind_ticks": {"config": config}}}, instance=instance, raise_on_error=False
    )
    assert result.success
    assert sql(workspace, "select count(*) from journeys.tick_log") == [(0,)]
    rows = sql(workspace, "select ticks_removed, recorded_via from journeys.rewinds")
    assert rows == [(1, "dagster")]
