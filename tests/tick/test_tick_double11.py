"""The shipped double11_promo: schedule_once with approval, an ab_race with a picked winner and an operator
notice, and a goal on the orders detail table."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from journey_compiler.errors import JourneysError
from journey_compiler.runtime.controls import record_control

pytestmark = pytest.mark.slow

PLANNED = datetime(2026, 11, 9, 2, 0)  # 10:00 Asia/Shanghai, as the journey says
MEMBERS = 200
JOURNEY = (
    Path(__file__).resolve().parents[2] / "examples" / "shop" / "journeys" / "double11_promo.yaml"
).read_text()


def _shop(make_scenario):
    sc = make_scenario({"double11_promo": JOURNEY})
    sc.sql(
        "insert into raw.profiles select 'p' || i, 'p' || i || '@x.test', '+1', 'Asia/Shanghai', "
        "json_object('member_level', 'gold'), timestamp '2026-10-01' from range(?) t(i)",
        [MEMBERS],
    )
    sc.sql("insert into raw.profiles values ('guest', 'g@x.test', null, null, '{}', '2026-10-01')")
    sc.sql(
        "insert into raw.orders (order_id, profile_id, amount, ordered_at) "
        "select 'o' || i, 'p' || i, 30.0, timestamp '2026-11-10 05:00' from range(0, ?, 10) t(i)",
        [MEMBERS],
    )
    return sc


def _approve(sc, at, action="approve", value=None):
    record_control(sc.workspace, sc.built.project, "double11_promo", action, at, value)


def test_race_picks_and_notifies(make_scenario):
    sc = _shop(make_scenario)
    _approve(sc, PLANNED - timedelta(hours=1))
    sc.tick(PLANNED + timedelta(hours=1))
    _approve(sc, datetime(2026, 11, 10, 8, 0), "pick_winner", "shipping")
    sc.tick(datetime(2026, 11, 12))

    moves = sc.sql(
        "select from_node, to_node, ab_group, min(logical_at), count(*) from journeys.journey_transitions "
        "where from_node = 'race' group by all order by 1, 2, 3 nulls first"
    )
    tested = {group: n for _, _, group, _, n in moves if group is not None}
    (rest,) = [(to, at, n) for _, to, group, at, n in moves if group is None]
    assert set(tested) == {"discount", "shipping"}
    assert 0.2 * MEMBERS <= sum(tested.values()) <= 0.4 * MEMBERS, "about test_share 30 % is tested"
    assert rest == ("promo_b", datetime(2026, 11, 10, 8, 0), MEMBERS - sum(tested.values()))
    entered = sc.sql("select count(*), min(entry_at), max(entry_at) from journeys.journey_state")
    assert entered == [(MEMBERS, PLANNED, PLANNED)], "members only (the guest is not in the audience)"
    notices = sc.sql(
        "select recipient_id, template, not_before from journeys.send_queue where node_id = 'race'"
    )
    assert notices == [("crm-team@shop.example", "race_done", PLANNED + timedelta(days=2))]
    goals = sc.sql("select count(*), min(completed_at) from journeys.goal_completions")
    assert goals == [(MEMBERS // 10, datetime(2026, 11, 10, 5, 0))]


def test_late_approval_runs_when_approved_within_72_hours(make_scenario):
    sc = _shop(make_scenario)
    sc.tick(PLANNED + timedelta(hours=1))
    assert sc.sql("select count(*) from journeys.journey_state") == [(0,)], "not approved: nobody enters"
    _approve(sc, PLANNED + timedelta(hours=5))
    sc.tick(PLANNED + timedelta(hours=6))
    assert sc.sql("select count(*), min(entry_at) from journeys.journey_state") == [
        (MEMBERS, PLANNED + timedelta(hours=5))
    ]


def test_approval_after_72_hours_cancels(make_scenario):
    sc = _shop(make_scenario)
    _approve(sc, PLANNED + timedelta(hours=73))
    sc.tick(PLANNED + timedelta(days=4))
    assert sc.sql("select count(*) from journeys.journey_state") == [(0,)]


def test_controls_name_what_is_wrong(make_scenario):
    sc = _shop(make_scenario)
    with pytest.raises(JourneysError, match="unknown variant 'nope'"):
        _approve(sc, PLANNED, "pick_winner", "nope")
    with pytest.raises(JourneysError, match="unknown journey"):
        record_control(sc.workspace, sc.built.project, "no_such", "approve", PLANNED)
