"""Hypothesis strategies: random valid journeys (as YAML-ready data) over the shipped shop catalog, random
worlds (profiles, events, tags, relations, calendar, orders, operator controls) and random tick cadences.

Everything is composed from small named building blocks (`st.sampled_from`), so a failing example shrinks to
a few nodes, profiles and events that read like a hand-written scenario. Times sit on a 5-minute grid around
`T0`; the window crosses the US daylight-saving change (2026-03-08 02:00 America/New_York).

Every trigger is drawn with and without re-entry and with frequency limits with and without a period (a
tick covering several candidates of one profile admits them in logical-time order, docs/semantics.md);
blacklists and `exclusive_with` are dispatch-time rules the ticks compared here never reach.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from journey_compiler.reference.world import (
    Control,
    Event,
    Profile,
    ProfileTag,
    Relation,
    World,
)

T0 = datetime(2026, 3, 7, 12, 0)
"""The first tick of every cadence. Saturday noon UTC; New York moves its clocks the next morning."""
HORIZON = timedelta(hours=36)
"""The last tick of every cadence is at T0 + HORIZON."""
GRID = timedelta(minutes=5)
MINUTE = timedelta(minutes=1)

# ---------------------------------------------------------------- building blocks of journeys

TIMEZONES = ("UTC", "Asia/Shanghai", "America/New_York", "Europe/Berlin")
SEND_TARGETS = (
    ("email", "welcome_email"),
    ("sms", "recall_sms"),
    ("push", "activation_nudge"),
    ("webhook", "recall_crm"),
    ("whatsapp", "cart_reminder"),
)
CONDITIONS: tuple[dict[str, Any], ...] = (
    {"event": "activate"},
    {"event": "purchase"},
    {"events": ["app_open", "page_view"]},
    {"event": "add_to_cart", "where": "value >= 50"},
    {"event": "page_view", "where": "page = 'home'"},
    {"event": "app_open", "times": 2},
)
TRIGGER_CONDITIONS: tuple[dict[str, Any], ...] = (
    {"event": "signup"},
    {"event": "signup", "where": "channel = 'web'"},
    {"event": "add_to_cart"},
    {"event": "add_to_cart", "where": "value >= 50"},
    {"events": ["app_open", "page_view"]},
)
RULES: tuple[dict[str, Any], ...] = (
    {"segment": "members"},
    {"segment": "vip"},
    {"segment": "dormant_90d"},
    {"segment": "unsubscribed_sms"},
    {"where": "city = 'Shanghai'"},
    {"where": "lifetime_value >= 500"},
    {"did": {"event": "purchase", "within_last": "1d"}},
    {"all": [{"segment": "members"}, {"not": {"segment": "unsubscribed_sms"}}]},
)
TAG_RULES: tuple[dict[str, Any], ...] = ({"tag": "vip"}, {"tag": "staff"})
SEGMENT_TAGS = ("vip", "staff")
"""Tags that segments read: a journey writing them makes a branch depend on the tick that published them."""
JOURNEY_TAGS = ("cart_reader", "won_back", "warm")
DURATIONS = ("30m", "1h", "3h", "12h", "1d")
WINDOWS = ("1h", "3h", "12h")
CLOCKS = ("08:00", "09:30", "22:00")
QUIET_HOURS = (
    {"from": "22:00", "to": "08:00"},
    {"from": "02:00", "to": "05:00"},
    {"from": "12:00", "to": "13:00"},
)
CRONS = ("0 10 * * *", "0 */12 * * *", "30 9 * * 1-5", "0 8 * * 0")
GOALS: tuple[dict[str, Any], ...] = (
    {"did": {"event": "activate"}, "within": "1d"},
    {"did": {"event": "purchase"}, "within": "12h"},
    {"detail": {"table": "orders", "count": "order_id"}, "within": "1d"},
    {"detail": {"table": "orders", "sum": "amount", "at_least": 100}, "within": "2d"},
)
EXITS: tuple[dict[str, Any], ...] = (
    {"did": {"event": "purchase"}},
    {"did": {"event": "unsubscribe", "where": "channel = 'email'"}},
    {"did": {"event": "activate", "within": "3h"}},
    # on the profile's state: a segment matched or left, an attribute, an event leaving a window
    {"segment": "vip"},
    {"left_segment": "dormant_90d"},
    {"not": {"where": "lifetime_value >= 500"}},
    {"all": [{"segment": "members"}, {"did_not": {"event": "app_open", "within_last": "3h"}}]},
)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def grid_time(low: timedelta, high: timedelta) -> st.SearchStrategy[datetime]:
    """A time on the 5-minute grid in [T0 + low, T0 + high]; shrinks towards T0 + low."""
    return st.integers(0, int((high - low) / GRID)).map(lambda k: T0 + low + k * GRID)


@dataclass(frozen=True)
class Shape:
    """What a generated journey may contain. The cadence property needs branches that depend on events and
    time alone (spec section 3): no message outcomes, no segment over a tag a journey writes."""

    message_outcomes: bool
    tags_feed_segments: bool


CADENCE_SHAPE = Shape(message_outcomes=False, tags_feed_segments=False)
FULL_SHAPE = Shape(message_outcomes=True, tags_feed_segments=True)


@dataclass
class _Graph:
    """Nodes under construction: node i may only name nodes after it, so the graph stays acyclic."""

    size: int
    ids: list[str] = field(default_factory=list)
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    parents: dict[int, set[int]] = field(default_factory=dict)
    lanes: dict[int, dict[int, int]] = field(default_factory=dict)
    """Node -> {all_matches split: its branch} of the edges that reach it. Two branches of one split must
    not lead to one node (validation's rejoin rule): an edge that would join them makes it first_match."""
    fan_outs: set[int] = field(default_factory=set)
    """The all_matches splits whose branches still lead to nodes of their own."""

    def target(self, i: int, offset: int, lane: tuple[int, int] | None = None) -> str:
        """Node i's edge `offset` nodes on (`lane`: it is branch lane[1] of the all_matches split i)."""
        j = min(i + offset, self.size - 1)
        self.parents.setdefault(j, set()).add(i)
        reached = self.lanes.get(i, {}) | dict([lane] if lane else [])
        joined = self.lanes.setdefault(j, {})
        for split, branch in reached.items():
            if joined.setdefault(split, branch) != branch:
                self.fan_outs.discard(split)
        return self.ids[j]

    def ancestors(self, i: int) -> set[int]:
        seen: set[int] = set()
        stack = [i]
        while stack:
            for parent in self.parents.get(stack.pop(), ()):
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        return seen


KINDS = (
    "send",
    "wait",
    "event_check",
    "wait_for_event",
    "event_split",
    "segment_check",
    "segment_split",
    "ab_split",
    "add_tag",
    "remove_tag",
    "ab_race",
    "message_status",
    "exit",
)
TERMINAL_KINDS = ("add_tag", "send", "exit")
offsets = st.integers(1, 3)


def _rule(draw: st.DrawFn, shape: Shape) -> dict[str, Any]:
    return draw(st.sampled_from(RULES + (TAG_RULES if shape.tags_feed_segments else ())))


def _send(draw: st.DrawFn, shape: Shape, graph: _Graph, i: int, terminal: bool) -> dict[str, Any]:
    channel, template = draw(st.sampled_from(SEND_TARGETS))
    spec: dict[str, Any] = {"channel": channel, "template": template}
    options = draw(
        st.sets(st.sampled_from(("quiet_hours", "blacklist", "non_trading_day", "subject")), max_size=2)
    )
    if "quiet_hours" in options:
        spec["quiet_hours"] = draw(st.sampled_from(QUIET_HOURS)) | {
            "policy": draw(st.sampled_from(("defer", "drop")))
        }
    if "blacklist" in options:
        spec["blacklist"] = "unsubscribed_sms"
    if "non_trading_day" in options:
        spec["non_trading_day"] = draw(st.sampled_from(("postpone", "skip", "send")))
    pick = draw(st.sampled_from(("one", "all"))) if "subject" in options else None
    if pick is not None:
        spec["subject"] = {"relation": "owned_by", "pick": pick}
    node: dict[str, Any] = {"send": spec}
    if terminal:
        return node
    outcomes = (
        draw(st.sets(st.sampled_from(("on_sent", "on_failed", "on_suppressed")), max_size=3))
        if shape.message_outcomes and pick != "all"
        else set()
    )
    for branch in sorted(outcomes):
        node[branch] = graph.target(i, draw(offsets))
    if not outcomes or draw(st.booleans()):
        _maybe_next(draw, graph, i, node)
    return node


def _event_rule(draw: st.DrawFn) -> dict[str, Any]:
    """An event check's or split branch's rule: `did`, `did_each` or `did_not`, with `all`/`any`."""
    form = draw(st.sampled_from(("did", "did_each", "did_not")))
    if form == "did":
        return {"did": draw(st.sampled_from(CONDITIONS))}
    match = {"match": draw(st.sampled_from(("all", "any")))}
    if form == "did_each":
        return {"did_each": draw(st.lists(st.sampled_from(CONDITIONS), min_size=1, max_size=2))} | match
    return {"did_not": draw(st.sampled_from(CONDITIONS))} | match


def _maybe_next(draw: st.DrawFn, graph: _Graph, i: int, node: dict[str, Any]) -> None:
    offset = draw(st.none() | offsets)
    if offset is not None:
        node["next"] = graph.target(i, offset)


def _wait(draw: st.DrawFn) -> dict[str, Any]:
    form = draw(st.sampled_from(("for", "until", "at", "weekday", "month_day", "trading_day")))
    if form == "for":
        return {"for": draw(st.sampled_from(DURATIONS))}
    if form == "until":
        return {"until": iso(draw(grid_time(-timedelta(hours=2), HORIZON)))}
    clock = draw(st.sampled_from(CLOCKS))
    if form == "at":
        return {"at": clock} | draw(st.sampled_from(({}, {"day": 2})))
    if form == "weekday":
        return {"weekday": draw(st.sampled_from(("sunday", "monday", "saturday"))), "at": clock}
    if form == "month_day":
        return {"month_day": draw(st.sampled_from((8, 9, 31))), "at": clock}
    return {"trading_day": "next"} | draw(st.sampled_from(({}, {"at": clock})))


def _node(draw: st.DrawFn, shape: Shape, graph: _Graph, i: int, kind: str) -> dict[str, Any]:
    terminal = i == graph.size - 1
    target = lambda: graph.target(i, draw(offsets))  # noqa: E731
    if kind == "send":
        return _send(draw, shape, graph, i, terminal)
    if kind == "exit":
        return {"exit": draw(st.sampled_from((True, {"reason": "done"})))}
    node: dict[str, Any]
    if kind in ("add_tag", "remove_tag"):
        read = SEGMENT_TAGS if shape.tags_feed_segments else ()
        node = {kind: draw(st.sampled_from(JOURNEY_TAGS + read))}
    elif kind == "wait":
        node = {"wait": _wait(draw)}
    elif kind == "event_check":
        return {
            "event_check": _event_rule(draw) | {"within": draw(st.sampled_from(WINDOWS))},
            "then": target(),
            "else": target(),
        }
    elif kind == "wait_for_event":
        spec = dict(draw(st.sampled_from(CONDITIONS)))
        return {
            "wait_for_event": spec | {"within": draw(st.sampled_from(WINDOWS))},
            "happened": target(),
            "timeout": target(),
        }
    elif kind == "event_split":
        rules = [_event_rule(draw) for _ in range(draw(st.integers(1, 3)))]
        return {
            "event_split": {
                "within": draw(st.sampled_from(WINDOWS)),
                "branches": [rule | {"to": target()} for rule in rules],
                "else": target(),
            }
        }
    elif kind == "segment_check":
        return {"segment_check": _rule(draw, shape), "then": target(), "else": target()}
    elif kind == "segment_split":
        rules = draw(st.lists(st.just(None), min_size=1, max_size=3))
        mode = draw(st.sampled_from(("first_match", "all_matches")))
        fans = mode == "all_matches"
        if fans:
            graph.fan_outs.add(i)
        branches = [
            _rule(draw, shape) | {"to": graph.target(i, draw(offsets), (i, k) if fans else None)}
            for k, _ in enumerate(rules)
        ]
        return {"segment_split": {"mode": mode, "branches": branches, "else": target()}}
    elif kind == "ab_split":
        percents = draw(st.sampled_from(((50, 50), (30, 70), (20, 30, 50))))
        return {"ab_split": [{"to": target(), "percent": p, "id": f"g{k}"} for k, p in enumerate(percents)]}
    elif kind == "ab_race":
        race: dict[str, Any] = {
            "test_share": draw(st.sampled_from((30, 50))),
            "variants": [{"id": "va", "to": target()}, {"id": "vb", "to": target()}],
        }
        race |= draw(
            st.sampled_from(
                ({"test_ends_after": "6h"}, {"sample_size": 2}, {"test_ends_after": "1d", "sample_size": 3})
            )
        )
        if draw(st.booleans()):
            race["notify"] = {"channel": "email", "template": "race_done", "to": "crm@shop.example"}
        return {"ab_race": race}
    else:  # message_status: of an earlier send node
        sends = sorted(j for j in graph.ancestors(i) if "send" in graph.nodes[graph.ids[j]])
        of = graph.ids[draw(st.sampled_from(sends))]
        statuses = draw(
            st.lists(
                st.sampled_from(("sent", "delivered", "read", "clicked", "failed", "suppressed")),
                min_size=1,
                max_size=2,
                unique=True,
            )
        )
        return {
            "message_status": {"of": of, "is": statuses, "within": draw(st.sampled_from(WINDOWS))},
            "then": target(),
            "else": target(),
        }
    if not terminal:
        _maybe_next(draw, graph, i, node)
    return node


@st.composite
def nodes(draw: st.DrawFn, shape: Shape) -> dict[str, dict[str, Any]]:
    """1-6 nodes in topological order; the last one ends the path, every earlier one names later ones."""
    kinds = draw(st.lists(st.sampled_from(KINDS), max_size=5))
    kinds.append(draw(st.sampled_from(TERMINAL_KINDS)))
    if "ab_race" in kinds:  # at most one per journey
        first = kinds.index("ab_race")
        kinds = [k if k != "ab_race" or i == first else "ab_split" for i, k in enumerate(kinds)]
    graph = _Graph(len(kinds))
    graph.ids = [f"n{i}" for i in range(len(kinds))]
    for i, kind in enumerate(kinds):
        if kind == "message_status" and not _has_send_before(graph, i, shape):
            kind = "wait"
        graph.nodes[graph.ids[i]] = _node(draw, shape, graph, i, kind)
    for i, node_id in enumerate(graph.ids):
        split = graph.nodes[node_id].get("segment_split")
        if split is not None and i not in graph.fan_outs:
            split["mode"] = "first_match"  # its branches came to share a node
    return graph.nodes


def _has_send_before(graph: _Graph, i: int, shape: Shape) -> bool:
    return shape.message_outcomes and any("send" in graph.nodes[graph.ids[j]] for j in graph.ancestors(i))


@st.composite
def entries(draw: st.DrawFn) -> dict[str, Any]:
    """The `entry:` mapping: a trigger, maybe an audience, a frequency limit and re-entry."""
    kind = draw(
        st.sampled_from(
            (
                "cumulative",
                "every",
                "event_without",
                "schedule_recurring",
                "schedule_once",
                "segment",
                "each_of",
            )
        )
    )
    entry: dict[str, Any]
    if kind in ("cumulative", "every"):
        entry = {"event": {"did": draw(st.sampled_from(TRIGGER_CONDITIONS)), "mode": kind}}
        entry["event"] |= draw(st.sampled_from(({}, {"times": 2})))
    elif kind == "each_of":
        each = st.sampled_from(TRIGGER_CONDITIONS + ({"event": "add_to_cart", "times": 2},))
        entry = {
            "event": {
                "mode": kind,
                "each": draw(st.lists(each, min_size=2, max_size=3, unique_by=str)),
                "match": draw(st.sampled_from(("all", "any"))),
            }
        }
    elif kind == "event_without":
        entry = {
            "event_without": {
                "did": {"event": "add_to_cart"},
                "then_not": draw(
                    st.sampled_from(
                        (
                            {"event": "purchase"},
                            {"events": ["purchase", "app_open"]},
                            {"event": "app_open", "times": 2},
                        )
                    )
                ),
            }
        }
        # `by:` a local time on A's day (New York's clocks move inside the window)
        deadline = draw(
            st.sampled_from(
                ({"within": "30m"}, {"within": "1h"}, {"within": "3h"}, {"by": "09:30"}, {"by": "22:00"})
            )
        )
        entry["event_without"] |= deadline
    elif kind == "schedule_recurring":
        entry = {"schedule_recurring": {"cron": draw(st.sampled_from(CRONS))}}
    elif kind == "segment":
        entry = {"segment": draw(st.sampled_from(("vip", "dormant_90d", "unsubscribed_sms", "members")))}
    else:
        entry = {
            "schedule_once": {
                "at": iso(draw(grid_time(timedelta(hours=-2), HORIZON))),
                "on_late_approval": draw(st.sampled_from(("cancel", "run_when_approved"))),
            }
        }
    audience = draw(st.sampled_from((None, None, *RULES[:3], RULES[4], RULES[7])))
    if audience is not None:
        entry["audience"] = audience
    limits: tuple[dict[str, Any], ...] = (
        {},
        {"frequency": {"max": 1}},
        {"frequency": {"max": 2}},
        {"frequency": {"max": 1, "per": "1d"}},
    )
    if kind not in ("cumulative", "each_of"):  # these enter a profile once
        limits += ({"frequency": {"max": 2, "per": "2h"}},)
    entry |= draw(st.sampled_from(limits))
    entry["reentry"] = draw(st.booleans())
    return entry


@st.composite
def journeys(draw: st.DrawFn, journey_id: str, shape: Shape) -> dict[str, Any]:
    journey: dict[str, Any] = {
        "id": journey_id,
        "name": f"Generated {journey_id}",
        "type": draw(st.sampled_from(("normal", "urgent", "notification"))),
        "timezone": draw(st.sampled_from(TIMEZONES)),
        "active": {"from": "2026-01-01T00:00:00Z", "until": "2027-01-01T00:00:00Z"},
    }
    window = draw(st.sampled_from(("always", "ends", "starts")))
    if window == "ends":
        journey["active"]["until"] = iso(draw(grid_time(timedelta(hours=2), HORIZON)))
    elif window == "starts":
        journey["active"]["from"] = iso(draw(grid_time(timedelta(hours=-2), HORIZON / 2)))
    if draw(st.booleans()):
        journey["quiet_hours"] = draw(st.sampled_from(QUIET_HOURS))
    journey["entry"] = draw(entries())
    exits = draw(
        st.lists(st.sampled_from(EXITS + (TAG_RULES if shape.tags_feed_segments else ())), max_size=1)
    )
    if exits:
        journey["exit_when"] = exits
    goals = draw(st.lists(st.sampled_from(GOALS), max_size=2, unique_by=lambda g: str(g)))
    if goals:
        journey["goals"] = [{"id": f"goal{k}", **g} for k, g in enumerate(goals)]
        journey["exit_on_goal"] = draw(st.booleans())
    holdout = draw(st.sampled_from((None, None, 30, 50)))  # large shares: both groups in a few entries
    if holdout is not None:
        journey["holdout"] = {"percent": holdout}
    journey["nodes"] = draw(nodes(shape))
    return journey


@st.composite
def projects(draw: st.DrawFn, shape: Shape, prefix: str = "") -> dict[str, dict[str, Any]]:
    """One to three journeys, their ids starting with `prefix`."""
    count = draw(st.integers(1, 3))
    return {f"{prefix}j{k}": draw(journeys(f"{prefix}j{k}", shape)) for k in range(count)}


# ---------------------------------------------------------------- worlds

EVENT_KINDS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("signup", {"channel": "web"}),
    ("signup", {"channel": "app"}),
    ("activate", {}),
    ("app_open", {}),
    ("page_view", {"page": "home"}),
    ("add_to_cart", {"value": 80, "sku": "s1"}),
    ("add_to_cart", {"value": 20, "sku": "s2"}),
    ("purchase", {"value": 120, "order_id": "o1"}),
    ("unsubscribe", {"channel": "sms"}),
    ("unsubscribe", {"channel": "email"}),
)
LATENESS = (timedelta(0), timedelta(minutes=30), timedelta(hours=3), timedelta(hours=14))
ATTRIBUTES: tuple[dict[str, Any], ...] = (
    {},
    {"member_level": "gold"},
    {"member_level": "silver", "city": "Shanghai"},
    {"lifetime_value": 1500},
    {"plate_number": "A1", "lifetime_value": 600},
)


