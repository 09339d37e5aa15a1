"""An SMTP outage seen through Dagster: the send run fails naming the channel, every email stays due
(deferred, with its next attempt), the outbox check warns about them; once the server is back a later
send run delivers each of them exactly once."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance

from channel_senders.loopback import HOST, LocalSmtpServer
from journey_compiler.demo.shop import generate_shop
from journey_compiler.runtime.tick import run_tick
from journey_compiler.runtime.workspace import Workspace, build_dbt_project
from orchestration.defs import build_definitions
from orchestration.defs.senders.assets import send_run_config

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "shop"
START = datetime(2026, 6, 1)
TICK_AT = START + timedelta(days=2)
EMAILS = (  # due at the tick, with their latest status
    "select message_id, status from journeys.send_queue "
    "where channel = 'email' and status <> 'suppressed' and not_before <= ? order by all"
)


def _send(defs, instance: DagsterInstance, now: datetime):
    sender = defs.resolve_assets_def(AssetKey(["control", "message_events"]))
    return defs.resolve_job_def("send").execute_in_process(
        run_config=send_run_config(sender, now.isoformat()), instance=instance, raise_on_error=False
    )


def test_an_smtp_outage_fails_the_run_loses_nothing_and_recovers(
    tmp_path: Path, smtp: LocalSmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with LocalSmtpServer() as gone:
        port = gone.port  # closed again once it stops: connections are refused
    monkeypatch.setenv("SMTP_HOST", HOST)
    monkeypatch.setenv("SMTP_PORT", str(port))
    journeys = tmp_path / "shop"
    shutil.copytree(EXAMPLES, journeys)
    workspace = Workspace.resolve(journeys, tmp_path / "shop.duckdb")
    with duckdb.connect(str(workspace.warehouse)) as con:
        generate_shop(con, workspace.load().warehouse, start=START, days=3, profiles=60)
    run_tick(workspace, build_dbt_project(workspace), TICK_AT)
    defs = build_definitions(workspace)

    with DagsterInstance.ephemeral() as instance:
        down = _send(defs, instance, TICK_AT)
        (failure,) = [e for e in down.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
        checks = [c for c in down.get_asset_check_evaluations() if c.check_name == "outbox_health"]
        with duckdb.connect(str(workspace.warehouse), read_only=True) as con:
            during = con.execute(EMAILS, [TICK_AT]).fetchall()
            (retries,) = con.execute("select count(*) from journeys.message_retries").fetchone()

        with LocalSmtpServer(port=port) as back:
            recovered = _send(defs, instance, TICK_AT + timedelta(hours=2))
            received = [e.message["Message-ID"] for e in back.received]

    assert not down.success, "a channel down fails the send run"
    assert "channels down" in failure.step_failure_data.error.message
    assert "email: channel 'email' is down" in failure.step_failure_data.error.message
    assert during, "the ticks queued welcome emails"
    assert {status for _, status in during} == {"deferred"}, "nothing failed, nothing was lost"
    assert retries == len(during), "each deferred email says when it is tried next"
    (check,) = checks  # evaluated by the failed send itself
    assert not check.passed and check.metadata["stuck"].value == len(during)

    assert recovered.success
    with duckdb.connect(str(workspace.warehouse), read_only=True) as con:
        after = con.execute(EMAILS, [TICK_AT]).fetchall()
    assert {status for _, status in after} == {"sent"}
    assert len(received) == len(set(received)), "no email twice"
    assert {f"<{m}@shop.example>" for m, _ in during} <= set(received)
    (healthy,) = [c for c in recovered.get_asset_check_evaluations() if c.check_name == "outbox_health"]
    assert healthy.passed and healthy.metadata["stuck"].value == 0
