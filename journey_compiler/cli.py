"""`journeys ...`: the command line. Every command is a thin call into the same library Dagster uses."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from journey_compiler.config.base import parse_duration
from journey_compiler.errors import ConfigErrors, JourneysError
from journey_compiler.progress import progress_bar
from journey_compiler.timeparse import parse_time

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Warehouse-native customer journeys.",
)
# Logs and CI are not terminals; keep tables readable there instead of rich's 80-column default.
out = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 140)

DirOption = Annotated[
    Path | None, typer.Option("--dir", envvar="JOURNEYS_DIR", help="The journeys directory.")
]
WarehouseOption = Annotated[
    Path | None, typer.Option("--warehouse", envvar="JOURNEYS_WAREHOUSE", help="The DuckDB warehouse file.")
]
AtOption = Annotated[str, typer.Option("--at", help="ISO time (UTC unless it has an offset), or 'now'.")]


def _workspace(directory: Path | None, warehouse: Path | None, target: str = "duckdb"):  # noqa: ANN202 - lazy
    from journey_compiler.runtime.workspace import Workspace

    return Workspace.resolve(directory, warehouse, target=target)


def _time(text: str) -> datetime:
    try:
        return parse_time(text)
    except ValueError as error:
        raise JourneysError(str(error)) from None


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise JourneysError(str(error)) from None


@app.command()
def validate(directory: DirOption = None) -> None:
    """Check every file of the journeys directory; exit 1 listing each problem (file, YAML path, reason)."""
    from journey_compiler.config.project import load_project

    root = directory or _workspace(None, None).journeys_dir
    project = load_project(root)
    out.print(
        f"[green]valid[/green]: {root} — {len(project.journeys)} journeys, {len(project.segments)} segments, "
        f"{len(project.metrics)} metrics, {len(project.templates)} templates"
    )


@app.command("compile")
def compile_(
    directory: DirOption = None,
    warehouse: WarehouseOption = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Also write the generated models here.")
    ] = None,
    target: Annotated[
        str, typer.Option("--target", help="The dbt target whose SQL dialect the models are written in.")
    ] = "duckdb",
) -> None:
    """Compile the journeys into dbt models (written into the warehouse's dbt build folder)."""
    from journey_compiler.runtime.workspace import build_dbt_project

    built = build_dbt_project(_workspace(directory, warehouse, target))
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, content in built.compiled.files.items():
            (out_dir / name).write_text(content)
    out.print(f"compiled {', '.join(built.compiled.journeys) or 'no journeys'} into {built.dbt_dir}")
    for journey_id, why in built.compiled.skipped.items():
        out.print(f"[yellow]skipped[/yellow] {journey_id}: {why} is not compiled yet")


@app.command()
def init(directory: DirOption = None, warehouse: WarehouseOption = None) -> None:
    """Create the raw tables (spec section 1) and control tables that are missing; keeps existing rows."""
    from journey_compiler.runtime.lock import writing
    from journey_compiler.warehouse.tables import init_warehouse

    ws = _workspace(directory, warehouse)
    ws.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with writing(ws.warehouse, "journeys init") as con:
        init_warehouse(con, ws.load().warehouse)
    out.print(f"initialised {ws.warehouse}")


@app.command()
def tick(
    directories: Annotated[
        list[Path] | None,
        typer.Option(
            "--dir",
            envvar="JOURNEYS_DIR",
            help="The journeys directory; with --what-if a second --dir is compared with the first.",
        ),
    ] = None,
    warehouse: WarehouseOption = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at", help="ISO time (UTC unless it has an offset), or 'now'; default: now, see --now."
        ),
    ] = None,
    now: Annotated[
        bool,
        typer.Option(
            "--now", help="Without --at, tick at the wall clock even when the events are far behind it."
        ),
    ] = False,
    until: Annotated[str | None, typer.Option(help="Tick repeatedly up to this time (backfill).")] = None,
    every: Annotated[str | None, typer.Option(help="Step between ticks with --until, e.g. 15m.")] = None,
    send: Annotated[bool, typer.Option(help="Dispatch due messages after each tick.")] = False,
    what_if: Annotated[
        bool,
        typer.Option("--what-if", help="A backtest on a scratch copy: nothing live changes or is sent."),
    ] = False,
) -> None:
    """Run the tick at T (or every tick from T to T2): entries, moves, exits, sends, tags and goals."""
    from journey_compiler.runtime.quality import quality_report
    from journey_compiler.runtime.tick import run_tick, tick_times
    from journey_compiler.runtime.workspace import build_dbt_project

    directories = directories or [None]  # type: ignore[list-item]
    if len(directories) > (2 if what_if else 1):
        raise JourneysError("give --dir once (twice only with --what-if, to compare two directories)")
    ws = _workspace(directories[0], warehouse)
    if what_if:
        if send:
            raise JourneysError("--what-if sends nothing: drop --send")
        _what_if(ws, [d for d in directories if d is not None], at, until, every)
        return
    built = build_dbt_project(ws)
    if at is None and not now:
        _refuse_a_jump(ws, built)
    for journey_id, why in built.compiled.skipped.items():
        err.print(f"[yellow]note[/yellow]: {journey_id} not ticked: {why} is not compiled yet")
    step = _duration(every) if every else None
    try:
        times = tick_times(_time(at or "now"), _time(until) if until else None, step)
    except ValueError as error:
        raise JourneysError(str(error)) from None
    with progress_bar(err, show=len(times) > 1) as progress:
        task = progress.add_task("ticking", total=len(times))
        for moment in times:
            plan = run_tick(ws, built, moment)
            if send:
                _say_outages(_dispatch(ws, built.project, moment))
            if len(times) == 1:
                state = "already applied, nothing changed" if plan.already_applied else "applied"
                out.print(
                    f"tick {plan.tick_at:%Y-%m-%d %H:%M:%S} (events loaded by {plan.watermark}): {state}"
                )
            progress.advance(task)
    quality = quality_report(ws.warehouse)
    if quality.rejected:
        err.print(f"[yellow]note[/yellow]: {escape(quality.line())}", highlight=False, soft_wrap=True)