@dataclass(frozen=True)
class EventDraft:
    """An event before its load time is fixed: `lateness` after its time, and maybe a second delivery."""

    event_id: str
    profile_id: str
    name: str
    at: datetime
    properties: dict[str, Any]
    lateness: timedelta
    duplicate: timedelta | None


def trigger_names(project: dict[str, dict[str, Any]]) -> set[str]:
    """The events that make profiles enter the project's journeys."""
    names = set()
    for journey in project.values():
        trigger = journey["entry"].get("event") or journey["entry"].get("event_without") or {}
        for condition in trigger.get("each") or [trigger.get("did", {})]:
            names.update(condition.get("events") or [condition.get("event")])
    return names


@st.composite
def event_drafts(
    draw: st.DrawFn, profile_ids: list[str], focus: set[str], prefix: str = ""
) -> list[EventDraft]:
    """Up to 12 events; those that trigger an entry (`focus`) are drawn five times as often."""
    kinds = EVENT_KINDS + tuple(k for k in EVENT_KINDS if k[0] in focus) * 4
    count = draw(st.integers(0, 12))
    drafts = []
    for k in range(count):
        name, properties = draw(st.sampled_from(kinds))
        drafts.append(
            EventDraft(
                event_id=f"{prefix}e{k}",
                profile_id=draw(st.sampled_from(profile_ids)),
                name=name,
                at=draw(grid_time(timedelta(hours=-3), HORIZON + timedelta(hours=2))),
                properties=properties,
                lateness=draw(st.sampled_from(LATENESS)),
                duplicate=draw(st.none() | st.sampled_from((timedelta(0), timedelta(hours=2)))),
            )
        )
    return drafts


