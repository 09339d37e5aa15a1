"""`journeys/*.yaml`: identity, entry (trigger), exits, goals and the node graph.

Node kinds form a discriminated union keyed by which kind key the node mapping carries
(`send:`, `wait:`, `event_check:` ...); successors sit next to it (`next`, `then`/`else`, ...).
"""

from __future__ import annotations

import hashlib
import re
from datetime import time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import AwareDatetime, Discriminator, Field, Tag, field_validator, model_validator

from journey_compiler.config.base import Duration, StrictModel
from journey_compiler.config.channels import ChannelName
from journey_compiler.config.rules import DetailCondition, EventCondition, Match, Rule

JOURNEY_ID = r"^[a-z][a-z0-9_]*$"
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _clock(value: Any) -> time:
    if isinstance(value, time):
        return value
    match = _CLOCK.match(str(value))
    if match is None:
        raise ValueError(f"bad local time {value!r}: use HH:MM (24h), e.g. 08:00")
    return time(int(match.group(1)), int(match.group(2)))


class _ClockModel(StrictModel):
    @field_validator("*", mode="before")
    @classmethod
    def _parse_clock_fields(cls, value: Any, info: Any) -> Any:
        annotation = cls.model_fields[info.field_name].annotation
        if annotation in (time, time | None) and value is not None:
            return _clock(value)
        return value


def check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {value!r}: use an IANA name such as Asia/Shanghai or UTC"
        ) from None
    return value


# ---------------------------------------------------------------- entry


class ActiveWindow(StrictModel):
    from_: AwareDatetime = Field(alias="from")
    until: AwareDatetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ActiveWindow:
        if self.until is not None and self.until <= self.from_:
            raise ValueError("`until` must be after `from`")
        return self


class QuietHours(_ClockModel):
    from_: time = Field(alias="from")
    to: time
    policy: Literal["drop", "defer"] = "defer"


class ScheduleOnce(StrictModel):
    at: AwareDatetime
    on_late_approval: Literal["cancel", "run_when_approved"] = "cancel"


class ScheduleRecurring(StrictModel):
    cron: str
    until: AwareDatetime | None = None

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        if not croniter.is_valid(value):
            raise ValueError(f"bad cron expression {value!r}")
        return value


class EventTrigger(StrictModel):
    """`cumulative`: enters once at the N-th matching event; `every`: enters at each N-th;
    `each_of`: each listed event its own count, combined with `match`."""

    did: EventCondition | None = None
    mode: Literal["cumulative", "every", "each_of"] = "cumulative"
    times: int | None = Field(None, ge=1)
    each: list[EventCondition] | None = None
    match: Match = "all"
    from_: AwareDatetime | None = Field(None, alias="from")
    until: AwareDatetime | None = None

    @field_validator("each")
    @classmethod
    def _several(cls, each: list[EventCondition] | None) -> list[EventCondition] | None:
        if each is not None and len(each) < 2:
            raise ValueError("mode `each_of` combines at least two events; for one, use mode `cumulative`")
        return each

    @model_validator(mode="after")
    def _shape(self) -> EventTrigger:
        if self.mode == "each_of" and not self.each:
            raise ValueError("mode `each_of` needs `each:` (a list of event conditions)")
        if self.mode != "each_of" and self.did is None:
            raise ValueError(f"mode `{self.mode}` needs `did:`")
        return self

    @property
    def count(self) -> int:
        """The trigger's N: `times` on the trigger wins over `did.times`."""
        return self.times or (self.did.times if self.did else 1)


class EventWithoutTrigger(_ClockModel):
    did: EventCondition
    then_not: EventCondition
    within: Duration | None = None
    by: time | None = None

    @model_validator(mode="after")
    def _one_deadline(self) -> EventWithoutTrigger:
        if (self.within is None) == (self.by is None):
            raise ValueError("give exactly one of `within:` (a duration) or `by:` (a local time, HH:MM)")
        return self


class Frequency(StrictModel):
    max: int = Field(ge=1)
    per: Duration | None = None


_TRIGGERS = ("schedule_once", "schedule_recurring", "event", "event_without", "segment")


class Entry(StrictModel):
    schedule_once: ScheduleOnce | None = None
    schedule_recurring: ScheduleRecurring | None = None
    event: EventTrigger | None = None
    event_without: EventWithoutTrigger | None = None
    segment: str | None = None
    audience: Rule | None = None
    where: str | None = None
    frequency: Frequency | None = None
    reentry: bool = False

    @model_validator(mode="after")
    def _one_trigger(self) -> Entry:
        if sum(getattr(self, key) is not None for key in _TRIGGERS) != 1:
            raise ValueError(f"entry needs exactly one trigger: {', '.join(_TRIGGERS)}")
        return self

    @property
    def trigger_kind(self) -> str:
        return next(key for key in _TRIGGERS if getattr(self, key) is not None)


