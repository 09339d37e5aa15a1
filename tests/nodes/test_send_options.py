"""Send options decided by the tick: quiet hours (`defer` moves not_before to the next local `to`, `drop`
suppresses), the blacklist segment, non-trading days (`postpone` to the next trading day at the same local
time, `skip`), and subject conversion through raw.relations (`one`: the smallest related id, `all`: each).
Local times are the recipient's timezone, else the journey's (Asia/Shanghai here)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest

pytestmark = pytest.mark.slow

M = timedelta(minutes=1)
H = timedelta(hours=1)

SMS = "channel: sms, template: recall_sms"
JOURNEY = f"""
id: send_opts
name: Send options
timezone: Asia/Shanghai
active: {{from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}}
entry:
  event:
    did: {{event: signup, where: "channel = 'opts'"}}
    mode: every
nodes:
  route:
    segment_split:
      mode: first_match
      branches:
        - {{where: "city = 'defer'", to: s_defer}}
        - {{where: "city = 'drop'", to: s_drop}}
        - {{where: "city = 'black'", to: s_black}}
        - {{where: "city = 'black_defer'", to: s_black_defer}}
        - {{where: "city = 'postpone'", to: s_postpone}}
        - {{where: "city = 'skip'", to: s_skip}}
        - {{where: "city = 'one'", to: s_one}}
        - {{where: "city = 'all'", to: s_all}}
      else: s_plain
  s_defer:
    send: {{{SMS}, quiet_hours: {{from: "22:00", to: "08:00", policy: defer}}}}
  s_drop:
    send: {{{SMS}, quiet_hours: {{from: "22:00", to: "08:00", policy: drop}}}}
  s_black:
    send: {{{SMS}, blacklist: unsubscribed_sms}}
    on_sent: t_sent
    on_suppressed: t_suppressed
  s_black_defer:
    send: {{{SMS}, blacklist: unsubscribed_sms, quiet_hours: {{from: "22:00", to: "08:00", policy: defer}}}}
  s_postpone:
    send: {{{SMS}, non_trading_day: postpone}}
  s_skip:
    send: {{{SMS}, non_trading_day: skip}}
  s_one:
    send: {{{SMS}, subject: {{relation: owned_by, pick: one}}}}
    next: one_read
  one_read:
    message_status: {{of: s_one, is: [read], within: 30d}}
    then: t_one_read
    else: t_one_unread
  t_one_read:
    add_tag: owner_read
  t_one_unread:
    add_tag: owner_unread
  s_all:
    send:
      channel: sms
      template: recall_sms
      subject: {{relation: owned_by, pick: all}}
      quiet_hours: {{from: "22:00", to: "08:00", policy: defer}}
  s_plain:
    send: {{{SMS}}}
  t_sent:
    add_tag: black_sent
  t_suppressed:
    add_tag: black_suppressed