def _what_if(ws, changed: list[Path], at: str | None, until: str | None, every: str | None) -> None:  # noqa: ANN001
    """Backtest the ticks T..T2 on scratch copies: the journeys directory, and the second one if given."""
    from channel_senders.outbox import DispatchOptions, dispatch_project
    from journey_compiler.config.project import Project
    from journey_compiler.runtime.tick import tick_times
    from journey_compiler.runtime.whatif import backtest
    from journey_compiler.show.whatif import message_table, node_table

    def dispatch(warehouse: Path, project: Project, moment: datetime) -> None:
        dispatch_project(warehouse, project, moment, options=DispatchOptions(simulate=True))

    if at is None:
        raise JourneysError("--what-if replays history: give --at T (and --until T2 --every STEP)")
    try:
        times = tick_times(_time(at), _time(until) if until else None, _duration(every) if every else None)
    except ValueError as error:
        raise JourneysError(str(error)) from None
    runs = [ws.journeys_dir, *changed[1:]]
    reports = []
    with progress_bar(err, show=True) as progress:
        for directory in runs:
            task = progress.add_task(f"what-if {directory.name}", total=len(times))
            reports.append(
                backtest(ws, times, directory, lambda _, task=task: progress.advance(task), dispatch)
            )
    out.print(node_table(reports))
    out.print(message_table(reports))


def _refuse_a_jump(ws, built) -> None:  # noqa: ANN001
    """`journeys tick` without --at on a warehouse whose events stopped long ago would take every wait and
    window as over at once: ask for the time instead."""
    from journey_compiler.runtime.tick import STALE_AFTER, events_behind

    wall_clock = _time("now")
    behind = events_behind(ws, built, wall_clock)
    if behind is None:
        return
    newest, gap = behind
    raise JourneysError(
        f"the newest event in the warehouse was loaded at {newest:%Y-%m-%d %H:%M:%S}, {_span(gap)} "
        f"before now ({wall_clock:%Y-%m-%d %H:%M:%S} UTC; more than {_span(STALE_AFTER)}): a tick now "
        "would treat every wait and window as long over; give the time to tick at "
        f"(--at {newest:%Y-%m-%dT%H:%M:%S}), or --now to tick at the wall clock anyway"
    )