def events_loaded(drafts: list[EventDraft], latest_load: Any = None) -> list[Event]:
    """The raw event rows; `latest_load(event_time)` caps an event's load time (see the cadence property)."""
    rows = []
    for d in drafts:
        loaded = d.at + d.lateness
        if latest_load is not None:
            loaded = min(loaded, latest_load(d.at))
        rows.append(Event(d.event_id, d.profile_id, d.name, d.at, d.properties, loaded))
        if d.duplicate is not None:
            rows.append(Event(d.event_id, d.profile_id, d.name, d.at, d.properties, loaded + d.duplicate))
    return rows


@st.composite
def profiles(draw: st.DrawFn, prefix: str = "") -> list[Profile]:
    count = draw(st.integers(1, 4))
    return [
        Profile(
            profile_id=f"{prefix}p{k}",
            email=f"{prefix}p{k}@example.test",
            phone="+100000",
            timezone=draw(st.sampled_from((*TIMEZONES, None))),
            attributes=draw(st.sampled_from(ATTRIBUTES)),
            updated_at=datetime(2026, 1, 1),
        )
        for k in range(count)
    ]


def calendar(open_days: frozenset[int]) -> dict[date, bool]:
    """Mar 5-12: the days listed open, the others closed (every day has a row)."""
    return {date(2026, 3, 5 + k): k in open_days for k in range(8)}