class Holdout(StrictModel):
    """A control group: `percent` of the entries walk the journey with every message suppressed (`holdout`),
    so that goals and metrics can be compared with and without messages."""

    percent: float = Field(json_schema_extra={"exclusiveMinimum": 0, "exclusiveMaximum": 100})

    @field_validator("percent")
    @classmethod
    def _share(cls, value: float) -> float:
        if not 0 < value < 100:
            raise ValueError(f"holdout percent {value:g} must be more than 0 and less than 100, e.g. 10")
        return value


class Goal(StrictModel):
    id: str = Field(pattern=JOURNEY_ID)
    did: EventCondition | None = None
    detail: DetailCondition | None = None
    within: Duration

    @model_validator(mode="after")
    def _one_condition(self) -> Goal:
        if (self.did is None) == (self.detail is None):
            raise ValueError("a goal needs exactly one of `did:` or `detail:`")
        return self


# ---------------------------------------------------------------- node specs


class Subject(StrictModel):
    relation: str
    pick: Literal["one", "all"] = "one"


class SendSpec(StrictModel):
    channel: ChannelName
    template: str
    subject: Subject | None = None
    quiet_hours: QuietHours | None = None
    blacklist: str | None = None
    cap_whitelist: str | None = None
    non_trading_day: Literal["postpone", "skip", "send"] | None = None


class WaitSpec(_ClockModel):
    """Exactly one form: `for`; `until`; `at` (optionally on `day` N); `weekday` + `at`;
    `month_day` + `at`; `trading_day: next` (+ optional `at`)."""

    for_: Duration | None = Field(None, alias="for")
    until: AwareDatetime | None = None
    at: time | None = None
    day: int | None = Field(None, ge=1)
    weekday: Literal[WEEKDAYS] | None = None  # type: ignore[valid-type]
    month_day: int | None = Field(None, ge=1, le=31)
    trading_day: Literal["next"] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> WaitSpec:
        forms = [k for k in ("for_", "until", "weekday", "month_day", "trading_day") if getattr(self, k)]
        if len(forms) > 1 or (not forms and self.at is None):
            raise ValueError("wait needs exactly one of for, until, at, weekday, month_day, trading_day")
        if forms and forms[0] in ("for_", "until") and (self.at is not None or self.day is not None):
            raise ValueError(f"`{forms[0].rstrip('_')}` cannot be combined with `at`/`day`")
        if forms and forms[0] in ("weekday", "month_day") and self.at is None:
            raise ValueError(f"`{forms[0]}` needs `at` (HH:MM)")
        return self

    @property
    def form(self) -> str:
        for key in ("for_", "until", "weekday", "month_day", "trading_day"):
            if getattr(self, key) is not None:
                return key.rstrip("_")
        return "at"


class WaitForEventSpec(EventCondition):
    within: Duration


class EventRule(StrictModel):
    """The event answer of a check or a split branch: `did` (any of the events, `times` times together),
    `did_each` (each condition its own count) or `did_not` (each listed event counted on its own), the
    conditions combined by `match` (docs/semantics.md, "Event rules in checks and splits")."""

    did: EventCondition | None = None
    did_each: list[EventCondition] | None = Field(None, min_length=1)
    did_not: EventCondition | None = None
    match: Match = "all"

    @model_validator(mode="after")
    def _one_form(self) -> EventRule:
        if sum(x is not None for x in (self.did, self.did_each, self.did_not)) != 1:
            raise ValueError("give exactly one of did, did_each, did_not")
        return self

    @property
    def form(self) -> str:
        return next(k for k in ("did", "did_each", "did_not") if getattr(self, k) is not None)


class EventCheckSpec(EventRule):
    within: Duration


MessageStatus = Literal["sent", "delivered", "read", "clicked", "failed", "suppressed"]


class MessageStatusSpec(StrictModel):
    of: str
    is_: list[MessageStatus] = Field(alias="is", min_length=1)
    within: Duration


class SegmentBranch(Rule):
    to: str


class SegmentSplitSpec(StrictModel):
    mode: Literal["first_match", "all_matches"] = Field(
        "first_match",
        description="first_match: the first matching branch, in priority order; all_matches: every matching "
        "branch, each further one a path of its own (the branches must not lead to a shared node)",
    )
    branches: list[SegmentBranch] = Field(min_length=1)
    else_: str = Field(alias="else")


