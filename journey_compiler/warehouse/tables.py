"""DDL for the raw inputs (spec section 1) and the tables our pipeline owns, built as sqlglot ASTs.

`journeys init` creates the raw tables empty; tables created by someone else with exactly these columns
work as well, because nothing below assumes more than spec section 1 names.
"""

from __future__ import annotations

import duckdb
from sqlglot import exp

from journey_compiler.config.warehouse import WarehouseConfig
from journey_compiler.warehouse.connection import Warehouse
from journey_compiler.warehouse.duckdb_warehouse import as_warehouse

Columns = dict[str, str]

PROFILES: Columns = {
    "profile_id": "text",
    "email": "text",
    "phone": "text",
    "timezone": "text",
    "attributes": "json",
    "updated_at": "timestamp",
}
EVENTS: Columns = {
    "event_id": "text",
    "profile_id": "text",
    "event_name": "text",
    "event_time": "timestamp",
    "properties": "json",
    "loaded_at": "timestamp",
}
PROFILE_TAGS: Columns = {"profile_id": "text", "tag": "text", "tagged_at": "timestamp"}
RELATIONS: Columns = {"from_id": "text", "to_id": "text", "relation": "text"}
TRADING_CALENDAR: Columns = {"day": "date", "is_trading_day": "boolean"}

# Written by the senders, read by the tick (message_status, send branches) and the marts.
MESSAGE_EVENTS: Columns = {"message_id": "text", "status": "text", "status_at": "timestamp", "detail": "text"}
# Written by the senders: when a deferred message may be tried again (one row per deferral, the last counts).
MESSAGE_RETRIES: Columns = {
    "message_id": "text",
    "deferral": "integer",
    "retry_at": "timestamp",
    "deferred_at": "timestamp",
}
# Append-only, so that an engine without UPDATE keeps it too: a row when a tick starts (`finished_at` null,
# the watermark fixed) and one more, the same with `finished_at`, when every model of the tick ran. A
# warehouse from before this has one row per tick, updated when it finished; readers take either.
TICK_LOG: Columns = {
    "tick_at": "timestamp",
    "watermark": "timestamp",
    "started_at": "timestamp",
    "finished_at": "timestamp",
}
# The single row every tick model reads its time from (passing it as a dbt var would force a re-parse).
TICK_CONTEXT: Columns = {"tick_at": "timestamp", "watermark": "timestamp", "previous_tick_at": "timestamp"}
# When each `schedule_recurring` journey's audience enters: the runner expands the cron here, tick by tick.
SCHEDULE_OCCURRENCES: Columns = {"journey_id": "text", "occurrence_at": "timestamp"}
SCHEDULE_STARTS: Columns = {"journey_id": "text", "started_at": "timestamp"}
# Tags written by journeys, published when a tick finishes: segments see them from the next tick on.
PUBLISHED_TAGS: Columns = {
    "profile_id": "text",
    "tag": "text",
    "tagged_at": "timestamp",
    "removed": "boolean",
    "journey_id": "text",
    "tick_at": "timestamp",
    "entry_id": "text",
    "hop": "integer",
    "path_id": "text",
}
# Operator decisions (approve a schedule_once, pick an ab_race winner, pause / resume / stop), each at a
# logical time, with who recorded it and through what (cli, dagster).
JOURNEY_CONTROLS: Columns = {
    "journey_id": "text",
    "action": "text",
    "effective_at": "timestamp",
    "value": "text",
    "recorded_at": "timestamp",
    "recorded_by": "text",
    "recorded_via": "text",
}
# `journeys rewind`: who took the ticks after `to_at` back, when, from where, and what it removed.
REWINDS: Columns = {
    "rewound_at": "timestamp",
    "to_at": "timestamp",
    "last_kept_tick": "timestamp",
    "first_removed_tick": "timestamp",
    "last_removed_tick": "timestamp",
    "ticks_removed": "integer",
    "kept_messages": "integer",
    "actor": "text",
    "host": "text",
    "recorded_via": "text",
}
# Messages of rewound ticks that a sender had already handled, kept with their outcomes (`--keep-dispatched`).
REWOUND_MESSAGES: Columns = {"rewound_at": "timestamp", "message_id": "text", "status": "text"}
# What the warehouse ran, for `journeys plan`: every journey version once (from the first tick that ran it),
# and the set of (journey, version) a tick ran, written by each tick whose set differs from the last one.
JOURNEY_VERSIONS: Columns = {
    "journey_id": "text",
    "version": "text",
    "config": "json",
    "model_sql": "text",
    "tick_at": "timestamp",
    "templates": "json",
}
JOURNEY_DEPLOYMENTS: Columns = {"tick_at": "timestamp", "journey_id": "text", "version": "text"}