@st.composite
def controls(draw: st.DrawFn, project: dict[str, dict[str, Any]]) -> list[Control]:
    """Approvals of schedule_once journeys, ab_race winners and pauses / resumes / a stop, each at a
    logical time (or never)."""
    rows = []
    for journey_id, journey in project.items():
        if draw(st.integers(0, 2)) == 0:
            times = sorted(draw(st.sets(grid_time(timedelta(0), HORIZON), min_size=1, max_size=4)))
            stops = draw(st.booleans())
            actions = [("pause", "resume")[k % 2] for k in range(len(times) - stops)] + ["stop"] * stops
            rows += [Control(journey_id, action, at) for action, at in zip(actions, times, strict=True)]
        if "schedule_once" in journey["entry"] and draw(st.booleans()):
            rows.append(Control(journey_id, "approve", draw(grid_time(-timedelta(hours=4), HORIZON))))
        race = next((n["ab_race"] for n in journey["nodes"].values() if "ab_race" in n), None)
        if race is not None and draw(st.booleans()):
            variant = draw(st.sampled_from([v["id"] for v in race["variants"]]))
            rows.append(Control(journey_id, "pick_winner", draw(grid_time(timedelta(0), HORIZON)), variant))
    return rows


@dataclass(frozen=True)
class Case:
    """One generated example: the journeys (YAML-ready), the world, and the tick cadences to compare."""

    project: dict[str, dict[str, Any]]
    world: World
    cadences: tuple[tuple[datetime, ...], ...]
    drafts: tuple[EventDraft, ...] = ()
    edits: tuple[tuple[datetime, dict[str, dict[str, Any]]], ...] = ()
    """(tick, the journeys from that tick on): journeys edited in flight (spec section 3, "Journey edits")."""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """How hypothesis prints a falsifying example: as a reader would write the scenario by hand."""
        from diff_report import describe_case

        printer.text(describe_case(self))


