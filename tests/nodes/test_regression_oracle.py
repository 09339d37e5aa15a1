"""Named regressions from the oracle (issue 5): each rule where the SQL tick and the reference interpreter
disagreed, decided in docs/semantics.md (the section named in each test), asserted against the real SQL tick.
tests/reference/test_reference_regressions.py gives the interpreter the same inputs and expectations.

One journeys directory holds every regression journey (one dbt build, three ticks); each profile signs up
with its own `channel`, so it enters only the journeys of its rule.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

pytestmark = pytest.mark.slow

M, H, D = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
T = datetime(2026, 3, 3, 9, 0)  # a Tuesday
APRIL_FIRST = datetime(2026, 4, 1, 8, 0)
TICKS = [T + 2 * M, T + 3 * H, datetime(2026, 6, 1)]
"""The first tick creates the messages whose outcomes OUTCOMES records before the second one."""
HEADER = """id: %s
timezone: UTC
active: {from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}
"""
ENDED_HEADER = """id: %s
timezone: UTC
active: {from: "2026-01-01T00:00:00Z", until: "2026-03-03T10:00:00Z"}
"""
"""Journeys whose active window ends an hour after T: what comes later moves nothing in them."""


def on_signup(channel: str) -> str:
    return f"""entry:\n  event: {{did: {{event: signup, where: "channel = '{channel}'"}}, mode: every}}\n"""


BODIES = {
    "exit_within": on_signup("a")
    + """exit_when:
  - did: {event: unsubscribe, within: 1h}
nodes:
  stay_a:
    wait: {for: 1d}
""",
    "without_times": """entry:
  event_without:
    did: {event: add_to_cart, where: "sku = 'b'"}
    then_not: {event: purchase, times: 2}
    within: 1h
nodes:
  hi_b:
    add_tag: hi_b
""",
    "status_seen": on_signup("c")
    + """nodes:
  hello_c:
    send: {channel: sms, template: recall_sms, quiet_hours: {from: "08:00", to: "12:00", policy: drop}}
    next: later_c
  later_c:
    wait: {for: 1h}
    next: check_c
  check_c:
    message_status: {of: hello_c, is: [suppressed, sent], within: 1h}
    then: told_c
    else: untold_c
  told_c:
    add_tag: told_c
  untold_c:
    add_tag: untold_c
""",
    "month_end": on_signup("d")
    + """nodes:
  wait_d:
    wait: {month_day: 31, at: "09:00"}
    next: done_d
  done_d:
    add_tag: month_end
""",
    "exit_branch": on_signup("f")
    + """exit_when:
  - did: {event: unsubscribe}
nodes:
  check_f:
    event_check: {did: {event: activate}, within: 1d}
    then: yes_f
    else: no_f
  yes_f:
    add_tag: yes_f
  no_f:
    add_tag: no_f
""",
    "race_flag": on_signup("g")
    + """nodes:
  race_g:
    ab_race:
      test_share: 50
      variants: [{id: va, to: va_g}, {id: vb, to: vb_g}]
      test_ends_after: 1h
      notify: {channel: email, template: race_done, to: crm@shop.example}
  va_g:
    add_tag: va_g
  vb_g:
    add_tag: vb_g
""",
    "partial_outcomes": on_signup("h")
    + """nodes:
  hello_h:
    send: {channel: sms, template: recall_sms}
    on_sent: thanks_h
    next: fallback_h
  thanks_h:
    add_tag: thanked_h
  fallback_h:
    add_tag: fell_back_h
""",
    "expiry": on_signup("x")
    + """nodes:
  hello_x:
    send: {channel: sms, template: recall_sms}
    on_sent: thanks_x
    on_failed: sorry_x
  thanks_x:
    add_tag: thanked_x
  sorry_x:
    add_tag: sorry_x
""",
    "tag_off": on_signup("i")
    + """nodes:
  add_off:
    add_tag: i_off
    next: remove_off
  remove_off:
    remove_tag: i_off
""",
    "tag_on": on_signup("i")
    + """nodes:
  remove_on:
    remove_tag: i_on
    next: add_on
  add_on:
    add_tag: i_on
