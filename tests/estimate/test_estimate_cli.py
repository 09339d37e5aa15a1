"""`journeys estimate` as a user runs it, on the demo shop's generated population after one tick.

Every expectation is counted by hand from the raw rows (pandas), never by our SQL: event ids delivered twice
count once, behaviour counts events up to `--at`, attributes are today's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pytest

from journey_compiler.demo.shop import generate_shop

JOURNEYS = str(Path(sys.executable).parent / "journeys")
EXAMPLE_JOURNEYS = Path(__file__).resolve().parents[2] / "examples" / "shop" / "journeys"
START = datetime(2026, 6, 1)

PROBE = """
id: estimate_probe
active: {from: "2026-01-01T00:00:00Z"}
entry:
  event:
    did: {event: add_to_cart, where: "value >= 50"}
  audience: {segment: members}
nodes:
  by_value:
    segment_split:
      branches:
        - {segment: vip, to: split}
        - {where: "city = 'Shanghai'", to: check}
      else: check
  split:
    ab_split:
      - {to: gift, percent: 30, id: gift}
      - {to: check, percent: 70, id: plain}
  gift:
    add_tag: gifted
    next: check
  check:
    segment_check: {did: {event: purchase, within_last: 2d}}
    then: done
    else: nudge
  nudge:
    event_check: {did: {event: purchase}, within: 1d}
    then: done
    else: done
  done:
    add_tag: probed
"""

TRIGGER_PROBES = {
    "each_of_probe": """
id: each_of_probe
active: {from: "2026-01-01T00:00:00Z"}
entry:
  event:
    mode: each_of
    each: [{event: app_open, times: 2}, {event: add_to_cart}]
    match: all
nodes:
  hello: {add_tag: each_of_probed}
""",
    "segment_probe": """
id: segment_probe
active: {from: "2026-01-01T00:00:00Z"}
entry: {segment: frequent_openers}
nodes:
  hello: {add_tag: segment_probed}
""",
    "by_probe": """
id: by_probe
timezone: America/New_York
active: {from: "2026-01-01T00:00:00Z"}
entry:
  event_without:
    did: {event: add_to_cart}
    then_not: {event: purchase}
    by: "20:00"
nodes:
  hello: {add_tag: by_probed}
""",
}

OPENERS = """
segments:
  - id: frequent_openers
    rule:
      did: {event: app_open, times: 3, within_last: 2d}
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, scenario_builder) -> tuple[Any, datetime]:
    """400 generated profiles, a week of events, one tick at the end of it (which stages them)."""
    scenario = scenario_builder(
        tmp_path_factory.mktemp("estimate"),
        {
            "estimate_probe": PROBE,
            "cart_abandonment": (EXAMPLE_JOURNEYS / "cart_abandonment.yaml").read_text(),
            "dormant_recall": (EXAMPLE_JOURNEYS / "dormant_recall.yaml").read_text(),
            **TRIGGER_PROBES,
        },
        {"segments/openers.yaml": OPENERS},
    )
    with duckdb.connect(str(scenario.workspace.warehouse)) as con:
        summary = generate_shop(con, scenario.built.project.warehouse, start=START, days=7, profiles=400)
    scenario.tick(summary.end)
    return scenario, summary.end


