"""`holdout: {percent: N}`: a deterministic share of the entries walks the journey with every message
suppressed by `holdout`; nothing of theirs reaches a provider; the experiments mart compares the groups.

Who is held out is computed here from the README's formula (md5 of `journey:entry:@holdout`, first 8 hex
digits, mod 10 000, below N × 100), not read from our SQL.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from journey_compiler.config.project import load_project
from journey_compiler.errors import ConfigErrors

JOURNEY = """
id: holdout_hello
active: {from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}
holdout: {percent: 40}
entry:
  event:
    did: {event: signup}
goals:
  - {id: activated, did: {event: activate}, within: 7d}
nodes:
  hello:
    send: {channel: push, template: activation_nudge}
    next: wait_a_bit
  wait_a_bit:
    wait: {for: 1h}
    next: again
  again:
    send: {channel: push, template: activation_nudge}
    next: tag_done
  tag_done:
    add_tag: walked
"""

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "shop"
T0 = datetime(2026, 3, 2, 10, 0)
PEOPLE = [f"p{i:02d}" for i in range(40)]
ACTIVATED = set(PEOPLE[::2])
END = T0 + timedelta(days=1)


def in_holdout(journey_id: str, entry_id: str, percent: float) -> bool:
    digest = hashlib.md5(f"{journey_id}:{entry_id}:@holdout".encode()).hexdigest()
    return int(digest[:8], 16) % 10_000 < percent * 100


@pytest.fixture(scope="module")
def held(tmp_path_factory, scenario_builder):
    from channel_senders.loopback import LocalHttpServer
    from channel_senders.outbox import dispatch_project
    from journey_compiler.config.channels import ChannelsConfig, HttpChannel
    from journey_compiler.runtime.metrics import recompute_metrics

    sc = scenario_builder(tmp_path_factory.mktemp("holdout"), {"holdout_hello": JOURNEY})
    sc.profiles(PEOPLE)
    for i, pid in enumerate(PEOPLE):
        sc.event(f"s_{pid}", pid, "signup", T0 + timedelta(minutes=i), channel="web")
        if pid in ACTIVATED:
            sc.event(f"a_{pid}", pid, "activate", T0 + timedelta(minutes=i + 30))
    sc.tick(END)
    with LocalHttpServer() as server:
        channels = ChannelsConfig(channels={"push": HttpChannel(kind="http_push", url=server.url("/push"))})
        dispatch_project(sc.workspace.warehouse, replace(sc.built.project, channels=channels), END)
        received = list(server.received)
    sc.tick(END + timedelta(hours=1))
    recompute_metrics(sc.workspace, sc.built)
    entries = {row["profile_id"]: row["entry_id"] for row in sc.state()}
    out = {pid for pid, entry in entries.items() if in_holdout("holdout_hello", entry, 40)}
    return sc, out, received


def test_the_held_out_share_is_the_hash(held):
    sc, out, _ = held

    suppressed = {
        row["profile_id"] for row in sc.rows("journeys.send_queue", where="suppressed_by = 'holdout'")
    }

    assert 0 < len(out) < len(PEOPLE)
    assert suppressed == out
    assert {r["status"] for r in sc.sends() if r["profile_id"] in out} == {"suppressed"}


def test_held_out_entries_walk_the_journey_and_reach_their_goals(held):
    sc, out, _ = held

    walked = {row["profile_id"] for row in sc.rows("journeys.journey_tags", where="tag = 'walked'")}
    goals = {row["profile_id"] for row in sc.rows("journeys.goal_completions")}

    assert walked == set(PEOPLE)
    assert goals == ACTIVATED
    for pid in sorted(out)[:3]:
        assert [(m[0], m[1]) for m in sc.moves(pid)] == [
            (None, "hello"),
            ("hello", "wait_a_bit"),
            ("wait_a_bit", "again"),
            ("again", "tag_done"),
            ("tag_done", None),
        ]
    assert {row["status"] for row in sc.state()} == {"completed"}


def test_none_of_their_messages_is_dispatched(held):
    sc, out, received = held

    to = [json.loads(request.body)["to"] for request in received]
    statuses = sc.rows(
        "journeys.message_events e join journeys.send_queue q using (message_id)",
        "q.profile_id, e.status",
    )

    assert sorted(to) == sorted(pid for pid in PEOPLE if pid not in out for _ in ("hello", "again"))
    assert {row["status"] for row in statuses if row["profile_id"] in out} <= {"suppressed"}
    assert {row["profile_id"] for row in statuses if row["status"] == "sent"} == set(PEOPLE) - out


def test_the_experiments_mart_compares_the_holdout_with_the_messaged(held):
    sc, out, _ = held

    rows = sc.rows(
        "journeys.journey_experiments",
        "variant, is_control, reached, converted",
        where="node_id = '(holdout)' and outcome_id = 'goal_activated'",
        order="is_control desc",
    )

    assert rows == [
        {"variant": "holdout", "is_control": True, "reached": len(out), "converted": len(out & ACTIVATED)},
        {
            "variant": "messaged",
            "is_control": False,
            "reached": len(PEOPLE) - len(out),
            "converted": len(ACTIVATED - out),
        },
    ]


@pytest.mark.parametrize("percent", ["0", "100", "-5", "150"])
def test_a_bad_percent_names_the_file_and_yaml_path(tmp_path, percent):
    root = tmp_path / "journeys_dir"
    shutil.copytree(EXAMPLES, root)
    bad = JOURNEY.replace("holdout: {percent: 40}", f"holdout: {{percent: {percent}}}")
    (root / "journeys" / "holdout_hello.yaml").write_text(bad)

    with pytest.raises(ConfigErrors) as raised:
        load_project(root)

    (problem,) = raised.value.errors
    assert problem.file.endswith("journeys/holdout_hello.yaml")
    assert problem.yaml_path.startswith("holdout.percent")
    assert "must be more than 0 and less than 100" in problem.reason


def test_the_json_schema_bounds_the_percent():
    from journey_compiler.config.journey import Journey

    schema = Journey.model_json_schema(by_alias=True)

    assert schema["properties"]["holdout"]["anyOf"][0] == {"$ref": "#/$defs/Holdout"}
    assert schema["$defs"]["Holdout"]["properties"]["percent"] == {
        "exclusiveMinimum": 0,
        "exclusiveMaximum": 100,
        "title": "Percent",
        "type": "number",
    }
