"""Bad raw rows (spec section 1: raw tables are written by other systems) never stop a tick, multiply sends
or vanish: each is used after a stated repair, or kept out and listed once in journeys.rejected_rows, and a
row fixed later enters at the next tick with its own times."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

pytestmark = pytest.mark.slow

H = timedelta(hours=1)
D = timedelta(days=1)
T0 = datetime(2026, 3, 2, 9, 0)

# A local-time wait, then a send: the shape whose sends multiplied with a duplicated profile row.
MORNING = """
id: morning
name: Morning hello
timezone: Asia/Shanghai
active: {from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}
entry:
  event:
    did: {event: signup}
nodes:
  wait_for_morning:
    wait: {at: "08:00"}
    next: hello
  hello:
    send: {channel: email, template: welcome_email}
"""


@pytest.fixture
def sc(make_scenario):
    return make_scenario({"morning": MORNING})


LATEST = "the one with the latest updated_at is used"
ORDER = "tick_at, source_table, row_key, status"


def rejected(sc, status: str | None = None) -> list[tuple]:
    where = f"status = '{status}'" if status else "true"
    return [
        (r["source_table"], r["row_key"], r["status"], r["reason"])
        for r in sc.rows(
            "journeys.rejected_rows", where=where, order="tick_at, source_table, row_key, status"
        )
    ]


def entered(sc) -> dict[str, datetime]:
    return {t["profile_id"]: t["logical_at"] for t in sc.transitions() if t["reason"] == "entered"}


def test_an_event_without_a_profile_id_makes_no_ghost_entry_and_is_listed_once(sc):
    sc.profile("ann")
    sc.event("good", "ann", "signup", T0)
    sc.sql("insert into raw.events values ('ghost', null, 'signup', ?, '{}', ?)", [T0, T0])
    for step in range(3):
        sc.tick(T0 + (step + 1) * D)
    assert entered(sc) == {"ann": T0}
    assert all(t["entry_id"] and t["profile_id"] for t in sc.transitions())
    assert [s["message_id"] is not None for s in sc.sends()] == [True]
    assert rejected(sc) == [("raw.events", "ghost", "rejected", "profile_id is missing")]


def test_a_profile_listed_twice_gets_one_path_and_one_message(sc):
    sc.profile("bob", timezone="Asia/Shanghai")
    sc.sql(
        "insert into raw.profiles values ('bob', 'bob.new@example.test', '+1', 'Asia/Shanghai', '{}', ?)",
        [datetime(2026, 2, 1)],
    )
    sc.event("s1", "bob", "signup", T0)
    for step in range(4):
        sc.tick(T0 + step * 12 * H)
    (message,) = sc.sends("bob")
    assert message["recipient_id"] == "bob"
    assert len(sc.state("bob")) == 1
    assert [move[:2] for move in sc.moves("bob")] == [
        (None, "wait_for_morning"),
        ("wait_for_morning", "hello"),
        ("hello", None),
    ]
    assert rejected(sc) == [
        (
            "raw.profiles",
            "bob",
            "repaired",
            "2 rows for one profile_id: the one with the latest updated_at is used",
        )
    ]
    # the newer row is the one used
    (email,) = sc.sql("select email from staging.stg_raw__profiles where profile_id = 'bob'")
    assert email == ("bob.new@example.test",)


def test_an_unknown_timezone_falls_back_to_the_journeys_and_others_keep_moving(sc):
    sc.profile("mars", timezone="Mars/Base")
    sc.profile("earth", timezone="Europe/Berlin")
    sc.event("s1", "mars", "signup", T0)
    sc.event("s2", "earth", "signup", T0)
    sc.tick(T0 + 2 * D)
    leave = {
        t["profile_id"]: t["logical_at"] for t in sc.transitions() if t["from_node"] == "wait_for_morning"
    }
    # 08:00 in Shanghai (the journey's zone) is 00:00 UTC; in Berlin (CET) 07:00 UTC
    assert leave == {"mars": datetime(2026, 3, 3, 0, 0), "earth": datetime(2026, 3, 3, 7, 0)}
    assert rejected(sc) == [
        (
            "raw.profiles",
            "mars",
            "repaired",
            "timezone Mars/Base is not an IANA time zone: the journey's timezone is used",
        )
    ]


def test_properties_that_are_not_json_are_rejected_then_admitted_when_fixed(sc):
    # a raw table created by someone else, with properties as plain text
    sc.sql("drop table raw.events")
    sc.sql(
        "create table raw.events (event_id varchar, profile_id varchar, event_name varchar, "
        "event_time timestamp, properties varchar, loaded_at timestamp)"
    )
    sc.profiles(["ann", "cat"])
    sc.event("fine", "ann", "signup", T0)
    sc.sql("insert into raw.events values ('broken', 'cat', 'signup', ?, '{not json', ?)", [T0 + H, T0 + H])
    sc.tick(T0 + 2 * H)
    sc.tick(T0 + 3 * H)
    assert entered(sc) == {"ann": T0}
    assert rejected(sc) == [("raw.events", "broken", "rejected", "properties is not valid JSON")]

    sc.sql("update raw.events set properties = ? where event_id = 'broken'", [json.dumps({"channel": "web"})])
    sc.tick(T0 + 4 * H)
    assert entered(sc) == {"ann": T0, "cat": T0 + H}  # with its own event time
    assert rejected(sc, "admitted") == [
        ("raw.events", "broken", "admitted", "usable now: staged with its own event_time")
    ]
    sc.tick(T0 + 5 * H)
    assert len(rejected(sc)) == 2
    assert len(sc.transitions("cat")) == 1


def test_an_event_without_a_time_is_listed_not_dropped_silently(sc):
    sc.profile("ann")
    sc.sql("insert into raw.events values ('no_time', 'ann', 'signup', null, '{}', ?)", [T0])
    sc.tick(T0 + H)
    assert entered(sc) == {}
    assert rejected(sc) == [("raw.events", "no_time", "rejected", "event_time is missing")]


def test_an_event_of_an_unknown_profile_is_held_until_the_profile_arrives(sc):
    sc.event("early", "newbie", "signup", T0)
    sc.tick(T0 + H)
    sc.tick(T0 + 2 * H)
    assert entered(sc) == {}
    assert rejected(sc) == [
        (
            "raw.events",
            "early",
            "rejected",
            "profile newbie is not in the profiles table (held until it is)",
        )
    ]
    sc.profile("newbie")
    sc.tick(T0 + 3 * H)
    assert entered(sc) == {"newbie": T0}
    assert [r[2] for r in rejected(sc)] == ["rejected", "admitted"]


def test_a_rerun_tick_lists_nothing_twice(sc):
    sc.profile("ann", timezone="Nowhere/Land")
    sc.event("x", None, "signup", T0)  # type: ignore[arg-type]
    sc.tick(T0 + H)
    before = sc.rows("journeys.rejected_rows")
    sc.tick(T0 + H)
    sc.tick(T0 + 2 * H)
    assert sc.rows("journeys.rejected_rows") == before
    assert len(before) == 2


def test_relations_and_calendar_rows_that_cannot_be_used_are_listed(sc):
    sc.profile("ann")
    sc.sql("insert into raw.relations values ('car1', 'ann', 'owned_by'), ('car1', 'ann', 'owned_by')")
    sc.sql("insert into raw.relations values (null, 'ann', 'owned_by')")
    sc.sql("insert into raw.trading_calendar values ('2026-03-02', true), ('2026-03-02', false)")
    sc.sql("insert into raw.profile_tags values ('ann', null, ?)", [T0])
    sc.tick(T0 + H)
    assert sc.sql("select count(*) from staging.stg_raw__relations") == [(1,)]
    assert sc.sql("select is_trading_day from staging.stg_raw__trading_calendar") == [(False,)]
    found = {(r[0], r[2], r[3]) for r in rejected(sc)}
    assert found == {
        ("raw.relations", "rejected", "from_id is missing"),
        ("raw.profile_tags", "rejected", "tag is missing"),
        (
            "raw.trading_calendar",
            "repaired",
            "2 rows for one day: a trading day only if every row says so",
        ),
    }


def test_a_tick_whose_history_breaks_an_id_invariant_fails_and_stays_unapplied(sc):
    from channel_senders.outbox import dispatch_project
    from journey_compiler.errors import TickError

    sc.profile("ann")
    sc.event("s1", "ann", "signup", T0)
    at = T0 + 2 * D
    sc.tick(at)
    # as if the tick had written its message twice and crashed before it was marked applied
    history = "journeys_internal.jrn_morning"
    sc.sql(f"insert into {history} select * from {history} where record = 'send'")
    sc.sql("delete from journeys.tick_log where tick_at = ? and finished_at is not null", [at])
    with pytest.raises(TickError, match="journey_history_keys.*jrn_morning"):
        sc.tick(at)
    assert sc.sql("select finished_at from journeys.tick_log where tick_at = ?", [at]) == [(None,)]

    # nothing an unapplied tick wrote goes out; once the cause is gone and the tick applied, it does
    dispatch_project(sc.workspace.warehouse, sc.built.project, at)
    assert sc.sql("select count(*) from journeys.message_events") == [(0,)]
    sc.sql(f"delete from {history} where rowid = (select max(rowid) from {history} where record = 'send')")
    sc.tick(at)
    dispatch_project(sc.workspace.warehouse, sc.built.project, at)
    assert sc.sql("select count(distinct message_id) from journeys.message_events") == [(1,)]


def test_the_cli_says_how_many_rows_are_kept_out_and_where_to_look(sc):
    import subprocess
    import sys
    from pathlib import Path

    sc.profile("ann", timezone="Mars/Base")
    sc.event("good", "ann", "signup", T0)
    sc.sql("insert into raw.events values ('bad1', null, 'signup', ?, '{}', ?)", [T0, T0])
    sc.sql("insert into raw.events values ('bad2', 'ghost', 'signup', ?, '{}', ?)", [T0, T0])
    journeys = Path(sys.executable).parent / "journeys"
    where = ["--dir", str(sc.workspace.journeys_dir), "--warehouse", str(sc.workspace.warehouse)]
    result = subprocess.run(
        [str(journeys), "tick", "--at", "2026-03-02T10:00:00", *where], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert (
        "note: 2 raw rows kept out of the ticks (2 in raw.events); why: select * from journeys.rejected_rows"
        in (result.stderr.replace("\n", " "))
    )
    assert entered(sc) == {"ann": T0}
