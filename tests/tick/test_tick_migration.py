"""A warehouse whose journeys have histories but no open-paths snapshot (as written before the snapshot
existed) is migrated by the next tick: the state derived from the history is the same one the snapshot
carries, so the ticks after it give what an unbroken run gives."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from journey_compiler.errors import TickError
from journey_compiler.runtime.dbt import run_dbt

pytestmark = pytest.mark.slow

H = timedelta(hours=1)
D = timedelta(days=1)
T0 = datetime(2026, 3, 2, 9, 41)


def _load(sc):
    """Three signups an hour apart; one activates the next day, one unsubscribes the same day."""
    for n, pid in enumerate(("p1", "p2", "p3")):
        sc.profile(pid)
        sc.event(f"s{n}", pid, "signup", T0 + n * H)
    sc.event("a1", "p1", "activate", T0 + D + 3 * H)
    sc.event("u3", "p3", "unsubscribe", T0 + 6 * H, channel="email")


def test_a_history_without_snapshot_is_migrated_and_ticks_on_unchanged(make_scenario, welcome_yaml):
    unbroken = make_scenario({"welcome_series": welcome_yaml}, name="unbroken")
    migrated = make_scenario({"welcome_series": welcome_yaml}, name="migrated")
    for sc in (unbroken, migrated):
        _load(sc)
        sc.tick(T0 + 3 * H)
    waiting = migrated.sql("select count(*) from journeys_internal.jrn_welcome_series__open")[0][0]
    assert waiting == 3
    migrated.sql("drop table journeys_internal.jrn_welcome_series__open")

    for sc in (unbroken, migrated):
        sc.tick(T0 + 2 * D)
        sc.tick(T0 + 9 * D)
    assert migrated.snapshot() == unbroken.snapshot()
    assert migrated.transition_set() == unbroken.transition_set()


def test_dbt_alone_refuses_a_history_without_snapshot(make_scenario, welcome_yaml):
    sc = make_scenario({"welcome_series": welcome_yaml})
    _load(sc)
    sc.tick(T0 + 3 * H)
    sc.sql("drop table journeys_internal.jrn_welcome_series__open")
    with pytest.raises(TickError, match="jrn_welcome_series__open: run `journeys tick`"):
        run_dbt(sc.built.dbt_dir, sc.workspace.warehouse, ["build", "--select", "tag:tick"])


def test_a_warehouse_from_before_tag_hops_ticks_on_unchanged(make_scenario, welcome_yaml):
    """Histories and published tags written before a tag write carried its hop (docs/semantics.md, "Two tag
    writes at one instant") gain the columns at the next tick, NULL for their old rows."""
    unbroken = make_scenario({"welcome_series": welcome_yaml}, name="unbroken")
    migrated = make_scenario({"welcome_series": welcome_yaml}, name="migrated")
    for sc in (unbroken, migrated):
        _load(sc)
        sc.tick(T0 + 2 * D)
    migrated.sql("alter table journeys_internal.jrn_welcome_series drop column hop")
    for column in ("hop", "entry_id"):
        migrated.sql(f"alter table journeys.published_tags drop column {column}")

    for sc in (unbroken, migrated):
        sc.tick(T0 + 9 * D)
    assert migrated.snapshot() == unbroken.snapshot()
    assert migrated.sql("select count(*), count(hop) from journeys.published_tags") == [(1, 0)]


def test_a_tick_log_with_one_updated_row_per_tick_ticks_on_unchanged(make_scenario, welcome_yaml):
    """Before the tick log was append-only, a tick had one row, its `finished_at` set by an UPDATE; such a
    log (the start rows gone, the finished rows left) must tick on as the append-only one does."""
    unbroken = make_scenario({"welcome_series": welcome_yaml}, name="unbroken")
    updated = make_scenario({"welcome_series": welcome_yaml}, name="updated")
    for sc in (unbroken, updated):
        _load(sc)
        sc.tick(T0 + 3 * H)
        sc.tick(T0 + D + 4 * H)
    assert updated.sql("select count(*), count(finished_at) from journeys.tick_log") == [(4, 2)]
    updated.sql("delete from journeys.tick_log where finished_at is null")

    for sc in (unbroken, updated):
        sc.tick(T0 + D + 4 * H)  # applied already: nothing happens
        sc.tick(T0 + 9 * D)
    assert updated.sql("select count(*), count(finished_at) from journeys.tick_log") == [(4, 3)]
    assert updated.snapshot() == unbroken.snapshot()
    assert updated.transition_set() == unbroken.transition_set()