@st.composite
def cadences(draw: st.DrawFn) -> tuple[datetime, ...]:
    """Tick times from T0 to T0 + HORIZON (both always ticked), a few in between on a 15-minute grid."""
    slots = int(HORIZON / timedelta(minutes=15))
    inner = draw(st.sets(st.integers(1, slots - 1), max_size=3))
    return (T0, *(T0 + k * timedelta(minutes=15) for k in sorted(inner)), T0 + HORIZON)


def first_tick_at_or_after(ticks: tuple[datetime, ...], moment: datetime) -> datetime:
    return next((t for t in ticks if t >= moment), max(moment, ticks[-1]))


@dataclass(frozen=True)
class PartWorld:
    """The rows of one part of a batch: its own profiles (ids starting with the part's prefix), their events,
    tags, relations, orders, and the operator controls of the part's journeys."""

    profiles: list[Profile]
    drafts: list[EventDraft]
    profile_tags: list[ProfileTag]
    relations: list[Relation]
    orders: list[dict[str, Any]]
    controls: list[Control]


@st.composite
def part_worlds(draw: st.DrawFn, project: dict[str, dict[str, Any]], prefix: str) -> PartWorld:
    people = draw(profiles(prefix))
    ids = [p.profile_id for p in people]
    tags = st.builds(
        ProfileTag,
        st.sampled_from(ids),
        st.sampled_from(SEGMENT_TAGS),
        grid_time(-timedelta(days=2), HORIZON),
    )
    relation = st.builds(Relation, st.sampled_from(ids), st.sampled_from(ids), st.just("owned_by"))
    order = st.tuples(
        st.sampled_from(ids), grid_time(-timedelta(hours=3), HORIZON), st.sampled_from((40.0, 150.0))
    )
    return PartWorld(
        profiles=people,
        drafts=draw(event_drafts(ids, trigger_names(project), prefix)),
        profile_tags=draw(st.lists(tags, max_size=2)),
        relations=list(dict.fromkeys(draw(st.lists(relation, max_size=3)))),
        orders=[
            {
                "order_id": f"{prefix}o{k}",
                "profile_id": pid,
                "amount": amount,
                "category": "shoes",
                "ordered_at": at,
            }
            for k, (pid, at, amount) in enumerate(draw(st.lists(order, max_size=3)))
        ],
        controls=draw(controls(project)),
    )