class EventBranch(EventRule):
    to: str


class EventSplitSpec(StrictModel):
    within: Duration
    branches: list[EventBranch] = Field(min_length=1)
    else_: str = Field(alias="else")


class AbBranch(StrictModel):
    to: str
    percent: float = Field(gt=0, le=100)
    id: str | None = None

    @property
    def group(self) -> str:
        return self.id or self.to


class RaceVariant(StrictModel):
    id: str
    to: str


class Notify(StrictModel):
    channel: ChannelName
    template: str
    to: str


class AbRaceSpec(StrictModel):
    test_share: float = Field(gt=0, lt=100)
    variants: list[RaceVariant] = Field(min_length=2)
    test_ends_after: Duration | None = None
    sample_size: int | None = Field(None, ge=1)
    notify: Notify | None = None

    @model_validator(mode="after")
    def _ends(self) -> AbRaceSpec:
        if self.test_ends_after is None and self.sample_size is None:
            raise ValueError("ab_race needs `test_ends_after` or `sample_size` to end its test phase")
        return self


class ExitSpec(StrictModel):
    reason: str = "exit_node"


# ---------------------------------------------------------------- nodes


Edge = tuple[str, str, tuple[str | int, ...]]
"""(branch name, target node id, YAML path of the reference inside the node)."""


class _Node(StrictModel):
    def edges(self) -> list[Edge]:
        """The one place that knows where each node kind keeps its successors."""
        return []

    def successors(self) -> dict[str, str]:
        return {branch: target for branch, target, _ in self.edges()}


class _Flow(_Node):
    """A node with at most one successor, `next`; without it the path completes there."""

    next: str | None = None

    def edges(self) -> list[Edge]:
        return [("next", self.next, ("next",))] if self.next else []


class SendNode(_Flow):
    send: SendSpec
    on_sent: str | None = None
    on_failed: str | None = None
    on_suppressed: str | None = None

    def edges(self) -> list[Edge]:
        outcomes = ("on_sent", "on_failed", "on_suppressed")
        return super().edges() + [(b, getattr(self, b), (b,)) for b in outcomes if getattr(self, b)]


class AddTagNode(_Flow):
    add_tag: str


class RemoveTagNode(_Flow):
    remove_tag: str


class ExitNode(_Node):
    exit: ExitSpec | bool = True


class WaitNode(_Flow):
    wait: WaitSpec


class _Judgement(_Node):
    then: str
    else_: str = Field(alias="else")

    def edges(self) -> list[Edge]:
        return [("then", self.then, ("then",)), ("else", self.else_, ("else",))]


class SegmentCheckNode(_Judgement):
    segment_check: Rule


class EventCheckNode(_Judgement):
    event_check: EventCheckSpec


class MessageStatusNode(_Judgement):
    message_status: MessageStatusSpec


class WaitForEventNode(_Node):
    wait_for_event: WaitForEventSpec
    happened: str
    timeout: str

    def edges(self) -> list[Edge]:
        return [("happened", self.happened, ("happened",)), ("timeout", self.timeout, ("timeout",))]


def _split_edges(kind: str, branches: list[Any], else_: str) -> list[Edge]:
    return [(f"branch_{i + 1}", b.to, (kind, "branches", i, "to")) for i, b in enumerate(branches)] + [
        ("else", else_, (kind, "else"))
    ]


class SegmentSplitNode(_Node):
    segment_split: SegmentSplitSpec

    def edges(self) -> list[Edge]:
        return _split_edges("segment_split", self.segment_split.branches, self.segment_split.else_)


class EventSplitNode(_Node):
    event_split: EventSplitSpec

    def edges(self) -> list[Edge]:
        return _split_edges("event_split", self.event_split.branches, self.event_split.else_)


class AbSplitNode(_Node):
    ab_split: list[AbBranch] = Field(min_length=2)

    @field_validator("ab_split")
    @classmethod
    def _sums_to_100(cls, branches: list[AbBranch]) -> list[AbBranch]:
        total = sum(b.percent for b in branches)
        if abs(total - 100) > 1e-9:
            raise ValueError(f"ab_split percentages sum to {total:g}, not 100")
        groups = [b.group for b in branches]
        if len(set(groups)) != len(groups):
            raise ValueError("ab_split groups must be distinct (give each branch its own `id` or `to`)")
        return branches

    def edges(self) -> list[Edge]:
        return [(b.group, b.to, ("ab_split", i, "to")) for i, b in enumerate(self.ab_split)]


