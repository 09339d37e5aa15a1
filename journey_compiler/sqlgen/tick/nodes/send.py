"""`send`: create the message(s) on arrival (unless the path exits first), with the rules the tick decides
(an entry in the journey's holdout, blacklisted recipient, quiet hours with `drop`, non-trading day with
`skip`, no recipient suppress it;
`defer`/`postpone` move `not_before`); then wait for the outcome if the node branches on it."""

from __future__ import annotations

from datetime import datetime

from sqlglot import exp

from journey_compiler.config import journey as cfg
from journey_compiler.config.rules import Rule
from journey_compiler.ir import Step
from journey_compiler.sqlgen.ast import (
    aliased,
    col,
    eq,
    is_null,
    json_document,
    json_object,
    lit,
    not_null,
    ts,
    union_all,
)
from journey_compiler.sqlgen.calendar import closed_day, first_trading_day
from journey_compiler.sqlgen.holdout import held_out
from journey_compiler.sqlgen.ids import stable_id
from journey_compiler.sqlgen.localtime import in_window, next_clock, plus_days, to_local, to_utc
from journey_compiler.sqlgen.relations import ref
from journey_compiler.sqlgen.tick import lifecycle
from journey_compiler.sqlgen.tick.builder import TickSql, known_events, tick_col, tick_value
from journey_compiler.sqlgen.tick.paths import PATH_COLUMNS, Answer, instant

PROFILE_COLUMNS = ("profile_id", "email", "phone", "timezone", "attributes")
EVENT_COLUMNS = ("event_id", "event_name", "event_time", "properties")
DOCUMENTS = ("attributes", "properties")
"""The payload's columns that hold JSON documents (nested in it, not quoted)."""
FINAL_STATUSES = ("sent", "failed", "suppressed", "expired")
READ_AS = {"expired": "failed"}
"""A message that expired unsent failed (docs/semantics.md, "An expired message failed")."""


def answer(tick: TickSql, step: Step) -> Answer:
    spec = step.node_as(cfg.SendNode).send
    messages = tick.cte(f"message_{step.id}", _messages(tick, step, spec))
    _record_messages(tick, step, spec, messages)
    if step.id == next(s.id for s in tick.plan.steps if isinstance(s.node, cfg.SendNode)):
        tick.after_admission.append(lambda: _trigger_rows(tick))
    outcomes = {b for b in step.successors if b.startswith("on_")}
    if not outcomes:
        return Answer(instant(f"at_{step.id}", lit("next")))
    return Answer(_outcome(tick, step, messages, outcomes))


def _recipients(tick: TickSql, step: Step, spec: cfg.SendSpec) -> str:
    """Who receives the message: the profile itself, or the profiles related to it (subject conversion:
    `one` = the first related id, `all` = each). No related profile leaves recipient_id NULL. `sent_at`: when
    the messages are created, the arrival or the resume of a pause it fell in (NULL until then)."""
    at = f"at_{step.id}"
    held, on = lifecycle.pause_join(col("arrived_at", at), "hold")
    sent_at = exp.alias_(lifecycle.released(col("arrived_at", at), "hold"), "sent_at")
    if spec.subject is None:
        return tick.cte(
            f"recipients_{step.id}",
            exp.select(f"{at}.*", exp.alias_(col("profile_id", at), "recipient_id"), sent_at)
            .from_(at)
            .join(held, on=on, join_type="left"),
        )
    related = (
        exp.select(col("from_id"), exp.alias_(col("to_id"), "recipient_id"))
        .from_(ref("stg_raw__relations"))
        .where(eq(col("relation"), spec.subject.relation))
    )
    if spec.subject.pick == "one":
        related = (
            exp.select("from_id", exp.alias_(exp.func("MIN", col("recipient_id")), "recipient_id"))
            .from_(related.subquery("related"))
            .group_by("from_id")
        )
    return tick.cte(
        f"recipients_{step.id}",
        exp.select(f"{at}.*", col("recipient_id", "rel"), sent_at)
        .from_(at)
        .join(related.subquery("rel"), join_type="left", on=eq(col("from_id", "rel"), col("profile_id", at)))
        .join(held, on=on, join_type="left"),
    )


def _next_trading_day_same_time(local: exp.Expression) -> exp.Expression:
    next_open = first_trading_day(exp.cast(plus_days(exp.cast(local.copy(), "DATE"), 1), "DATE"))
    time_of_day = exp.paren(
        exp.Sub(this=local.copy(), expression=exp.TimestampTrunc(this=local.copy(), unit=exp.var("DAY")))
    )
    return exp.Add(this=exp.cast(next_open, "TIMESTAMP"), expression=time_of_day)


