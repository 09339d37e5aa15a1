"""An edited journey with profiles in flight (spec section 3, "Journey edits"): the welcome series loses its
event_check (`activated`) and its tag node, and waits two days instead of one before the nudge.

Profiles waiting on a node that still exists follow the new edges and rules from the first tick of the new
version; a profile on the removed node leaves with reason `node_removed`; every record and
`journey_state.version` carry the version.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from journey_compiler.config.project import load_project
from journey_compiler.runtime.workspace import build_dbt_project

pytestmark = pytest.mark.slow

H = timedelta(hours=1)
D = timedelta(days=1)
T0 = datetime(2026, 3, 2, 9, 29)
EDITED_AT = T0 + D + 12 * H
SIGNUPS = {"waiting": T0 + 20 * H, "checking": T0, "newcomer": EDITED_AT + H}


def _edited(welcome_yaml: str) -> str:
    edited = welcome_yaml.replace(
        "wait: {for: 1d}\n    next: activated", "wait: {for: 2d}\n    next: nudge_split"
    )
    start = edited.index("  activated:\n")
    end = edited.index("  nudge_split:\n")
    assert edited != welcome_yaml
    return edited[:start] + edited[end:]


@pytest.fixture(scope="module")
def sc(tmp_path_factory, scenario_builder, welcome_yaml):
    scenario = scenario_builder(tmp_path_factory.mktemp("versions"), {"welcome_series": welcome_yaml})
    scenario.profiles(SIGNUPS)
    for pid, at in SIGNUPS.items():
        scenario.event(f"s_{pid}", pid, "signup", at)
    scenario.tick(EDITED_AT - H)
    source = scenario.workspace.journeys_dir / "journeys" / "welcome_series.yaml"
    source.write_text(_edited(welcome_yaml))
    edited = replace(
        scenario, built=build_dbt_project(scenario.workspace, load_project(scenario.workspace.journeys_dir))
    )
    edited.tick(EDITED_AT)
    edited.tick(T0 + 5 * D)
    return edited


def _version(sc) -> tuple[str, str]:
    """(the first version, the edited one): the versions of the entries before and after the edit."""
    entered = {t["profile_id"]: t["version"] for t in sc.transitions() if t["reason"] == "entered"}
    assert entered["checking"] == entered["waiting"] != entered["newcomer"]
    return entered["checking"], entered["newcomer"]


def test_a_profile_on_a_removed_node_leaves_with_node_removed(sc):
    old, new = _version(sc)
    moves = sc.moves("checking")
    assert moves[-1] == ("activated", None, None, "node_removed", EDITED_AT)
    (state,) = sc.state("checking")
    assert (state["status"], state["node_id"], state["version"]) == ("exited", "activated", new)


def test_a_profile_waiting_on_a_kept_node_follows_the_new_edges_and_rules(sc):
    old, new = _version(sc)
    moves = sc.moves("waiting")
    at = SIGNUPS["waiting"]
    assert moves[2][:2] + (moves[2][4],) == ("wait_a_day", "nudge_split", at + 2 * D), (
        "the new wait (2 days) counts from its arrival, and leads to the nudge"
    )
    versions = {t["from_node"]: t["version"] for t in sc.transitions("waiting")}
    assert versions == {None: old, "welcome": old, "wait_a_day": new, "nudge_split": new, "nudge_email": new}


def test_every_profile_in_flight_is_on_the_new_version_after_its_first_tick(sc):
    _, new = _version(sc)
    assert {s["profile_id"]: s["version"] for s in sc.state()} == {
        "waiting": new,
        "checking": new,
        "newcomer": new,
    }
    assert [m[1] for m in sc.moves("newcomer")[:3]] == ["welcome", "wait_a_day", "nudge_split"]