""",
    "tag_reader": on_signup("i")
    + """nodes:
  later_i:
    wait: {for: 1h}
    next: check_off
  check_off:
    segment_check: {tag: i_off}
    then: check_on
    else: check_on
  check_on:
    segment_check: {tag: i_on}
    then: seen_i
    else: seen_i
  seen_i:
    add_tag: seen_i
""",
    "trading_gap": on_signup("j")
    + """nodes:
  note_j:
    send: {channel: sms, template: recall_sms, non_trading_day: skip}
    next: hold_j
  hold_j:
    wait: {trading_day: next, at: "09:00"}
    next: done_j
  done_j:
    add_tag: done_j
""",
    "status_tie": on_signup("k")
    + """nodes:
  hello_k:
    send: {channel: sms, template: recall_sms}
""",
    "race_refused": on_signup("l")
    + """nodes:
  race_l:
    ab_race:
      test_share: 50
      variants: [{id: va, to: va_l}, {id: vb, to: vb_l}]
      test_ends_after: 1h
      notify: {channel: email, template: race_done, to: crm@shop.example}
  va_l:
    wait: {for: 1d}
  vb_l:
    wait: {for: 1d}
""",
    "race_exit": on_signup("m")
    + """exit_when:
  - did: {event: unsubscribe}
nodes:
  race_m:
    ab_race:
      test_share: 99
      variants: [{id: va, to: va_m}, {id: vb, to: vb_m}]
      test_ends_after: 1d
  va_m:
    add_tag: va_m
  vb_m:
    add_tag: vb_m
""",
}
ENDED_BODIES = {
    "ended_outcome": on_signup("n")
    + """nodes:
  hello_n:
    send: {channel: sms, template: recall_sms}
    on_sent: thanks_n
  thanks_n:
    add_tag: thanked_n
""",
    "ended_status": on_signup("o")
    + """nodes:
  hello_o:
    send: {channel: sms, template: recall_sms}
    next: check_o
  check_o:
    message_status: {of: hello_o, is: [sent], within: 1d}
    then: told_o
    else: untold_o
  told_o:
    add_tag: told_o
  untold_o:
    add_tag: untold_o
