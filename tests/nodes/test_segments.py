"""Segment rules (attributes, tags, behaviour, detail data, references, all/any/not) as the journeys use them:
an entry `audience:`, `segment_check` and `segment_split` (first_match). Every rule is judged for one profile
at one logical time (the entry's time, the arrival at the node): what happened after it does not count, even
when the tick that judges it already sees it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

pytestmark = pytest.mark.slow

M = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)
T = datetime(2026, 3, 10, 12, 0)  # every probe enters at T

EXTRA_SEGMENTS = """
segments:
  - id: frequent_viewer
    rule:
      did: {event: page_view, times: 3, within_last: 1d}
  - id: two_orders_30d
    rule:
      detail: {table: orders, count: order_id, within_last: 30d, at_least: 2}
  - id: member_not_staff
    rule:
      all:
        - segment: members
        - not: {segment: staff}
"""

HEADER = """
timezone: UTC
active: {from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}
"""

# One segment_check per rule; both branches lead on, so each profile's path records every answer.
CHECKS = {
    "c_where": '{where: "lifetime_value >= 1000"}',
    "c_tag": "{tag: vip}",
    "c_did_times": "{segment: frequent_viewer}",
    "c_did_not": "{did_not: {event: purchase, within_last: 7d}}",
    "c_did_where": "{segment: unsubscribed_sms}",
    "c_detail_sum": "{detail: {table: orders, sum: amount, within_last: 365d, at_least: 2000}}",
    "c_detail_count": "{segment: two_orders_30d}",
    "c_ref_any": "{segment: vip}",
    "c_all_not": "{segment: member_not_staff}",
}


def _probe() -> str:
    names = list(CHECKS)
    nodes = []
    for i, name in enumerate(names):
        after = names[i + 1] if i + 1 < len(names) else "done"
        nodes.append(f"  {name}:\n    segment_check: {CHECKS[name]}\n    then: {after}\n    else: {after}\n")
    nodes.append("  done:\n    add_tag: probed\n")
    return f"""
id: probe
name: Segment probe
{HEADER}
entry:
  event:
    did: {{event: app_open}}
nodes:
{"".join(nodes)}"""


AUDIENCE = f"""
id: audience_entry
name: Audience at the entry's logical time
{HEADER}
entry:
  event:
    did: {{event: signup, where: "channel = 'aud'"}}
  audience: {{segment: dormant_90d}}
nodes:
  hello:
    add_tag: audience_in
"""

SPLIT = f"""
id: split_first
name: First match in priority order
{HEADER}
entry:
  event:
    did: {{event: signup, where: "channel = 'split'"}}
nodes:
  route:
    segment_split:
      mode: first_match
      branches:
        - {{segment: vip, to: t_vip}}
        - {{where: "city = 'Shanghai'", to: t_shanghai}}
        - {{tag: staff, to: t_staff}}
      else: t_else
  t_vip:
    add_tag: s_vip
  t_shanghai:
    add_tag: s_shanghai
  t_staff:
    add_tag: s_staff
  t_else:
    add_tag: s_else
"""

# A tag written by a journey, then judged by a segment check an hour (and one tick) later.
TAGGER = f"""
id: tagger
name: Journey tags reach segments
{HEADER}
entry:
  event:
    did: {{event: signup, where: "channel = 'tagger'"}}
nodes:
  mark:
    add_tag: marked_by_journey
    next: later
  later:
    wait: {{for: 1h}}
    next: check
  check:
    segment_check: {{tag: marked_by_journey}}
    then: t_yes
    else: t_no
  t_yes:
    add_tag: saw_own_tag
  t_no:
    add_tag: missed_own_tag