def _messages(tick: TickSql, step: Step, spec: cfg.SendSpec) -> exp.Select:
    """One row per arrival and recipient: message_id, cap_exempt, suppressed_by, not_before."""
    r = "r"
    recipients = _recipients(tick, step, spec)
    local_tz = exp.func("COALESCE", col("timezone", "rp"), lit(tick.plan.timezone))
    arrived = col("sent_at", r)
    local = to_local(arrived, local_tz)
    suppressed = [exp.If(this=is_null(col("recipient_id", r)), true=lit("no_recipient"))]
    if tick.plan.holdout_percent is not None:
        # the entry walks on, but none of its messages goes out
        held = held_out(tick.plan.id, tick.plan.holdout_percent, col("entry_id", r))
        suppressed.insert(0, exp.If(this=held, true=lit("holdout")))
    not_before: exp.Expression = arrived.copy()
    if spec.blacklist is not None:
        listed = tick.segments.predicate(Rule(segment=spec.blacklist), col("recipient_id", r), arrived)
        suppressed.append(exp.If(this=listed, true=lit("blacklist")))
    if spec.non_trading_day == "skip":
        suppressed.append(exp.If(this=closed_day(local), true=lit("non_trading_day")))
    elif spec.non_trading_day == "postpone":
        same_time = to_utc(_next_trading_day_same_time(local), local_tz)
        not_before = exp.Case(ifs=[exp.If(this=closed_day(local), true=same_time)], default=not_before)
    if spec.quiet_hours is not None:
        quiet = spec.quiet_hours
        inside = in_window(to_local(not_before, local_tz), quiet.from_, quiet.to)
        if quiet.policy == "drop":
            suppressed.append(exp.If(this=inside, true=lit("quiet_hours")))
        else:
            resume = to_utc(next_clock(to_local(not_before, local_tz), quiet.to), local_tz)
            not_before = exp.Case(ifs=[exp.If(this=inside, true=resume)], default=not_before)
    # by path: the forks of an all_matches split send their own messages (the entry's path has its id)
    message_id = stable_id(
        lit(tick.plan.id),
        col("path_id", r),
        lit(step.id),
        exp.func("COALESCE", col("recipient_id", r), lit("")),
    )
    whitelist = spec.cap_whitelist or tick.project.channels.cap_whitelist
    exempt = (
        tick.segments.predicate(Rule(segment=whitelist), col("recipient_id", r), arrived)
        if whitelist
        else exp.false()
    )
    return (
        exp.select(
            f"{r}.*",
            exp.alias_(message_id, "message_id"),
            exp.alias_(exempt, "cap_exempt"),
            exp.alias_(exp.Case(ifs=suppressed), "suppressed_by"),
            exp.alias_(not_before, "not_before"),
        )
        .from_(aliased(recipients, r))
        .join(
            aliased(ref("stg_raw__profiles"), "rp"),
            join_type="left",
            on=eq(col("profile_id", "rp"), col("recipient_id", r)),
        )
    )


def _record_messages(tick: TickSql, step: Step, spec: cfg.SendSpec, messages: str) -> None:
    """A `send` record per message created by this tick."""
    tick.record(
        aliased(messages, "o"),
        _created("o"),
        {
            "record": lit("send"),
            "logical_at": col("sent_at", "o"),
            "entry_id": col("entry_id", "o"),
            "path_id": col("path_id", "o"),
            "profile_id": col("profile_id", "o"),
            "node_id": lit(step.id),
            "message_id": col("message_id", "o"),
            "recipient_id": col("recipient_id", "o"),
            "channel": lit(spec.channel),
            "template": lit(spec.template),
            "payload": _payload(tick),
            "priority": lit(tick.plan.priority),
            "not_before": col("not_before", "o"),
            "ab_group": col("ab_group", "o"),
            "reason": col("suppressed_by", "o"),
            "cap_exempt": col("cap_exempt", "o"),
            "status": exp.Case(
                ifs=[exp.If(this=is_null(col("suppressed_by", "o")), true=lit("queued"))],
                default=lit("suppressed"),
            ),
        },
        joins=(
            (aliased(ref("stg_raw__profiles"), "p"), eq(col("profile_id", "p"), col("profile_id", "o"))),
            (aliased(ref("stg_raw__profiles"), "rp"), eq(col("profile_id", "rp"), col("recipient_id", "o"))),
            (aliased("trigger_rows", "ev"), eq(col("event_id", "ev"), col("trigger_event_id", "o"))),
        ),
    )


def _created(alias: str) -> exp.Expression:
    """The rows of `message_<n>` (as `alias`) this tick creates: sent by its horizon and not before (a new
    arrival, or a path held by a pause that resumed since the previous tick), and not preceded by an exit."""
    sent_at = col("sent_at", alias)
    previous = exp.func("COALESCE", tick_value("previous_tick_at"), ts(datetime(1, 1, 1)))
    return exp.and_(
        not_null(sent_at),
        exp.or_(exp.not_(col("carried", alias)), exp.GT(this=sent_at.copy(), expression=previous)),
        exp.or_(
            is_null(col("exit_at", alias)),
            exp.GT(this=col("exit_at", alias), expression=sent_at.copy()),
        ),
    )