""",
}
JOURNEYS = {journey_id: HEADER % journey_id + body for journey_id, body in BODIES.items()} | {
    journey_id: ENDED_HEADER % journey_id + body for journey_id, body in ENDED_BODIES.items()
}

PROFILES = {
    # profile: timezone
    "a_soon": "UTC",
    "a_later": "UTC",
    "b_once": "UTC",
    "b_twice": "UTC",
    "c_dropped": "UTC",  # 09:00 local: inside the send's quiet hours
    "c_sent": "Asia/Shanghai",  # 17:00 local: outside them
    "c_never": "Asia/Shanghai",
    "d_march": "UTC",
    "d_april": "UTC",
    "f_both": "UTC",
    "g_first": "UTC",
    "h_sent": "UTC",
    "h_failed": "UTC",
    "x_expired": "UTC",
    "i_both": "UTC",
    "j_tuesday": "UTC",
    "j_wednesday": "UTC",
    "k_tie": "UTC",
    "l_twice": "UTC",
    "m_gone": "UTC",
    "n_late": "UTC",
    "o_late": "UTC",
}
SIGNUPS = {
    "a_soon": T,
    "a_later": T,
    "c_dropped": T,
    "c_sent": T,
    "c_never": T,
    "d_march": T,
    "d_april": APRIL_FIRST,
    "f_both": T,
    "g_first": T,
    "h_sent": T,
    "h_failed": T,
    "x_expired": T,
    "i_both": T,
    "j_tuesday": T + H,
    "j_wednesday": T + D + H,
    "k_tie": T,
    "l_twice": T + D,  # after the second tick: the third (the last) sees the race's whole test phase
    "m_gone": T,
    "n_late": T,
    "o_late": T,
}
EVENTS = [
    # (event id, profile, name, time, properties)
    *((f"{pid}_signup", pid, "signup", at, {"channel": pid[0]}) for pid, at in SIGNUPS.items()),
    ("a_soon_u", "a_soon", "unsubscribe", T + 30 * M, {"channel": "email"}),
    ("a_later_u", "a_later", "unsubscribe", T + 2 * H, {"channel": "email"}),
    ("b_once_c", "b_once", "add_to_cart", T, {"value": 60.0, "sku": "b"}),
    ("b_once_p", "b_once", "purchase", T + 10 * M, {"value": 1.0}),
    ("b_twice_c", "b_twice", "add_to_cart", T, {"value": 60.0, "sku": "b"}),
    ("b_twice_p1", "b_twice", "purchase", T + 10 * M, {"value": 1.0}),
    ("b_twice_p2", "b_twice", "purchase", T + 20 * M, {"value": 1.0}),
    ("f_both_u", "f_both", "unsubscribe", T + 2 * H, {"channel": "email"}),
    ("f_both_a", "f_both", "activate", T + 2 * H, {}),  # the check's `then` at the exit's instant
    ("l_twice_again", "l_twice", "signup", T + D + M, {"channel": "l"}),  # refused: l_twice is inside
    ("m_gone_u", "m_gone", "unsubscribe", T, {"channel": "email"}),  # the exit at the entry's instant
]
CALENDAR = {date(2026, 3, 3): True, date(2026, 3, 5): True, date(2026, 3, 6): False}
"""March 4 is missing from the calendar."""
OUTCOMES = {
    # (journey, profile, send node): the statuses the senders record after the first tick
    ("status_seen", "c_sent", "hello_c"): [("sent", T + 5 * M)],
    ("partial_outcomes", "h_sent", "hello_h"): [("sent", T + 5 * M)],
    ("partial_outcomes", "h_failed", "hello_h"): [("failed", T + 6 * M)],
    ("expiry", "x_expired", "hello_x"): [("deferred", T + 5 * M), ("expired", T + 10 * M)],
    ("status_tie", "k_tie", "hello_k"): [("read", T + 5 * M), ("sent", T + 5 * M), ("delivered", T + 5 * M)],
    ("ended_outcome", "n_late", "hello_n"): [("sent", T + 2 * H)],  # after the journey's end (T + 1h)
    ("ended_status", "o_late", "hello_o"): [("sent", T + 2 * H)],
}

# ---------------------------------------------------------------- the decided behaviour

EXIT_WITHIN = {
    "a_soon": [("stay_a", None, "exit_when", T + 30 * M)],
    "a_later": [("stay_a", None, "completed", T + D)],
}
"""(from, to, reason, logical time) of the last move: an exit counts only inside its own `within`."""
WITHOUT_TIMES = {"b_once": [T + H], "b_twice": []}
"""Entry times: `then_not: {times: 2}` is not prevented by one purchase."""
STATUS_SEEN = {
    "c_dropped": ("check_c", "told_c", "then", T + H),
    "c_sent": ("check_c", "told_c", "then", T + H),
    "c_never": ("check_c", "untold_c", "else", T + 2 * H),
}
"""The message_status check's move: a suppression by the tick, and a status reached before the profile
arrived, count at the arrival."""
MONTH_END = {"d_march": datetime(2026, 3, 31, 9), "d_april": datetime(2026, 5, 31, 9)}
"""When `wait: {month_day: 31}` ends: April has no 31st, so the next one is in May."""
EXIT_BRANCH = ("check_f", None, None, "exit_when", T + 2 * H)
"""The exit transition names no branch of the node it leaves."""
RACE_NOTICE = ("crm@shop.example", T + H, "queued", None)
"""The operator notice (recipient, not_before, status, suppressed_by): queued, not suppressed."""
PARTIAL_OUTCOMES = {
    "h_sent": ("hello_h", "thanks_h", "on_sent", "advanced", T + 5 * M),
    "h_failed": ("hello_h", "fallback_h", "next", "advanced", T + 6 * M),
}
"""An outcome without a branch of its own continues by `next`, at the outcome's time."""
EXPIRY = ("hello_x", "sorry_x", "on_failed", "advanced", T + 10 * M)
"""An expired message is a failed send: `on_failed`, at the expiry."""
TAGS_AT_ONE_INSTANT = {"check_off": "else", "check_on": "then"}
"""The reader's branches an hour later: on one path, the later write stands."""
TRADING_GAP_SENDS = {"j_wednesday": "queued"}
TRADING_GAP_WAIT = {"j_tuesday": datetime(2026, 3, 4, 9), "j_wednesday": datetime(2026, 3, 5, 9)}
"""A day the calendar does not list is a trading day, for sends (not skipped) and for waits (it ends
one)."""
STATUS_TIE = "read"
"""read, sent and delivered at one instant: the send queue shows the last in a message's lifecycle."""
RACE_WITH_A_REFUSAL = ("crm@shop.example", T + D + H)
"""The race notice (recipient, not_before) in a tick that also refuses an entry: the test phase counts the
admitted arrivals, and a refused one hides none of them."""
EXIT_AT_A_RACE = [("race_m", None, None, "exit_when", T, None)]
"""(from, to, branch, reason, logical time, A/B group) after the entry: a path that exits as it reaches an
A/B node gets no variant (the exit wins the tie; the node does no work)."""
AFTER_THE_END = {"n_late": ("hello_n", "active"), "o_late": ("check_o", "active")}
"""Where a path rests when its message's outcome comes after the journey ended: where it was (an outcome
or a status after the end moves nothing, and the next node's message is never created)."""