Parts = tuple[tuple[str, dict[str, dict[str, Any]]], ...]
"""(id prefix, journeys) of each part of a batch."""


@st.composite
def worlds_for(draw: st.DrawFn, parts: Parts, count: int) -> Case:
    """A world for the parts' journeys and `count` cadences. With two cadences, a late event is loaded
    before the first tick of either cadence after its time: later than that, what the tick sees would
    depend on the cadence by design (a tick decides with the events it has)."""
    ticks = tuple(draw(cadences()) for _ in range(count))
    cap = None
    if count > 1:

        def cap(moment: datetime) -> datetime:
            return min(first_tick_at_or_after(t, moment) for t in ticks)

    pieces = [draw(part_worlds(journeys, prefix)) for prefix, journeys in parts]
    drafts = [d for piece in pieces for d in piece.drafts]
    world = World(
        profiles=[p for piece in pieces for p in piece.profiles],
        events=events_loaded(drafts, cap),
        profile_tags=[t for piece in pieces for t in piece.profile_tags],
        relations=[r for piece in pieces for r in piece.relations],
        trading_calendar=calendar(draw(st.frozensets(st.integers(0, 7)))),
        details={"orders": [o for piece in pieces for o in piece.orders]},
        controls=[c for piece in pieces for c in piece.controls],
    )
    project = {jid: journey for _, journeys in parts for jid, journey in journeys.items()}
    return Case(project, world, ticks, tuple(drafts))