"""

# profile -> (route, timezone, signup time UTC)
PROFILES = {
    # defer, 22:00-08:00
    "d_berlin_late": ("defer", "Europe/Berlin", datetime(2026, 3, 3, 22, 30)),  # 23:30 CET
    "d_berlin_early": ("defer", "Europe/Berlin", datetime(2026, 3, 3, 5, 0)),  # 06:00 CET
    "d_berlin_day": ("defer", "Europe/Berlin", datetime(2026, 3, 3, 12, 0)),  # 13:00 CET
    "d_berlin_at_to": ("defer", "Europe/Berlin", datetime(2026, 3, 3, 7, 0)),  # 08:00 CET: outside
    "d_berlin_at_from": ("defer", "Europe/Berlin", datetime(2026, 3, 3, 21, 0)),  # 22:00 CET: inside
    "d_null_tz": ("defer", None, datetime(2026, 3, 3, 15, 0)),  # 23:00 in Shanghai, the journey's zone
    # drop
    "r_night": ("drop", "America/New_York", datetime(2026, 3, 3, 4, 0)),  # 23:00 EST
    "r_day": ("drop", "America/New_York", datetime(2026, 3, 3, 17, 0)),  # 12:00 EST
    # blacklist
    "b_unsub": ("black", "UTC", datetime(2026, 3, 3, 10, 0)),
    "b_unsub_email": ("black", "UTC", datetime(2026, 3, 3, 10, 0)),
    "b_unsub_after": ("black", "UTC", datetime(2026, 3, 3, 10, 0)),
    "bd_unsub_meanwhile": ("black_defer", "Europe/Berlin", datetime(2026, 3, 3, 22, 30)),
    # trading days: Sat 7 and Sun 8 March are closed
    "pp_sat_shanghai": ("postpone", "Asia/Shanghai", datetime(2026, 3, 6, 20, 0)),  # Sat 04:00 local
    "pp_null_tz": ("postpone", None, datetime(2026, 3, 6, 20, 0)),  # the journey's zone: Sat 04:00
    "pp_fri_ny": ("postpone", "America/New_York", datetime(2026, 3, 7, 3, 0)),  # Fri 22:00 local
    "pp_sun_berlin": ("postpone", "Europe/Berlin", datetime(2026, 3, 8, 14, 0)),  # Sun 15:00 CET
    "pp_sat_ny_dst": ("postpone", "America/New_York", datetime(2026, 3, 7, 17, 0)),  # Sat 12:00 EST
    "sk_sat_shanghai": ("skip", "Asia/Shanghai", datetime(2026, 3, 6, 20, 0)),
    "sk_fri_ny": ("skip", "America/New_York", datetime(2026, 3, 7, 3, 0)),
    # subject conversion: cars followed, owners reached
    "car_one": ("one", "Asia/Shanghai", datetime(2026, 3, 3, 15, 30)),
    "car_all": ("all", "Asia/Shanghai", datetime(2026, 3, 3, 15, 30)),  # 23:30 in Shanghai
    "car_orphan": ("one", "Asia/Shanghai", datetime(2026, 3, 3, 15, 30)),
}
OWNERS = {"owner_a": "Europe/Berlin", "owner_b": "Asia/Shanghai", "owner_z": "UTC"}
RELATIONS = [
    ("car_one", "owner_b", "owned_by"),
    ("car_one", "owner_a", "owned_by"),
    ("car_one", "owner_0", "drives"),  # another relation: ignored
    ("car_all", "owner_b", "owned_by"),
    ("car_all", "owner_a", "owned_by"),
    ("car_orphan", "owner_z", "drives"),
]
END = datetime(2026, 3, 9, 0, 0)
DISPATCH = END + 5 * M
READ_AT = END + 30 * M


@pytest.fixture(scope="module")
def opts(tmp_path_factory, scenario_builder):
    from dataclasses import replace

    from channel_senders.loopback import LocalHttpServer
    from channel_senders.outbox import dispatch_project
    from journey_compiler.config.channels import ChannelsConfig, HttpChannel

    sc = scenario_builder(tmp_path_factory.mktemp("send_opts"), {"send_opts": JOURNEY})
    for pid, (route, tz, at) in PROFILES.items():
        extra = {"plate_number": pid.upper()} if pid.startswith("car") else {}
        sc.profile(pid, timezone=tz, city=route, **extra)
        sc.event(f"{pid}_s", pid, "signup", at, channel="opts")
    for pid, tz in OWNERS.items():
        sc.profile(pid, timezone=tz)
    sc.sql(
        "insert into raw.relations values " + ", ".join(["(?, ?, ?)"] * len(RELATIONS)),
        [v for row in RELATIONS for v in row],
    )
    for d in range(2, 12):
        day_ = date(2026, 3, d)
        sc.sql("insert into raw.trading_calendar values (?, ?)", [day_, day_.weekday() < 5])
    ten = datetime(2026, 3, 3, 10, 0)
    sc.event("u1", "b_unsub", "unsubscribe", ten - H, channel="sms")
    sc.event("u2", "b_unsub_email", "unsubscribe", ten - H, channel="email")
    sc.event("u3", "b_unsub_after", "unsubscribe", ten + M, channel="sms")
    sc.event("u4", "bd_unsub_meanwhile", "unsubscribe", datetime(2026, 3, 4, 1, 0), channel="sms")
    sc.tick(END)
    queue_at_tick = {(s["profile_id"], s["recipient_id"]): s for s in sc.sends()}
    with LocalHttpServer() as server:
        channels = ChannelsConfig(channels={"sms": HttpChannel(kind="http_sms", url=server.url("/sms"))})
        dispatch_project(sc.workspace.warehouse, replace(sc.built.project, channels=channels), DISPATCH)
        received = list(server.received)
    ((car_message,),) = sc.sql("select message_id from journeys.send_queue where profile_id = 'car_one'")
    sc.sql(
        "insert into journeys.message_events values (?, 'read', ?, 'provider callback')",
        [car_message, READ_AT],
    )
    sc.tick(END + H)
    return sc, queue_at_tick, received


def _message(queue, pid, recipient=None):
    return queue[(pid, recipient or pid)]


def _nb(queue, pid):
    row = _message(queue, pid)
    return row["not_before"], row["status"], row["suppressed_by"]


def test_defer_moves_not_before_to_the_next_local_end_of_quiet_hours(opts):
    _, q, _ = opts
    assert _nb(q, "d_berlin_late") == (datetime(2026, 3, 4, 7, 0), "queued", None)
    assert _nb(q, "d_berlin_early") == (datetime(2026, 3, 3, 7, 0), "queued", None)
    assert _nb(q, "d_berlin_at_from") == (datetime(2026, 3, 4, 7, 0), "queued", None)


def test_defer_leaves_messages_outside_quiet_hours_alone(opts):
    _, q, _ = opts
    assert _nb(q, "d_berlin_day") == (datetime(2026, 3, 3, 12, 0), "queued", None)
    assert _nb(q, "d_berlin_at_to") == (datetime(2026, 3, 3, 7, 0), "queued", None)


def test_defer_without_a_profile_timezone_uses_the_journeys(opts):
    _, q, _ = opts
    assert _nb(q, "d_null_tz") == (datetime(2026, 3, 4, 0, 0), "queued", None)  # 08:00 in Shanghai


def test_drop_suppresses_inside_quiet_hours_only(opts):
    _, q, _ = opts
    assert _nb(q, "r_night") == (datetime(2026, 3, 3, 4, 0), "suppressed", "quiet_hours")
    assert _nb(q, "r_day") == (datetime(2026, 3, 3, 17, 0), "queued", None)


def test_blacklisted_recipient_is_suppressed(opts):
    _, q, _ = opts
    assert _nb(q, "b_unsub")[1:] == ("suppressed", "blacklist")
    assert _nb(q, "b_unsub_email")[1:] == ("queued", None)
    # unsubscribed a minute after the message was created: the blacklist is judged at that time
    assert _nb(q, "b_unsub_after")[1:] == ("queued", None)


def test_a_blacklisted_recipient_never_gets_a_deferred_message(opts):
    sc, _, received = opts
    (row,) = sc.sends("bd_unsub_meanwhile")
    assert row["status"] == "suppressed"
    assert row["message_id"] not in {r.headers["Idempotency-Key"] for r in received}


def test_postpone_moves_to_the_next_trading_day_at_the_same_local_time(opts):
    _, q, _ = opts
    # Sat 04:00 in Shanghai -> Mon 9 March 04:00 in Shanghai
    assert _nb(q, "pp_sat_shanghai") == (datetime(2026, 3, 8, 20, 0), "queued", None)
    assert _nb(q, "pp_null_tz") == (datetime(2026, 3, 8, 20, 0), "queued", None)
    # Friday evening in New York is a trading day there, though Saturday in UTC
    assert _nb(q, "pp_fri_ny") == (datetime(2026, 3, 7, 3, 0), "queued", None)
    assert _nb(q, "pp_sun_berlin") == (datetime(2026, 3, 9, 14, 0), "queued", None)
    # Sat 12:00 EST -> Mon 12:00 EDT (daylight saving began on Sunday 8 March)
    assert _nb(q, "pp_sat_ny_dst") == (datetime(2026, 3, 9, 16, 0), "queued", None)


def test_skip_suppresses_on_non_trading_days(opts):
    _, q, _ = opts
    assert _nb(q, "sk_sat_shanghai")[1:] == ("suppressed", "non_trading_day")
    assert _nb(q, "sk_fri_ny") == (datetime(2026, 3, 7, 3, 0), "queued", None)


def test_subject_one_reaches_the_smallest_related_id(opts):
    _, q, _ = opts
    rows = [row for (pid, _), row in q.items() if pid == "car_one"]
    assert [(r["recipient_id"], r["status"]) for r in rows] == [("owner_a", "queued")]
    payload = json.loads(rows[0]["payload"])
    assert payload["profile"]["profile_id"] == "car_one"
    assert payload["profile"]["attributes"] in (
        {"city": "one", "plate_number": "CAR_ONE"},
        json.dumps({"city": "one", "plate_number": "CAR_ONE"}),
    )
    assert payload["recipient"]["profile_id"] == "owner_a"
    assert payload["recipient"]["email"] == "owner_a@example.test"


def test_subject_all_reaches_every_related_profile_in_its_own_timezone(opts):
    _, q, _ = opts
    rows = sorted((row for (pid, _), row in q.items() if pid == "car_all"), key=lambda r: r["recipient_id"])
    arrived = datetime(2026, 3, 3, 15, 30)
    assert [(r["recipient_id"], r["not_before"], r["status"]) for r in rows] == [
        ("owner_a", arrived, "queued"),  # 16:30 in Berlin
        ("owner_b", datetime(2026, 3, 4, 0, 0), "queued"),  # 23:30 in Shanghai -> 08:00
    ]
    assert len({r["message_id"] for r in rows}) == 2
    assert {json.loads(r["payload"])["profile"]["profile_id"] for r in rows} == {"car_all"}


def test_no_related_profile_suppresses_with_no_recipient(opts):
    sc, _, _ = opts
    (row,) = sc.sends("car_orphan")
    assert (row["recipient_id"], row["status"], row["suppressed_by"]) == (None, "suppressed", "no_recipient")


def test_the_dispatch_sends_to_the_owners(opts):
    _, _, received = opts
    by_key = {r.headers["Idempotency-Key"] for r in received}
    sc = opts[0]
    owners = {r["message_id"] for r in sc.sends() if r["profile_id"] in ("car_one", "car_all")}
    assert owners <= by_key


def test_send_suppressed_by_the_tick_takes_on_suppressed_at_once(opts):
    sc, _, _ = opts
    ten = datetime(2026, 3, 3, 10, 0)
    assert sc.moves("b_unsub")[-2:] == [
        ("s_black", "t_suppressed", "on_suppressed", "advanced", ten),
        ("t_suppressed", None, "next", "completed", ten),
    ]


def test_send_with_outcome_branches_waits_then_takes_on_sent(opts):
    sc, q, _ = opts
    moves = sc.moves("b_unsub_email")
    assert moves[-2:] == [
        ("s_black", "t_sent", "on_sent", "advanced", DISPATCH),
        ("t_sent", None, "next", "completed", DISPATCH),
    ]
    # the first tick left it waiting at the send
    assert q[("b_unsub_email", "b_unsub_email")]["tick_at"] == END
    assert all(
        t["tick_at"] == END + H for t in sc.transitions("b_unsub_email") if t["from_node"] == "s_black"
    )


def test_message_status_sees_the_status_of_a_converted_subjects_message(opts):
    sc, _, _ = opts
    moves = sc.moves("car_one")
    assert ("one_read", "t_one_read", "then", "advanced", READ_AT) in moves


def test_message_status_waits_while_its_window_is_open(opts):
    sc, _, _ = opts
    (state,) = sc.state("car_orphan")
    assert (state["node_id"], state["status"]) == ("one_read", "active")
