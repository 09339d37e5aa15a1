"""`journeys plan` as a reviewer runs it on a pull request: a changed copy of a journeys directory against a
warehouse that ran the original, with the profiles in flight on each removed or changed node counted by
hand from the world below (and an edited template); exit 2 with one line per problem on a directory that
does not validate."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

JOURNEYS = str(Path(sys.executable).parent / "journeys")
EXAMPLE_JOURNEYS = Path(__file__).resolve().parents[2] / "examples" / "shop" / "journeys"
H, D = timedelta(hours=1), timedelta(days=1)
T0 = datetime(2026, 3, 3, 9, 0)

WELCOME_CHANGES = (
    # wait two days, then straight to the A/B nudge: `activated` and `tag_active` go
    ("    wait: {for: 1d}\n    next: activated\n", "    wait: {for: 2d}\n    next: nudge_split\n"),
    (
        "  activated:\n    event_check:\n      did: {events: [activate], times: 1}\n      within: 3d\n"
        "    then: tag_active\n    else: nudge_split\n\n  tag_active:\n    add_tag: activated_in_welcome\n\n",
        "",
    ),
    ("template: welcome_email}", "template: activation_nudge_b}"),
    (
        "exit_when:\n  - did: {event: unsubscribe, where: \"channel = 'email'\"}",
        "exit_when:\n  - did: {event: unsubscribe}",
    ),
)


def _journey(name: str) -> str:
    return (EXAMPLE_JOURNEYS / f"{name}.yaml").read_text()


def plan(directory: Path, warehouse: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [JOURNEYS, "plan", "--dir", str(directory), "--warehouse", str(warehouse), *args],
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def ran(tmp_path_factory, scenario_builder):
    """The original directory, ticked once at T0 + 2h: welcome_series has 4 profiles waiting at
    `wait_a_day` (signed up at T0) and 2 at `activated` (signed up a day earlier, their wait is over);
    cart_abandonment has 1 at `remind` (waiting for the message's outcome)."""
    sc = scenario_builder(
        tmp_path_factory.mktemp("plan"),
        {n: _journey(n) for n in ("welcome_series", "cart_abandonment", "dormant_recall")},
    )
    for pid in ("w0", "w1", "w2", "w3", "a0", "a1", "c0"):
        sc.profile(pid)
    for pid in ("w0", "w1", "w2", "w3"):
        sc.event(f"{pid}_signup", pid, "signup", T0)
    for pid in ("a0", "a1"):
        sc.event(f"{pid}_signup", pid, "signup", T0 - D - H)
    sc.event("c0_cart", "c0", "add_to_cart", T0, value=60.0, sku="SHOE-1")
    sc.tick(T0 + 2 * H)
    return sc


def _changed_copy(sc, root: Path) -> Path:
    changed = root / "changed"
    shutil.copytree(sc.workspace.journeys_dir, changed)
    welcome = changed / "journeys" / "welcome_series.yaml"
    text = welcome.read_text()
    for old, new in WELCOME_CHANGES:
        assert old in text
        text = text.replace(old, new)
    welcome.write_text(text)
    (changed / "journeys" / "cart_abandonment.yaml").unlink()
    (changed / "journeys" / "renewal_reminder.yaml").write_text(_journey("renewal_reminder"))
    nudge = changed / "templates" / "activation_nudge_b.yaml"
    nudge.write_text(nudge.read_text().replace("10% off", "15% off"))
    return changed


def test_the_unchanged_directory_plans_no_change(ran):
    done = plan(ran.workspace.journeys_dir, ran.workspace.warehouse)

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"plan against the versions run since tick {T0 + 2 * H}: 0 added, 0 removed, 0 changed, "
        "3 unchanged journeys",
        "no changes",
    ]