"""

# profile -> the checks it answers `then` to (all others: `else`)
PROBES: dict[str, set[str]] = {
    "p_where": {"c_where", "c_ref_any"},
    "p_where_low": set(),
    "p_tag_before": {"c_tag", "c_ref_any"},
    "p_tag_at": {"c_tag", "c_ref_any"},
    "p_tag_after": set(),
    "p_view3": {"c_did_times"},
    "p_view3_old": set(),
    "p_view_future": set(),
    "p_purchase_6d": set(),  # the only one with a purchase in the last 7 days
    "p_purchase_8d": set(),
    "p_purchase_future": set(),
    "p_unsub_sms": {"c_did_where"},
    "p_unsub_email": set(),
    "p_gmv": {"c_detail_sum", "c_ref_any"},
    "p_gmv_old": set(),
    "p_gmv_future": set(),
    "p_orders2": {"c_detail_count"},
    "p_orders2_old": set(),
    "p_member": {"c_all_not"},
    "p_member_staff": set(),
    "p_nobody": set(),
}
for _name, _then in PROBES.items():
    if _name != "p_purchase_6d":
        _then.add("c_did_not")


def _orders(sc, profile_id, *rows):
    for i, (at, amount) in enumerate(rows):
        sc.sql(
            "insert into raw.orders (profile_id, ordered_at, order_id, amount, category) "
            "values (?, ?, ?, ?, ?)",
            [profile_id, at, f"{profile_id}_o{i}", amount, "shoes"],
        )


def _tag(sc, profile_id, tag, at):
    sc.sql("insert into raw.profile_tags values (?, ?, ?)", [profile_id, tag, at])


@pytest.fixture(scope="module")
def seg(tmp_path_factory, scenario_builder):
    sc = scenario_builder(
        tmp_path_factory.mktemp("segments"),
        {"probe": _probe(), "audience_entry": AUDIENCE, "split_first": SPLIT, "tagger": TAGGER},
        {"segments/extra.yaml": EXTRA_SEGMENTS},
    )
    # ---- probes: everyone opens the app at T
    attributes = {
        "p_where": {"lifetime_value": 1500.0},
        "p_where_low": {"lifetime_value": 999.5},
        "p_member": {"member_level": "gold"},
        "p_member_staff": {"member_level": "gold"},
    }
    for pid in PROBES:
        sc.profile(pid, **attributes.get(pid, {}))
        sc.event(f"{pid}_open", pid, "app_open", T)
    _tag(sc, "p_tag_before", "vip", T - D)
    _tag(sc, "p_tag_at", "vip", T)
    _tag(sc, "p_tag_after", "vip", T + M)  # before the tick, after the logical time
    _tag(sc, "p_member_staff", "staff", T - D)
    for pid, offsets in {
        "p_view3": (-23 * H, -2 * H, -M),
        "p_view3_old": (-25 * H, -2 * H, -M),
        "p_view_future": (-2 * H, -M, 5 * M),
    }.items():
        for i, offset in enumerate(offsets):
            sc.event(f"{pid}_v{i}", pid, "page_view", T + offset, page="home")
    sc.event("pp6", "p_purchase_6d", "purchase", T - 6 * D, value=10.0)
    sc.event("pp8", "p_purchase_8d", "purchase", T - 8 * D, value=10.0)
    sc.event("ppf", "p_purchase_future", "purchase", T + 10 * M, value=10.0)
    sc.event("us", "p_unsub_sms", "unsubscribe", T - D, channel="sms")
    sc.event("ue", "p_unsub_email", "unsubscribe", T - D, channel="email")
    _orders(sc, "p_gmv", (T - 100 * D, 1500.0), (T - D, 500.0))  # exactly 2000: at_least is inclusive
    _orders(sc, "p_gmv_old", (T - 400 * D, 1500.0), (T - 10 * D, 1000.0))
    _orders(sc, "p_gmv_future", (T - D, 1500.0), (T + M, 600.0))
    _orders(sc, "p_orders2", (T - 29 * D, 10.0), (T - H, 10.0))
    _orders(sc, "p_orders2_old", (T - 31 * D, 10.0), (T - H, 10.0))

    # ---- entry audience (dormant_90d: a member without a purchase in the last 90 days), signups at T
    for pid, purchase_at in {
        "a_never": None,
        "a_30d": T - 30 * D,
        "a_91d": T - 91 * D,
        "a_after": T + 5 * M,
    }.items():
        sc.profile(pid, member_level="silver")
        sc.event(f"{pid}_s", pid, "signup", T, channel="aud")
        if purchase_at is not None:
            sc.event(f"{pid}_p", pid, "purchase", purchase_at, value=20.0)
    sc.profile("a_guest")  # not a member
    sc.event("a_guest_s", "a_guest", "signup", T, channel="aud")

    # ---- segment_split, first match wins
    split_profiles = {
        "s_vip_shanghai": {"lifetime_value": 5000.0, "city": "Shanghai"},
        "s_shanghai": {"city": "Shanghai"},
        "s_shanghai_staff": {"city": "Shanghai"},
        "s_staff": {"city": "Suzhou"},
        "s_staff_later": {"city": "Suzhou"},
        "s_else": {"city": "Suzhou"},
    }
    for pid, attrs in split_profiles.items():
        sc.profile(pid, **attrs)
        sc.event(f"{pid}_s", pid, "signup", T + 3 * M, channel="split")
    _tag(sc, "s_shanghai_staff", "staff", T - D)
    _tag(sc, "s_staff", "staff", T - D)
    _tag(sc, "s_staff_later", "staff", T + 4 * M)

    # ---- a journey's own tag
    sc.profile("g_tagged")
    sc.event("g_s", "g_tagged", "signup", T, channel="tagger")

    sc.tick(T + 15 * M)
    sc.tick(T + 2 * H)
    return sc


def _answers(sc, profile_id):
    (path,) = sc.paths(profile_id).values()
    return {src: (branch, logical) for src, _dst, branch, _reason, logical in path if src in CHECKS}


@pytest.mark.parametrize("profile_id", sorted(PROBES))
def test_segment_check_answers_each_rule_at_the_arrival_time(seg, profile_id):
    answers = _answers(seg, profile_id)
    assert set(answers) == set(CHECKS)
    assert {logical for _, logical in answers.values()} == {T}
    got = {check for check, (branch, _) in answers.items() if branch == "then"}
    assert got == PROBES[profile_id]


def test_probe_paths_complete(seg):
    states = {s["profile_id"]: (s["node_id"], s["status"]) for s in seg.state() if s["journey_id"] == "probe"}
    assert states == {pid: ("done", "completed") for pid in PROBES}


def test_audience_is_judged_at_the_entry_time(seg):
    entered = {
        t["profile_id"]: t["logical_at"]
        for t in seg.transitions()
        if t["journey_id"] == "audience_entry" and t["reason"] == "entered"
    }
    # a_after bought 5 minutes after its signup: at the entry's time it was still dormant
    assert entered == {"a_never": T, "a_91d": T, "a_after": T}


def test_segment_split_takes_the_first_matching_branch(seg):
    routes = {
        t["profile_id"]: (t["to_node"], t["branch"], t["logical_at"])
        for t in seg.transitions()
        if t["journey_id"] == "split_first" and t["from_node"] == "route"
    }
    at = T + 3 * M
    assert routes == {
        "s_vip_shanghai": ("t_vip", "branch_1", at),
        "s_shanghai": ("t_shanghai", "branch_2", at),
        "s_shanghai_staff": ("t_shanghai", "branch_2", at),
        "s_staff": ("t_staff", "branch_3", at),
        "s_staff_later": ("t_else", "else", at),  # tagged a minute after it arrived
        "s_else": ("t_else", "else", at),
    }


def test_a_journey_tag_is_visible_to_segments_from_the_next_tick(seg):
    moves = seg.moves("g_tagged")
    assert moves[0][:2] == (None, "mark")
    check = next(m for m in moves if m[0] == "check")
    # tagged at T by the first tick; judged at T + 1h by the second
    assert check == ("check", "t_yes", "then", "advanced", T + H)