def _span(delta: timedelta) -> str:
    days, hours = delta.days, delta.seconds // 3600
    parts = [f"{days} day{'s' * (days != 1)}"] if days else []
    if hours or not days:
        parts.append(f"{hours} hour{'s' * (hours != 1)}")
    return " ".join(parts)


@app.command("send")
def send_(directory: DirOption = None, warehouse: WarehouseOption = None, at: AtOption = "now") -> None:
    """Dispatch every due message of the outbox; each outcome becomes a message_events row.

    Prints what each channel did; exits 2 when a channel is down (its messages stay due and are retried)."""
    from rich.table import Table

    from channel_senders.report import COLUMNS

    ws = _workspace(directory, warehouse)
    now = _time(at)
    report = _dispatch(ws, ws.load(), now)
    if not report.counts:
        out.print(f"nothing due at {now:%Y-%m-%d %H:%M:%S}")
        return
    table = Table(title=f"dispatch at {now:%Y-%m-%d %H:%M:%S}")
    table.add_column("channel")
    for column in COLUMNS:
        table.add_column(column, justify="right")
    for row in report.rows():
        table.add_row(*row)
    out.print(table)
    _say_outages(report)
    if report.outages:
        raise typer.Exit(2)


def _dispatch(ws, project, now: datetime):  # noqa: ANN001, ANN202
    from channel_senders.outbox import dispatch_project

    return dispatch_project(ws.warehouse, project, now)


def _say_outages(report) -> None:  # noqa: ANN001
    for channel, reason in report.outages.items():
        err.print(
            f"[red]error[/red]: {channel}: messages deferred, they stay due and are retried: {reason}",
            highlight=False,
            soft_wrap=True,
        )


@app.command()
def receive(
    directory: DirOption = None,
    warehouse: WarehouseOption = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8030,
) -> None:
    """Serve provider status callbacks (POST /callbacks/<channel>, HMAC-signed) into message_events."""
    from channel_senders.callback_store import spool_dir
    from channel_senders.receiver import StatusReceiver

    ws = _workspace(directory, warehouse)
    if not ws.warehouse.exists():
        raise JourneysError(f"no warehouse at {ws.warehouse}: run `journeys init` and a tick first")
    try:
        receiver = StatusReceiver(ws.warehouse, ws.load().channels, host, port)
    except OSError as error:
        raise JourneysError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    out.print(
        f"receiving provider callbacks on {receiver.url('<channel>')} for {ws.warehouse} "
        f"(spooled in {spool_dir(ws.warehouse)} while the warehouse is busy); Ctrl-C stops"
    )
    receiver.serve_forever()


@app.command()
def approve(
    journey: Annotated[str, typer.Argument(help="The schedule_once journey to approve.")],
    directory: DirOption = None,
    warehouse: WarehouseOption = None,
    at: AtOption = "now",
) -> None:
    """Approve a schedule_once journey from time T (late approvals follow its on_late_approval policy)."""
    _control(directory, warehouse, journey, "approve", at, None)
    out.print(f"approved {journey} at {_time(at)}; the next tick acts on it")


@app.command("pick-winner")
def pick_winner(
    journey: Annotated[str, typer.Argument(help="The journey with the ab_race.")],
    variant: Annotated[str, typer.Argument(help="The winning variant's id.")],
    directory: DirOption = None,
    warehouse: WarehouseOption = None,
    at: AtOption = "now",
) -> None:
    """Send the traffic waiting at the ab_race to VARIANT from time T (the first pick counts)."""
    _control(directory, warehouse, journey, "pick_winner", at, variant)
    out.print(f"picked {variant} for {journey} at {_time(at)}; the next tick moves the waiting profiles")


