"""tests/nodes/test_send_options.py, tests/nodes/test_send_outcomes.py and tests/tick/test_tick_double11.py,
given to the reference interpreter: the send rules the tick decides, outcome branches and message_status
from `message_events`, schedule_once approvals and the ab_race with its operator notice."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from ref_harness import Ref, scenario_inputs, write_project

from journey_compiler.reference.ids import message_id

OPTS = scenario_inputs("nodes/test_send_options.py")
END, DISPATCH, READ_AT = OPTS["END"], OPTS["DISPATCH"], OPTS["READ_AT"]
H, M = timedelta(hours=1), timedelta(minutes=1)


@pytest.fixture(scope="module")
def opts(tmp_path_factory):
    ref = Ref(write_project(tmp_path_factory.mktemp("opts") / "d", {"send_opts": OPTS["JOURNEY"]}))
    for pid, (route, tz, at) in OPTS["PROFILES"].items():
        extra = {"plate_number": pid.upper()} if pid.startswith("car") else {}
        ref.profile(pid, timezone=tz, city=route, **extra)
        ref.event(f"{pid}_s", pid, "signup", at, channel="opts")
    for pid, tz in OPTS["OWNERS"].items():
        ref.profile(pid, timezone=tz)
    for row in OPTS["RELATIONS"]:
        ref.relation(*row)
    for d in range(2, 12):
        ref.world.trading_calendar[date(2026, 3, d)] = date(2026, 3, d).weekday() < 5
    ten = datetime(2026, 3, 3, 10, 0)
    ref.event("u1", "b_unsub", "unsubscribe", ten - H, channel="sms")
    ref.event("u2", "b_unsub_email", "unsubscribe", ten - H, channel="email")
    ref.event("u3", "b_unsub_after", "unsubscribe", ten + M, channel="sms")
    ref.event("u4", "bd_unsub_meanwhile", "unsubscribe", datetime(2026, 3, 4, 1, 0), channel="sms")
    ref.run([END])
    queue = {(m.profile_id, m.recipient_id): m for m in ref.sends()}
    # what the dispatch at DISPATCH recorded: every queued message sent; then the owner's read callback
    for message in queue.values():
        if message.status == "queued" and message.not_before <= DISPATCH:
            ref.outcome(message.message_id, "sent", DISPATCH)
    ref.outcome(queue[("car_one", "owner_a")].message_id, "read", READ_AT)
    ref.run([END, END + H])
    return ref, queue


def nb(queue, pid):
    m = queue[(pid, pid)]
    return m.not_before, m.status, m.suppressed_by


def test_quiet_hours_defer_and_drop(opts):
    _, q = opts
    assert nb(q, "d_berlin_late") == (datetime(2026, 3, 4, 7, 0), "queued", None)
    assert nb(q, "d_berlin_early") == (datetime(2026, 3, 3, 7, 0), "queued", None)
    assert nb(q, "d_berlin_at_from") == (datetime(2026, 3, 4, 7, 0), "queued", None)
    assert nb(q, "d_berlin_day") == (datetime(2026, 3, 3, 12, 0), "queued", None)
    assert nb(q, "d_berlin_at_to") == (datetime(2026, 3, 3, 7, 0), "queued", None)
    assert nb(q, "d_null_tz") == (datetime(2026, 3, 4, 0, 0), "queued", None)
    assert nb(q, "r_night") == (datetime(2026, 3, 3, 4, 0), "suppressed", "quiet_hours")
    assert nb(q, "r_day") == (datetime(2026, 3, 3, 17, 0), "queued", None)


def test_blacklist_is_judged_when_the_message_is_created(opts):
    _, q = opts
    assert nb(q, "b_unsub")[1:] == ("suppressed", "blacklist")
    assert nb(q, "b_unsub_email")[1:] == ("queued", None)
    assert nb(q, "b_unsub_after")[1:] == ("queued", None)


def test_non_trading_days_postpone_or_skip(opts):
    _, q = opts
    assert nb(q, "pp_sat_shanghai") == (datetime(2026, 3, 8, 20, 0), "queued", None)
    assert nb(q, "pp_null_tz") == (datetime(2026, 3, 8, 20, 0), "queued", None)
    assert nb(q, "pp_fri_ny") == (datetime(2026, 3, 7, 3, 0), "queued", None)
    assert nb(q, "pp_sun_berlin") == (datetime(2026, 3, 9, 14, 0), "queued", None)
    assert nb(q, "pp_sat_ny_dst") == (datetime(2026, 3, 9, 16, 0), "queued", None)
    assert nb(q, "sk_sat_shanghai")[1:] == ("suppressed", "non_trading_day")
    assert nb(q, "sk_fri_ny") == (datetime(2026, 3, 7, 3, 0), "queued", None)


def test_subject_conversion(opts):
    ref, q = opts
    (one,) = [m for (pid, _), m in q.items() if pid == "car_one"]
    assert (one.recipient_id, one.status) == ("owner_a", "queued")
    arrived = datetime(2026, 3, 3, 15, 30)
    rows = sorted((m for (pid, _), m in q.items() if pid == "car_all"), key=lambda m: m.recipient_id)
    assert [(m.recipient_id, m.not_before, m.status) for m in rows] == [
        ("owner_a", arrived, "queued"),
        ("owner_b", datetime(2026, 3, 4, 0, 0), "queued"),
    ]
    (orphan,) = ref.sends("car_orphan")
    assert (orphan.recipient_id, orphan.status, orphan.suppressed_by) == (None, "suppressed", "no_recipient")
    assert orphan.message_id == message_id("send_opts", orphan.entry_id, "s_one", None)


def test_outcome_branches_and_message_status(opts):
    ref, _ = opts
    ten = datetime(2026, 3, 3, 10, 0)
    assert ref.moves("b_unsub")[-2:] == [
        ("s_black", "t_suppressed", "on_suppressed", "advanced", ten),
        ("t_suppressed", None, "next", "completed", ten),
    ]
    assert ref.moves("b_unsub_email")[-2:] == [
        ("s_black", "t_sent", "on_sent", "advanced", DISPATCH),
        ("t_sent", None, "next", "completed", DISPATCH),
    ]
    assert {t.tick_at for t in ref.transitions("b_unsub_email") if t.from_node == "s_black"} == {END + H}
    assert ("one_read", "t_one_read", "then", "advanced", READ_AT) in ref.moves("car_one")
    assert ref.where("car_orphan") == ("one_read", "active")
    (sent,) = ref.sends("b_unsub_email")
    assert sent.status == "sent"  # the latest message_events status


# ---------------------------------------------------------------- tests/nodes/test_send_outcomes.py

OUT = scenario_inputs("nodes/test_send_outcomes.py")


def test_cart_abandonment_outcomes(make_ref):
    t, d = OUT["T"], OUT["D"]
    dispatch_1, dispatch_2, entered = OUT["DISPATCH_1"], OUT["DISPATCH_2"], OUT["ENTERED"]
    journeys = {
        n: (OUT["EXAMPLE_JOURNEYS"] / f"{n}.yaml").read_text() for n in ("cart_abandonment", "dormant_recall")
    }
    ref = make_ref(journeys)
    ref.profiles(["p_read", "p_unread", "p_late_read", "p_nophone", "p_fail", "p_capped"])
    ref.tag("p_fail", "staff", t - d)
    for pid in ("p_read", "p_unread", "p_late_read", "p_nophone"):
        ref.event(f"{pid}_cart", pid, "add_to_cart", t, value=60.0, sku="SHOE-1")
    for pid in ("p_fail", "p_capped"):
        ref.event(f"{pid}_cart", pid, "add_to_cart", t + 5 * M, value=70.0, sku="SHOE-2")
    ticks = [t + H + 2 * M, t + H + 7 * M, t + d + 3 * H]
    ref.run(ticks[:1])
    assert {s.profile_id: (s.node_id, s.status) for s in ref.state()} == {
        pid: ("remind", "active") for pid in ("p_read", "p_unread", "p_late_read", "p_nophone")
    }
    remind = {m.profile_id: m.message_id for m in ref.sends() if m.node_id == "remind"}
    for pid in ("p_read", "p_unread", "p_late_read"):  # the first dispatch
        ref.outcome(remind[pid], "sent", dispatch_1)
    ref.outcome(remind["p_nophone"], "failed", dispatch_1)  # no phone: the senders fail it (no address)
    ref.run(ticks[:2])
    remind = {m.profile_id: m.message_id for m in ref.sends() if m.node_id == "remind"}
    ref.outcome(remind["p_fail"], "failed", dispatch_2)
    ref.outcome(remind["p_capped"], "suppressed", dispatch_2)  # the whatsapp cap of 0 at dispatch
    ref.outcome(remind["p_read"], "read", t + 3 * H)
    ref.outcome(remind["p_late_read"], "read", dispatch_1 + d + M)
    ref.run(ticks)
    assert ref.moves("p_read") == [
        (None, "remind", None, "entered", entered),
        ("remind", "was_read", "on_sent", "advanced", dispatch_1),
        ("was_read", "tag_reader", "then", "advanced", t + 3 * H),
        ("tag_reader", None, "next", "completed", t + 3 * H),
    ]
    for pid in ("p_unread", "p_late_read"):
        assert ref.moves(pid)[1:3] == [
            ("remind", "was_read", "on_sent", "advanced", dispatch_1),
            ("was_read", "sms_fallback", "else", "advanced", dispatch_1 + d),
        ]
        (fallback,) = [m for m in ref.sends(pid) if m.node_id == "sms_fallback"]
        assert (fallback.channel, fallback.created_at, fallback.status) == ("sms", dispatch_1 + d, "queued")
    assert ref.moves("p_fail")[:2] == [
        (None, "remind", None, "entered", t + 5 * M + H),
        ("remind", "sms_fallback", "on_failed", "advanced", dispatch_2),
    ]
    assert {m.node_id: m.status for m in ref.sends("p_fail")} == {
        "remind": "failed",
        "sms_fallback": "queued",
    }
    assert ref.moves("p_nophone")[1] == ("remind", "sms_fallback", "on_failed", "advanced", dispatch_1)
    assert ref.moves("p_capped")[1] == ("remind", "sms_fallback", "on_suppressed", "advanced", dispatch_2)


# ---------------------------------------------------------------- tests/tick/test_tick_double11.py

D11 = scenario_inputs("tick/test_tick_double11.py")
PLANNED, MEMBERS = D11["PLANNED"], D11["MEMBERS"]


def _shop(make_ref):
    ref = make_ref({"double11_promo": D11["JOURNEY"]})
    ref.profiles([f"p{i}" for i in range(MEMBERS)], timezone="Asia/Shanghai", member_level="gold")
    ref.profile("guest", timezone=None)
    ref.world.details["orders"] = [
        {
            "order_id": f"o{i}",
            "profile_id": f"p{i}",
            "amount": 30.0,
            "ordered_at": datetime(2026, 11, 10, 5, 0),
        }
        for i in range(0, MEMBERS, 10)
    ]
    return ref


def test_race_picks_and_notifies(make_ref):
    ref = _shop(make_ref)
    ref.control("double11_promo", "approve", PLANNED - H)
    pick = datetime(2026, 11, 10, 8, 0)
    ref.control("double11_promo", "pick_winner", pick, "shipping")
    ref.run([PLANNED + H, datetime(2026, 11, 12)])
    out_of_race = [t for t in ref.transitions() if t.from_node == "race"]
    tested = [t for t in out_of_race if t.ab_group is not None]
    rest = [t for t in out_of_race if t.ab_group is None]
    assert {t.ab_group for t in tested} == {"discount", "shipping"}
    assert 0.2 * MEMBERS <= len(tested) <= 0.4 * MEMBERS
    assert {(t.to_node, t.logical_at) for t in rest} == {("promo_b", pick)}
    assert len(rest) == MEMBERS - len(tested)
    assert {s.entry_at for s in ref.state()} == {PLANNED} and len(ref.state()) == MEMBERS
    notices = [
        (m.recipient_id, m.template, m.not_before, m.status, m.suppressed_by, m.entry_id)
        for m in ref.sends()
        if m.node_id == "race"
    ]
    # a queued notice names no suppression (the SQL writes `race_over` into suppressed_by)
    assert notices == [
        ("crm-team@shop.example", "race_done", PLANNED + timedelta(days=2), "queued", None, None)
    ]
    goals = ref.output.goals
    assert (len(goals), min(g.completed_at for g in goals)) == (MEMBERS // 10, datetime(2026, 11, 10, 5, 0))


def test_late_approval_runs_when_approved_within_72_hours(make_ref):
    ref = _shop(make_ref)
    ref.control("double11_promo", "approve", PLANNED + 5 * H)
    ref.run([PLANNED + H])
    assert ref.state() == []
    ref.run([PLANNED + H, PLANNED + 6 * H])
    assert {s.entry_at for s in ref.state()} == {PLANNED + 5 * H} and len(ref.state()) == MEMBERS


def test_approval_after_72_hours_cancels(make_ref):
    ref = _shop(make_ref)
    ref.control("double11_promo", "approve", PLANNED + 73 * H)
    ref.run([PLANNED + timedelta(days=4)])
    assert ref.state() == []


def test_cap_whitelist_members_are_flagged_exempt_when_the_message_is_created(make_ref):
    """Spec section 2: the "frequency-cap whitelist segment (caps do not apply)"; channels.yaml names
    `staff` (tag: staff) for every send; the dispatcher applies the caps, the tick flags the exemption."""
    journey = (
        'id: plain\ntimezone: UTC\nactive: {from: "2026-01-01T00:00:00Z"}\n'
        "entry:\n  event: {did: {event: signup}}\n"
        "nodes:\n  hello:\n    send: {channel: sms, template: recall_sms}\n"
    )
    ref = make_ref({"plain": journey})
    at = datetime(2026, 3, 3, 9, 0)
    for pid in ("staffer", "customer", "staff_later"):
        ref.profile(pid)
        ref.event(f"{pid}_s", pid, "signup", at)
    ref.tag("staffer", "staff", at - H)
    ref.tag("staff_later", "staff", at + M)
    ref.run([at + H])
    assert {m.profile_id: m.cap_exempt for m in ref.sends()} == {
        "staffer": True,
        "customer": False,
        "staff_later": False,
    }