def path_from(paths: dict[str, list[tuple]], start: str) -> list[tuple]:
    """The one path (of a profile's entries) that starts at node `start`."""
    (path,) = [p for p in paths.values() if p[0][1] == start]
    return path


# ---------------------------------------------------------------- the SQL tick


@pytest.fixture(scope="module")
def sc(tmp_path_factory, scenario_builder):
    sc = scenario_builder(tmp_path_factory.mktemp("regression_oracle"), JOURNEYS)
    for pid, timezone in PROFILES.items():
        sc.profile(pid, timezone=timezone)
    for event_id, pid, name, at, properties in EVENTS:
        sc.event(event_id, pid, name, at, **properties)
    for day, is_open in CALENDAR.items():
        sc.sql("insert into raw.trading_calendar values (?, ?)", [day, is_open])
    sc.tick(TICKS[0])
    for (journey_id, pid, node_id), statuses in OUTCOMES.items():
        (message,) = sc.rows(
            "journeys.send_queue",
            "message_id",
            where=f"journey_id = '{journey_id}' and profile_id = '{pid}' and node_id = '{node_id}'",
        )
        for status, at in statuses:
            sc.sql(
                "insert into journeys.message_events values (?, ?, ?, ?)",
                [message["message_id"], status, at, "regression"],
            )
    for at in TICKS[1:]:
        sc.tick(at)
    return sc


def _check_move(sc, pid: str) -> tuple:
    return next((f, t, b, at) for f, t, b, _, at in sc.moves(pid) if f == "check_c")


def moves_without_branch(sc, pid: str) -> list[tuple]:
    return [(f, t, reason, at) for f, t, _, reason, at in sc.moves(pid)]


def test_an_exit_condition_counts_only_inside_its_window(sc):
    """docs/semantics.md, "An exit condition keeps its window"."""
    for pid, last in EXIT_WITHIN.items():
        assert moves_without_branch(sc, pid)[-1:] == last, pid


def test_event_without_counts_the_other_events_times(sc):
    """docs/semantics.md, "`event_without` counts `then_not.times`"."""
    for pid, expected in WITHOUT_TIMES.items():
        assert [t["logical_at"] for t in sc.transitions(pid) if t["reason"] == "entered"] == expected, pid


def test_message_status_sees_the_ticks_own_suppression(sc):
    """docs/semantics.md, "message_status sees every status the message has had"."""
    assert _check_move(sc, "c_dropped") == STATUS_SEEN["c_dropped"]


def test_message_status_counts_a_status_reached_before_the_arrival(sc):
    """docs/semantics.md, "message_status sees every status the message has had"."""
    assert _check_move(sc, "c_sent") == STATUS_SEEN["c_sent"]


def test_message_status_without_the_status_takes_else_when_the_window_closes(sc):
    assert _check_move(sc, "c_never") == STATUS_SEEN["c_never"]