def _trigger_rows(tick: TickSql) -> None:
    """CTE `trigger_rows`: the triggering events of the messages this tick creates, for their payloads, read
    once per journey and only from the earliest of their times on (a range the event scan skips by), rather
    than one scan of every event per send node."""
    sends = [s.id for s in tick.plan.steps if isinstance(s.node, cfg.SendNode)]
    tick.cte(
        "send_triggers",
        union_all(
            [
                exp.select(col("trigger_event_id", "m"), col("entry_at", "m"))
                .from_(aliased(f"message_{s}", "m"))
                .where(_created("m"))
                for s in sends
            ]
        ),
    )
    earliest: exp.Expression = exp.func("MIN", col("entry_at"))
    delay = tick.plan.entry.entry_delay
    if delay is not None:
        # an `event_without` entry comes `delay` after its event
        earliest = exp.Sub(
            this=earliest,
            expression=exp.Interval(this=lit(int(delay.total_seconds())), unit=exp.var("SECOND")),
        )
    since = exp.select(earliest).from_("send_triggers").subquery()
    wanted = exp.select("trigger_event_id").from_("send_triggers")
    tick.cte(
        "trigger_rows",
        exp.select("event_id", "event_name", "event_time", "properties")
        .from_(known_events(since=since))
        .where(col("event_id").isin(query=wanted)),
    )


def _payload(tick: TickSql) -> exp.Expression:
    """What templates render: the profile, the recipient, the triggering event and the journey."""

    def columns(names: tuple[str, ...], table: str) -> exp.Expression:
        values = {c: col(c, table) for c in names}
        return json_object({c: json_document(v) if c in DOCUMENTS else v for c, v in values.items()})

    event = exp.Case(
        ifs=[exp.If(this=is_null(col("event_id", "ev")), true=exp.null())],
        default=columns(EVENT_COLUMNS, "ev"),
    )
    return json_object(
        {
            "profile": columns(PROFILE_COLUMNS, "p"),
            "recipient": columns(PROFILE_COLUMNS, "rp"),
            "event": event,
            "journey": json_object({"id": lit(tick.plan.id), "name": lit(tick.plan.name)}),
        }
    )


def _branch_for(outcomes: set[str], status: str) -> str:
    """The send's own branch for an outcome, else `next` (docs/semantics.md, "An outcome without its own
    branch takes `next`"; without `next` the path completes)."""
    own = f"on_{READ_AS.get(status, status)}"
    return own if own in outcomes else "next"


def _outcome(tick: TickSql, step: Step, messages: str, outcomes: set[str]) -> exp.Select:
    """Wait for the first final outcome the senders recorded (or the suppression decided here)."""
    first = (
        exp.select(
            "message_id",
            exp.alias_(exp.func("MIN", col("status_at")), "status_at"),
            exp.alias_(exp.func("ARG_MIN", col("status"), col("status_at")), "status"),
        )
        .from_(ref("stg_control__message_events"))
        .join("tick", join_type="cross")
        .where(
            exp.and_(
                exp.In(this=col("status"), expressions=[lit(v) for v in FINAL_STATUSES]),
                exp.LTE(this=col("status_at"), expression=tick_col("horizon")),
            )
        )
        .group_by("message_id")
    )
    tick.cte(f"outcome_{step.id}", first)
    suppressed_here = not_null(col("suppressed_by", "m"))
    branch = exp.Case(
        ifs=[
            exp.If(this=suppressed_here, true=lit(_branch_for(outcomes, "suppressed"))),
            *(
                exp.If(this=eq(col("status", "x"), status), true=lit(_branch_for(outcomes, status)))
                for status in FINAL_STATUSES
            ),
        ]
    )
    # (GREATEST ignores NULLs on some engines: no outcome yet must stay NULL, i.e. keep waiting)
    due = exp.Case(
        ifs=[
            exp.If(this=is_null(col("sent_at", "m")), true=exp.null()),
            exp.If(this=suppressed_here.copy(), true=col("sent_at", "m")),
            exp.If(this=is_null(col("status_at", "x")), true=exp.null()),
        ],
        default=exp.func("GREATEST", col("status_at", "x"), col("sent_at", "m")),
    )
    return (
        exp.select(
            *(col(c, "m") for c in PATH_COLUMNS), exp.alias_(due, "due_at"), exp.alias_(branch, "branch")
        )
        .from_(aliased(messages, "m"))
        .join(
            aliased(f"outcome_{step.id}", "x"),
            join_type="left",
            on=eq(col("message_id", "x"), col("message_id", "m")),
        )
    )