def journeys(
    command: str, scenario: Any, *args: str, warehouse: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`journeys COMMAND ARGS` on the scenario's journeys directory (and its warehouse, unless given)."""
    ws = scenario.workspace
    place = ["--dir", str(ws.journeys_dir), "--warehouse", str(warehouse or ws.warehouse)]
    return subprocess.run([JOURNEYS, command, *args, *place], capture_output=True, text=True)


def estimate(scenario: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return journeys("estimate", scenario, *args)


def estimate_json(scenario: Any, *args: str) -> dict[str, Any]:
    done = estimate(scenario, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# ---------------------------------------------------------------- counted by hand


def raw(scenario: Any) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(scenario.workspace.warehouse), read_only=True) as con:
        profiles = con.execute("select * from raw.profiles").df()
        events = con.execute("select * from raw.events").df()
        tags = con.execute("select * from raw.profile_tags").df()
        orders = con.execute("select * from raw.orders").df()
    attributes = pd.json_normalize(profiles["attributes"].map(json.loads))
    profiles = pd.concat([profiles.drop(columns="attributes"), attributes], axis=1)
    events = events.sort_values("loaded_at").drop_duplicates("event_id")  # a second delivery counts once
    events["properties"] = events["properties"].map(json.loads)
    return {"profiles": profiles, "events": events, "tags": tags, "orders": orders}


def who(rows: pd.DataFrame) -> set[str]:
    return set(rows["profile_id"])


def did(
    data: dict[str, pd.DataFrame], name: str, at: datetime, within: timedelta, times: int = 1
) -> set[str]:
    events = data["events"]
    recent = events[
        (events.event_name == name) & (events.event_time <= at) & (events.event_time > at - within)
    ]
    counts = recent.groupby("profile_id").size()
    return set(counts[counts >= times].index)


def members(data: dict[str, pd.DataFrame]) -> set[str]:
    return who(data["profiles"][data["profiles"].member_level.notna()])


def vip(data: dict[str, pd.DataFrame], at: datetime) -> set[str]:
    profiles, tags, orders = data["profiles"], data["tags"], data["orders"]
    rich = who(profiles[profiles.lifetime_value >= 1000])
    tagged = who(tags[(tags.tag == "vip") & (tags.tagged_at <= at)])
    year = orders[(orders.ordered_at <= at) & (orders.ordered_at > at - timedelta(days=365))]
    spent = year.groupby("profile_id").amount.sum()
    return rich | tagged | set(spent[spent >= 2000].index)


# ---------------------------------------------------------------- segments


def test_a_segment_of_attributes_is_counted_now(shop):
    scenario, end = shop
    data = raw(scenario)

    found = estimate_json(scenario, "members")

    assert found["members"] == len(members(data)) > 0
    assert found["of"] == len(data["profiles"])
    assert found["at"] == found["last_tick"] == end.isoformat()


def test_a_segment_of_attributes_tags_and_detail_sums(shop):
    scenario, end = shop

    found = estimate_json(scenario, "vip")

    assert found["members"] == len(vip(raw(scenario), end)) > 0


def test_behaviour_counts_the_events_up_to_at_once_each(shop):
    scenario, end = shop
    data = raw(scenario)
    middle = START + timedelta(days=3, hours=5)
    duplicated = data["events"].event_id.size < scenario.sql("select count(*) from raw.events")[0][0]

    now = estimate_json(scenario, "frequent_openers")
    before = estimate_json(scenario, "frequent_openers", "--at", middle.isoformat())

    assert duplicated  # the generator delivered some events twice: they must count once
    assert now["members"] == len(did(data, "app_open", end, timedelta(days=2), times=3))
    assert before["members"] == len(did(data, "app_open", middle, timedelta(days=2), times=3))
    assert before["members"] != now["members"]
    assert before["at"] == middle.isoformat() and before["last_tick"] == end.isoformat()


def test_the_table_names_the_segment_and_its_share(shop):
    scenario, _ = shop
    count = len(members(raw(scenario)))

    done = estimate(scenario, "members")

    assert done.returncode == 0, done.stderr
    assert "segment members" in done.stdout and "at 2026-06-09 00:00:00 (the last tick" in done.stdout
    assert f"{count:,}" in done.stdout


# ---------------------------------------------------------------- joint audience


def probe_sets(data: dict[str, pd.DataFrame], at: datetime) -> dict[str, set[str]]:
    """The probe journey's judgements, each asked at `at`, by hand."""
    events = data["events"]
    carts = events[
        (events.event_name == "add_to_cart")
        & (events.event_time <= at)
        & (events.event_time >= datetime(2026, 1, 1))
        & events.properties.map(lambda p: (p.get("value") or 0) >= 50)
    ]
    profiles = data["profiles"]
    return {
        "audience": members(data) & who(carts),
        "vip": vip(data, at),
        "shanghai": who(profiles[profiles.city == "Shanghai"]),
        "bought": did(data, "purchase", at, timedelta(days=2)),
    }


def rows_by_path(found: dict[str, Any]) -> dict[tuple[str, str | None], dict[str, Any]]:
    return {
        (" > ".join(f"{h['node']}[{h['branch']}]" for h in row["path"]), row["branch"]): row
        for row in found["paths"]
    }


def test_the_joint_audience_of_a_node_per_path_and_branch(shop):
    scenario, end = shop
    sets = probe_sets(raw(scenario), end)
    audience, vips = sets["audience"], sets["audience"] & sets["vip"]
    shanghai = (audience - sets["vip"]) & sets["shanghai"]
    rest = audience - sets["vip"] - sets["shanghai"]

    found = estimate_json(scenario, "estimate_probe", "check")
    rows = rows_by_path(found)

    assert found["audience"] == len(audience) > 0
    via_gift = "by_value[branch_1] > split[gift] > gift[next]"
    expected = {
        (via_gift, None): (len(vips), 0.3),
        ("by_value[branch_1] > split[plain]", None): (len(vips), 0.7),
        ("by_value[branch_2]", None): (len(shanghai), 1.0),
        ("by_value[else]", None): (len(rest), 1.0),
        (via_gift, "then"): (len(vips & sets["bought"]), 0.3),
        (via_gift, "else"): (len(vips - sets["bought"]), 0.3),
        ("by_value[branch_1] > split[plain]", "then"): (len(vips & sets["bought"]), 0.7),
        ("by_value[branch_1] > split[plain]", "else"): (len(vips - sets["bought"]), 0.7),
        ("by_value[branch_2]", "then"): (len(shanghai & sets["bought"]), 1.0),
        ("by_value[branch_2]", "else"): (len(shanghai - sets["bought"]), 1.0),
        ("by_value[else]", "then"): (len(rest & sets["bought"]), 1.0),
        ("by_value[else]", "else"): (len(rest - sets["bought"]), 1.0),
    }
    assert {key: (row["profiles"], row["share"]) for key, row in rows.items()} == expected
    assert all(row["not_judged"] == [] for row in rows.values())
    totals = {t["branch"]: t["expected"] for t in found["total"]}
    assert totals[None] == pytest.approx(len(audience))  # every entry reaches `check`, by one path or another
    assert totals["then"] == pytest.approx(len(audience & sets["bought"]))
    assert len({len(vips), len(shanghai), len(rest)}) > 1  # the split tells the branches apart


def test_a_check_that_waits_for_events_is_named_not_guessed(shop):
    scenario, end = shop
    sets = probe_sets(raw(scenario), end)
    not_bought = sets["audience"] - sets["bought"] - (sets["vip"] | sets["shanghai"])

    found = estimate_json(scenario, "estimate_probe", "done")
    rows = rows_by_path(found)

    through_nudge = [row for key, row in rows.items() if "nudge[" in key[0]]
    assert len(rows) == 12 and len(through_nudge) == 8
    assert all(
        row["not_judged"] == [f"nudge[{row['path'][-1]['branch']}]: waits for events after arrival"]
        for row in through_nudge
    )
    assert rows[("by_value[else] > check[else] > nudge[then]", None)]["profiles"] == len(not_bought)
    assert all(row["not_judged"] == [] for key, row in rows.items() if "nudge[" not in key[0])

    table = estimate(scenario, "estimate_probe", "done")
    assert table.returncode == 0, table.stderr
    assert "waits for events after arrival" in table.stdout and "total" in table.stdout


def test_the_estimate_at_an_earlier_time(shop):
    scenario, _ = shop
    middle = START + timedelta(days=2)
    sets = probe_sets(raw(scenario), middle)

    found = estimate_json(scenario, "estimate_probe", "check", "--at", middle.isoformat())

    assert found["audience"] == len(sets["audience"]) > 0
    assert rows_by_path(found)[("by_value[else]", "then")]["profiles"] == len(
        (sets["audience"] - sets["vip"] - sets["shanghai"]) & sets["bought"]
    )


def test_an_event_without_trigger_counts_the_windows_closed_without_the_other_event(shop):
    scenario, end = shop
    events = raw(scenario)["events"]
    carts = events[
        (events.event_name == "add_to_cart")
        & events.properties.map(lambda p: (p.get("value") or 0) >= 50)
        & (events.event_time + timedelta(hours=1) <= end)
    ]
    purchases = events[events.event_name == "purchase"]
    abandoned = {
        cart.profile_id
        for cart in carts.itertuples()
        if not (
            (purchases.profile_id == cart.profile_id)
            & (purchases.event_time >= cart.event_time)
            & (purchases.event_time <= cart.event_time + timedelta(hours=1))
        ).any()
    }

    found = estimate_json(scenario, "cart_abandonment", "remind")

    assert found["audience"] == len(abandoned) > 0
    assert [row["profiles"] for row in found["paths"]] == [len(abandoned)]


def test_an_each_of_trigger_counts_those_who_did_every_event_its_times(shop):
    scenario, end = shop
    data = raw(scenario)
    since = end - datetime(2026, 1, 1)
    expected = did(data, "app_open", end, since, times=2) & did(data, "add_to_cart", end, since)

    found = estimate_json(scenario, "each_of_probe", "hello")

    assert found["audience"] == len(expected) > 0
    assert found["entry_not_judged"] is None


def test_a_segment_trigger_counts_the_members_at_t_and_says_what_that_leaves_out(shop):
    scenario, end = shop
    expected = did(raw(scenario), "app_open", end, timedelta(days=2), times=3)

    found = estimate_json(scenario, "segment_probe", "hello")
    table = estimate(scenario, "segment_probe", "hello")

    assert found["audience"] == len(expected) > 0
    assert "members at T counted" in found["entry_not_judged"]
    assert "members at T counted" in table.stdout


def test_an_event_without_by_a_local_time_counts_the_days_that_passed_it_without_the_other_event(shop):
    """The window of each cart closes at 20:00 on the cart's local day (the profile's timezone, else the
    journey's New York); a cart after 20:00 local opens none."""
    scenario, end = shop
    data = raw(scenario)
    zones = dict(zip(data["profiles"].profile_id, data["profiles"].timezone, strict=True))
    events = data["events"]
    purchases = events[events.event_name == "purchase"]
    entered = set()
    for cart in events[events.event_name == "add_to_cart"].itertuples():
        named = zones.get(cart.profile_id)
        zone = ZoneInfo(named if isinstance(named, str) and named else "America/New_York")
        local = cart.event_time.replace(tzinfo=UTC).astimezone(zone)
        closes = local.replace(hour=20, minute=0, second=0, microsecond=0).astimezone(UTC)
        closes = closes.replace(tzinfo=None)
        bought = (
            (purchases.profile_id == cart.profile_id)
            & (purchases.event_time >= cart.event_time)
            & (purchases.event_time <= closes)
        ).any()
        if cart.event_time <= closes <= end and not bought:
            entered.add(cart.profile_id)

    found = estimate_json(scenario, "by_probe", "hello")

    assert found["audience"] == len(entered) > 0
    assert found["entry_not_judged"] is None


def test_a_scheduled_journey_counts_its_audience_and_names_what_it_cannot_judge(shop):
    scenario, end = shop
    data = raw(scenario)
    dormant = members(data) - did(data, "purchase", end, timedelta(days=90))

    found = estimate_json(scenario, "dormant_recall", "by_value")
    recall = estimate_json(scenario, "dormant_recall", "recall_sms")

    assert found["audience"] == len(dormant) > 0
    branches = {row["branch"]: row["profiles"] for row in found["paths"]}
    assert sum(branches[b] for b in ("branch_1", "branch_2", "else")) == len(dormant)
    assert branches["branch_1"] == len(dormant & vip(data, end))
    assert {t["branch"]: t["expected"] for t in recall["total"]} == {
        None: len(dormant) - branches["branch_1"]
    }
    assert [row["not_judged"] for row in recall["paths"]] == [[], []]


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "args, line",
    [
        (
            ["nobody"],
            "error: unknown segment 'nobody'; known segments: cars, dormant_90d, frequent_openers, "
            "members, staff, unsubscribed_sms, vip",
        ),
        (
            ["estimate_probe"],
            "error: unknown segment 'estimate_probe' (a journey: give one of its nodes too); "
            "known segments: cars, dormant_90d, frequent_openers, members, staff, unsubscribed_sms, vip",
        ),
        (
            ["nowhere", "check"],
            "error: unknown journey 'nowhere' (known: by_probe, cart_abandonment, dormant_recall, "
            "each_of_probe, estimate_probe, segment_probe)",
        ),
        (["estimate_probe", "nope"], "error: journey 'estimate_probe' has no node 'nope' (its nodes: "),
    ],
)
def test_unknown_names_are_one_clear_line(shop, args, line):
    scenario, _ = shop

    done = estimate(scenario, *args)

    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.strip().startswith(line)
    assert "Traceback" not in done.stdout + done.stderr


def test_no_warehouse_is_one_clear_line_and_creates_nothing(shop, tmp_path: Path):
    scenario, _ = shop
    missing = tmp_path / "nowhere.duckdb"

    done = journeys("estimate", scenario, "members", warehouse=missing)

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: no warehouse at {missing}: run `journeys init` and a tick first"
    ]
    assert list(tmp_path.iterdir()) == []


def test_a_warehouse_never_ticked_says_to_tick_first(shop, tmp_path: Path):
    scenario, _ = shop
    fresh = tmp_path / "fresh.duckdb"
    assert journeys("init", scenario, warehouse=fresh).returncode == 0

    done = journeys("estimate", scenario, "members", warehouse=fresh)

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: {fresh} has no finished tick yet: estimates count what the ticks staged; run `journeys "
        "tick` first (again after a change of warehouse.yaml)"
    ]
