"""tests/nodes/test_holdout.py given to the reference interpreter: the held-out entries walk the journey with
every message suppressed by `holdout`, the others are messaged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ref_harness import Ref, scenario_inputs, write_project

HOLDOUT = scenario_inputs("nodes/test_holdout.py")
PEOPLE, ACTIVATED, END = HOLDOUT["PEOPLE"], HOLDOUT["ACTIVATED"], HOLDOUT["END"]


@pytest.fixture(scope="module")
def held(tmp_path_factory):
    ref = Ref(write_project(tmp_path_factory.mktemp("holdout") / "d", {"holdout_hello": HOLDOUT["JOURNEY"]}))
    ref.profiles(PEOPLE)
    for i, pid in enumerate(PEOPLE):
        ref.event(f"s_{pid}", pid, "signup", HOLDOUT["T0"] + timedelta(minutes=i), channel="web")
        if pid in ACTIVATED:
            ref.event(f"a_{pid}", pid, "activate", HOLDOUT["T0"] + timedelta(minutes=i + 30))
    ref.run([END])
    for message in ref.sends():
        if message.status == "queued":
            ref.outcome(message.message_id, "sent", END)
    ref.run([END, END + timedelta(hours=1)])
    entries = {row.profile_id: row.entry_id for row in ref.state()}
    out = {pid for pid, entry in entries.items() if HOLDOUT["in_holdout"]("holdout_hello", entry, 40)}
    return ref, out


def test_held_out_messages_are_suppressed_by_holdout_and_the_rest_sent(held):
    ref, out = held

    assert 0 < len(out) < len(PEOPLE)
    for message in ref.sends():
        expected = ("suppressed", "holdout") if message.profile_id in out else ("sent", None)
        assert (message.status, message.suppressed_by) == expected, message.profile_id


def test_held_out_entries_walk_to_the_end_and_reach_their_goals(held):
    ref, out = held

    assert {s.status for s in ref.state()} == {"completed"}
    assert {g.profile_id for g in ref.output.goals} == ACTIVATED
    for pid in sorted(out)[:3]:
        assert [m[1] for m in ref.moves(pid)] == ["hello", "wait_a_bit", "again", "tag_done", None]