@app.command()
def rewind(
    to: Annotated[str, typer.Option("--to", help="ISO time: every tick after it is taken back.")],
    directory: DirOption = None,
    warehouse: WarehouseOption = None,
    keep_dispatched: Annotated[
        bool,
        typer.Option(
            "--keep-dispatched",
            help="Keep messages of those ticks that a sender already handled, so they are never sent again.",
        ),
    ] = False,
) -> None:
    """Remove everything the ticks after T wrote, as if they never ran; refuses while one of their messages
    was already dispatched (see --keep-dispatched)."""
    from journey_compiler.runtime.rewind import rewind as rewind_warehouse
    from journey_compiler.runtime.workspace import build_dbt_project

    ws = _workspace(directory, warehouse)
    done = rewind_warehouse(ws, build_dbt_project(ws), _time(to), keep_dispatched=keep_dispatched)
    out.print(escape(done.line()), highlight=False, soft_wrap=True)


LIFECYCLE = {
    "pause": (
        "Pause a journey from time T: nobody enters, nothing is sent, nobody leaves a node (exits apply).",
        "paused {journey} from {at}; `journeys resume {journey}` continues it",
    ),
    "resume": (
        "Resume a paused journey at time T: what came due during the pause happens then.",
        "resumed {journey} at {at}; the next tick moves what came due during the pause",
    ),
    "stop": (
        "End a journey at time T for good: every open path exits (reason `stopped`), nobody enters again.",
        "stopped {journey} at {at}; messages created before are still sent",
    ),
}
"""docs/semantics.md, "Pausing a journey": (the command's help, what it says when recorded)."""


def _lifecycle_command(action: str) -> None:
    doc, said = LIFECYCLE[action]

    def command(
        journey: Annotated[str, typer.Argument(help="The journey.")],
        directory: DirOption = None,
        warehouse: WarehouseOption = None,
        at: AtOption = "now",
    ) -> None:
        _control(directory, warehouse, journey, action, at, None)
        out.print(said.format(journey=journey, at=_time(at)))

    command.__doc__ = doc
    app.command(action)(command)


for _action in LIFECYCLE:
    _lifecycle_command(_action)


def _control(
    directory: Path | None, warehouse: Path | None, journey: str, action: str, at: str, value: str | None
) -> None:
    from journey_compiler.runtime.controls import record_control

    ws = _workspace(directory, warehouse)
    record_control(ws, ws.load(), journey, action, _time(at), value)


@app.command()
def plan(
    directory: DirOption = None,
    warehouse: WarehouseOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (with every SQL diff) instead of text.")
    ] = False,
    sql: Annotated[bool, typer.Option("--sql", help="Include the SQL diff of every changed model.")] = False,
) -> None:
    """Compare the journeys directory with what the warehouse last ran: journeys and nodes added, removed,
    changed, and the profiles in flight each change touches. Exit 0 (with or without changes), 2 when the
    directory does not validate (one line per problem), so it can gate a pull request."""
    from journey_compiler.plan.run import plan_changes
    from journey_compiler.show.plan import plan_text

    ws = _workspace(directory, warehouse)
    try:
        found = plan_changes(ws.journeys_dir, ws.warehouse)
    except ConfigErrors as problems:
        for problem in problems.errors:
            err.print(f"[red]error[/red]: {escape(str(problem))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    text = json.dumps(found.as_json(), indent=2) if as_json else plan_text(found, sql=sql)
    sys.stdout.write(text + "\n")


@app.command()
def schema(
    out_file: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
) -> None:
    """The JSON Schema of a journey file, for editors (e.g. yaml-language-server)."""
    from journey_compiler.config.journey import Journey

    text = json.dumps(Journey.model_json_schema(by_alias=True), indent=2)
    if out_file:
        out_file.write_text(text + "\n")
    else:
        sys.stdout.write(text + "\n")


@app.command("metrics")
def metrics_(
    journey: Annotated[str | None, typer.Argument(help="Only this journey.")] = None,
    directory: DirOption = None,
    warehouse: WarehouseOption = None,
    recompute: Annotated[
        bool, typer.Option("--recompute", help="Recompute the metric marts first (the 05/11/17/23 job).")
    ] = False,
) -> None:
    """Print the metric marts: every journey's metrics per A/B group and its A/B comparison."""
    from journey_compiler.runtime.metrics import recompute_metrics
    from journey_compiler.runtime.workspace import build_dbt_project
    from journey_compiler.show.marts import experiment_rows, metric_table
    from journey_compiler.show.outputs import open_outputs, published_as_of
    from journey_compiler.show.picture import find_journey
    from journey_compiler.show.tables import experiments_table, metrics_table

    ws = _workspace(directory, warehouse)
    project = ws.load()
    journeys = [find_journey(project, journey).id] if journey else sorted(project.journeys)
    if recompute:
        recompute_metrics(ws, build_dbt_project(ws, project))
    with open_outputs(ws.warehouse) as con:
        for journey_id in journeys:
            table = metrics_table(journey_id, metric_table(con, journey_id), published_as_of(ws.warehouse))
            out.print(table)
            if experiments := experiment_rows(con, journey_id):
                out.print(experiments_table(journey_id, experiments))


@app.command()
def show(
    journey: Annotated[str, typer.Argument(help="The journey to draw.")],
    directory: DirOption = None,
    warehouse: WarehouseOption = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the picture: FILE.svg, or FILE.html with the metrics.")
    ] = None,
) -> None:
    """The journey with the count of profiles on each node and branch (a table, or a picture with --out)."""
    from journey_compiler.show.picture import figures_of, find_journey, render_picture
    from journey_compiler.show.tables import nodes_table

    ws = _workspace(directory, warehouse)
    project = ws.load()
    if out_file is None:
        out.print(nodes_table(find_journey(project, journey), figures_of(project, ws.warehouse, journey)))
        return
    kind = out_file.suffix.lower().lstrip(".")
    if kind not in ("svg", "html"):
        raise JourneysError(f"--out {out_file}: give a .svg or .html file")
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(render_picture(project, ws.warehouse, journey, kind))
    out.print(f"wrote {out_file}")