@dataclass(frozen=True)
class Batch:
    """Cases that share one project, so one compile and one dbt deploy serve them all.

    The project holds 1 to `parts` parts: independent journey sets, each with its own profiles (the second
    part's ids start with `c1_`, ...), sharing the calendar and the cadences, so one dbt run per tick checks
    them all. Parts may still meet (a schedule enters every profile of the world; segments count the same
    rows on both sides), which is fine: each world is compared whole. Each of the 1 to `worlds` cases is
    one world over the project: new profiles, events and cadences."""

    parts: Parts
    cases: tuple[Case, ...]

    @property
    def examples(self) -> int:
        """Checked examples: each part's journeys over each world."""
        return len(self.parts) * len(self.cases)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        from diff_report import describe_case

        printer.text("\n\n".join(describe_case(case) for case in self.cases))


# ---------------------------------------------------------------- edits in flight

TARGET_KEYS = frozenset(
    ("next", "then", "else", "happened", "timeout", "on_sent", "on_failed", "on_suppressed", "to")
)
"""The keys whose values name a successor node, wherever they sit in a node."""


def _targets(value: Any, nodes: dict[str, Any]) -> list[str]:
    """The node ids `value` names as successors (a `to:` may also be a quiet-hours end or an address)."""
    if isinstance(value, dict):
        return [
            t
            for k, v in value.items()
            for t in ([v] if k in TARGET_KEYS and v in nodes else _targets(v, nodes))
        ]
    return [t for item in value for t in _targets(item, nodes)] if isinstance(value, list) else []