CONTROL_SCHEMA = "journeys"
INTERNAL_SCHEMA = "journeys_internal"
"""Where dbt builds the journey histories and their open-path snapshots (dbt_project.yml)."""
MESSAGE_EVENTS_TABLE = f"{CONTROL_SCHEMA}.message_events"
MESSAGE_RETRIES_TABLE = f"{CONTROL_SCHEMA}.message_retries"
SEND_QUEUE_VIEW = f"{CONTROL_SCHEMA}.send_queue"
"""The outbox: a dbt view over the journey histories and `message_events` (see the marts)."""
TICK_LOG_TABLE = f"{CONTROL_SCHEMA}.tick_log"
TICK_CONTEXT_TABLE = f"{CONTROL_SCHEMA}.tick_context"
DEPLOYMENT: Columns = {"digest": "text", "deployed_at": "timestamp"}
DEPLOYMENT_TABLE = f"{CONTROL_SCHEMA}.deployment"
DEPLOYED = f"select digest from {DEPLOYMENT_TABLE} order by deployed_at desc limit 1"
"""The digest of the models the views were last deployed from (one row, replaced by each deploy)."""
APPLIED_TICKS = f"(select tick_at, watermark from {TICK_LOG_TABLE} where finished_at is not null)"
"""The applied ticks, one row each: a tick is applied when the log has its `finished` row (see TICK_LOG).
Every reader of the log asks this, so the log's shape is known here only."""
LAST_APPLIED_TICK = f"select max(tick_at) from {APPLIED_TICKS} applied"

_TYPES = {"text": "VARCHAR", "json": "JSON"}


def column_type(name: str) -> exp.DataType:
    return exp.DataType.build(_TYPES.get(name, name), dialect="duckdb")


def create_table(qualified: str, columns: Columns) -> exp.Create:
    """`CREATE TABLE IF NOT EXISTS schema.table (...)` as an AST."""
    schema = exp.Schema(
        this=exp.to_table(qualified),
        expressions=[
            exp.ColumnDef(this=exp.to_identifier(n), kind=column_type(t)) for n, t in columns.items()
        ],
    )
    return exp.Create(this=schema, kind="TABLE", exists=True)


def raw_tables(warehouse: WarehouseConfig) -> dict[str, Columns]:
    """Every raw input the config names, with its minimum columns."""
    sources = warehouse.sources
    tables = {
        sources.profiles: PROFILES,
        sources.events: EVENTS,
        sources.profile_tags: PROFILE_TAGS,
        sources.relations: RELATIONS,
        sources.trading_calendar: TRADING_CALENDAR,
    }
    for detail in warehouse.details.values():
        tables[detail.table] = {
            detail.profile: "text",
            detail.time: "timestamp",
            **detail.columns,
        }
    return tables


def control_tables() -> dict[str, Columns]:
    return {
        f"{CONTROL_SCHEMA}.message_events": MESSAGE_EVENTS,
        MESSAGE_RETRIES_TABLE: MESSAGE_RETRIES,
        TICK_LOG_TABLE: TICK_LOG,
        f"{CONTROL_SCHEMA}.tick_context": TICK_CONTEXT,
        f"{CONTROL_SCHEMA}.schedule_occurrences": SCHEDULE_OCCURRENCES,
        f"{CONTROL_SCHEMA}.schedule_starts": SCHEDULE_STARTS,
        f"{CONTROL_SCHEMA}.journey_controls": JOURNEY_CONTROLS,
        f"{CONTROL_SCHEMA}.published_tags": PUBLISHED_TAGS,
        f"{CONTROL_SCHEMA}.rewinds": REWINDS,
        f"{CONTROL_SCHEMA}.rewound_messages": REWOUND_MESSAGES,
        f"{CONTROL_SCHEMA}.journey_versions": JOURNEY_VERSIONS,
        f"{CONTROL_SCHEMA}.journey_deployments": JOURNEY_DEPLOYMENTS,
    }


def create_tables(con: Warehouse | duckdb.DuckDBPyConnection, tables: dict[str, Columns]) -> None:
    """Create the schemas and tables that do not exist yet; existing ones (and their rows) are left alone,
    except that our own control tables gain the columns a later version added (at the end, NULL before).
    Every tick begins here, so the catalog is read once per schema and only what is missing is created."""
    warehouse = as_warehouse(con)
    by_schema: dict[str, dict[str, Columns]] = {}
    for qualified, columns in tables.items():
        schema, table = qualified.split(".")
        by_schema.setdefault(schema, {})[table] = columns
    for schema, wanted in by_schema.items():
        present = warehouse.columns(schema)
        if not present:
            warehouse.execute(exp.Create(this=exp.to_identifier(schema), kind="SCHEMA", exists=True))
        for table, columns in wanted.items():
            qualified = f"{schema}.{table}"
            if table not in present:
                warehouse.execute(create_table(qualified, columns))
            elif schema == CONTROL_SCHEMA:
                for name in [c for c in columns if c not in present[table]]:
                    warehouse.execute(_add_column(qualified, name, columns[name]))


def _add_column(qualified: str, name: str, kind: str) -> exp.Alter:
    column = exp.ColumnDef(this=exp.to_identifier(name), kind=column_type(kind))
    return exp.Alter(this=exp.to_table(qualified), kind="TABLE", actions=[column])


def init_warehouse(con: Warehouse | duckdb.DuckDBPyConnection, warehouse: WarehouseConfig) -> None:
    """`journeys init`: empty raw tables plus the control tables the tick and the senders need."""
    create_tables(con, raw_tables(warehouse) | control_tables())