@app.command()
def estimate(
    name: Annotated[str, typer.Argument(help="A segment, or a journey (then give NODE).")],
    node: Annotated[
        str | None, typer.Argument(help="The journey's node: its joint audience per path.")
    ] = None,
    directory: DirOption = None,
    warehouse: WarehouseOption = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="ISO time (UTC unless it has an offset); default: the last tick."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """The size of a segment, or the joint audience of a journey's node (one row per path, plus the total)."""
    from journey_compiler.estimate.run import estimate_node, estimate_segment
    from journey_compiler.show.estimate import node_table, segment_table

    ws = _workspace(directory, warehouse)
    moment = _time(at) if at else None
    if node is None:
        size = estimate_segment(ws.load(), ws.warehouse, name, moment)
        report, table = size.as_json(), segment_table(size)
    else:
        joint = estimate_node(ws.load(), ws.warehouse, name, node, moment)
        report, table = joint.as_json(), node_table(joint)
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        out.print(table)


@app.command()
def demo(
    workdir: Annotated[Path, typer.Option(help="Where the demo warehouse goes (recreated).")] = Path("demo"),
    profiles: Annotated[int, typer.Option(help="Synthetic profiles.")] = 3000,
    days: Annotated[int, typer.Option(help="Days of signups; the demo ticks one more.")] = 7,
    every: Annotated[str, typer.Option(help="Tick cadence of the simulated week.")] = "3h",
) -> None:
    """A synthetic shop, a simulated week of ticks, real sends to local SMTP/HTTP servers, and the counts."""
    from journey_compiler.demo.run import run_demo

    run_demo(workdir, profiles=profiles, days=days, every=_duration(every), console=out)


def main() -> None:
    try:
        code = app(standalone_mode=False)  # a command's `typer.Exit(n)` comes back as n in this mode
    except ConfigErrors as problems:
        for problem in problems.errors:
            err.print(f"[red]error[/red]: {escape(str(problem))}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except JourneysError as problem:
        err.print(f"[red]error[/red]: {escape(str(problem))}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(130)
    except Exception as problem:  # click usage errors
        import click

        if isinstance(problem, click.ClickException):
            problem.show()
            sys.exit(problem.exit_code)
        raise
    if isinstance(code, int) and code:
        sys.exit(code)
