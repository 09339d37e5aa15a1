"""`journeys demo`: the example journeys on a synthetic shop, a simulated week of ticks, real sends.

Everything runs on this machine: a DuckDB file under the work folder, an SMTP server and an HTTP server
on 127.0.0.1 that the demo starts itself, and the same tick and dispatch code that Dagster runs.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

from channel_senders.loopback import LocalHttpServer, LocalSmtpServer
from channel_senders.outbox import dispatch_project
from journey_compiler.demo.shop import generate_shop
from journey_compiler.progress import progress_bar
from journey_compiler.runtime.dbt import run_dbt
from journey_compiler.runtime.tick import run_tick, tick_times
from journey_compiler.runtime.workspace import Workspace, build_dbt_project

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "shop"
START = datetime(2026, 6, 1)
DEMO_JOURNEYS = ("welcome_series", "cart_abandonment")

_NODE_COUNTS = """
with daily as (
    select journey_id, node_id, sum(arrived) as arrived, sum(completed) as completed, sum(exited) as exited,
           sum(messages) as messages, sum(sent) as sent, sum(failed) as failed,
           sum(suppressed) as suppressed
    from journeys.journey_node_daily
    group by all
),
waiting as (
    select journey_id, node_id, count(*) as waiting
    from journeys.journey_state
    where status = 'active'
    group by all
)
select daily.journey_id, daily.node_id, daily.arrived, coalesce(waiting.waiting, 0), daily.completed,
       daily.exited, daily.messages, daily.sent, daily.failed, daily.suppressed
from daily
left join waiting using (journey_id, node_id)
order by daily.journey_id, daily.arrived desc, daily.node_id
"""
_ENTRIES = "select journey_id, count(*) from journeys.journey_state group by all order by all"


def run_demo(workdir: Path, *, profiles: int, days: int, every: timedelta, console: Console) -> None:
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    warehouse = workdir / "demo.duckdb"
    for stale in (warehouse, workdir / "demo.duckdb.wal"):
        stale.unlink(missing_ok=True)

    with LocalSmtpServer() as smtp, LocalHttpServer() as http:
        os.environ.update(
            {
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": str(smtp.port),
                "SMS_API_URL": http.url("/sms"),
                "WHATSAPP_API_URL": http.url("/whatsapp"),
                "CRM_WEBHOOK_URL": http.url("/hook"),
                "PUSH_API_URL": http.url("/push"),
                **{
                    name: os.environ.get(name, "demo-secret")
                    for name in (
                        "CRM_WEBHOOK_SECRET",
                        "SMS_API_TOKEN",
                        "WHATSAPP_API_TOKEN",
                        "PUSH_API_TOKEN",
                    )
                },
            }
        )
        workspace = Workspace.resolve(EXAMPLES, warehouse, workdir / "dbt")
        built = build_dbt_project(workspace)
        console.print(f"[bold]Journeys[/bold] from {EXAMPLES}; warehouse {warehouse}")
        for journey_id in built.compiled.journeys:
            console.print(f"  [green]runs[/green]    {journey_id}")
        for journey_id, why in built.compiled.skipped.items():
            marker = "[yellow]skipped[/yellow]" if journey_id in DEMO_JOURNEYS else "[dim]skipped[/dim]"
            console.print(f"  {marker} {journey_id}: {why} is not compiled yet")

        with duckdb.connect(str(warehouse)) as con:
            shop = generate_shop(con, built.project.warehouse, start=START, days=days, profiles=profiles)
        console.print(
            f"Synthetic shop: {shop.profiles} profiles, {shop.events} events "
            f"({shop.late_events} late, {shop.duplicate_deliveries} delivered twice), {shop.orders} orders"
        )

        ticks = tick_times(START + every, shop.end, every)
        sent = 0
        with progress_bar(console) as progress:
            task = progress.add_task(f"ticking every {every} from {START:%Y-%m-%d}", total=len(ticks))
            for moment in ticks:
                run_tick(workspace, built, moment)
                report = dispatch_project(warehouse, built.project, moment)
                sent += report.total("sent")
                progress.update(task, advance=1, description=f"tick {moment:%a %m-%d %H:%M}")
        run_dbt(built.dbt_dir, warehouse, ["run", "--select", "journey_node_daily"])

        with duckdb.connect(str(warehouse)) as con:
            rows = con.execute(_NODE_COUNTS).fetchall()
            entries = con.execute(_ENTRIES).fetchall()
        console.print(_table(rows))
        for journey_id, count in entries:
            console.print(f"{journey_id}: {count} entries")
        posts = Counter(request.path for request in http.received)
        received = [f"{len(smtp.received)} emails over SMTP"] + [
            f"{n} HTTP posts to {p}" for p, n in sorted(posts.items())
        ]
        console.print(f"Messages sent: {sent}. Received on 127.0.0.1: {', '.join(received)}.")
        shutil.rmtree(workdir / "dbt" / "logs", ignore_errors=True)


def _table(rows: list[tuple]) -> Table:
    table = Table(title="Journeys after the simulated week (per node)")
    for name in (
        "journey",
        "node",
        "arrived",
        "waiting now",
        "completed",
        "exited",
        "messages",
        "sent",
        "failed",
        "suppressed",
    ):
        table.add_column(name, justify="left" if name in ("journey", "node") else "right")
    for row in rows:
        table.add_row(*(str(v) for v in row))
    return table
