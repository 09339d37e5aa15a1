"""The Dagster `send` job and `journeys send` are one dispatch: on twin warehouses (one file, copied after
the ticks) they record exactly the same outcome for every message, delivery rules included."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance

from channel_senders.loopback import LocalSmtpServer
from journey_compiler.demo.shop import generate_shop
from journey_compiler.runtime.tick import run_tick
from journey_compiler.runtime.workspace import Workspace, build_dbt_project
from orchestration.defs import build_definitions
from orchestration.defs.senders.assets import send_run_config

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "shop"
START = datetime(2026, 6, 1)
SEND_AT = START + timedelta(days=6)  # the second welcome email is 4 days after the first
OUTCOMES = "select message_id, status, status_at, detail from journeys.message_events order by all"


def test_dagster_send_job_and_cli_record_the_same_outcomes(tmp_path: Path, smtp: LocalSmtpServer) -> None:
    journeys = tmp_path / "shop"
    shutil.copytree(EXAMPLES, journeys)
    channels = journeys / "channels.yaml"  # one email a week: the welcome series then runs into the cap
    channels.write_text(channels.read_text().replace("email: {max: 5, per: 7d}", "email: {max: 1, per: 7d}"))
    dagster_side = Workspace.resolve(journeys, tmp_path / "dagster" / "shop.duckdb")
    dagster_side.warehouse.parent.mkdir()
    with duckdb.connect(str(dagster_side.warehouse)) as con:
        generate_shop(con, dagster_side.load().warehouse, start=START, days=7, profiles=300)
    built = build_dbt_project(dagster_side)
    for days in (1, 3, 6):  # messages pile up unsent, so caps and exclusive_with have work to do
        run_tick(dagster_side, built, START + timedelta(days=days))
    cli_side = tmp_path / "cli" / "shop.duckdb"
    cli_side.parent.mkdir()
    shutil.copyfile(dagster_side.warehouse, cli_side)

    earlier = len(smtp.received)  # the server is shared by the session's other tests
    defs = build_definitions(dagster_side)
    with DagsterInstance.ephemeral() as instance:
        sender = defs.resolve_assets_def(AssetKey(["control", "message_events"]))
        job = defs.resolve_job_def("send")
        run = job.execute_in_process(
            run_config=send_run_config(sender, SEND_AT.isoformat()), instance=instance
        )
    assert run.success
    emails_by_dagster = len(smtp.received) - earlier

    cli = subprocess.run(
        [
            str(Path(sys.executable).parent / "journeys"),
            "send",
            "--dir",
            str(journeys),
            "--warehouse",
            str(cli_side),
            "--at",
            SEND_AT.isoformat(),
        ],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    assert cli.returncode == 0, cli.stderr
    assert "sent" in cli.stdout and "Traceback" not in cli.stdout + cli.stderr

    with duckdb.connect(str(dagster_side.warehouse), read_only=True) as con:
        by_dagster = con.execute(OUTCOMES).fetchall()
    with duckdb.connect(str(cli_side), read_only=True) as con:
        by_cli = con.execute(OUTCOMES).fetchall()
    assert by_dagster == by_cli
    details = [detail for _, status, _, detail in by_dagster if status == "suppressed"]
    assert any(d.startswith("frequency cap") for d in details), f"the cap was applied: {set(details)}"
    assert any(d.startswith("exclusive_with") for d in details), f"exclusivity was applied: {set(details)}"
    assert len(smtp.received) - earlier == 2 * emails_by_dagster, "the CLI sent the same emails to its twin"
