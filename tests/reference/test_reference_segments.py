"""tests/nodes/test_segments.py and tests/nodes/test_schedule.py, given to the reference interpreter: every
segment rule judged at one logical time (audience, segment_check, segment_split), journey tags visible from
the next tick, and recurring schedules in the journey's timezone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ref_harness import Ref, scenario_inputs, write_project

SEG = scenario_inputs("nodes/test_segments.py")
T, M, H, D = SEG["T"], SEG["M"], SEG["H"], SEG["D"]


@pytest.fixture(scope="module")
def seg(tmp_path_factory):
    journeys = {
        "probe": SEG["_probe"](),
        "audience_entry": SEG["AUDIENCE"],
        "split_first": SEG["SPLIT"],
        "tagger": SEG["TAGGER"],
    }
    ref = Ref(
        write_project(
            tmp_path_factory.mktemp("seg") / "d", journeys, {"segments/extra.yaml": SEG["EXTRA_SEGMENTS"]}
        )
    )
    attributes = {
        "p_where": {"lifetime_value": 1500.0},
        "p_where_low": {"lifetime_value": 999.5},
        "p_member": {"member_level": "gold"},
        "p_member_staff": {"member_level": "gold"},
    }
    for pid in SEG["PROBES"]:
        ref.profile(pid, **attributes.get(pid, {}))
        ref.event(f"{pid}_open", pid, "app_open", T)
    ref.tag("p_tag_before", "vip", T - D)
    ref.tag("p_tag_at", "vip", T)
    ref.tag("p_tag_after", "vip", T + M)
    ref.tag("p_member_staff", "staff", T - D)
    views = {
        "p_view3": (-23 * H, -2 * H, -M),
        "p_view3_old": (-25 * H, -2 * H, -M),
        "p_view_future": (-2 * H, -M, 5 * M),
    }
    for pid, offsets in views.items():
        for i, offset in enumerate(offsets):
            ref.event(f"{pid}_v{i}", pid, "page_view", T + offset, page="home")
    ref.event("pp6", "p_purchase_6d", "purchase", T - 6 * D, value=10.0)
    ref.event("pp8", "p_purchase_8d", "purchase", T - 8 * D, value=10.0)
    ref.event("ppf", "p_purchase_future", "purchase", T + 10 * M, value=10.0)
    ref.event("us", "p_unsub_sms", "unsubscribe", T - D, channel="sms")
    ref.event("ue", "p_unsub_email", "unsubscribe", T - D, channel="email")
    orders = {
        "p_gmv": ((T - 100 * D, 1500.0), (T - D, 500.0)),
        "p_gmv_old": ((T - 400 * D, 1500.0), (T - 10 * D, 1000.0)),
        "p_gmv_future": ((T - D, 1500.0), (T + M, 600.0)),
        "p_orders2": ((T - 29 * D, 10.0), (T - H, 10.0)),
        "p_orders2_old": ((T - 31 * D, 10.0), (T - H, 10.0)),
    }
    rows = ref.world.details.setdefault("orders", [])
    for pid, placed in orders.items():
        for i, (at, amount) in enumerate(placed):
            rows.append(
                {
                    "profile_id": pid,
                    "ordered_at": at,
                    "order_id": f"{pid}_o{i}",
                    "amount": amount,
                    "category": "x",
                }
            )
    for pid, purchase_at in {
        "a_never": None,
        "a_30d": T - 30 * D,
        "a_91d": T - 91 * D,
        "a_after": T + 5 * M,
    }.items():
        ref.profile(pid, member_level="silver")
        ref.event(f"{pid}_s", pid, "signup", T, channel="aud")
        if purchase_at is not None:
            ref.event(f"{pid}_p", pid, "purchase", purchase_at, value=20.0)
    ref.profile("a_guest")
    ref.event("a_guest_s", "a_guest", "signup", T, channel="aud")
    split_profiles = {
        "s_vip_shanghai": {"lifetime_value": 5000.0, "city": "Shanghai"},
        "s_shanghai": {"city": "Shanghai"},
        "s_shanghai_staff": {"city": "Shanghai"},
        "s_staff": {"city": "Suzhou"},
        "s_staff_later": {"city": "Suzhou"},
        "s_else": {"city": "Suzhou"},
    }
    for pid, attrs in split_profiles.items():
        ref.profile(pid, **attrs)
        ref.event(f"{pid}_s", pid, "signup", T + 3 * M, channel="split")
    ref.tag("s_shanghai_staff", "staff", T - D)
    ref.tag("s_staff", "staff", T - D)
    ref.tag("s_staff_later", "staff", T + 4 * M)
    ref.profile("g_tagged")
    ref.event("g_s", "g_tagged", "signup", T, channel="tagger")
    ref.run([T + 15 * M, T + 2 * H])
    return ref


@pytest.mark.parametrize("profile_id", sorted(SEG["PROBES"]))
def test_segment_check_answers_each_rule_at_the_arrival_time(seg, profile_id):
    (path,) = seg.paths(profile_id).values()
    answers = {src: (branch, at) for src, _dst, branch, _reason, at in path if src in SEG["CHECKS"]}
    assert set(answers) == set(SEG["CHECKS"])
    assert {at for _, at in answers.values()} == {T}
    assert {check for check, (branch, _) in answers.items() if branch == "then"} == SEG["PROBES"][profile_id]
    assert seg.where(profile_id) == ("done", "completed")


def test_audience_is_judged_at_the_entry_time(seg):
    entered = {
        t.profile_id: t.logical_at
        for t in seg.transitions()
        if t.journey_id == "audience_entry" and t.reason == "entered"
    }
    assert entered == {"a_never": T, "a_91d": T, "a_after": T}


def test_segment_split_takes_the_first_matching_branch(seg):
    routes = {
        t.profile_id: (t.to_node, t.branch, t.logical_at)
        for t in seg.transitions()
        if t.journey_id == "split_first" and t.from_node == "route"
    }
    at = T + 3 * M
    assert routes == {
        "s_vip_shanghai": ("t_vip", "branch_1", at),
        "s_shanghai": ("t_shanghai", "branch_2", at),
        "s_shanghai_staff": ("t_shanghai", "branch_2", at),
        "s_staff": ("t_staff", "branch_3", at),
        "s_staff_later": ("t_else", "else", at),
        "s_else": ("t_else", "else", at),
    }


def test_a_journey_tag_is_visible_to_segments_from_the_next_tick(seg, make_ref):
    check = next(m for m in seg.moves("g_tagged") if m[0] == "check")
    assert check == ("check", "t_yes", "then", "advanced", T + H)
    # one tick covering both the tag and the check: the tag is not published yet
    ref = make_ref({"tagger": SEG["TAGGER"]})
    ref.profile("g")
    ref.event("g_s", "g", "signup", T, channel="tagger")
    ref.run([T + 2 * H])
    assert next(m for m in ref.moves("g") if m[0] == "check")[1:3] == ("t_no", "else")


# ---------------------------------------------------------------- tests/nodes/test_schedule.py

SCHED = scenario_inputs("nodes/test_schedule.py")
day = SCHED["day"]


@pytest.fixture(scope="module")
def daily(tmp_path_factory):
    journeys = {"daily_recall": SCHED["DAILY"], "long_stay": SCHED["LONG_STAY"]}
    ref = Ref(write_project(tmp_path_factory.mktemp("sched") / "d", journeys))
    for pid, tz in SCHED["MEMBERS"].items():
        ref.profile(pid, timezone=tz, member_level="gold")
    ref.profile("guest", timezone="Asia/Shanghai")
    ref.profile("stayer", timezone="Asia/Shanghai", city="Hangzhou")
    ref.event("b1", "buyer", "purchase", day(3, 20), value=30.0)
    ref.run([day(2, 3), *(day(n, 3) for n in range(3, 11))])
    return ref


def test_occurrences_enter_at_their_utc_time_within_the_frequency(daily):
    for pid in ("sh", "null_tz", "ny", "tashkent"):
        assert daily.entered(pid, "daily_recall") == [day(3), day(4), day(10)], pid
    assert min(t.logical_at for t in daily.transitions()) == day(3)  # no replay before the first tick


def test_journey_quiet_hours_and_the_audience_at_each_occurrence(daily):
    assert daily.entered("london", "daily_recall") == []
    assert daily.entered("cape_verde", "daily_recall") == []
    assert daily.entered("buyer", "daily_recall") == [day(3)]
    assert daily.entered("guest", "daily_recall") == []


def test_the_entry_runs_its_path_from_the_occurrence(daily):
    (first, *_) = daily.paths("sh").values()
    assert first == [
        (None, "hello", None, "entered", day(3)),
        ("hello", "pause", "next", "advanced", day(3)),
        ("pause", None, "next", "completed", day(3) + timedelta(hours=1)),
    ]
    sends = [s for s in daily.sends("sh") if s.journey_id == "daily_recall"]
    assert [(s.created_at, s.channel, s.priority) for s in sends] == [
        (day(3), "sms", 2),
        (day(4), "sms", 2),
        (day(10), "sms", 2),
    ]


def test_reentry_false_refuses_only_while_inside(daily):
    """The same case as tests/nodes/test_schedule.py for the SQL; the spec ("may a profile enter again while
    still inside") decides: each 36 h stay refuses only the next day's occurrence."""
    assert daily.entered("stayer", "long_stay") == [day(3), day(5), day(7), day(9)]


def test_a_tick_covering_two_occurrences_enters_both(make_ref):
    """Spec section 3 (cadence) decides; the SQL admits both inside the tick (docs/semantics.md)."""
    ref = make_ref({"daily_recall": SCHED["DAILY"]})
    ref.profile("sh", timezone="Asia/Shanghai", member_level="gold")
    ref.run([day(2, 3), day(4, 3), day(5, 3)])
    assert ref.entered("sh", "daily_recall") == [day(3), day(4)]