def test_a_changed_directory_names_every_change_and_the_profiles_it_touches(ran, tmp_path):
    changed = _changed_copy(ran, tmp_path)

    done = plan(changed, ran.workspace.warehouse, "--json")

    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["added"] == ["renewal_reminder"]
    assert found["removed"] == [{"journey_id": "cart_abandonment", "in_flight": 1}]
    assert found["unchanged"] == ["dormant_recall"]
    (welcome,) = found["changed"]
    assert welcome["journey_id"] == "welcome_series"
    assert welcome["old_version"] != welcome["new_version"]
    assert (welcome["in_flight"], welcome["profiles_touched"]) == (6, 6)
    assert welcome["settings"] == [
        {"path": "exit_when[0].did.where", "old": "channel = 'email'", "new": None}
    ]
    nodes = welcome["nodes"]
    assert nodes["added"] == []
    assert nodes["removed"] == [
        {"node_id": "activated", "in_flight": 2, "will_leave_with": "node_removed"},
        {"node_id": "tag_active", "in_flight": 0, "will_leave_with": "node_removed"},
    ]
    assert [(n["node_id"], n["kinds"], n["in_flight"]) for n in nodes["changed"]] == [
        ("wait_a_day", ["edges", "rules"], 4),
        ("welcome", ["template"], 0),
    ]
    assert nodes["changed"][0]["fields"] == [
        {"path": "next", "old": "activated", "new": "nudge_split"},
        {"path": "wait.for", "old": "1d", "new": "2d"},
    ]
    assert welcome["templates_changed"] == [
        {
            "template": "activation_nudge_b",
            "nodes": ["nudge_email", "welcome"],
            "fields": [
                {
                    "path": "subject",
                    "old": "Still there? Here is 10% off your first order",
                    "new": "Still there? Here is 15% off your first order",
                }
            ],
        }
    ]
    diff = welcome["sql_diff"].splitlines()
    assert diff[0].startswith("--- jrn_welcome_series.sql (ran, ")
    assert diff[1].startswith("+++ jrn_welcome_series.sql (directory, ")
    assert any(line.startswith("-") and "activated" in line for line in diff[2:])

    text = plan(changed, ran.workspace.warehouse)

    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0] == (
        f"plan against the versions run since tick {T0 + 2 * H}: 1 added, 1 removed, 1 changed, "
        "1 unchanged journeys"
    )
    assert "+ renewal_reminder: added" in lines
    assert "- cart_abandonment: removed (1 profile in flight)" in lines
    assert "    - node activated: 2 profiles there will leave with node_removed" in lines
    assert "    ~ node wait_a_day: edges, rules (4 profiles there)" in lines
    assert '        wait.for: "1d" -> "2d"' in lines
    assert "    ~ template activation_nudge_b (sent by nudge_email, welcome)" in lines
    assert not any(line.startswith("    --- ") for line in lines)
    assert any(line.startswith("    SQL: +") for line in lines)

    with_sql = plan(changed, ran.workspace.warehouse, "--sql")

    assert "    --- " + diff[0].removeprefix("--- ") in with_sql.stdout.splitlines()


def test_an_edited_template_alone_changes_the_journeys_that_send_it(ran, tmp_path):
    edited = tmp_path / "edited"
    shutil.copytree(ran.workspace.journeys_dir, edited)
    template = edited / "templates" / "welcome_email.yaml"
    template.write_text(template.read_text().replace("Welcome, ", "Hello, "))

    done = plan(edited, ran.workspace.warehouse)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1].startswith("~ welcome_series: changed (version ")
    assert "templates edited; 6 profiles in flight" in lines[1]
    assert lines[2:] == [
        "    ~ template welcome_email (sent by welcome)",
        "        subject: \"Welcome, {{ profile.attributes.city | default('friend') }}!\" -> "
        "\"Hello, {{ profile.attributes.city | default('friend') }}!\"",
        "    SQL: unchanged",
    ]


def test_a_warehouse_that_never_ran_sees_every_journey_added(ran, tmp_path):
    done = plan(ran.workspace.journeys_dir, tmp_path / "never.duckdb", "--json")

    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert (found["added"], found["changed"], found["ran_since_tick"]) == (
        ["cart_abandonment", "dormant_recall", "welcome_series"],
        [],
        None,
    )
    assert not (tmp_path / "never.duckdb").exists()


def test_a_directory_that_does_not_validate_exits_2_with_one_line_per_problem(ran, tmp_path):
    broken = _changed_copy(ran, tmp_path)
    welcome = broken / "journeys" / "welcome_series.yaml"
    welcome.write_text(welcome.read_text().replace("next: nudge_split", "next: nowhere"))
    dormant = broken / "journeys" / "dormant_recall.yaml"
    dormant.write_text(dormant.read_text().replace("segment: vip", "segment: no_such_segment"))

    done = plan(broken, ran.workspace.warehouse)

    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert all(line.startswith("error: ") for line in lines)
    assert any("welcome_series.yaml" in line and "nowhere" in line for line in lines)
    assert any("dormant_recall.yaml" in line and "no_such_segment" in line for line in lines)
    assert done.stdout == ""