class AbRaceNode(_Node):
    ab_race: AbRaceSpec

    def edges(self) -> list[Edge]:
        return [(v.id, v.to, ("ab_race", "variants", i, "to")) for i, v in enumerate(self.ab_race.variants)]


NODE_KINDS: dict[str, type[StrictModel]] = {
    "send": SendNode,
    "add_tag": AddTagNode,
    "remove_tag": RemoveTagNode,
    "exit": ExitNode,
    "wait": WaitNode,
    "wait_for_event": WaitForEventNode,
    "segment_check": SegmentCheckNode,
    "event_check": EventCheckNode,
    "message_status": MessageStatusNode,
    "segment_split": SegmentSplitNode,
    "event_split": EventSplitNode,
    "ab_split": AbSplitNode,
    "ab_race": AbRaceNode,
}


def node_kind(value: Any) -> str | None:
    """The discriminator: the one kind key a node mapping carries."""
    if isinstance(value, dict):
        kinds = [key for key in value if key in NODE_KINDS]
        return kinds[0] if len(kinds) == 1 else None
    return next((k for k, cls in NODE_KINDS.items() if isinstance(value, cls)), None)


Node = Annotated[
    Annotated[SendNode, Tag("send")]
    | Annotated[AddTagNode, Tag("add_tag")]
    | Annotated[RemoveTagNode, Tag("remove_tag")]
    | Annotated[ExitNode, Tag("exit")]
    | Annotated[WaitNode, Tag("wait")]
    | Annotated[WaitForEventNode, Tag("wait_for_event")]
    | Annotated[SegmentCheckNode, Tag("segment_check")]
    | Annotated[EventCheckNode, Tag("event_check")]
    | Annotated[MessageStatusNode, Tag("message_status")]
    | Annotated[SegmentSplitNode, Tag("segment_split")]
    | Annotated[EventSplitNode, Tag("event_split")]
    | Annotated[AbSplitNode, Tag("ab_split")]
    | Annotated[AbRaceNode, Tag("ab_race")],
    Discriminator(
        node_kind,
        custom_error_type="node_kind",
        custom_error_message="a node needs exactly one kind key: " + ", ".join(NODE_KINDS),
    ),
]


AnyNode = (
    SendNode
    | AddTagNode
    | RemoveTagNode
    | ExitNode
    | WaitNode
    | WaitForEventNode
    | SegmentCheckNode
    | EventCheckNode
    | MessageStatusNode
    | SegmentSplitNode
    | EventSplitNode
    | AbSplitNode
    | AbRaceNode
)
"""A parsed node of any kind (what `Node` validates to)."""


def kind_of(node: Any) -> str:
    kind = node_kind(node)
    assert kind is not None
    return kind


# ---------------------------------------------------------------- journey


class Journey(StrictModel):
    id: str = Field(pattern=JOURNEY_ID)
    name: str | None = None
    group: str | None = None
    campaign: str | None = None
    type: Literal["notification", "urgent", "normal"] = "normal"
    timezone: str = "UTC"
    active: ActiveWindow
    quiet_hours: QuietHours | None = None
    exclusive_with: list[str] = []
    entry: Entry
    exit_when: list[Rule] = Field(
        [],
        description="Leave at once, wherever the path is: an event (`did`, at its time) or a rule on the "
        "profile's state (segment matched, `left_segment`, attribute, tag), at the instant it became true.",
    )
    goals: list[Goal] = []
    exit_on_goal: bool = Field(False, description="Reaching a goal ends the path (reason `goal`).")
    holdout: Holdout | None = None
    metrics: list[str] = []
    start: str | None = None
    nodes: dict[str, Node] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("nodes")
    @classmethod
    def _node_ids(cls, nodes: dict[str, Any]) -> dict[str, Any]:
        bad = [n for n in nodes if not re.match(JOURNEY_ID, n)]
        if bad:
            raise ValueError(f"node ids must match {JOURNEY_ID}: {', '.join(map(repr, bad))}")
        return nodes

    @property
    def start_node(self) -> str:
        """`start:` if given, else the first node listed."""
        return self.start or next(iter(self.nodes))

    @property
    def priority(self) -> int:
        return {"notification": 1, "urgent": 2, "normal": 3}[self.type]

    @property
    def version(self) -> str:
        """The content hash an edit changes (spec section 3, "Journey edits"): stamped on every record."""
        return hashlib.md5(self.model_dump_json(by_alias=True).encode()).hexdigest()[:12]
