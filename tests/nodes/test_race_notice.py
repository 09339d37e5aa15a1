"""The ab_race operator notice at the `sample_size`-th test arrival, whatever the tick cadence (a regression
found by the cadence property of tests/differential)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

pytestmark = pytest.mark.slow

H = timedelta(hours=1)
T = datetime(2026, 3, 2, 8, 0)
PROFILES = [f"p{i}" for i in range(8)]

RACE = """
id: race_sample
timezone: UTC
active: {from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}
entry:
  event:
    did: {event: signup}
start: %(start)s
nodes:
  hello:
    add_tag: warm
    next: race
  race:
    ab_race:
      test_share: 50
      variants: [{id: va, to: tag_a}, {id: vb, to: tag_b}]
      sample_size: 2
      notify: {channel: email, template: race_done, to: crm@shop.example}
  tag_a:
    add_tag: won_back
  tag_b:
    add_tag: cart_reader
"""


def _notice_and_tested(sc):
    notices = sc.rows("journeys.send_queue", "created_at", where="node_id = 'race'")
    tested = sc.rows(
        "journeys.journey_transitions", "logical_at", where="from_node = 'race' and ab_group is not null"
    )
    return [n["created_at"] for n in notices], sorted(t["logical_at"] for t in tested)


@pytest.mark.parametrize("start", ["race", "hello"])
def test_the_notice_comes_at_the_sample_size_th_test_arrival_at_every_cadence(make_scenario, start):
    got = {}
    for name, ticks in (("often", [T + k * 3 * H for k in range(4)]), ("once", [T + 9 * H])):
        sc = make_scenario({"race_sample": RACE % {"start": start}}, name=name)
        sc.profiles(PROFILES)
        for i, pid in enumerate(PROFILES):
            sc.event(f"s{i}", pid, "signup", T + i * H + 10 * timedelta(minutes=1))
        for at in ticks:
            sc.tick(at)
        got[name] = _notice_and_tested(sc)
    notices, tested = got["once"]
    assert len(tested) >= 2, "the journey must test at least two profiles"
    assert notices == [tested[1]]
    assert got["often"] == got["once"]