def _retarget(value: Any, old: str, new: str) -> Any:
    if isinstance(value, dict):
        return {k: new if k in TARGET_KEYS and v == old else _retarget(v, old, new) for k, v in value.items()}
    return [_retarget(item, old, new) for item in value] if isinstance(value, list) else value


def _removable(nodes: dict[str, dict[str, Any]]) -> list[str]:
    """Nodes an edit may remove: not the start, with a successor to hand their arrivals to (a later node,
    so the graph stays acyclic), not the send a message_status reads."""
    read = {n["message_status"]["of"] for n in nodes.values() if "message_status" in n}
    return [node_id for node_id in list(nodes)[1:] if _targets(nodes[node_id], nodes) and node_id not in read]


@st.composite
def edited_journey(draw: st.DrawFn, journey: dict[str, Any]) -> dict[str, Any]:
    """The journey after an edit: a node removed (its arrivals go to its first successor), a wait or a
    window changed, or only the name (a new version, the same graph)."""
    nodes = journey["nodes"]
    timed = [i for i, n in nodes.items() if "for" in n.get("wait", {})]
    kinds = ["rename"] + ["remove"] * bool(_removable(nodes)) + ["retime"] * bool(timed)
    kind = draw(st.sampled_from(kinds))
    if kind == "remove":
        gone = draw(st.sampled_from(_removable(nodes)))
        heir = min(_targets(nodes[gone], nodes), key=list(nodes).index)
        kept = {i: _retarget(n, gone, heir) for i, n in nodes.items() if i != gone}
        return journey | {"nodes": kept}
    if kind == "retime":
        node_id = draw(st.sampled_from(timed))
        wait = nodes[node_id]["wait"]
        longer = draw(st.sampled_from([d for d in DURATIONS if d != wait["for"]]))
        return journey | {"nodes": nodes | {node_id: nodes[node_id] | {"wait": {"for": longer}}}}
    return journey | {"name": f"{journey['name']} (edited)"}


@st.composite
def batches_with_edits(
    draw: st.DrawFn, shape: Shape, parts: tuple[int, int], worlds: tuple[int, int]
) -> Batch:
    """A batch whose journeys are edited in flight, one journey per part, at a tick of each world's cadence
    after its first."""
    batch = draw(batches(shape, count=1, parts=parts, worlds=worlds))
    edited = {}
    for _, journeys_of_part in batch.parts:
        chosen = draw(st.sampled_from(sorted(journeys_of_part)))
        edited |= journeys_of_part | {chosen: draw(edited_journey(journeys_of_part[chosen]))}
    cases = tuple(
        replace(case, edits=((draw(st.sampled_from(case.cadences[0][1:])), edited),)) for case in batch.cases
    )
    return replace(batch, cases=cases)


@st.composite
def batches(
    draw: st.DrawFn,
    shape: Shape,
    count: int,
    parts: tuple[int, int] = (1, 1),
    worlds: tuple[int, int] = (1, 1),
) -> Batch:
    """`parts` (fewest, most) parts of journeys, and `worlds` (fewest, most) worlds with `count` cadences
    each; a failure shrinks to the fewest parts and worlds allowed."""
    drawn: Parts = tuple(
        (prefix, draw(projects(shape, prefix)))
        for prefix in (f"c{k}_" if k else "" for k in range(draw(st.integers(*parts))))
    )
    return Batch(drawn, tuple(draw(worlds_for(drawn, count)) for _ in range(draw(st.integers(*worlds)))))