def test_a_month_day_wait_skips_months_without_that_day(sc):
    """docs/semantics.md, "A month without the day"."""
    for pid, ends in MONTH_END.items():
        assert [at for f, _, _, _, at in sc.moves(pid) if f == "wait_d"] == [ends], pid


def test_an_exit_names_no_branch_of_the_node_it_leaves(sc):
    """docs/semantics.md, "An exit names no branch"."""
    assert sc.moves("f_both")[-1] == EXIT_BRANCH


def test_the_race_notice_is_queued_and_not_suppressed(sc):
    """docs/semantics.md, "The race notice is an ordinary queued message"."""
    (notice,) = sc.rows(
        "journeys.send_queue",
        "recipient_id, not_before, status, suppressed_by",
        where="journey_id = 'race_flag' and node_id = 'race_g'",
    )
    assert tuple(notice.values()) == RACE_NOTICE


def test_an_outcome_without_its_branch_continues_by_next(sc):
    """docs/semantics.md, "An outcome without its own branch takes `next`"."""
    for pid, move in PARTIAL_OUTCOMES.items():
        assert sc.moves(pid)[1] == move, pid


def test_an_expired_message_takes_on_failed(sc):
    """docs/semantics.md, "An expired message failed"."""
    assert sc.moves("x_expired")[1] == EXPIRY


def test_a_tag_written_twice_at_one_instant_keeps_the_later_write(sc):
    """docs/semantics.md, "Two tag writes at one instant"."""
    reader = path_from(sc.paths("i_both"), "later_i")
    assert {f: b for f, _, b, _, _ in reader if f in TAGS_AT_ONE_INSTANT} == TAGS_AT_ONE_INSTANT


def test_a_day_missing_from_the_calendar_trades_for_sends(sc):
    """docs/semantics.md, "A day missing from the trading calendar"."""
    for pid, status in TRADING_GAP_SENDS.items():
        assert [s["status"] for s in sc.sends(pid)] == [status], pid


def test_a_day_missing_from_the_calendar_ends_a_trading_day_wait(sc):
    """docs/semantics.md, "A day missing from the trading calendar"."""
    for pid, ends in TRADING_GAP_WAIT.items():
        assert [at for f, _, _, _, at in sc.moves(pid) if f == "hold_j"] == [ends], pid


def test_statuses_at_one_instant_follow_the_lifecycle(sc):
    """docs/semantics.md, "Two statuses at one instant"."""
    assert [s["status"] for s in sc.sends("k_tie")] == [STATUS_TIE]


def test_a_refused_entry_does_not_hide_the_race_notice(sc):
    """docs/semantics.md, "The race notice is an ordinary queued message"; found by the deep differential
    run (the SQL counted no arrival in a tick that refused any entry)."""
    assert [t["reason"] for t in sc.transitions("l_twice")].count("entered") == 1
    (notice,) = sc.rows(
        "journeys.send_queue",
        "recipient_id, not_before",
        where="journey_id = 'race_refused' and node_id = 'race_l'",
    )
    assert tuple(notice.values()) == RACE_WITH_A_REFUSAL


def test_a_path_that_exits_as_it_reaches_a_race_takes_no_variant(sc):
    """docs/semantics.md, "An exit names no branch"; found by the deep differential run (the SQL gave the
    exiting path the race's variant as its A/B group)."""
    moves = [
        (t["from_node"], t["to_node"], t["branch"], t["reason"], t["logical_at"], t["ab_group"])
        for t in sc.transitions("m_gone")
    ]
    assert moves[1:] == EXIT_AT_A_RACE


def test_an_outcome_after_the_journey_ended_moves_nothing(sc):
    """docs/semantics.md, "Nothing moves after the journey's end"; found by the deep differential run (the
    SQL took a send's outcome, and a message_status, up to the tick, not up to the journey's end)."""
    for pid, rests in AFTER_THE_END.items():
        (state,) = sc.state(pid)
        assert (state["node_id"], state["status"]) == rests, pid
        assert [m["node_id"] for m in sc.sends(pid)] == [f"hello_{pid[0]}"], pid
